//! Configuration: the TOML file, the `MESURE_*` environment overlay, and validation.
//!
//! Loading happens in three steps, so that a broken file is reported in one go:
//! 1. the file is parsed as a plain TOML table (a syntax error stops here: nothing else can be
//!    read reliably);
//! 2. environment overrides are written into that table (read from an injected iterator, so
//!    tests never touch the process environment);
//! 3. the table is walked key by key into [`Config`]. Every unknown key and every invalid value
//!    becomes a [`ConfigError`] carrying its key path (`sites[1].retention`), and all of them are
//!    returned together.
//!
//! This module does not start anything; [`crate::app`] turns a `Config` into running stages.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use toml::{Table, Value};

/// Longest retention docs/privacy.md E1 allows (CNIL: data kept at most 25 months).
pub(crate) const MAX_RETENTION_MONTHS: u32 = 25;
/// Retention when a site does not say.
pub(crate) const DEFAULT_RETENTION_DAYS: u32 = 180;
/// `[[sites]] search_parameters`: Matomo's default site-search parameters.
pub const DEFAULT_SEARCH_PARAMETERS: [&str; 7] = ["q", "query", "s", "search", "searchword", "k", "keyword"];
/// `listen`: loopback only until the operator says otherwise.
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 8080));
/// `shutdown_timeout`: how long SIGTERM may take to finish requests and deliver.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// `clickhouse.url`, `clickhouse.database`, `clickhouse.user`.
pub(crate) const DEFAULT_CLICKHOUSE_URL: &str = "http://127.0.0.1:8123";
pub(crate) const DEFAULT_CLICKHOUSE_DATABASE: &str = "mesure";
pub(crate) const DEFAULT_CLICKHOUSE_USER: &str = "default";
/// `privacy.max_live_visits`: about 140 MiB of visit table at the cap.
pub(crate) const DEFAULT_MAX_LIVE_VISITS: i64 = 2_000_000;
/// `spool.dir`, `spool.max_bytes` (1 GiB), `spool.segment_bytes` (16 MiB), `spool.fsync_interval`
/// (the loss window on a machine crash).
pub(crate) const DEFAULT_SPOOL_DIR: &str = "var/spool";
pub(crate) const DEFAULT_SPOOL_MAX_BYTES: i64 = 1 << 30;
pub(crate) const DEFAULT_SPOOL_SEGMENT_BYTES: i64 = 16 << 20;
pub(crate) const DEFAULT_FSYNC_INTERVAL: Duration = Duration::from_millis(50);
/// `ingest.bulk_max_requests`, `ingest.user_agent_cache`.
pub(crate) const DEFAULT_BULK_MAX_REQUESTS: i64 = 100;
/// Matomo's log importer sends 200 hits a request by default, more with `--recorders`.
pub(crate) const DEFAULT_BULK_MAX_REQUESTS_AUTHENTICATED: i64 = 1000;
pub(crate) const DEFAULT_USER_AGENT_CACHE: i64 = 20_000;
/// `sink.batch_max_rows`, `sink.batch_max_bytes` (64 MiB), `sink.batch_period`: an INSERT ends at
/// the first limit reached.
pub(crate) const DEFAULT_BATCH_MAX_ROWS: i64 = 20_000;
pub(crate) const DEFAULT_BATCH_MAX_BYTES: i64 = 64 << 20;
pub(crate) const DEFAULT_BATCH_PERIOD: Duration = Duration::from_secs(1);
/// `[limits]`: what one client may hold or ask (README, Reliability).
pub(crate) const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_MAX_CONNECTIONS: i64 = 4096;
pub(crate) const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: i64 = 256;
pub(crate) const DEFAULT_MAX_HEADER_BYTES: i64 = 32 << 10;
pub(crate) const DEFAULT_HTTP2_MAX_STREAMS: i64 = 100;
pub(crate) const DEFAULT_STATS_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const DEFAULT_STATS_MAX_CONCURRENT: i64 = 8;
pub(crate) const DEFAULT_STATS_MAX_CONCURRENT_PER_SITE: i64 = 4;
pub(crate) const DEFAULT_STATS_MAX_MEMORY: i64 = 1 << 30;
pub(crate) const DEFAULT_STATS_MAX_ROWS_TO_READ: i64 = 1_000_000_000;
pub(crate) const DEFAULT_STATS_MAX_FILTERS: i64 = 20;
/// The longest a visitor cookie may live (13 months, the CNIL's limit for audience
/// measurement without consent): cookie-mode sites ignore an older `_id`.
pub(crate) const COOKIE_LIFETIME_DAYS: u32 = 395;

/// A validated configuration. Built only by [`Config::load`] / [`Config::from_toml`].
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The collector's public base URL (`https://stats.example.org`), used in the opt-out link
    /// and the privacy summary. Optional.
    pub public_url: Option<String>,
    /// Peers allowed to name the client in `client_ip_header`.
    pub trusted_proxies: Vec<IpNet>,
    /// The one forwarding header those proxies set (default `X-Forwarded-For`).
    pub client_ip_header: crate::privacy::client_ip::ClientIpHeader,
    /// A separate listener for `/metrics` and `/readyz` (then not served on `listen`).
    pub admin_listen: Option<SocketAddr>,
    /// Clients that may read `/metrics` and `/readyz` on `listen` (default: loopback and the
    /// trusted proxies).
    pub admin_networks: Vec<IpNet>,
    pub clickhouse: ClickHouseConfig,
    pub geo: GeoConfig,
    pub privacy: PrivacyConfig,
    pub spool: SpoolConfig,
    pub ingest: IngestConfig,
    pub sink: SinkConfig,
    pub limits: LimitsConfig,
    /// How long `serve` may take to drain and flush on SIGTERM before it gives up.
    pub shutdown_timeout: Duration,
    pub sites: Vec<SiteConfig>,
}

#[derive(Clone)]
pub struct ClickHouseConfig {
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: String,
    /// Cluster mode: the name of a ClickHouse cluster (`remote_servers`). Tables are then
    /// created `ON CLUSTER` as replicated local tables behind distributed ones.
    pub cluster: Option<String>,
    /// A separate user for the stats queries (its profile `readonly = 2`: reads only, settings
    /// allowed); `None` reads as `user`, with `readonly = 2` sent on every read.
    pub read_user: Option<String>,
    pub read_password: String,
}

// Hand-written so a password never reaches a log line through `{:?}`.
impl fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &if self.password.is_empty() { "" } else { "***" })
            .field("cluster", &self.cluster)
            .field("read_user", &self.read_user)
            .field("read_password", &if self.read_password.is_empty() { "" } else { "***" })
            .finish()
    }
}

#[derive(Debug, Clone, Default)]
pub struct GeoConfig {
    /// Path of a GeoIP2/GeoLite2/DB-IP City `.mmdb`; `None` leaves the geo columns empty.
    pub database: Option<PathBuf>,
    /// Mask the address (IPv4 /24, IPv6 /48) before the look-up.
    pub mask_before_lookup: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivacyProfile {
    /// docs/privacy.md enforced: DNT and GPC cannot be switched off.
    Strict,
    /// The operator may relax DNT/GPC handling (and the summary says so).
    Custom,
}

#[derive(Debug, Clone)]
pub struct PrivacyConfig {
    pub profile: PrivacyProfile,
    pub honor_dnt: bool,
    pub honor_gpc: bool,
    /// Live visits (sessions) remembered at most; at the bound the least recently seen are
    /// forgotten first. Each takes about 50–80 bytes (2 million: ~160 MiB).
    pub max_live_visits: usize,
}

#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// Disk the spool may use; beyond it, tracking requests get 503.
    pub max_bytes: u64,
    /// A new segment file starts after this many bytes.
    pub segment_bytes: u64,
    /// Group commit: the spool is fsynced at most this often (the loss window on a power cut).
    pub fsync_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Most requests accepted in one Matomo bulk request.
    pub bulk_max_requests: usize,
    /// Most in one bulk request that carries a site's `token_auth` (a server or a log import).
    pub bulk_max_requests_authenticated: usize,
    /// Distinct user agents whose verdict is cached.
    pub user_agent_cache: usize,
}

#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// An INSERT is ended after this many rows...
    pub batch_max_rows: u64,
    /// ...or this many (uncompressed) bytes...
    pub batch_max_bytes: u64,
    /// ...or this long after it started, whichever comes first.
    pub batch_period: Duration,
}

/// What one client may hold or ask: connection deadlines and caps, and the stats queries'
/// budget. Each limit is in the README's Reliability table with the metric that counts it.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// A request's headers must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no byte moving is closed after this.
    pub idle_timeout: Duration,
    /// A request body must arrive within this (answered 408 otherwise).
    pub body_read_timeout: Duration,
    /// Connections served at once; more are closed at accept.
    pub max_connections: usize,
    /// Connections one address may hold (trusted proxies exempt).
    pub max_connections_per_client: usize,
    /// Largest request head (HTTP/1 headers, HTTP/2 header list).
    pub max_header_bytes: usize,
    /// Concurrent HTTP/2 streams per connection.
    pub http2_max_streams: u32,
    /// A stats query's time limit, in ClickHouse (`max_execution_time`) and here.
    pub stats_timeout: Duration,
    /// Stats queries running at once, over all sites and per site; more wait a little, then
    /// get 429.
    pub stats_max_concurrent: usize,
    pub stats_max_concurrent_per_site: usize,
    /// ClickHouse's `max_memory_usage` and `max_rows_to_read` for one stats query.
    pub stats_max_memory: u64,
    pub stats_max_rows_to_read: u64,
    /// Filters in one stats query.
    pub stats_max_filters: usize,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT as usize,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES as usize,
            http2_max_streams: DEFAULT_HTTP2_MAX_STREAMS as u32,
            stats_timeout: DEFAULT_STATS_TIMEOUT,
            stats_max_concurrent: DEFAULT_STATS_MAX_CONCURRENT as usize,
            stats_max_concurrent_per_site: DEFAULT_STATS_MAX_CONCURRENT_PER_SITE as usize,
            stats_max_memory: DEFAULT_STATS_MAX_MEMORY as u64,
            stats_max_rows_to_read: DEFAULT_STATS_MAX_ROWS_TO_READ as u64,
            stats_max_filters: DEFAULT_STATS_MAX_FILTERS as usize,
        }
    }
}

/// How long a site's events are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    Days(u32),
    Months(u32),
}

/// The oldest timestamp a read may return for a site with `retention_days`, at `now`: the read
/// side's bound (docs/privacy.md E1), and what the retention job deletes before.
pub(crate) fn read_floor(retention_days: u32, now: u64) -> u64 {
    now.saturating_sub(u64::from(retention_days) * crate::clock::DAY)
}

impl Retention {
    /// The retention in whole days, rounded *down* for months (a month counts as 30.436875 days,
    /// the Gregorian average), so that a row is never kept longer than promised.
    pub fn days(self) -> u32 {
        match self {
            Retention::Days(d) => d,
            Retention::Months(m) => (f64::from(m) * 30.436875).floor() as u32,
        }
    }

    fn parse(text: &str) -> Result<Retention, String> {
        let text = text.trim();
        let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
            Some(at) => text.split_at(at),
            None => return Err(format!("{text:?} has no unit: write \"180d\" or \"13mo\"")),
        };
        let n: u32 = digits.parse().map_err(|_| format!("{text:?} is not a number of days or months"))?;
        let retention = match unit {
            "d" => Retention::Days(n),
            "mo" => Retention::Months(n),
            _ => {
                return Err(format!("unit {unit:?} in {text:?}: use \"d\" (days) or \"mo\" (months)"));
            }
        };
        if n == 0 {
            return Err("retention must be at least one day".into());
        }
        if retention.days() > Retention::Months(MAX_RETENTION_MONTHS).days() {
            return Err(format!("{text:?} exceeds the {MAX_RETENTION_MONTHS} months docs/privacy.md E1 allows"));
        }
        Ok(retention)
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Retention::Days(d) => write!(f, "{d} days"),
            Retention::Months(m) => write!(f, "{m} months"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub id: u32,
    /// Host names this site's pages are served from (lower case).
    pub domains: Vec<String>,
    pub retention: Retention,
    /// Query parameters kept in stored URLs; everything else is dropped (docs/privacy.md D1).
    pub keep_query: Vec<String>,
    /// SHA-256 (hex) of the site's server token (Matomo `token_auth`). Only requests carrying
    /// the token may set `cip`, `cid` or a back-dated `cdt` (docs/privacy.md D4).
    pub token_auth_sha256: Option<[u8; 32]>,
    /// Store campaign values (`utm_*`...); when off, only the channel is kept (docs/privacy.md D1).
    pub store_campaigns: bool,
    /// Use the tracker's first-party visitor cookie (`_id`), hashed with the salt, instead of
    /// IP + user agent (docs/privacy.md B5). Off by default: cookieless.
    pub cookie_mode: bool,
    /// How long a cookie-mode visitor cookie counts, from its creation (at most 13 months); the
    /// served `matomo.js` keeps the cookie as long.
    pub cookie_lifetime_days: u32,
    /// Query parameters whose value on a page URL is a site search (Matomo's defaults): the page
    /// view is then stored as a search with that keyword (the query string itself is not).
    pub search_parameters: Vec<String>,
    /// Reports are read in this time zone (IANA name, default `UTC`).
    pub timezone: String,
    /// Anyone may read this site's dashboard and stats, without a token.
    pub public: bool,
    /// SHA-256 (hex) of the secret of a share link (`/share/SECRET`) giving read access.
    pub share_secret_sha256: Option<[u8; 32]>,
    /// Round visitor and visit counts to the nearest 10 in every report (docs/privacy.md F2).
    pub round_counts: bool,
    /// Custom event names that are goals; Matomo goal hits (`idgoal`) always are. Empty: every
    /// custom event counts as a conversion.
    pub goals: Vec<String>,
    /// The site's numbers in Piano Analytics / AT Internet (`s=` of their collection requests).
    pub piano_site_ids: Vec<u32>,
}

impl SiteConfig {
    /// A site with every option at its default (for tools, benchmarks and tests); set the rest
    /// with struct update syntax.
    pub fn with_defaults(id: u32, domain: &str) -> SiteConfig {
        SiteConfig {
            id,
            domains: vec![domain.to_string()],
            retention: Retention::Days(DEFAULT_RETENTION_DAYS),
            keep_query: Vec::new(),
            token_auth_sha256: None,
            store_campaigns: true,
            cookie_mode: false,
            cookie_lifetime_days: COOKIE_LIFETIME_DAYS,
            search_parameters: DEFAULT_SEARCH_PARAMETERS.iter().map(|p| p.to_string()).collect(),
            timezone: "UTC".into(),
            public: false,
            share_secret_sha256: None,
            round_counts: false,
            goals: Vec::new(),
            piano_site_ids: Vec::new(),
        }
    }
}

/// One problem in the configuration, with the key path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { write!(f, "{}", self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// Every problem found in one configuration.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} error(s) in the configuration:", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

/// Environment variable → key path it overrides.
const ENV_OVERRIDES: &[(&str, &[&str])] = &[
    ("MESURE_LISTEN", &["listen"]),
    ("MESURE_CLICKHOUSE_URL", &["clickhouse", "url"]),
    ("MESURE_CLICKHOUSE_DATABASE", &["clickhouse", "database"]),
    ("MESURE_CLICKHOUSE_USER", &["clickhouse", "user"]),
    ("MESURE_CLICKHOUSE_PASSWORD", &["clickhouse", "password"]),
    ("MESURE_CLICKHOUSE_READ_PASSWORD", &["clickhouse", "read_password"]),
    ("MESURE_GEO_DATABASE", &["geo", "database"]),
    ("MESURE_SPOOL_DIR", &["spool", "dir"]),
];

impl Config {
    /// Reads `path`, overlays `env` (pairs of name and value, normally `std::env::vars()`), and
    /// validates. Relative paths in the file stay relative to the working directory.
    pub fn load(path: &Path, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: String::new(),
                message: format!("cannot read {}: {e}", path.display()),
            }])
        })?;
        Config::from_toml(&text, env)
    }

    /// Parses and validates configuration text; see the module documentation.
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigErrors> {
        let mut table: Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigErrors(vec![ConfigError { path: String::new(), message: format!("not valid TOML: {}", e.message()) }])
        })?;
        apply_env(&mut table, env);
        let mut errors = Vec::new();
        let config = build(table, &mut errors);
        match config {
            Some(config) if errors.is_empty() => Ok(config),
            _ => Err(ConfigErrors(errors)),
        }
    }

    pub fn site(&self, id: u32) -> Option<&SiteConfig> {
        self.sites.iter().find(|s| s.id == id)
    }
}

fn apply_env(table: &mut Table, env: impl IntoIterator<Item = (String, String)>) {
    let env: HashMap<String, String> = env.into_iter().collect();
    for (name, path) in ENV_OVERRIDES {
        let Some(value) = env.get(*name) else {
            continue;
        };
        let mut cursor = &mut *table;
        for key in &path[..path.len() - 1] {
            let entry = cursor.entry(key.to_string()).or_insert_with(|| Value::Table(Table::new()));
            if !entry.is_table() {
                *entry = Value::Table(Table::new());
            }
            cursor = entry.as_table_mut().expect("just made a table");
        }
        cursor.insert(path[path.len() - 1].to_string(), Value::String(value.clone()));
    }
}

/// Walks one TOML table, taking known keys out of it; what is left at the end is unknown.
struct Section<'e> {
    path: String,
    table: Table,
    errors: &'e mut Vec<ConfigError>,
}

impl<'e> Section<'e> {
    fn new(path: impl Into<String>, table: Table, errors: &'e mut Vec<ConfigError>) -> Self {
        Section { path: path.into(), table, errors }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }

    fn error(&mut self, key: &str, message: impl Into<String>) {
        let path = self.key_path(key);
        self.errors.push(ConfigError { path, message: message.into() });
    }

    fn take(&mut self, key: &str, expected: &str) -> Option<Value> {
        let value = self.table.remove(key)?;
        if value.type_str() == expected {
            Some(value)
        } else {
            let found = value.type_str();
            self.error(key, format!("expected {expected}, found {found}"));
            None
        }
    }

    fn string(&mut self, key: &str) -> Option<String> {
        self.take(key, "string").and_then(|v| v.as_str().map(str::to_owned))
    }

    fn bool(&mut self, key: &str, default: bool) -> bool {
        self.take(key, "boolean").and_then(|v| v.as_bool()).unwrap_or(default)
    }

    fn integer(&mut self, key: &str, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
        let n = self.take(key, "integer")?.as_integer()?;
        if range.contains(&n) {
            Some(n)
        } else {
            self.error(key, format!("{n} is outside {}..={}", range.start(), range.end()));
            None
        }
    }

    fn string_list(&mut self, key: &str) -> Option<Vec<String>> {
        let items = self.take(key, "array")?;
        let mut out = Vec::new();
        for (i, item) in items.as_array()?.iter().enumerate() {
            match item.as_str() {
                Some(s) => out.push(s.to_owned()),
                None => self.error(&format!("{key}[{i}]"), "expected string"),
            }
        }
        Some(out)
    }

    fn duration(&mut self, key: &str, default: Duration) -> Duration {
        let Some(text) = self.string(key) else {
            return default;
        };
        match parse_duration(&text) {
            Ok(d) => d,
            Err(message) => {
                self.error(key, message);
                default
            }
        }
    }

    fn section(&mut self, key: &str) -> Section<'_> {
        let table = match self.take(key, "table") {
            Some(Value::Table(t)) => t,
            _ => Table::new(),
        };
        let path = self.key_path(key);
        Section::new(path, table, self.errors)
    }

    /// Reports every key nobody took.
    fn finish(self) {
        for key in self.table.keys() {
            let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            self.errors.push(ConfigError { path, message: "unknown key".into() });
        }
    }
}

/// `"500ms"`, `"2s"`, `"5m"`, `"1h"`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let at = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| format!("{text:?} has no unit (ms, s, m, h)"))?;
    let (digits, unit) = text.split_at(at);
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is not a duration"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("unknown unit {unit:?} in {text:?} (use ms, s, m or h)")),
    }
}

fn build(table: Table, errors: &mut Vec<ConfigError>) -> Option<Config> {
    let mut root = Section::new("", table, errors);

    let listen = match root.string("listen") {
        None => Some(DEFAULT_LISTEN),
        Some(text) => match text.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                root.error("listen", format!("{text:?} is not an address:port"));
                None
            }
        },
    };

    let mut trusted_proxies = Vec::new();
    for (i, text) in root.string_list("trusted_proxies").unwrap_or_default().iter().enumerate() {
        // A bare address means just that host.
        let parsed = text.parse::<IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from));
        match parsed {
            Ok(net) => trusted_proxies.push(net),
            Err(_) => {
                root.error(&format!("trusted_proxies[{i}]"), format!("{text:?} is not an address or CIDR network"))
            }
        }
    }

    let client_ip_header = match root.string("client_ip_header") {
        None => crate::privacy::client_ip::ClientIpHeader::default(),
        Some(name) => crate::privacy::client_ip::ClientIpHeader::parse(&name).unwrap_or_else(|| {
            root.error("client_ip_header", format!("{name:?} is not a header name"));
            crate::privacy::client_ip::ClientIpHeader::default()
        }),
    };
    let admin_listen = root.string("admin_listen").and_then(|text| match text.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            root.error("admin_listen", format!("{text:?} is not an address:port"));
            None
        }
    });
    let admin_networks = match root.string_list("admin_networks") {
        None => {
            let loopback: [IpNet; 2] =
                ["127.0.0.0/8".parse().expect("a network"), "::1/128".parse().expect("a network")];
            loopback.into_iter().chain(trusted_proxies.iter().copied()).collect()
        }
        Some(list) => {
            let mut networks = Vec::new();
            for (i, text) in list.iter().enumerate() {
                match text.parse::<IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from)) {
                    Ok(net) => networks.push(net),
                    Err(_) => root
                        .error(&format!("admin_networks[{i}]"), format!("{text:?} is not an address or CIDR network")),
                }
            }
            networks
        }
    };

    let shutdown_timeout = root.duration("shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT);
    let public_url = root.string("public_url").map(|u| u.trim_end_matches('/').to_string());
    if let Some(url) = &public_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        root.error("public_url", format!("{url:?} must start with http:// or https://"));
    }

    let clickhouse = {
        let mut s = root.section("clickhouse");
        let url = s.string("url").unwrap_or_else(|| DEFAULT_CLICKHOUSE_URL.into());
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            s.error("url", format!("{url:?} must start with http:// or https://"));
        }
        let database = s.string("database").unwrap_or_else(|| DEFAULT_CLICKHOUSE_DATABASE.into());
        if database.is_empty() || !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            s.error("database", format!("{database:?} must be letters, digits and underscores"));
        }
        let user = s.string("user").unwrap_or_else(|| DEFAULT_CLICKHOUSE_USER.into());
        let password = s.string("password").unwrap_or_default();
        let cluster = s.string("cluster").filter(|c| !c.is_empty());
        if let Some(name) = &cluster
            && !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            s.error("cluster", format!("{name:?} must be letters, digits and underscores"));
        }
        let read_user = s.string("read_user").filter(|u| !u.is_empty());
        let read_password = s.string("read_password").unwrap_or_default();
        s.finish();
        ClickHouseConfig { url, database, user, password, cluster, read_user, read_password }
    };

    let geo = {
        let mut s = root.section("geo");
        let database = s.string("database").filter(|p| !p.is_empty()).map(PathBuf::from);
        if let Some(path) = &database
            && !path.is_file()
        {
            s.error(
                "database",
                format!("{} does not exist (remove the key to run without geolocation)", path.display()),
            );
        }
        let mask_before_lookup = s.bool("mask_before_lookup", false);
        s.finish();
        GeoConfig { database, mask_before_lookup }
    };

    let privacy = {
        let mut s = root.section("privacy");
        let profile = match s.string("profile").as_deref() {
            None | Some("strict") => PrivacyProfile::Strict,
            Some("custom") => PrivacyProfile::Custom,
            Some(other) => {
                s.error("profile", format!("{other:?} is not \"strict\" or \"custom\""));
                PrivacyProfile::Strict
            }
        };
        let honor_dnt = s.bool("honor_dnt", true);
        let honor_gpc = s.bool("honor_gpc", true);
        if profile == PrivacyProfile::Strict {
            if !honor_dnt {
                s.error("honor_dnt", "cannot be false under privacy.profile = \"strict\" (docs/privacy.md C1)");
            }
            if !honor_gpc {
                s.error("honor_gpc", "cannot be false under privacy.profile = \"strict\" (docs/privacy.md C2)");
            }
        }
        let max_live_visits =
            s.integer("max_live_visits", 1_000..=100_000_000).unwrap_or(DEFAULT_MAX_LIVE_VISITS) as usize;
        s.finish();
        PrivacyConfig { profile, honor_dnt, honor_gpc, max_live_visits }
    };

    let spool = {
        let mut s = root.section("spool");
        let dir = s.string("dir").unwrap_or_else(|| DEFAULT_SPOOL_DIR.into());
        let max_bytes = s.integer("max_bytes", 1 << 16..=1 << 44).unwrap_or(DEFAULT_SPOOL_MAX_BYTES) as u64;
        let segment_bytes = s.integer("segment_bytes", 1 << 12..=1 << 32).unwrap_or(DEFAULT_SPOOL_SEGMENT_BYTES) as u64;
        let fsync_interval = s.duration("fsync_interval", DEFAULT_FSYNC_INTERVAL);
        s.finish();
        SpoolConfig { dir: PathBuf::from(dir), max_bytes, segment_bytes, fsync_interval }
    };

    let ingest = {
        let mut s = root.section("ingest");
        let bulk_max_requests =
            s.integer("bulk_max_requests", 1..=10_000).unwrap_or(DEFAULT_BULK_MAX_REQUESTS) as usize;
        let user_agent_cache =
            s.integer("user_agent_cache", 16..=10_000_000).unwrap_or(DEFAULT_USER_AGENT_CACHE) as usize;
        let bulk_max_requests_authenticated = s
            .integer("bulk_max_requests_authenticated", 1..=10_000)
            .unwrap_or(DEFAULT_BULK_MAX_REQUESTS_AUTHENTICATED) as usize;
        s.finish();
        IngestConfig { bulk_max_requests, bulk_max_requests_authenticated, user_agent_cache }
    };

    let sink = {
        let mut s = root.section("sink");
        let batch_max_rows = s.integer("batch_max_rows", 1..=10_000_000).unwrap_or(DEFAULT_BATCH_MAX_ROWS) as u64;
        let batch_max_bytes = s.integer("batch_max_bytes", 1024..=1 << 34).unwrap_or(DEFAULT_BATCH_MAX_BYTES) as u64;
        let batch_period = s.duration("batch_period", DEFAULT_BATCH_PERIOD);
        if batch_period.is_zero() {
            s.error("batch_period", "must be longer than zero");
        }
        s.finish();
        SinkConfig { batch_max_rows, batch_max_bytes, batch_period }
    };

    let limits = {
        let mut s = root.section("limits");
        let d = LimitsConfig::default();
        let positive = |s: &mut Section<'_>, key: &str, default: Duration| {
            let value = s.duration(key, default);
            if value.is_zero() {
                s.error(key, "must be longer than zero");
            }
            value
        };
        let header_read_timeout = positive(&mut s, "header_read_timeout", d.header_read_timeout);
        let idle_timeout = positive(&mut s, "idle_timeout", d.idle_timeout);
        let body_read_timeout = positive(&mut s, "body_read_timeout", d.body_read_timeout);
        let stats_timeout = positive(&mut s, "stats_timeout", d.stats_timeout);
        let limits = LimitsConfig {
            header_read_timeout,
            idle_timeout,
            body_read_timeout,
            max_connections: s.integer("max_connections", 16..=1_000_000).unwrap_or(DEFAULT_MAX_CONNECTIONS) as usize,
            max_connections_per_client: s
                .integer("max_connections_per_client", 1..=1_000_000)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_CLIENT) as usize,
            max_header_bytes: s.integer("max_header_bytes", 8192..=1 << 20).unwrap_or(DEFAULT_MAX_HEADER_BYTES)
                as usize,
            http2_max_streams: s.integer("http2_max_streams", 1..=1000).unwrap_or(DEFAULT_HTTP2_MAX_STREAMS) as u32,
            stats_timeout,
            stats_max_concurrent: s.integer("stats_max_concurrent", 1..=1000).unwrap_or(DEFAULT_STATS_MAX_CONCURRENT)
                as usize,
            stats_max_concurrent_per_site: s
                .integer("stats_max_concurrent_per_site", 1..=1000)
                .unwrap_or(DEFAULT_STATS_MAX_CONCURRENT_PER_SITE) as usize,
            stats_max_memory: s.integer("stats_max_memory", 1 << 20..=1 << 40).unwrap_or(DEFAULT_STATS_MAX_MEMORY)
                as u64,
            stats_max_rows_to_read: s
                .integer("stats_max_rows_to_read", 1000..=i64::MAX)
                .unwrap_or(DEFAULT_STATS_MAX_ROWS_TO_READ) as u64,
            stats_max_filters: s.integer("stats_max_filters", 1..=100).unwrap_or(DEFAULT_STATS_MAX_FILTERS) as usize,
        };
        s.finish();
        limits
    };

    let sites = build_sites(&mut root);
    root.finish();

    Some(Config {
        listen: listen?,
        public_url,
        trusted_proxies,
        client_ip_header,
        admin_listen,
        admin_networks,
        clickhouse,
        geo,
        privacy,
        spool,
        ingest,
        sink,
        limits,
        shutdown_timeout,
        sites,
    })
}

fn build_sites(root: &mut Section<'_>) -> Vec<SiteConfig> {
    let entries = match root.take("sites", "array") {
        Some(Value::Array(entries)) => entries,
        _ => {
            root.error("sites", "at least one [[sites]] entry is needed");
            return Vec::new();
        }
    };
    let mut sites = Vec::new();
    let mut ids = HashSet::new();
    let mut domains_seen: HashMap<String, u32> = HashMap::new();
    let mut piano_seen: HashMap<u32, u32> = HashMap::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let path = format!("sites[{i}]");
        let Value::Table(table) = entry else {
            root.errors.push(ConfigError { path, message: "expected a table".into() });
            continue;
        };
        let mut s = Section::new(path, table, root.errors);
        let id = s.integer("id", 1..=i64::from(u32::MAX)).map(|n| n as u32);
        if id.is_none() && !s.errors.iter().any(|e| e.path == s.key_path("id")) {
            s.error("id", "missing (a positive integer)");
        }
        if let Some(id) = id
            && !ids.insert(id)
        {
            s.error("id", format!("site id {id} is defined twice"));
        }
        let mut domains = Vec::new();
        for (j, domain) in s.string_list("domains").unwrap_or_default().into_iter().enumerate() {
            let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
            let valid = !domain.is_empty()
                && domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':');
            if !valid {
                s.error(&format!("domains[{j}]"), format!("{domain:?} is not a host name"));
                continue;
            }
            if let Some(id) = id
                && let Some(other) = domains_seen.insert(domain.clone(), id)
                && other != id
            {
                s.error(&format!("domains[{j}]"), format!("{domain:?} already belongs to site {other}"));
            }
            domains.push(domain);
        }
        if domains.is_empty() {
            s.error("domains", "at least one domain is needed");
        }
        let retention = match s.string("retention") {
            None => Retention::Days(DEFAULT_RETENTION_DAYS),
            Some(text) => Retention::parse(&text).unwrap_or_else(|message| {
                s.error("retention", message);
                Retention::Days(DEFAULT_RETENTION_DAYS)
            }),
        };
        let keep_query = s.string_list("keep_query").unwrap_or_default();
        for (j, key) in keep_query.iter().enumerate() {
            if crate::enrich::url::is_identifying(key) {
                s.error(
                    &format!("keep_query[{j}]"),
                    format!("{key:?} identifies people and is never stored (docs/privacy.md D1)"),
                );
            }
        }
        let token_auth_sha256 = s.string("token_auth_sha256").and_then(|text| {
            let mut digest = [0u8; 32];
            match hex::decode_to_slice(text.trim(), &mut digest) {
                Ok(()) => Some(digest),
                Err(_) => {
                    s.error(
                        "token_auth_sha256",
                        "expected 64 hex digits: the SHA-256 of the token (`printf %s TOKEN | sha256sum`)",
                    );
                    None
                }
            }
        });
        let store_campaigns = s.bool("store_campaigns", true);
        let cookie_mode = s.bool("cookie_mode", false);
        let cookie_lifetime_days = match s.string("cookie_lifetime") {
            None => COOKIE_LIFETIME_DAYS,
            Some(text) => match Retention::parse(&text).map(Retention::days) {
                Ok(days) if days <= COOKIE_LIFETIME_DAYS => days,
                Ok(_) => {
                    s.error("cookie_lifetime", format!("{text:?} is over 13 months (docs/privacy.md B5)"));
                    COOKIE_LIFETIME_DAYS
                }
                Err(message) => {
                    s.error("cookie_lifetime", message);
                    COOKIE_LIFETIME_DAYS
                }
            },
        };
        let search_parameters = s
            .string_list("search_parameters")
            .unwrap_or_else(|| DEFAULT_SEARCH_PARAMETERS.iter().map(|p| p.to_string()).collect());
        let timezone = s.string("timezone").unwrap_or_else(|| "UTC".into());
        if timezone.is_empty() || !timezone.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c)) {
            s.error("timezone", format!("{timezone:?} is not an IANA time zone name (e.g. \"Europe/Paris\")"));
        }
        let public = s.bool("public", false);
        let share_secret_sha256 = s.string("share_secret_sha256").and_then(|text| {
            let mut digest = [0u8; 32];
            match hex::decode_to_slice(text.trim(), &mut digest) {
                Ok(()) => Some(digest),
                Err(_) => {
                    s.error("share_secret_sha256", "expected 64 hex digits: the SHA-256 of the share secret");
                    None
                }
            }
        });
        let round_counts = s.bool("round_counts", false);
        let goals = s.string_list("goals").unwrap_or_default();
        let mut piano_site_ids = Vec::new();
        if let Some(Value::Array(numbers)) = s.take("piano_site_ids", "array") {
            for (j, number) in numbers.iter().enumerate() {
                let key = format!("piano_site_ids[{j}]");
                match number.as_integer().and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0) {
                    Some(piano) => {
                        if let Some(id) = id
                            && let Some(other) = piano_seen.insert(piano, id)
                            && other != id
                        {
                            s.error(&key, format!("Piano site {piano} already belongs to site {other}"));
                        }
                        piano_site_ids.push(piano);
                    }
                    None => s.error(&key, "expected a Piano site number (a positive integer)"),
                }
            }
        }
        s.finish();
        if let Some(id) = id {
            sites.push(SiteConfig {
                id,
                domains,
                retention,
                keep_query,
                token_auth_sha256,
                store_campaigns,
                cookie_mode,
                cookie_lifetime_days,
                search_parameters,
                timezone,
                public,
                share_secret_sha256,
                round_counts,
                goals,
                piano_site_ids,
            });
        }
    }
    sites
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [[sites]]
        id = 1
        domains = ["example.org"]
    "#;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let c = Config::from_toml(MINIMAL, no_env()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.clickhouse.database, "mesure");
        assert!(c.privacy.honor_dnt && c.privacy.honor_gpc);
        assert_eq!(c.sites[0].retention, Retention::Days(180));
    }

    #[test]
    fn every_mistake_is_reported_at_once_with_its_path() {
        let text = r#"
            listen = "nowhere"
            colour = "blue"
            [clickhouse]
            url = "ftp://x"
            [[sites]]
            id = 1
            domains = ["example.org"]
            retention = "30y"
            [[sites]]
            id = 1
            domains = []
        "#;
        let errors = Config::from_toml(text, no_env()).unwrap_err().0;
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        for expected in ["listen", "colour", "clickhouse.url", "sites[0].retention", "sites[1].id", "sites[1].domains"]
        {
            assert!(paths.contains(&expected), "{expected} missing from {errors:?}");
        }
        assert_eq!(errors.len(), 6, "{errors:?}");
    }

    #[test]
    fn env_overrides_file_values() {
        let env = vec![
            ("MESURE_LISTEN".to_string(), "0.0.0.0:9999".to_string()),
            ("MESURE_CLICKHOUSE_DATABASE".to_string(), "other".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let c = Config::from_toml(MINIMAL, env).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:9999");
        assert_eq!(c.clickhouse.database, "other");
    }

    #[test]
    fn retention_units_and_limit() {
        assert_eq!(Retention::parse("180d"), Ok(Retention::Days(180)));
        assert_eq!(Retention::parse("13mo").unwrap().days(), 395);
        assert!(Retention::parse("25mo").is_ok());
        assert!(Retention::parse("26mo").is_err());
        assert!(Retention::parse("800d").is_err());
        assert!(Retention::parse("0d").is_err());
        assert!(Retention::parse("12").is_err());
        assert!(Retention::parse("12w").is_err());
    }

    #[test]
    fn strict_profile_refuses_dnt_off() {
        let text = format!("[privacy]\nhonor_dnt = false\n{MINIMAL}");
        let errors = Config::from_toml(&text, no_env()).unwrap_err().0;
        assert_eq!(errors[0].path, "privacy.honor_dnt");
        let text = format!("[privacy]\nprofile = \"custom\"\nhonor_dnt = false\n{MINIMAL}");
        assert!(!Config::from_toml(&text, no_env()).unwrap().privacy.honor_dnt);
    }

    #[test]
    fn privacy_breaking_settings_are_refused() {
        let text = r#"
            [geo]
            database = "/nonexistent/city.mmdb"
            [[sites]]
            id = 1
            domains = ["example.org"]
            keep_query = ["q", "email"]
            token_auth_sha256 = "not-hex"
        "#;
        let errors = Config::from_toml(text, no_env()).unwrap_err().0;
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["geo.database", "sites[0].keep_query[1]", "sites[0].token_auth_sha256"], "{errors:?}");
    }

    #[test]
    fn cookie_lifetime_defaults_to_13_months_and_cannot_exceed_it() {
        let sites = |extra: &str| {
            Config::from_toml(&format!("[[sites]]\nid = 1\ndomains = [\"example.org\"]\n{extra}"), no_env())
        };
        assert_eq!(sites("").unwrap().sites[0].cookie_lifetime_days, 395);
        assert_eq!(sites("cookie_lifetime = \"180d\"").unwrap().sites[0].cookie_lifetime_days, 180);
        assert_eq!(sites("cookie_lifetime = \"6mo\"").unwrap().sites[0].cookie_lifetime_days, 182);
        let errors = sites("cookie_lifetime = \"14mo\"").unwrap_err().0;
        assert_eq!(errors[0].path, "sites[0].cookie_lifetime");
    }

    #[test]
    fn wrong_types_are_named() {
        let text = format!("listen = 8080\n[sink]\nbatch_max_rows = \"many\"\n{MINIMAL}");
        let errors = Config::from_toml(&text, no_env()).unwrap_err().0;
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().any(|e| e.path == "listen" && e.message.contains("expected string")));
        assert!(errors.iter().any(|e| e.path == "sink.batch_max_rows"));
    }

    #[test]
    fn the_live_visit_cap_has_a_default_and_bounds() {
        assert_eq!(Config::from_toml(MINIMAL, no_env()).unwrap().privacy.max_live_visits, 2_000_000);
        let text = format!("[privacy]\nmax_live_visits = 250000\n{MINIMAL}");
        assert_eq!(Config::from_toml(&text, no_env()).unwrap().privacy.max_live_visits, 250_000);
        let text = format!("[privacy]\nmax_live_visits = 10\n{MINIMAL}");
        let errors = Config::from_toml(&text, no_env()).unwrap_err().0;
        assert!(errors.iter().any(|e| e.path == "privacy.max_live_visits"), "{errors:?}");
    }
}

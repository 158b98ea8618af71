//! Shared test harness: a private ClickHouse server per test process, unique databases, and the
//! real `mesure` binary started as a child process on a free loopback port.
//!
//! Nothing here depends on a server someone else started. The ClickHouse instance is started by
//! `scripts/clickhouse.sh` (the same script developers use) in a temporary directory, and a
//! small watchdog process stops it by PID once the test process has exited, because Rust's test
//! harness runs no code at the end of a run.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Runs `stop` and removes `dir` once the test process has exited, whatever happened: Rust's
/// test harness runs no code at the end of a run. The watchdog outlives us by design.
#[allow(clippy::zombie_processes)]
fn watchdog(stop: &str, dir: &Path) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop}; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a watchdog");
}

/// A free TCP port on 127.0.0.1 (bound and released; the kernel does not hand it out again at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One private ClickHouse server.
pub struct ClickHouse {
    pub dir: PathBuf,
    pub http_port: u16,
    pub tcp_port: u16,
}

impl ClickHouse {
    /// Starts a new private instance in a fresh temporary directory.
    pub fn start() -> ClickHouse {
        let dir = tempfile::Builder::new().prefix("mesure-ch-").tempdir().unwrap().keep();
        let ch = ClickHouse { dir, http_port: free_port(), tcp_port: free_port() };
        // Stop this instance by PID when the test process is gone, whatever happened (the
        // watchdog first, so a failed start is cleaned up too).
        watchdog(&format!("'{REPO}/scripts/clickhouse.sh' stop '{}'", ch.dir.display()), &ch.dir);
        ch.start_again();
        ch
    }

    /// Starts a new private instance that logs the text of every query to `system.query_log`,
    /// as current ClickHouse releases do by default.
    pub fn start_logging_queries() -> ClickHouse {
        let dir = tempfile::Builder::new().prefix("mesure-chlog-").tempdir().unwrap().keep();
        let ch = ClickHouse { dir, http_port: free_port(), tcp_port: free_port() };
        watchdog(&format!("'{REPO}/scripts/clickhouse.sh' stop '{}'", ch.dir.display()), &ch.dir);
        ch.start_with(&[("CLICKHOUSE_LOG_QUERIES", "1")]);
        ch
    }

    /// (Re)starts the server on the same ports and data directory.
    pub fn start_again(&self) {
        self.start_with(&[]);
    }

    fn start_with(&self, env: &[(&str, &str)]) {
        let status = Command::new(format!("{REPO}/scripts/clickhouse.sh"))
            .envs(env.iter().copied())
            .arg("start")
            .arg(&self.dir)
            .arg(self.http_port.to_string())
            .arg(self.tcp_port.to_string())
            .status()
            .expect("run scripts/clickhouse.sh");
        assert!(status.success(), "ClickHouse did not start (see {})", self.dir.display());
    }

    pub fn stop(&self) {
        let status = Command::new(format!("{REPO}/scripts/clickhouse.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status()
            .expect("run scripts/clickhouse.sh");
        assert!(status.success());
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Runs `sql` and returns the response body (TabSeparated), panicking on an error.
    pub async fn query(&self, sql: &str) -> String {
        let response = reqwest::Client::new().post(self.url()).body(sql.to_string()).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "query failed ({status}): {sql}\n{body}");
        body
    }

    /// A single-node configuration for database `db` of this server.
    pub fn config(&self, db: &str) -> mesure::config::ClickHouseConfig {
        mesure::config::ClickHouseConfig {
            url: self.url(),
            database: db.to_string(),
            user: "default".into(),
            password: String::new(),
            cluster: None,
            read_user: None,
            read_password: String::new(),
        }
    }

    /// A fresh database (`prefix` + a unique suffix) with every migration applied.
    pub async fn migrated(&self, prefix: &str) -> mesure::config::ClickHouseConfig {
        let config = self.config(&unique_database(prefix));
        mesure::store::Store::new(&config).migrate(mesure::store::migrations::MIGRATIONS).await.unwrap();
        config
    }

    /// A ClickHouse client of the tests' own, to seed rows and read them back as an observer
    /// (the collector's statements go through its `Store`).
    pub fn client(&self, config: &mesure::config::ClickHouseConfig) -> clickhouse::Client {
        clickhouse::Client::default().with_url(&config.url).with_database(&config.database).with_validation(false)
    }

    /// Runs a query returning one number.
    pub async fn count(&self, sql: &str) -> u64 {
        let text = self.query(sql).await;
        text.trim().parse().unwrap_or_else(|_| panic!("not a number: {text:?} from {sql}"))
    }
}

/// A local cluster (ZooKeeper, 2 shards × 2 replicas) started by `scripts/cluster.sh`, stopped
/// by PID when the test process exits.
pub struct Cluster {
    pub dir: PathBuf,
    pub ports: std::collections::HashMap<String, u16>,
}

impl Cluster {
    pub fn start() -> Cluster {
        // Free ports are picked before the servers bind them; under a busy test run another
        // process can take one in between, so a failed start is retried once on new ports.
        let mut attempt = 0;
        let dir = loop {
            attempt += 1;
            let dir = tempfile::Builder::new().prefix("mesure-cluster-").tempdir().unwrap().keep();
            // The watchdog first, so that even a half-started cluster is stopped.
            watchdog(&format!("'{REPO}/scripts/cluster.sh' stop '{}'", dir.display()), &dir);
            let status = Command::new(format!("{REPO}/scripts/cluster.sh")).arg("start").arg(&dir).status().unwrap();
            if status.success() {
                break dir;
            }
            let _ = Command::new(format!("{REPO}/scripts/cluster.sh")).arg("stop").arg(&dir).status();
            assert!(attempt < 2, "the cluster did not start (see {})", dir.display());
        };
        let env = std::fs::read_to_string(dir.join("cluster.env")).unwrap();
        let ports =
            env.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.parse().unwrap())).collect();
        Cluster { dir, ports }
    }

    /// A node as a `ClickHouse` handle (`s1r1`, `s1r2`, `s2r1`, `s2r2`).
    pub fn node(&self, name: &str) -> ClickHouse {
        let upper = name.to_uppercase();
        ClickHouse {
            dir: self.dir.join(name),
            http_port: self.ports[&format!("{upper}_HTTP")],
            tcp_port: self.ports[&format!("{upper}_TCP")],
        }
    }

    pub fn stop_node(&self, name: &str) {
        self.script("stop-node", name);
    }

    pub fn start_node(&self, name: &str) {
        self.script("start-node", name);
    }

    fn script(&self, command: &str, node: &str) {
        let ok =
            Command::new(format!("{REPO}/scripts/cluster.sh")).arg(command).arg(&self.dir).arg(node).status().unwrap();
        assert!(ok.success(), "cluster.sh {command} {node}");
    }
}

/// The ClickHouse shared by every test of this process that does not need to stop it.
pub fn clickhouse() -> &'static ClickHouse {
    static SHARED: OnceLock<ClickHouse> = OnceLock::new();
    SHARED.get_or_init(ClickHouse::start)
}

/// A database name no other test uses.
pub fn unique_database(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("t_{prefix}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A configuration file's text for one collector.
pub struct CollectorConfig {
    pub listen_port: u16,
    pub clickhouse_url: String,
    pub database: String,
    /// `sink.batch_period`: how long rows may wait before an INSERT ends.
    pub batch_period: String,
    /// Top-level keys (before any table).
    pub head: String,
    /// Extra keys of the `[spool]` table.
    pub spool: String,
    /// Extra keys of the `[clickhouse]` table (e.g. `cluster = "mesure"`).
    pub clickhouse_extra: String,
    /// `RUST_LOG` for the collector.
    pub log: String,
    /// Extra TOML appended after the generated keys (sites, sections).
    pub extra: String,
}

impl CollectorConfig {
    pub fn new(ch: &ClickHouse, database: &str) -> CollectorConfig {
        CollectorConfig {
            listen_port: free_port(),
            clickhouse_url: ch.url(),
            database: database.to_string(),
            batch_period: "200ms".to_string(),
            log: std::env::var("MESURE_TEST_LOG").unwrap_or_else(|_| "mesure=debug,info".into()),
            spool: String::new(),
            clickhouse_extra: String::new(),
            head: "trusted_proxies = [\"127.0.0.1/32\"]\n".to_string(),
            extra: format!("[geo]\ndatabase = \"{}\"\n{DEMO_SITES}", test_geo_db().display()),
        }
    }

    pub fn render(&self, dir: &Path) -> String {
        format!(
            "listen = \"127.0.0.1:{port}\"\nshutdown_timeout = \"20s\"\n{head}\n[clickhouse]\nurl = \"{url}\"\ndatabase = \"{db}\"\n{clickhouse_extra}\n[spool]\ndir = \"{spool}\"\n{spool_extra}\n[sink]\nbatch_period = \"{period}\"\n\n{extra}\n",
            port = self.listen_port,
            url = self.clickhouse_url,
            db = self.database,
            spool = dir.join("spool").display(),
            period = self.batch_period,
            head = self.head,
            spool_extra = self.spool,
            clickhouse_extra = self.clickhouse_extra,
            extra = self.extra
        )
    }
}

/// MaxMind's official GeoIP2-City test database (fixture).
pub fn test_geo_db() -> PathBuf {
    Path::new(REPO).join("geo/test-data/GeoIP2-City-Test.mmdb")
}

/// Sites most tests use.
pub const DEMO_SITES: &str = r#"
[[sites]]
id = 1
domains = ["example.org", "www.example.org"]

[[sites]]
id = 2
domains = ["shop.example.net"]
retention = "13mo"
"#;

/// A running `mesure serve` child process.
pub struct Collector {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    /// Keep `dir` when dropped (to restart a collector on the same spool).
    pub keep_dir: bool,
}

impl Collector {
    /// Writes the config and starts `mesure serve`; waits until `/healthz` answers.
    pub async fn start(config: &CollectorConfig) -> Collector {
        let dir = tempfile::Builder::new().prefix("mesure-collector-").tempdir().unwrap().keep();
        Collector::start_in(config, dir).await
    }

    /// Like `start`, in a given directory (to restart a collector on the same files).
    pub async fn start_in(config: &CollectorConfig, dir: PathBuf) -> Collector {
        let path = dir.join("mesure.toml");
        std::fs::write(&path, config.render(&dir)).unwrap();
        let stdout = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("stdout.log")).unwrap();
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("stderr.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_mesure"))
            .arg("serve")
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", &config.log)
            .env_remove("MESURE_CONFIG")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start mesure");
        let mut collector = Collector { child, port: config.listen_port, dir, keep_dir: false };
        collector.wait_healthy().await;
        collector
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = http();
        loop {
            if let Ok(r) = client.get(self.url("/healthz")).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("mesure exited with {status} during start-up:\n{}", self.stderr());
            }
            assert!(Instant::now() < deadline, "mesure not healthy after 30 s:\n{}", self.stderr());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and waits for the exit status (at most `within`).
    pub async fn terminate(mut self, within: Duration) -> std::process::ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "mesure still running {within:?} after SIGTERM:\n{}", self.stderr());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Keep the logs of a failed test for reading; tidy up after a passing one.
        if !std::thread::panicking() && !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Polls `check` until it returns `Some`, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A real browser's user agent (an empty or library user agent is a bot and stores nothing).
pub const BROWSER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// An HTTP client that presents itself as a browser.
/// The JSON body of the answer to `request` (sent once; panics on a transport error or a body
/// that is not JSON).
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

pub fn http() -> reqwest::Client {
    browser().build().unwrap()
}

/// A client builder with the browser user agent, to add a cookie jar or a redirect policy.
pub fn browser() -> reqwest::ClientBuilder {
    reqwest::Client::builder().user_agent(BROWSER_UA)
}

/// Percent-encodes a value for a query string.
pub fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

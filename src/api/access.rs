//! Who may read what, and how much: a request's [`Credential`] becomes a [`Grant`] for one site
//! (or a [`Refusal`]), and every query a dialect runs for that request goes through the grant.
//!
//! Access (docs/privacy.md F1): a site's API token or share secret, sent as `Authorization:
//! Bearer`, as a request parameter (Matomo's `token_auth`) or through a dashboard session; a
//! public site needs none. No credential, or an unknown or revoked one: unauthenticated (401). A
//! valid credential for another site: forbidden (403). Reports are aggregates only (F2).
//!
//! One credential check and one concurrency slot per HTTP request, however many queries a
//! dialect runs under it (Plausible's conversion rates need up to four).

use std::sync::Arc;
use std::time::Duration;

use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;

use super::Refusal;
use super::budget::{Credentials, Lookup, QUEUE_WAIT, QueryGate, Running};
use super::session::{self, Sessions};
use crate::clock::Clock;
use crate::config::{LimitsConfig, SiteConfig};
use crate::live::LiveSettings;
use crate::privacy::client_ip::ClientKey;
use crate::query::request::StatsRequest;
use crate::query::stats::{self, Audience, QueryError};
use crate::store::{ANSWER_TOO_LARGE, Store, tokens};
use crate::telemetry::metrics::Metrics;

/// Who asks, as the router knows them: a keyed hash of their address (for their own budget of
/// wrong credentials; never the address) and whether they came over https (which decides the
/// session cookie's name).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller {
    pub client: ClientKey,
    pub https: bool,
}

/// What a request presents to read a site, and who presents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credential<'a> {
    pub(crate) presented: Presented<'a>,
    pub(crate) caller: Caller,
}

/// The credential itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// An API token or share secret (`Authorization: Bearer …`, or a `token_auth` parameter).
    Secret(&'a str),
    /// The id of a dashboard sign-in session (its cookie).
    Session(&'a str),
    /// Nothing: only public sites may be read.
    None,
}

impl<'a> Credential<'a> {
    /// The request's credential: its bearer token, else `parameter` (a dialect's token
    /// parameter, such as Matomo's `token_auth`), else its session cookie.
    pub fn of(headers: &'a HeaderMap, parameter: Option<&'a str>, caller: Caller) -> Credential<'a> {
        let presented = if let Some(secret) = bearer(headers).or(parameter.map(str::trim).filter(|p| !p.is_empty())) {
            Presented::Secret(secret)
        } else {
            match session::id_of(headers, caller.https) {
                Some(id) => Presented::Session(id),
                None => Presented::None,
            }
        };
        Credential { presented, caller }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    (!token.is_empty()).then_some(token)
}

/// A site id no site has (ids start at 1): what a dialect asks for when its request names an
/// unknown site, so that it is refused as a private one.
pub(crate) const NO_SITE: u32 = 0;
/// The site id a stored token row names for a token of every site (`--all-sites`).
pub(crate) const ALL_SITES: u32 = 0;

/// The sites a credential reads: some (a token of one or several sites, a site's share secret
/// or `token_auth`), or every configured one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Sites(Vec<u32>),
    All,
}

impl Scope {
    pub fn one(site: u32) -> Scope {
        Scope::Sites(vec![site])
    }

    /// Whether it reads site `id` (never `NO_SITE`).
    pub fn covers(&self, id: u32) -> bool {
        id != NO_SITE
            && match self {
                Scope::Sites(ids) => ids.contains(&id),
                Scope::All => true,
            }
    }
}

/// How a grant reads its site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reader {
    /// With the site's API token or share secret.
    Credential,
    /// As anyone: the site is public.
    Public,
}

/// The read side's shared state: settings, ClickHouse, the budgets and the sessions.
pub struct Access {
    pub(crate) live: Arc<LiveSettings>,
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    limits: LimitsConfig,
    gate: QueryGate,
    pub(crate) credentials: Credentials,
    pub(crate) sessions: Sessions,
    pub(crate) metrics: Metrics,
}

/// A request's right to read one site, holding its concurrency slot until dropped.
pub struct Grant<'a> {
    access: &'a Access,
    site: SiteConfig,
    reader: Reader,
    _slot: Running,
}

impl Access {
    pub fn new(
        live: Arc<LiveSettings>,
        store: Store,
        clock: Arc<dyn Clock>,
        limits: &LimitsConfig,
        metrics: Metrics,
    ) -> Access {
        let gate = QueryGate::new(limits.stats_max_concurrent, limits.stats_max_concurrent_per_site);
        Access {
            live,
            store,
            clock,
            limits: limits.clone(),
            gate,
            credentials: Credentials::new(),
            sessions: Sessions::default(),
            metrics,
        }
    }

    /// Checks `credential` for site `site_id` once and takes the request's concurrency slot. An
    /// unknown site is refused as a private one is (unauthenticated without a valid credential,
    /// forbidden with another site's), so which sites exist cannot be learnt from the answers;
    /// [`NO_SITE`] asks for one that does not exist.
    pub async fn authorize(&self, credential: &Credential<'_>, site_id: u32) -> Result<Grant<'_>, Refusal> {
        let site = self.live.current().sites.get(site_id).cloned();
        let scope = self.credential_scope(credential).await?;
        let Some(site) = site else {
            return Err(if scope.is_some() { Refusal::Forbidden } else { Refusal::Unauthenticated });
        };
        let verdict = match scope {
            Some(scope) if scope.covers(site.id) => Ok(Reader::Credential),
            Some(_) => Err(Refusal::Forbidden),
            None => Err(Refusal::Unauthenticated),
        };
        let reader = match verdict {
            Err(Refusal::Unauthenticated | Refusal::Forbidden) if site.public => Reader::Public,
            other => other?,
        };
        let Some(slot) = self.gate.enter(site.id, QUEUE_WAIT).await else {
            self.metrics.stats_rejected.with_label_values(&["busy"]).inc();
            return Err(Refusal::Busy);
        };
        Ok(Grant { access: self, site, reader, _slot: slot })
    }

    /// The sites a credential reads. `Ok(None)`: no credential at all; `Err(Unauthenticated)`:
    /// one that is unknown, revoked or ended. A session's credential is checked again.
    pub(crate) async fn credential_scope(&self, credential: &Credential<'_>) -> Result<Option<Scope>, Refusal> {
        let client = credential.caller.client;
        match credential.presented {
            Presented::None => Ok(None),
            Presented::Secret(secret) => {
                self.scope_of(&tokens::hash(secret), client).await?.map(Some).ok_or(Refusal::Unauthenticated)
            }
            Presented::Session(id) => {
                // Session ids are 256 random bits (and every id is stale after a restart): an
                // unknown one needs no budget.
                let Some(open) = self.sessions.get(id, self.clock.now()) else { return Err(Refusal::Unauthenticated) };
                match self.scope_of(&open.credential, client).await? {
                    Some(scope) if scope.covers(open.site_id) => Ok(Some(scope)),
                    _ => {
                        self.sessions.end(id);
                        Err(Refusal::Unauthenticated)
                    }
                }
            }
        }
    }

    /// The sites the credential of this SHA-256 reads (a share secret, a site's tracking
    /// `token_auth` or an API token; `None`: none of them), presented by `client`. A site's
    /// `token_auth` reads its site, as a Matomo token with write access does (Matomo's log
    /// importer reads the site with the token it tracks with). A client past its budget of wrong
    /// credentials is not compared with the share secrets and tracking tokens (an operator chose
    /// them, and they may be weak), but a valid API token is answered whatever the client did
    /// before (256 random bits: guessing one is hopeless, so it needs no budget). A wrong
    /// credential spends the budget.
    pub(crate) async fn scope_of(&self, digest: &str, client: ClientKey) -> Result<Option<Scope>, Refusal> {
        let may_guess = self.credentials.may_guess(client);
        if may_guess {
            let live = self.live.current();
            let is = |hash: Option<[u8; 32]>| hash.is_some_and(|h| hex::encode(h) == digest);
            // One token may track (and so read) several sites.
            let shared: Vec<u32> = live
                .sites
                .iter()
                .filter(|s| is(s.share_secret_sha256) || is(s.token_auth_sha256))
                .map(|s| s.id)
                .collect();
            if !shared.is_empty() {
                return Ok(Some(Scope::Sites(shared)));
            }
        }
        match self.credentials.token(digest, || self.store.valid_tokens()).await {
            Lookup::Valid(site) => Ok(Some(site)),
            Lookup::Unavailable if may_guess => Err(Refusal::Failed),
            // Spent meanwhile by the client's other guesses: refused as well.
            _ => match self.wrong_guess(client) {
                Refusal::Unauthenticated => Ok(None),
                refusal => Err(refusal),
            },
        }
    }

    /// Counts a wrong credential against `client`: unauthenticated, or too many guesses once
    /// its budget is spent.
    pub(crate) fn wrong_guess(&self, client: ClientKey) -> Refusal {
        self.metrics.auth_failures.inc();
        if self.credentials.may_guess(client) {
            self.credentials.guessed_wrong(client);
            Refusal::Unauthenticated
        } else {
            Refusal::TooManyGuesses
        }
    }
}

impl Grant<'_> {
    /// The site this grant reads, as configured when it was granted.
    pub fn site(&self) -> &SiteConfig {
        &self.site
    }

    /// Runs `query` (for this grant's site) within the request's budget.
    pub async fn run(&self, query: &StatsRequest) -> Result<stats::Answer, Refusal> {
        let access = self.access;
        if query.site_id != self.site.id {
            return Err(Refusal::Forbidden);
        }
        if query.filters.iter().map(|t| t.leaves().len()).sum::<usize>() > access.limits.stats_max_filters {
            return Err(Refusal::invalid("filters", format!("at most {} filters", access.limits.stats_max_filters)));
        }
        // ClickHouse stops the query at `stats_timeout` (max_execution_time); this bounds the
        // wait for its answer too.
        let deadline = access.limits.stats_timeout + Duration::from_secs(2);
        let audience = match self.reader {
            Reader::Credential => Audience::Owner,
            Reader::Public => Audience::Public,
        };
        let run =
            tokio::time::timeout(deadline, stats::run(&access.store, query, &self.site, access.clock.now(), audience));
        match run.await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(QueryError::Invalid(bad))) => Err(bad.into()),
            Ok(Err(QueryError::Store(e))) if over_budget(&e) => {
                access.metrics.stats_rejected.with_label_values(&["timeout"]).inc();
                Err(Refusal::OverBudget)
            }
            Ok(Err(QueryError::Store(e))) => {
                tracing::warn!(error = %e, "stats query failed");
                Err(Refusal::Failed)
            }
            Err(_) => {
                access.metrics.stats_rejected.with_label_values(&["timeout"]).inc();
                Err(Refusal::TimedOut)
            }
        }
    }
}

/// Whether ClickHouse stopped a query for its budget: time (159), rows (158) or memory (241),
/// or its answer was too large for the collector to take.
fn over_budget(error: &crate::store::Error) -> bool {
    let text = error.to_string();
    [
        "Code: 159",
        "Code: 158",
        "Code: 241",
        "TIMEOUT_EXCEEDED",
        "TOO_MANY_ROWS",
        "MEMORY_LIMIT_EXCEEDED",
        ANSWER_TOO_LARGE,
    ]
    .iter()
    .any(|code| text.contains(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{COOKIE, HeaderValue};

    #[test]
    fn the_credential_is_the_bearer_then_the_parameter_then_the_session() {
        let of = |headers: &HeaderMap, parameter: Option<&'static str>| {
            let presented = Credential::of(headers, parameter, Caller::default()).presented;
            format!("{presented:?}")
        };
        let mut headers = HeaderMap::new();
        assert_eq!(of(&headers, None), "None");
        assert_eq!(of(&headers, Some("  ")), "None", "an empty token_auth is none");
        headers.insert(COOKIE, HeaderValue::from_static("mesure_session=abc"));
        assert_eq!(of(&headers, None), "Session(\"abc\")");
        assert_eq!(of(&headers, Some("tok")), "Secret(\"tok\")");
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer  xyz "));
        assert_eq!(of(&headers, Some("tok")), "Secret(\"xyz\")");
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(of(&headers, None), "Session(\"abc\")");
    }

    #[test]
    fn budget_errors_are_told_from_failures() {
        let error = |text: &str| clickhouse::error::Error::Custom(text.to_string());
        assert!(over_budget(&error("Code: 159. DB::Exception: Timeout exceeded")));
        assert!(over_budget(&error("Code: 241. MEMORY_LIMIT_EXCEEDED")));
        assert!(!over_budget(&error("Code: 47. Unknown identifier")));
        assert!(over_budget(&error(&format!("{ANSWER_TOO_LARGE}: over 64 bytes"))));
    }
}

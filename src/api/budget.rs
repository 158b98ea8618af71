//! What the stats API may take before a query reaches ClickHouse: how many run at once (over
//! all sites and per site), and how many credential look-ups a stream of wrong credentials may
//! cost. ClickHouse's own limits on each query (time, memory, rows, read-only) are the store's
//! ([`crate::store::ReadBudget`]).
//!
//! - [`QueryGate`]: at most `stats_max_concurrent` queries at once and
//!   `stats_max_concurrent_per_site` per site. A query past a limit waits its turn for at most
//!   [`QUEUE_WAIT`] (a dashboard asks a dozen at once), in a line of at most [`MAX_WAITING`];
//!   past that, 429 with `Retry-After`.
//! - [`Credentials`]: which credentials are valid, and how many wrong ones a client may try.
//!   Every valid API token is held in memory ([`TokenIndex`], reloaded from ClickHouse every
//!   [`VERDICT_TTL`], and at most once per [`MIN_RELOAD`] when a credential is not in it), so a
//!   valid token is answered without a look-up and whatever others try never locks it out.
//!   Wrong credentials are budgeted per client ([`GUESSES_PER_SECOND`], burst [`GUESS_BURST`],
//!   keyed by [`ClientKey`], never by the address): a guesser gets 429, nobody else does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// Tokio's clock, so that the tests can pause it.
use tokio::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::access::{ALL_SITES, Scope};
use crate::privacy::client_ip::ClientKey;

/// How long the token index is used before it is reloaded: a revoked token stops working, and
/// a new one starts, within this.
pub(crate) const VERDICT_TTL: Duration = Duration::from_secs(10);
/// The index is reloaded for a credential it lacks at most this often (a new token works within
/// a second; a stream of guesses costs ClickHouse one query a second at most).
pub(crate) const MIN_RELOAD: Duration = Duration::from_secs(1);
/// Wrong credentials a client may present per second, and its burst.
pub(crate) const GUESSES_PER_SECOND: f64 = 10.0;
pub(crate) const GUESS_BURST: f64 = 20.0;
/// Clients whose guesses are remembered (a forgotten one starts again with a full burst).
const GUESSERS: usize = 8192;
/// How long a query waits for its turn, and how many may wait.
pub(crate) const QUEUE_WAIT: Duration = Duration::from_secs(5);
pub(crate) const MAX_WAITING: usize = 64;

/// The concurrency limits of stats queries.
pub(crate) struct QueryGate {
    overall: Arc<Semaphore>,
    per_site_max: usize,
    per_site: Mutex<HashMap<u32, Arc<Semaphore>>>,
    waiting: std::sync::atomic::AtomicUsize,
}

/// A query's place, held while it runs.
pub(crate) struct Running {
    _overall: OwnedSemaphorePermit,
    _site: OwnedSemaphorePermit,
}

impl QueryGate {
    pub(crate) fn new(overall: usize, per_site: usize) -> QueryGate {
        QueryGate {
            overall: Arc::new(Semaphore::new(overall)),
            per_site_max: per_site,
            per_site: Mutex::default(),
            waiting: Default::default(),
        }
    }

    /// A place for a query on `site`, after waiting at most `wait`; `None` when the line is full
    /// or the wait is over.
    pub(crate) async fn enter(&self, site: u32, wait: Duration) -> Option<Running> {
        use std::sync::atomic::Ordering;
        let site_semaphore = {
            let mut per_site = self.per_site.lock().unwrap_or_else(|e| e.into_inner());
            per_site.entry(site).or_insert_with(|| Arc::new(Semaphore::new(self.per_site_max))).clone()
        };
        // The usual case: a place at once.
        if let Ok(site) = site_semaphore.clone().try_acquire_owned()
            && let Ok(overall) = self.overall.clone().try_acquire_owned()
        {
            return Some(Running { _overall: overall, _site: site });
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        // Always the site's place first, then the overall one: no one holds the overall place
        // while waiting for a site's.
        let turn = tokio::time::timeout(wait, async {
            let site = site_semaphore.acquire_owned().await.ok()?;
            let overall = self.overall.clone().acquire_owned().await.ok()?;
            Some(Running { _overall: overall, _site: site })
        });
        let running = turn.await.ok().flatten();
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        running
    }
}

/// The valid API tokens: SHA-256 → the sites it reads, as of when they were loaded.
#[derive(Default)]
pub(crate) struct TokenIndex {
    sites: HashMap<String, Scope>,
    loaded: Option<Instant>,
}

impl TokenIndex {
    /// From the stored rows: one per token and site, [`ALL_SITES`] for a token of every site.
    pub(crate) fn new(tokens: impl IntoIterator<Item = (String, u32)>, at: Instant) -> TokenIndex {
        let mut sites: HashMap<String, Scope> = HashMap::new();
        for (digest, site) in tokens {
            let scope = sites.entry(digest).or_insert(Scope::Sites(Vec::new()));
            match (scope, site) {
                (scope, ALL_SITES) => *scope = Scope::All,
                (Scope::Sites(ids), site) if !ids.contains(&site) => ids.push(site),
                _ => {}
            }
        }
        TokenIndex { sites, loaded: Some(at) }
    }

    fn fresh(&self, within: Duration) -> bool {
        self.loaded.is_some_and(|at| at.elapsed() < within)
    }
}

/// The token index and each client's budget of wrong credentials.
pub(crate) struct Credentials {
    index: Mutex<Arc<TokenIndex>>,
    /// When a reload was last tried (it may have failed), and the lock reloads take turns on.
    reload: tokio::sync::Mutex<Option<Instant>>,
    /// Per client: tokens of the bucket and when it was last refilled.
    guesses: quick_cache::sync::Cache<ClientKey, (f64, Instant)>,
}

/// What the index says of a token.
pub(crate) enum Lookup {
    Valid(Scope),
    Unknown,
    /// Not in the index, and the index could not be reloaded.
    Unavailable,
}

impl Credentials {
    pub(crate) fn new() -> Credentials {
        Credentials {
            index: Mutex::new(Arc::new(TokenIndex::default())),
            reload: tokio::sync::Mutex::new(None),
            guesses: quick_cache::sync::Cache::new(GUESSERS),
        }
    }

    fn current(&self) -> Arc<TokenIndex> {
        self.index.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The site of the token whose SHA-256 is `digest`. A token found in an index younger than
    /// [`VERDICT_TTL`] is answered at once. Otherwise the answer comes from an index loaded after
    /// the question was asked (so a token created a moment ago works): `load` reads every valid
    /// token from ClickHouse, one caller at a time and at most once per [`MIN_RELOAD`]; callers
    /// that arrive meanwhile wait for that load and share it.
    pub(crate) async fn token<F, E>(&self, digest: &str, load: impl FnOnce() -> F) -> Lookup
    where
        F: std::future::Future<Output = Result<Vec<(String, u32)>, E>>,
        E: std::fmt::Display,
    {
        let asked = Instant::now();
        let answer = |index: &TokenIndex, otherwise| index.sites.get(digest).cloned().map_or(otherwise, Lookup::Valid);
        let index = self.current();
        if index.fresh(VERDICT_TTL) && index.sites.contains_key(digest) {
            return answer(&index, Lookup::Unknown);
        }
        let mut last_try = self.reload.lock().await;
        // Loaded while this caller waited its turn: the answer is as recent as the question.
        let index = self.current();
        if index.loaded.is_some_and(|at| at >= asked) {
            return answer(&index, Lookup::Unknown);
        }
        if let Some(at) = *last_try {
            tokio::time::sleep_until(at + MIN_RELOAD).await;
        }
        *last_try = Some(Instant::now());
        match load().await {
            Ok(tokens) => {
                let fresh = Arc::new(TokenIndex::new(tokens, Instant::now()));
                *self.index.lock().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
                answer(&fresh, Lookup::Unknown)
            }
            Err(error) => {
                // What was known still holds; the rest is unavailable, not unknown.
                tracing::warn!(%error, "the API tokens could not be loaded");
                answer(&index, Lookup::Unavailable)
            }
        }
    }

    /// Whether `client` may present another credential that might be wrong.
    pub(crate) fn may_guess(&self, client: ClientKey) -> bool {
        self.refilled(client) >= 1.0
    }

    /// Spends one of `client`'s guesses: it presented a wrong credential.
    pub(crate) fn guessed_wrong(&self, client: ClientKey) {
        let tokens = self.refilled(client);
        self.guesses.insert(client, ((tokens - 1.0).max(0.0), Instant::now()));
    }

    fn refilled(&self, client: ClientKey) -> f64 {
        match self.guesses.get(&client) {
            Some((tokens, at)) => (tokens + at.elapsed().as_secs_f64() * GUESSES_PER_SECOND).min(GUESS_BURST),
            None => GUESS_BURST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_gate_counts_per_site_and_overall_and_waits_a_while() {
        let gate = QueryGate::new(3, 2);
        let wait = Duration::from_secs(1);
        let a1 = gate.enter(1, wait).await.unwrap();
        let _a2 = gate.enter(1, wait).await.unwrap();
        assert!(gate.enter(1, wait).await.is_none(), "per site");
        let _b1 = gate.enter(2, wait).await.unwrap();
        assert!(gate.enter(3, wait).await.is_none(), "overall");
        // A query that waits gets the place one that ends frees.
        let (waited, ()) = tokio::join!(gate.enter(3, wait), async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            drop(a1);
        });
        assert!(waited.is_some());
    }

    #[test]
    fn wrong_guesses_spend_only_the_guessers_budget() {
        let credentials = Credentials::new();
        let (guesser, other) = (ClientKey::for_tests(1), ClientKey::for_tests(2));
        for _ in 0..GUESS_BURST as usize {
            assert!(credentials.may_guess(guesser));
            credentials.guessed_wrong(guesser);
        }
        assert!(!credentials.may_guess(guesser), "the guesser's budget is spent");
        assert!(credentials.may_guess(other), "nobody else's is");
    }

    #[tokio::test(start_paused = true)]
    async fn valid_tokens_are_answered_from_the_index_and_unknown_ones_reload_it_at_most_once_a_second() {
        let credentials = Credentials::new();
        let loads = std::sync::atomic::AtomicUsize::new(0);
        let load = || async {
            loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, String>(vec![("valid".to_string(), 7)])
        };
        assert!(matches!(credentials.token("valid", load).await, Lookup::Valid(Scope::Sites(ref s)) if s == &[7]));
        let started = tokio::time::Instant::now();
        for i in 0..10 {
            tokio::time::advance(Duration::from_millis(1)).await;
            assert!(matches!(credentials.token(&format!("guess{i}"), load).await, Lookup::Unknown));
            assert!(matches!(credentials.token("valid", load).await, Lookup::Valid(Scope::Sites(ref s)) if s == &[7]));
        }
        // Each guess waited for a load made after it: ten loads, a second apart.
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 11);
        assert!(started.elapsed() >= MIN_RELOAD * 10);
        // Guesses at once share one load.
        let credentials = Arc::new(credentials);
        tokio::time::advance(Duration::from_millis(1)).await;
        let before = loads.load(std::sync::atomic::Ordering::SeqCst);
        let shared = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let (credentials, shared) = (credentials.clone(), shared.clone());
                tokio::spawn(async move {
                    let load = || async move {
                        shared.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        Ok::<_, String>(vec![("valid".to_string(), 7)])
                    };
                    let digest = if i % 2 == 0 { "valid" } else { "guess" };
                    matches!(credentials.token(digest, load).await, Lookup::Valid(Scope::Sites(ref s)) if s == &[7])
                        == (i % 2 == 0)
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap());
        }
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), before);
        assert_eq!(shared.load(std::sync::atomic::Ordering::SeqCst), 1, "one load for all of them");
        // ClickHouse down: what was loaded still holds, the rest is unavailable.
        let failing = || async { Err::<Vec<(String, u32)>, _>("down".to_string()) };
        tokio::time::advance(VERDICT_TTL).await;
        assert!(matches!(credentials.token("valid", failing).await, Lookup::Valid(Scope::Sites(ref s)) if s == &[7]));
        assert!(matches!(credentials.token("other", failing).await, Lookup::Unavailable));
    }
}

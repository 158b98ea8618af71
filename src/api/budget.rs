//! What the stats API may take before a query reaches ClickHouse: how many run at once (over
//! all sites and per site), and how many credential look-ups a stream of wrong credentials may
//! cost. ClickHouse's own limits on each query (time, memory, rows, read-only) are the store's
//! ([`crate::store::ReadBudget`]).
//!
//! - [`QueryGate`]: at most `stats_max_concurrent` queries at once and
//!   `stats_max_concurrent_per_site` per site. A query past a limit waits its turn for at most
//!   [`QUEUE_WAIT`] (a dashboard asks a dozen at once), in a line of at most [`MAX_WAITING`];
//!   past that, 429 with `Retry-After`.
//! - [`Credentials`]: a valid API token's site is remembered for [`VERDICT_TTL`] (a dashboard
//!   asks a dozen queries per view: one look-up); look-ups that find nothing are rate-limited
//!   ([`LOOKUPS_PER_SECOND`], burst [`LOOKUP_BURST`]) so guessing costs no ClickHouse query
//!   past the budget: the guesser gets 429.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a valid token's verdict is reused: a revoked token stops working within this.
pub(crate) const VERDICT_TTL: Duration = Duration::from_secs(10);
/// Credential look-ups that found nothing, per second over the whole collector, and the burst.
pub(crate) const LOOKUPS_PER_SECOND: f64 = 10.0;
pub(crate) const LOOKUP_BURST: f64 = 20.0;
/// How long a query waits for its turn, and how many may wait.
pub(crate) const QUEUE_WAIT: Duration = Duration::from_secs(5);
pub(crate) const MAX_WAITING: usize = 64;
/// Remembered valid tokens.
const VERDICTS: usize = 1024;

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

/// Remembered verdicts and the look-up budget.
pub(crate) struct Credentials {
    /// Token digest → (site, when it was looked up).
    verdicts: quick_cache::sync::Cache<String, (u32, Instant)>,
    /// Token bucket of look-ups that may still find nothing: (tokens, last refill).
    budget: Mutex<(f64, Instant)>,
}

/// What is known of a credential without asking ClickHouse.
pub(crate) enum Known {
    /// Valid, for this site (looked up less than [`VERDICT_TTL`] ago).
    Site(u32),
    /// Not known: a look-up may be made.
    LookUp,
    /// Not known, and the look-up budget is spent.
    OverBudget,
}

impl Credentials {
    pub(crate) fn new() -> Credentials {
        Credentials {
            verdicts: quick_cache::sync::Cache::new(VERDICTS),
            budget: Mutex::new((LOOKUP_BURST, Instant::now())),
        }
    }

    pub(crate) fn known(&self, digest: &str) -> Known {
        if let Some((site, at)) = self.verdicts.get(digest)
            && at.elapsed() < VERDICT_TTL
        {
            return Known::Site(site);
        }
        let mut budget = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = &mut *budget;
        *tokens = (*tokens + last.elapsed().as_secs_f64() * LOOKUPS_PER_SECOND).min(LOOKUP_BURST);
        *last = Instant::now();
        if *tokens < 1.0 { Known::OverBudget } else { Known::LookUp }
    }

    /// Records a look-up's result: a valid token is remembered; one that found nothing spends
    /// the budget.
    pub(crate) fn looked_up(&self, digest: &str, site: Option<u32>) {
        match site {
            Some(site) => self.verdicts.insert(digest.to_string(), (site, Instant::now())),
            None => {
                let mut budget = self.budget.lock().unwrap_or_else(|e| e.into_inner());
                budget.0 = (budget.0 - 1.0).max(0.0);
            }
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
    fn wrong_guesses_spend_the_budget_and_valid_tokens_are_remembered() {
        let credentials = Credentials::new();
        for i in 0..LOOKUP_BURST as usize {
            assert!(matches!(credentials.known(&format!("guess{i}")), Known::LookUp));
            credentials.looked_up(&format!("guess{i}"), None);
        }
        assert!(matches!(credentials.known("another"), Known::OverBudget));
        credentials.looked_up("valid", Some(7));
        assert!(matches!(credentials.known("valid"), Known::Site(7)), "a known token needs no look-up");
    }
}

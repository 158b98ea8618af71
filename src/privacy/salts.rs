//! Salts for the visitor hash (docs/privacy.md B2–B4), and the task that rotates them.
//!
//! - A salt is 32 bytes from the OS CSPRNG, never derived from anything, never logged (the
//!   [`Salt`] type has no `Debug` that prints it, and zeroes its memory when dropped).
//! - One salt per period (a UTC day, rotating at 00:00 UTC). It is stored in ClickHouse so every
//!   collector uses the same one: a collector that finds none for the period inserts a random
//!   candidate, waits `settle`, and then everyone uses the *smallest* candidate of the period.
//!   Collectors re-read the period's candidates every minute, so a straggler converges too, and
//!   candidates that lost are deleted once they are older than a few settle intervals (named by
//!   a fingerprint ClickHouse computes: a salt is never written into query text).
//! - The previous period's salt is kept only for [`VISIT_GRACE`] after the rotation, to continue
//!   visits that cross it (B4); then it is removed from memory and its partition dropped. A salt
//!   therefore exists for at most one day plus the grace (about 24 h 35 min) < 48 h (B3).
//! - Rotation happens in [`SaltKeeper::tick`], from a background task, never inside a request.
//! - A back-dated hit (Matomo `cdt` with the site's token, or a log import) is hashed with the
//!   salt of its own day, so ids never link across days (B6). Once that day's salt is gone, a
//!   *back-dated salt* is made for the day on the first such hit ([`SaltKeeper::prepare`],
//!   awaited by the request before its hits are identified), agreed between collectors like the
//!   others (candidates created after the day ended, the smallest wins), and deleted a day after
//!   its first candidate was made. A visitor therefore counts once a day within that day, and a
//!   salt still exists for at most a day plus the grace. If ClickHouse cannot be reached, the
//!   collector makes one for itself, in memory only: the events are kept, but another collector
//!   would count the same visitor again.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hmac::{Hmac, KeyInit};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::clock::{Clock, DAY};
use crate::store::Store;

/// How long after a rotation the previous salt still continues visits: the 30-minute visit
/// timeout plus a margin for clock skew between collectors.
pub(crate) const VISIT_GRACE: u64 = 35 * 60;
/// How long a losing candidate may stay, in settle intervals, before it is deleted.
const LOSER_AGE_SETTLES: u64 = 4;
/// The most back-dated salts held at once: more than the longest retention in days, so a whole
/// history can be replayed within a day.
pub(crate) const MAX_BACKDATED: usize = 800;

/// One period's salt.
pub struct Salt {
    period: u32,
    key: Zeroizing<[u8; 32]>,
    /// HMAC-SHA256 keyed with `key`, ready to clone: keying costs two of the six SHA-256 blocks
    /// of a visitor id. (Zeroized on drop, like the key: the `zeroize` features of hmac/sha2.)
    keyed: Hmac<Sha256>,
}

impl Salt {
    fn new(period: u32, key: Zeroizing<[u8; 32]>) -> Salt {
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_slice()).expect("HMAC takes any key length");
        Salt { period, key, keyed }
    }

    pub fn period(&self) -> u32 {
        self.period
    }

    /// A fresh HMAC keyed with this salt.
    pub(crate) fn mac(&self) -> Hmac<Sha256> {
        self.keyed.clone()
    }

    /// A fresh salt: 32 bytes from the OS random number generator (B2).
    pub fn generate(period: u32) -> Salt {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).expect("the OS random number generator is available");
        Salt::new(period, key)
    }

    /// The same salt again (the key is copied into a new zeroizing buffer).
    fn copy(&self) -> Salt {
        Salt::new(self.period, self.key.clone())
    }

    pub(crate) fn from_hex(period: u32, hex_text: &str) -> Option<Salt> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex_text, key.as_mut_slice()).ok()?;
        Some(Salt::new(period, key))
    }
}

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Salt").field("period", &self.period).finish_non_exhaustive()
    }
}

/// The salts in use: the current one, the previous one during the grace after a rotation, and
/// the back-dated ones of earlier days.
#[derive(Debug)]
pub struct SaltSet {
    pub current: Salt,
    pub previous: Option<Salt>,
    pub backdated: Vec<Backdated>,
}

/// A back-dated salt and when it must be gone (Unix seconds).
#[derive(Debug)]
pub struct Backdated {
    pub salt: Salt,
    pub expires: u64,
}

impl SaltSet {
    /// Only the current salt (and the previous one, if given).
    pub fn new(current: Salt, previous: Option<Salt>) -> SaltSet {
        SaltSet { current, previous, backdated: Vec::new() }
    }

    /// The salt that hashes hits of `period`, if there is one.
    pub fn for_period(&self, period: u32) -> Option<&Salt> {
        if period == self.current.period {
            return Some(&self.current);
        }
        if let Some(previous) = self.previous.as_ref().filter(|p| p.period == period) {
            return Some(previous);
        }
        self.backdated.iter().find(|b| b.salt.period == period).map(|b| &b.salt)
    }

    /// The back-dated salts still valid at `now`, copied.
    fn backdated_at(&self, now: u64) -> Vec<Backdated> {
        let alive = self.backdated.iter().filter(|b| b.expires > now);
        alive.map(|b| Backdated { salt: b.salt.copy(), expires: b.expires }).collect()
    }
}

/// Keeps the salts: loads them at start, rotates and cleans up on each `tick`.
pub struct SaltKeeper {
    store: Store,
    clock: Arc<dyn Clock>,
    settle: Duration,
    set: ArcSwap<SaltSet>,
    /// Held by whatever replaces `set`, so a rotation and a back-dated preparation never
    /// overwrite each other's salts.
    changing: tokio::sync::Mutex<()>,
}

pub fn period_of(now: u64) -> u32 {
    (now / DAY) as u32
}

/// Whether a salt of `period` whose first candidate was made at `first_created` is a
/// back-dated one (made after its day ended) that may still exist at `now`.
fn backdated_alive(period: u32, first_created: u32, now: u64) -> bool {
    let first_created = u64::from(first_created);
    first_created >= (u64::from(period) + 1) * DAY && now < first_created + DAY
}

impl SaltKeeper {
    /// Loads (or creates) the salt of the current period, and the previous one if the rotation
    /// was less than [`VISIT_GRACE`] ago.
    pub async fn start(store: Store, clock: Arc<dyn Clock>, settle: Duration) -> crate::store::Result<Arc<SaltKeeper>> {
        let now = clock.now();
        let period = period_of(now);
        let current = agreed_salt(&store, period, clock.now(), settle).await?;
        let previous = if in_grace(now) { smallest(&store, period - 1).await? } else { None };
        let set = ArcSwap::from_pointee(SaltSet::new(current, previous));
        let keeper = SaltKeeper { store, clock, settle, set, changing: tokio::sync::Mutex::new(()) };
        keeper.clean_storage().await?;
        Ok(Arc::new(keeper))
    }

    /// The salts to hash with now. Cheap: an atomic load.
    pub fn salts(&self) -> arc_swap::Guard<Arc<SaltSet>> {
        self.set.load()
    }
}

impl super::SaltSource for SaltKeeper {
    fn salts(&self) -> arc_swap::Guard<Arc<SaltSet>> {
        self.set.load()
    }

    fn prepare<'a>(&'a self, periods: &'a [u32]) -> super::Preparing<'a> {
        Box::pin(SaltKeeper::prepare(self, periods))
    }
}

impl SaltKeeper {
    /// Makes sure every one of `periods` before today has a salt, making back-dated ones for
    /// those that have none (at most [`MAX_BACKDATED`] held at once; a period past that bound
    /// stays without, and its hits are refused). Awaited by a request with back-dated hits
    /// before they are identified; costs nothing when the salts are there.
    pub async fn prepare(&self, periods: &[u32]) {
        let now = self.clock.now();
        let today = period_of(now);
        let missing = |set: &SaltSet| {
            let mut missing: Vec<u32> =
                periods.iter().copied().filter(|p| *p < today && set.for_period(*p).is_none()).collect();
            missing.sort_unstable();
            missing.dedup();
            missing
        };
        if missing(&self.set.load()).is_empty() {
            return;
        }
        let _changing = self.changing.lock().await;
        let set = self.set.load_full();
        let mut missing = missing(&set);
        missing.truncate(MAX_BACKDATED.saturating_sub(set.backdated.len()));
        if missing.is_empty() {
            return;
        }
        let made = match self.agreed_backdated(&missing, now).await {
            Ok(agreed) => agreed,
            Err(error) => {
                // Only the error code: a failed statement may be quoted, and inserts carry salts.
                tracing::warn!(
                    code = crate::sink::retry::error_code(&error.to_string()),
                    days = missing.len(),
                    "back-dated salts could not be agreed; using this collector's own"
                );
                missing.iter().map(|&period| Backdated { salt: Salt::generate(period), expires: now + DAY }).collect()
            }
        };
        let set = self.set.load_full();
        let mut backdated = set.backdated_at(now);
        backdated.extend(made.into_iter().filter(|b| set.for_period(b.salt.period).is_none()));
        let previous = set.previous.as_ref().map(Salt::copy);
        self.set.store(Arc::new(SaltSet { current: set.current.copy(), previous, backdated }));
    }

    /// The back-dated salts of `periods` every collector agrees on: the stored ones, and for the
    /// others a candidate each (one insert, one settle for all).
    async fn agreed_backdated(&self, periods: &[u32], now: u64) -> crate::store::Result<Vec<Backdated>> {
        let since = |period: u32| ((u64::from(period) + 1) * DAY) as u32;
        let mut agreed = Vec::with_capacity(periods.len());
        let mut absent = Vec::new();
        for &period in periods {
            match self.store.backdated_salt(period, since(period)).await? {
                Some(found) => agreed.extend(backdated_of(period, found)),
                None => absent.push(period),
            }
        }
        if absent.is_empty() {
            return Ok(agreed);
        }
        let candidates =
            absent.iter().map(|&period| (period, hex::encode(Salt::generate(period).key.as_slice()))).collect();
        self.store.insert_salts(candidates, now as u32).await?;
        tokio::time::sleep(self.settle).await;
        for period in absent {
            if let Some(found) = self.store.backdated_salt(period, since(period)).await? {
                agreed.extend(backdated_of(period, found));
            }
        }
        Ok(agreed)
    }
}

/// A stored back-dated salt (hex, and its period's first creation time) as held in memory.
fn backdated_of(period: u32, (hex_text, first_created): (String, u32)) -> Option<Backdated> {
    let salt = Salt::from_hex(period, &hex_text)?;
    Some(Backdated { salt, expires: u64::from(first_created) + DAY })
}

impl SaltKeeper {
    /// Rotates when the period changed, converges on the agreed salt, ends the grace, and deletes
    /// what must no longer exist. Returns whether it rotated.
    pub async fn tick(&self) -> crate::store::Result<bool> {
        let _changing = self.changing.lock().await;
        let now = self.clock.now();
        let period = period_of(now);
        let set = self.set.load_full();
        let mut rotated = false;
        if period != set.current.period {
            let current = agreed_salt(&self.store, period, now, self.settle).await?;
            // The old current continues visits only if it is the immediately preceding period.
            let previous =
                if set.current.period + 1 == period && in_grace(now) { Some(set.current.copy()) } else { None };
            self.set.store(Arc::new(SaltSet { current, previous, backdated: set.backdated_at(now) }));
            rotated = true;
            tracing::info!(period, "visitor salt rotated");
        } else if let Some(agreed) = smallest(&self.store, period).await?
            && agreed.key != set.current.key
        {
            // Another collector's candidate is the agreed one: adopt it.
            let previous = set.previous.as_ref().map(Salt::copy);
            self.set.store(Arc::new(SaltSet { current: agreed, previous, backdated: set.backdated_at(now) }));
            tracing::info!(period, "adopted the salt agreed with other collectors");
        }
        let set = self.set.load();
        let expired = set.backdated.iter().any(|b| b.expires <= now);
        if (set.previous.is_some() && !in_grace(now)) || expired {
            let previous = set.previous.as_ref().filter(|_| in_grace(now)).map(Salt::copy);
            self.set.store(Arc::new(SaltSet {
                current: set.current.copy(),
                previous,
                backdated: set.backdated_at(now),
            }));
        }
        self.clean_storage().await?;
        Ok(rotated)
    }

    /// Drops the partitions of periods no longer in use and deletes losing candidates (named by
    /// ClickHouse, so the salt never appears in query text).
    async fn clean_storage(&self) -> crate::store::Result<()> {
        let now = self.clock.now();
        let set = self.set.load();
        let oldest_kept = set.previous.as_ref().map_or(set.current.period, |p| p.period);
        // Periods after the current one only exist if a clock ran ahead; they go too. A
        // back-dated period stays for a day from its first candidate.
        for (period, first_created) in self.store.salt_periods_outside(oldest_kept, set.current.period).await? {
            if !backdated_alive(period, first_created, now) {
                self.store.drop_salt_period(period).await?;
            }
        }
        let loser_cutoff = now.saturating_sub(self.settle.as_secs().max(1) * LOSER_AGE_SETTLES) as u32;
        self.store.delete_losing_salts(set.current.period, loser_cutoff).await?;
        Ok(())
    }

    /// Runs `tick` at each period boundary and every minute in between, until `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
        rotations: prometheus::IntCounter,
    ) {
        loop {
            let now = self.clock.now();
            let to_boundary = DAY - now % DAY;
            let pause = Duration::from_secs(to_boundary.min(60));
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => return,
            }
            match self.tick().await {
                Ok(true) => rotations.inc(),
                Ok(false) => {}
                // Keep using the salts we have; the next tick tries again.
                // Only the error code: ClickHouse may quote a failed statement, and the clean-up
                // statements carry a salt.
                Err(error) => tracing::warn!(
                    code = crate::sink::retry::error_code(&error.to_string()),
                    "salt maintenance failed; retrying in a minute"
                ),
            }
        }
    }
}

fn in_grace(now: u64) -> bool {
    now % DAY < VISIT_GRACE
}

/// The smallest stored candidate of `period`, if any.
async fn smallest(store: &Store, period: u32) -> crate::store::Result<Option<Salt>> {
    let hex_text = store.smallest_salt(period).await?;
    Ok(hex_text.and_then(|h| Salt::from_hex(period, &h)))
}

/// The salt every collector agrees on for `period`, inserting a candidate if there is none.
async fn agreed_salt(store: &Store, period: u32, now: u64, settle: Duration) -> crate::store::Result<Salt> {
    if let Some(salt) = smallest(store, period).await? {
        return Ok(salt);
    }
    let candidate = Salt::generate(period);
    store.insert_salt(period, hex::encode(candidate.key.as_slice()), now as u32).await?;
    // Let collectors that started at the same moment insert theirs, then all pick the smallest.
    tokio::time::sleep(settle).await;
    Ok(smallest(store, period).await?.unwrap_or(candidate))
}

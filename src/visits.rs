//! Visits (sessions): which visit a hit belongs to. A visit ends after [`VISIT_TIMEOUT`] without
//! a hit. Kept in memory, sharded, keyed by visitor id; entries idle past the timeout are swept.
//!
//! The table is bounded (`privacy.max_live_visits`): at the bound, the least recently seen
//! visits of the shard are evicted (the oldest sixteenth at once, so eviction costs O(1) per hit
//! amortised) rather than new visits refused; `mesure_visits_evicted_total` counts them. A flood
//! of made-up visitors thus pushes out the idlest visits first, never the active ones.
//!
//! A visit that crosses the salt rotation continues (docs/privacy.md B4): the caller passes the
//! visitor id under the previous salt too, and a live visit found under it moves to the new id.
//!
//! Time is the hits' own (a [`Moment`]): a back-dated hit continues the visit of the hit before
//! it in *its* time, and a new visit starts at the site's midnight, as Matomo does. Only
//! forgetting is on the arrival clock: an entry is swept when no hit has *arrived* for it for
//! the timeout, so a replayed log's visits are never cut while the replay goes on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::event::Acquisition;

/// Idle time that ends a visit (seconds).
pub(crate) const VISIT_TIMEOUT: u64 = 30 * 60;
const SHARDS: usize = 64;

#[derive(Clone)]
struct Entry {
    visit_id: u64,
    /// The last hit's time (Unix seconds, the hits' clock).
    last_seen: u32,
    /// When the last hit arrived (Unix seconds, the collector's clock): what the sweep reads.
    arrived: u32,
    /// The shard's tick when last seen: an exact recency order for eviction (seconds tie).
    touched: u64,
    /// How the visit arrived (from its first hit).
    acquisition: Arc<Acquisition>,
}

/// When a hit happened, and what bounds its visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    /// The hit's time (Unix seconds): now, or back-dated.
    pub at: u64,
    /// When it arrived (the collector's clock).
    pub arrived: u64,
    /// The start of the hit's day in the site's time zone: a visit seen last before it ends.
    pub day_start: u64,
}

impl From<u64> for Moment {
    /// A hit that happens as it arrives, with no day boundary (tests of the timeout).
    fn from(now: u64) -> Moment {
        Moment { at: now, arrived: now, day_start: 0 }
    }
}

impl Entry {
    /// Whether a hit at `when` continues this visit: within the timeout of its last hit, and
    /// the same day for the site.
    fn continues(&self, when: Moment) -> bool {
        let last = u64::from(self.last_seen);
        when.at.saturating_sub(last) <= VISIT_TIMEOUT && last >= when.day_start
    }

    /// Whether nothing arrived for this visit for the timeout before `now` (collector clock).
    fn idle(&self, now: u64) -> bool {
        now.saturating_sub(u64::from(self.arrived)) > VISIT_TIMEOUT
    }
}

/// Seconds in the range entries store (until 2106).
fn secs(t: u64) -> u32 {
    t.min(u64::from(u32::MAX)) as u32
}

/// The visit a hit belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub id: u64,
    /// The visit's acquisition: the first hit's, for every hit of the visit.
    pub acquisition: Arc<Acquisition>,
}

/// The live visits of this collector.
pub struct Visits {
    shards: Vec<Mutex<Shard>>,
    max_per_shard: usize,
    /// Acquisitions shared between visits: most visits arrive the same few ways (direct, a
    /// search engine, a newsletter), and a copy per visit was most of an entry's memory.
    acquisitions: quick_cache::sync::Cache<Acquisition, Arc<Acquisition>>,
    /// `mesure_visits_evicted_total` (registered by `Metrics`).
    pub evicted: prometheus::IntCounter,
}

/// One shard: its visits, and a tick counter ordering their last hits.
#[derive(Default)]
struct Shard {
    entries: HashMap<u64, Entry>,
    ticks: u64,
}

impl Shard {
    fn tick(&mut self) -> u64 {
        self.ticks += 1;
        self.ticks
    }
}

impl std::ops::Deref for Shard {
    type Target = HashMap<u64, Entry>;

    fn deref(&self) -> &Self::Target {
        &self.entries
    }
}

impl std::ops::DerefMut for Shard {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.entries
    }
}

/// Distinct acquisitions kept for sharing.
const SHARED_ACQUISITIONS: usize = 4096;

impl Visits {
    /// At most `max_entries` live visits are remembered (see the module doc for what happens at
    /// the bound).
    pub fn new(max_entries: usize) -> Visits {
        Visits {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            max_per_shard: (max_entries / SHARDS).max(1),
            acquisitions: quick_cache::sync::Cache::new(SHARED_ACQUISITIONS),
            evicted: prometheus::IntCounter::new(
                "mesure_visits_evicted_total",
                "Live visits forgotten early because the table was full (privacy.max_live_visits)",
            )
            .expect("valid metric"),
        }
    }

    /// Makes room in a full shard for one more visit: forgets the visits idle past the timeout
    /// and, if that is not enough, the least recently seen sixteenth.
    fn make_room(&self, shard: &mut Shard, now: u64) {
        if shard.len() < self.max_per_shard {
            return;
        }
        shard.retain(|_, e| !e.idle(now));
        if shard.len() < self.max_per_shard {
            return;
        }
        let mut ticks: Vec<u64> = shard.values().map(|e| e.touched).collect();
        let cut = (ticks.len() / 16).max(1) - 1;
        let (_, threshold, _) = ticks.select_nth_unstable(cut);
        let threshold = *threshold;
        let before = shard.len();
        shard.retain(|_, e| e.touched > threshold);
        self.evicted.inc_by((before - shard.len()) as u64);
    }

    fn shard(&self, visitor: u64) -> std::sync::MutexGuard<'_, Shard> {
        // The visitor id is already a uniform hash: its low bits pick the shard.
        self.shards[(visitor as usize) % SHARDS].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a new visit for `visitor` at `now`, whatever was live (Matomo's `new_visit=1`).
    pub fn start(&self, visitor: u64, when: impl Into<Moment>, acquisition: Acquisition) -> Visit {
        let when = when.into();
        let now = when.at;
        let mut shard = self.shard(visitor);
        // Two visits started by one visitor in the same second still get two ids.
        let mut id = new_visit_id(visitor, now);
        if shard.get(&visitor).is_some_and(|live| live.visit_id == id) {
            id = new_visit_id(!visitor, now);
        }
        let visit = Visit { id, acquisition: self.share(acquisition) };
        self.remember(&mut shard, visitor, when, &visit);
        visit
    }

    /// The visit of a hit by `visitor` at `now`, arriving as `acquisition` says. `previous` is
    /// the visitor's id under the previous salt, during the grace after a rotation.
    pub fn visit(
        &self,
        visitor: u64,
        previous: Option<u64>,
        when: impl Into<Moment>,
        acquisition: Acquisition,
    ) -> Visit {
        let when = when.into();
        // Another campaign ends the live visit (but not one continued across the rotation).
        if let Some(visit) = self.live(visitor, previous, when, |live| !new_campaign(&live.acquisition, &acquisition)) {
            return visit;
        }
        let visit = Visit { id: new_visit_id(visitor, when.at), acquisition: self.share(acquisition) };
        self.remember(&mut self.shard(visitor), visitor, when, &visit);
        visit
    }

    /// The live visit of `visitor` (or of `previous`, its id under the previous salt) at `now`,
    /// extended to `now`; `None` when there is none: a heartbeat or an engagement extends a
    /// visit but never opens one.
    pub fn extend(&self, visitor: u64, previous: Option<u64>, when: impl Into<Moment>) -> Option<Visit> {
        self.live(visitor, previous, when.into(), |_| true)
    }

    /// The visit `visitor` is in at `now`, extended to `now`: its own live entry if `keeps` it,
    /// else the live visit of `previous` (its id under the previous salt), moved to `visitor`.
    fn live(&self, visitor: u64, previous: Option<u64>, when: Moment, keeps: impl Fn(&Entry) -> bool) -> Option<Visit> {
        {
            let mut shard = self.shard(visitor);
            let tick = shard.tick();
            if let Some(entry) = shard.get_mut(&visitor)
                && entry.continues(when)
                && keeps(entry)
            {
                entry.last_seen = entry.last_seen.max(secs(when.at));
                entry.arrived = entry.arrived.max(secs(when.arrived));
                entry.touched = tick;
                return Some(Visit { id: entry.visit_id, acquisition: entry.acquisition.clone() });
            }
        }
        let old = previous?;
        let entry = self.shard(old).remove(&old)?;
        if !entry.continues(when) {
            return None;
        }
        let visit = Visit { id: entry.visit_id, acquisition: entry.acquisition };
        self.remember(&mut self.shard(visitor), visitor, when, &visit);
        Some(visit)
    }

    /// Records `visit` as `visitor`'s live one, seen at `when` (making room in a full shard).
    fn remember(&self, shard: &mut Shard, visitor: u64, when: Moment, visit: &Visit) {
        if !shard.contains_key(&visitor) {
            self.make_room(shard, when.arrived);
        }
        let touched = shard.tick();
        let entry = Entry {
            visit_id: visit.id,
            last_seen: secs(when.at),
            arrived: secs(when.arrived),
            touched,
            acquisition: visit.acquisition.clone(),
        };
        shard.insert(visitor, entry);
    }

    /// The shared copy of `acquisition` (a new one if it is not among the recent ones).
    fn share(&self, acquisition: Acquisition) -> Arc<Acquisition> {
        if let Some(shared) = self.acquisitions.get(&acquisition) {
            return shared;
        }
        let shared = Arc::new(acquisition);
        self.acquisitions.insert(Acquisition::clone(&shared), shared.clone());
        shared
    }

    /// Forgets the visits no hit arrived for in the timeout before `now` (the collector's
    /// clock); returns how many.
    pub(crate) fn sweep(&self, now: u64) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let before = shard.len();
            shard.retain(|_, e| !e.idle(now));
            removed += before - shard.len();
        }
        removed
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A hit that arrives through another campaign (or a paid click) starts a new visit, as Matomo
/// does by default: the new campaign gets the credit for what follows.
fn new_campaign(visit: &Acquisition, hit: &Acquisition) -> bool {
    let is_campaign = !hit.utm_campaign.is_empty() || !hit.utm_source.is_empty() || hit.channel == "paid";
    is_campaign
        && (hit.utm_campaign != visit.utm_campaign
            || hit.utm_source != visit.utm_source
            || hit.channel != visit.channel)
}

/// A visit id from the visitor id and the visit's first second: deterministic, so collectors
/// that see the same first hit assign the same id.
fn new_visit_id(visitor: u64, start: u64) -> u64 {
    // splitmix64 finaliser over the pair: well mixed, cheap, not a secret.
    let mut z = visitor ^ start.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_that_arrive_the_same_way_share_one_acquisition() {
        let visits = Visits::new(1000);
        let search = || Acquisition {
            referrer_host: "duckduckgo.com".into(),
            channel: "search".into(),
            ..Acquisition::default()
        };
        let a = visits.visit(1, None, 1000, search());
        let b = visits.visit(2, None, 1000, search());
        let c = visits.visit(3, None, 1000, Acquisition::default());
        assert!(Arc::ptr_eq(&a.acquisition, &b.acquisition));
        assert!(!Arc::ptr_eq(&a.acquisition, &c.acquisition));
        assert_eq!(*a.acquisition, search());
    }

    #[test]
    fn new_visit_starts_one_and_the_next_hits_continue_it() {
        let visits = Visits::new(100);
        let first = visits.visit(7, None, 1000, Acquisition::default()).id;
        let started = visits.start(7, 1060, Acquisition::default()).id;
        assert_ne!(started, first);
        assert_ne!(visits.start(7, 1060, Acquisition::default()).id, started, "same second, another visit");
        let started = visits.visit(7, None, 1061, Acquisition::default()).id;
        assert_eq!(visits.visit(7, None, 1120, Acquisition::default()).id, started);
    }

    #[test]
    fn thirty_minutes_of_silence_ends_a_visit() {
        let visits = Visits::new(1000);
        let a = visits.visit(42, None, 1000, Acquisition::default()).id;
        assert_eq!(visits.visit(42, None, 1000 + 29 * 60, Acquisition::default()).id, a);
        assert_eq!(
            visits.visit(42, None, 1000 + 29 * 60 + VISIT_TIMEOUT, Acquisition::default()).id,
            a,
            "the timeout counts from the last hit"
        );
        let b = visits.visit(42, None, 1000 + 29 * 60 + 2 * VISIT_TIMEOUT + 1, Acquisition::default()).id;
        assert_ne!(a, b);
        assert_ne!(visits.visit(43, None, 1000, Acquisition::default()).id, a, "another visitor, another visit");
    }

    #[test]
    fn a_live_visit_moves_to_the_new_id_after_rotation() {
        let visits = Visits::new(1000);
        let a = visits.visit(1, None, 100, Acquisition::default()).id;
        assert_eq!(visits.visit(2, Some(1), 200, Acquisition::default()).id, a);
        assert_eq!(visits.visit(2, None, 300, Acquisition::default()).id, a);
        // An idle one does not continue.
        let c = visits.visit(10, None, 100, Acquisition::default()).id;
        assert_ne!(visits.visit(11, Some(10), 100 + VISIT_TIMEOUT + 1, Acquisition::default()).id, c);
    }

    #[test]
    fn every_hit_of_a_visit_carries_its_first_hits_acquisition() {
        let visits = Visits::new(1000);
        let google = Acquisition { channel: "search".into(), source: "Google".into(), ..Acquisition::default() };
        let internal = Acquisition { channel: "internal".into(), ..Acquisition::default() };
        assert_eq!(*visits.visit(5, None, 100, google.clone()).acquisition, google);
        assert_eq!(*visits.visit(5, None, 160, internal.clone()).acquisition, google);
        assert_eq!(*visits.visit(5, None, 160 + VISIT_TIMEOUT + 1, internal.clone()).acquisition, internal);
    }

    #[test]
    fn another_campaign_starts_another_visit() {
        let visits = Visits::new(1000);
        let organic = Acquisition { channel: "search".into(), source: "Google".into(), ..Acquisition::default() };
        let spring = Acquisition {
            channel: "email".into(),
            utm_source: "newsletter".into(),
            utm_campaign: "spring".into(),
            ..Acquisition::default()
        };
        let first = visits.visit(9, None, 100, organic.clone());
        let second = visits.visit(9, None, 200, spring.clone());
        assert_ne!(first.id, second.id);
        assert_eq!(*second.acquisition, spring);
        // The same campaign again, or an internal page, stays in the visit.
        assert_eq!(visits.visit(9, None, 300, spring).id, second.id);
        assert_eq!(visits.visit(9, None, 400, Acquisition::default()).id, second.id);
    }

    #[test]
    fn a_flood_of_new_visitors_evicts_the_idlest_visits_not_the_active_ones() {
        // 32 visits per shard; every key below lands in shard 0.
        let visits = Visits::new(64 * 32);
        let active = visits.visit(0, None, 0, Acquisition::default()).id;
        let idle = visits.visit(64, None, 0, Acquisition::default()).id;
        // 16 made-up visitors a second, and one real visitor who keeps clicking.
        for second in 1..=200u64 {
            for k in 0..16u64 {
                visits.visit(64 * (2 + second * 16 + k), None, second, Acquisition::default());
            }
            assert_eq!(visits.visit(0, None, second, Acquisition::default()).id, active, "the active visit split");
        }
        assert!(visits.len() <= 32);
        assert!(visits.evicted.get() >= 200 * 16 - 32, "{}", visits.evicted.get());
        // The visitor idle since the start was evicted: a new hit is a new visit.
        assert_ne!(visits.visit(64, None, 201, Acquisition::default()).id, idle);
    }

    #[test]
    fn a_heartbeat_extends_a_visit_but_never_opens_one() {
        let visits = Visits::new(1000);
        assert_eq!(visits.extend(5, None, 100), None, "no visit: nothing to extend");
        assert!(visits.is_empty());
        let visit = visits.visit(5, None, 100, Acquisition::default()).id;
        assert_eq!(visits.extend(5, None, 100 + VISIT_TIMEOUT).map(|v| v.id), Some(visit));
        // The heartbeat moved the visit on: a page 29 minutes after it is the same visit.
        assert_eq!(visits.visit(5, None, 100 + VISIT_TIMEOUT + 29 * 60, Acquisition::default()).id, visit);
        assert_eq!(visits.extend(5, None, 100 + 3 * VISIT_TIMEOUT), None, "an ended visit is not reopened");
        // Across the salt rotation.
        let rotated = visits.visit(7, None, 100, Acquisition::default()).id;
        assert_eq!(visits.extend(8, Some(7), 200).map(|v| v.id), Some(rotated));
    }

    #[test]
    fn back_dated_visits_run_on_their_own_clock_and_split_at_the_sites_midnight() {
        let visits = Visits::new(1000);
        let (day, arrived) = (20_000 * 86_400, 20_010 * 86_400);
        let hit = |at: u64, arrived: u64| Moment { at, arrived, day_start: at - at % 86_400 };
        // A visit replayed ten days later: continued in the hits' time, however late they come.
        let a = visits.visit(1, None, hit(day + 3600, arrived), Acquisition::default()).id;
        assert_eq!(visits.visit(1, None, hit(day + 3600 + 20 * 60, arrived + 5), Acquisition::default()).id, a);
        // The sweep runs on the arrival clock: a replay in progress is not cut...
        assert_eq!(visits.sweep(arrived + 60), 0);
        assert_eq!(visits.visit(1, None, hit(day + 3600 + 40 * 60, arrived + 90), Acquisition::default()).id, a);
        // ...but 30 minutes of hits' time without one end it.
        let b = visits.visit(1, None, hit(day + 3600 + 80 * 60, arrived + 95), Acquisition::default()).id;
        assert_ne!(a, b);
        // Midnight in the site's time zone starts a new visit, even within 30 minutes.
        let late = visits.visit(2, None, hit(day + 86_400 - 60, arrived), Acquisition::default()).id;
        assert_ne!(visits.visit(2, None, hit(day + 86_400 + 60, arrived), Acquisition::default()).id, late);
        // Nothing arrived for 30 minutes: forgotten.
        assert_eq!(visits.sweep(arrived + 95 + VISIT_TIMEOUT + 1), 2);
    }

    #[test]
    fn sweep_forgets_idle_visits_and_the_bound_holds() {
        let visits = Visits::new(64);
        for v in 0..1000u64 {
            visits.visit(v, None, 0, Acquisition::default());
        }
        let live = visits.len();
        assert!(live > 0 && live <= 64, "{live}");
        assert_eq!(visits.sweep(VISIT_TIMEOUT), 0);
        assert_eq!(visits.sweep(VISIT_TIMEOUT + 1), live);
        assert!(visits.is_empty());
    }
}

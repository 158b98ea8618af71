//! Every Prometheus metric mesure exports, defined in one place.
//!
//! Labels are small closed sets (endpoint, status, reason). No label ever carries an IP, a
//! visitor id or a URL. `dashboards/` may only use names defined here (a test checks it).

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Why a tracking request stored nothing. The label values are part of the metric contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineReason {
    /// The visitor opted out (docs/privacy.md C3).
    OptOut,
    Dnt,
    Gpc,
    Bot,
    /// `idsite` / domain names no configured site.
    UnknownSite,
    /// Missing `rec=1`, a URL that is not http(s), or a parameter the protocol refuses.
    Invalid,
    /// `cip`, `cid` or a back-dated `cdt` without the site's token (docs/privacy.md D4).
    Unauthorized,
    /// The spool refused the event (full, failing or closing): answered 503.
    Overload,
    /// A kind of Matomo request not stored yet (the Media, Crash and heatmap plugins'
    /// requests): dropped on purpose, never stored as something else.
    Unsupported,
    /// A heartbeat or an engagement with no live visit to extend (it never opens one).
    NoVisit,
}

impl DeclineReason {
    pub const ALL: [DeclineReason; 10] = [
        DeclineReason::OptOut,
        DeclineReason::Dnt,
        DeclineReason::Gpc,
        DeclineReason::Bot,
        DeclineReason::UnknownSite,
        DeclineReason::Invalid,
        DeclineReason::Unauthorized,
        DeclineReason::Overload,
        DeclineReason::Unsupported,
        DeclineReason::NoVisit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeclineReason::OptOut => "optout",
            DeclineReason::Dnt => "dnt",
            DeclineReason::Gpc => "gpc",
            DeclineReason::Bot => "bot",
            DeclineReason::UnknownSite => "unknown_site",
            DeclineReason::Invalid => "invalid",
            DeclineReason::Unauthorized => "unauthorized",
            DeclineReason::Overload => "overload",
            DeclineReason::Unsupported => "unsupported",
            DeclineReason::NoVisit => "no_visit",
        }
    }
}

/// Series of `mesure_http_requests_total` resolved once, for the hot path.
#[derive(Clone)]
struct HotCounters {
    matomo_ok: IntCounter,
    matomo_no_content: IntCounter,
    plausible_accepted: IntCounter,
    matomo_duration: Histogram,
    plausible_duration: Histogram,
}

/// The metrics of one running collector.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// `mesure_http_requests_total{endpoint, status}`
    pub http_requests: IntCounterVec,
    /// `mesure_tracking_request_duration_seconds{endpoint}`: from the routed request to its
    /// answer (enrichment and the spool write included), for `matomo` and `plausible`.
    pub tracking_duration: HistogramVec,
    /// `mesure_events_accepted_total`
    pub events_accepted: IntCounter,
    /// `mesure_events_declined_total{reason}`
    pub events_declined: IntCounterVec,
    /// `mesure_events_written_total`: rows ClickHouse acknowledged.
    pub events_written: IntCounter,
    /// `mesure_insert_failures_total{class}`: failed INSERTs by cause (`data` ones are dead-lettered).
    pub insert_failures: IntCounterVec,
    /// `mesure_insert_retries_total`
    pub insert_retries: IntCounter,
    /// `mesure_dead_letter_rows_total`: rows ClickHouse refused as bad data.
    pub dead_letter_rows: IntCounter,
    /// `mesure_spool_bytes`, `mesure_spool_segments`, `mesure_spool_corrupt_records_total`,
    /// `mesure_spool_fsyncs_total`: read from the spool's own counters at each scrape.
    pub spool_bytes: IntGauge,
    pub spool_segments: IntGauge,
    pub spool_corrupt_records: IntCounter,
    pub spool_fsyncs: IntCounter,
    spool_stats: std::sync::Arc<std::sync::OnceLock<std::sync::Arc<SpoolStats>>>,
    /// `mesure_salt_rotations_total`
    pub salt_rotations: IntCounter,
    /// `mesure_geo_database_build_timestamp_seconds`: when the geo database in use was built.
    pub geo_build_time: IntGauge,
    /// `mesure_retention_rows_deleted_total{method}`: `partition` (dropped) or `mutation`.
    pub retention_rows_deleted: IntCounterVec,
    /// `mesure_retention_partitions_dropped_total`
    pub retention_partitions_dropped: IntCounter,
    /// `mesure_retention_runs_total`: successful runs of the retention job.
    pub retention_runs: IntCounter,
    /// `mesure_insert_batch_rows`
    pub insert_batch_rows: Histogram,
    /// `mesure_insert_duration_seconds`
    pub insert_duration: Histogram,
    /// `mesure_bots_declined_total{detector}`: bot hits by the detector that caught them.
    pub bots_declined: IntCounterVec,
    /// `mesure_bulk_items_total{outcome}`: items of Matomo bulk requests (`tracked`, `invalid`).
    pub bulk_items: IntCounterVec,
    /// `mesure_connections_open`: client connections being served.
    pub connections_open: IntGauge,
    /// `mesure_connections_rejected_total{reason}`: connections closed at accept
    /// (`max_connections`, `per_client`).
    pub connections_rejected: IntCounterVec,
    /// `mesure_connections_idle_closed_total`: connections closed for idling (no request in
    /// flight, no byte) past `limits.idle_timeout`.
    pub connections_idle_closed: IntCounter,
    /// `mesure_stats_queries_rejected_total{reason}`: stats queries refused before ClickHouse
    /// (`busy`: a concurrency limit, answered 429) or stopped (`timeout`).
    pub stats_rejected: IntCounterVec,
    /// `mesure_auth_failures_total`: stats API requests with a credential that is not valid.
    pub auth_failures: IntCounter,
    /// `mesure_panics_total`: requests whose handler panicked (answered 500; a bug to report).
    pub panics: IntCounter,
    /// `mesure_config_reloads_total{result}`: `SIGHUP` reloads applied (`ok`) or refused
    /// (`failed`: an invalid file, nothing changed).
    pub config_reloads: IntCounterVec,
    hot: HotCounters,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("mesure_http_requests_total", "HTTP requests answered, by endpoint and status code"),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let tracking_duration = HistogramVec::new(
            HistogramOpts::new(
                "mesure_tracking_request_duration_seconds",
                "Time from a routed tracking request to its answer, spool write included",
            )
            .buckets(vec![0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 0.5]),
            &["endpoint"],
        )
        .expect("valid metric");
        let events_accepted =
            IntCounter::new("mesure_events_accepted_total", "Tracking events accepted and queued for storage")
                .expect("valid metric");
        let events_declined = IntCounterVec::new(
            Opts::new("mesure_events_declined_total", "Tracking requests that stored nothing, by reason"),
            &["reason"],
        )
        .expect("valid metric");
        let events_written =
            IntCounter::new("mesure_events_written_total", "Events acknowledged by ClickHouse").expect("valid metric");
        let insert_failures = IntCounterVec::new(
            Opts::new(
                "mesure_insert_failures_total",
                "INSERTs into ClickHouse that failed, by class (data: dead-lettered; others: retried)",
            ),
            &["class"],
        )
        .expect("valid metric");
        let insert_retries =
            IntCounter::new("mesure_insert_retries_total", "INSERTs retried after a failure").expect("valid metric");
        let dead_letter_rows = IntCounter::new(
            "mesure_dead_letter_rows_total",
            "Rows ClickHouse refused as bad data, written to the dead-letter file",
        )
        .expect("valid metric");
        let spool_bytes =
            IntGauge::new("mesure_spool_bytes", "Bytes in spool segments not yet released").expect("valid metric");
        let spool_segments = IntGauge::new("mesure_spool_segments", "Spool segment files").expect("valid metric");
        let spool_corrupt_records = IntCounter::new(
            "mesure_spool_corrupt_records_total",
            "Damaged spool records found (a crash mid-write); the rest of their segment is skipped",
        )
        .expect("valid metric");
        let spool_fsyncs =
            IntCounter::new("mesure_spool_fsyncs_total", "Group-commit fsyncs of the spool").expect("valid metric");
        let retention_rows_deleted = IntCounterVec::new(
            Opts::new(
                "mesure_retention_rows_deleted_total",
                "Rows deleted for being past their site's retention, by method",
            ),
            &["method"],
        )
        .expect("valid metric");
        let retention_partitions_dropped = IntCounter::new(
            "mesure_retention_partitions_dropped_total",
            "Partitions dropped whole by the retention job",
        )
        .expect("valid metric");
        let retention_runs = IntCounter::new("mesure_retention_runs_total", "Successful runs of the retention job")
            .expect("valid metric");
        let salt_rotations =
            IntCounter::new("mesure_salt_rotations_total", "Visitor salt rotations").expect("valid metric");
        let geo_build_time = IntGauge::new(
            "mesure_geo_database_build_timestamp_seconds",
            "Build time of the geo database in use (Unix seconds; 0 without one)",
        )
        .expect("valid metric");
        let insert_batch_rows = Histogram::with_opts(
            HistogramOpts::new("mesure_insert_batch_rows", "Rows per INSERT acknowledged by ClickHouse")
                .buckets(prometheus::exponential_buckets(1.0, 4.0, 10).expect("valid buckets")),
        )
        .expect("valid metric");
        let insert_duration = Histogram::with_opts(
            HistogramOpts::new("mesure_insert_duration_seconds", "Time to end one INSERT")
                .buckets(prometheus::exponential_buckets(0.001, 2.5, 12).expect("valid buckets")),
        )
        .expect("valid metric");
        let bots_declined = IntCounterVec::new(
            Opts::new("mesure_bots_declined_total", "Bot hits declined, by the detector that caught them"),
            &["detector"],
        )
        .expect("valid metric");
        let bulk_items = IntCounterVec::new(
            Opts::new(
                "mesure_bulk_items_total",
                "Items of Matomo bulk requests, by outcome as reported to the tracker",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let connections_open =
            IntGauge::new("mesure_connections_open", "Client connections being served").expect("valid metric");
        let connections_rejected = IntCounterVec::new(
            Opts::new("mesure_connections_rejected_total", "Connections closed at accept, by the limit reached"),
            &["reason"],
        )
        .expect("valid metric");
        let connections_idle_closed = IntCounter::new(
            "mesure_connections_idle_closed_total",
            "Connections closed after idling past limits.idle_timeout",
        )
        .expect("valid metric");
        let stats_rejected = IntCounterVec::new(
            Opts::new("mesure_stats_queries_rejected_total", "Stats queries refused (busy) or stopped (timeout)"),
            &["reason"],
        )
        .expect("valid metric");
        let auth_failures =
            IntCounter::new("mesure_auth_failures_total", "Stats API requests with an invalid credential")
                .expect("valid metric");
        let panics = IntCounter::new("mesure_panics_total", "Requests whose handler panicked (answered 500)")
            .expect("valid metric");
        let config_reloads = IntCounterVec::new(
            Opts::new("mesure_config_reloads_total", "Configuration reloads (SIGHUP) applied or refused"),
            &["result"],
        )
        .expect("valid metric");

        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(tracking_duration.clone()),
            Box::new(events_accepted.clone()),
            Box::new(events_declined.clone()),
            Box::new(events_written.clone()),
            Box::new(insert_failures.clone()),
            Box::new(insert_retries.clone()),
            Box::new(dead_letter_rows.clone()),
            Box::new(spool_bytes.clone()),
            Box::new(spool_segments.clone()),
            Box::new(spool_corrupt_records.clone()),
            Box::new(spool_fsyncs.clone()),
            Box::new(salt_rotations.clone()),
            Box::new(geo_build_time.clone()),
            Box::new(retention_rows_deleted.clone()),
            Box::new(retention_partitions_dropped.clone()),
            Box::new(retention_runs.clone()),
            Box::new(insert_batch_rows.clone()),
            Box::new(insert_duration.clone()),
            Box::new(bots_declined.clone()),
            Box::new(bulk_items.clone()),
            Box::new(connections_open.clone()),
            Box::new(connections_rejected.clone()),
            Box::new(connections_idle_closed.clone()),
            Box::new(stats_rejected.clone()),
            Box::new(auth_failures.clone()),
            Box::new(panics.clone()),
            Box::new(config_reloads.clone()),
        ] {
            registry.register(collector).expect("metric names are unique");
        }
        // Every reason shows up as 0 from the start, so rates and alerts work before the first one.
        for reason in DeclineReason::ALL {
            events_declined.with_label_values(&[reason.as_str()]);
        }
        for detector in crate::enrich::user_agent::BotReason::ALL {
            bots_declined.with_label_values(&[detector.as_str()]);
        }
        for reason in ["max_connections", "per_client"] {
            connections_rejected.with_label_values(&[reason]);
        }
        for reason in ["busy", "timeout"] {
            stats_rejected.with_label_values(&[reason]);
        }
        for result in ["ok", "failed"] {
            config_reloads.with_label_values(&[result]);
        }
        for method in ["partition", "mutation"] {
            retention_rows_deleted.with_label_values(&[method]);
        }
        for class in [
            "network",
            "timeout",
            "too_many_parts",
            "too_many_queries",
            "memory",
            "server",
            "other",
            "too_many_partitions",
            "data",
        ] {
            insert_failures.with_label_values(&[class]);
        }
        let hot = HotCounters {
            matomo_ok: http_requests.with_label_values(&["matomo", "200"]),
            matomo_no_content: http_requests.with_label_values(&["matomo", "204"]),
            plausible_accepted: http_requests.with_label_values(&["plausible", "202"]),
            matomo_duration: tracking_duration.with_label_values(&["matomo"]),
            plausible_duration: tracking_duration.with_label_values(&["plausible"]),
        };
        Metrics {
            registry,
            http_requests,
            tracking_duration,
            events_accepted,
            events_declined,
            events_written,
            insert_failures,
            insert_retries,
            dead_letter_rows,
            spool_bytes,
            spool_segments,
            spool_corrupt_records,
            spool_fsyncs,
            spool_stats: Default::default(),
            salt_rotations,
            geo_build_time,
            retention_rows_deleted,
            retention_partitions_dropped,
            retention_runs,
            insert_batch_rows,
            insert_duration,
            hot,
            bots_declined,
            bulk_items,
            connections_open,
            connections_rejected,
            connections_idle_closed,
            stats_rejected,
            auth_failures,
            panics,
            config_reloads,
        }
    }

    /// Registers the user-agent cache counters (they live in the cache itself).
    pub fn register_user_agent_cache(&self, user_agents: &crate::enrich::user_agent::UserAgents) {
        for counter in [&user_agents.cache_hits, &user_agents.cache_misses] {
            self.registry.register(Box::new(counter.clone())).expect("registered once");
        }
    }

    /// Registers the live-visit eviction counter (it lives in the visit table itself).
    pub fn register_visits(&self, visits: &crate::visits::Visits) {
        self.registry.register(Box::new(visits.evicted.clone())).expect("registered once");
    }

    /// Counts one HTTP answer (and how long a tracking request took). The pixel's 200 and 204
    /// use handles resolved once: a label
    /// lookup per hit showed in the load profile.
    pub(crate) fn count_request(&self, endpoint: &'static str, status: hyper::StatusCode, took: std::time::Duration) {
        match endpoint {
            "matomo" => self.hot.matomo_duration.observe(took.as_secs_f64()),
            "plausible" => self.hot.plausible_duration.observe(took.as_secs_f64()),
            "piano" => self.tracking_duration.with_label_values(&["piano"]).observe(took.as_secs_f64()),
            _ => {}
        }
        match (endpoint, status.as_u16()) {
            ("matomo", 200) => self.hot.matomo_ok.inc(),
            ("matomo", 204) => self.hot.matomo_no_content.inc(),
            ("plausible", 202) => self.hot.plausible_accepted.inc(),
            _ => self.http_requests.with_label_values(&[endpoint, status.as_str()]).inc(),
        }
    }

    /// Counts what a retention run deleted.
    pub fn retention(&self, plan: &crate::store::retention::Plan) {
        self.retention_runs.inc();
        self.retention_partitions_dropped.inc_by(plan.drops.len() as u64);
        let dropped: u64 = plan.drops.iter().map(|d| d.rows).sum();
        let mutated: u64 = plan.deletions.iter().map(|d| d.rows).sum();
        self.retention_rows_deleted.with_label_values(&["partition"]).inc_by(dropped);
        self.retention_rows_deleted.with_label_values(&["mutation"]).inc_by(mutated);
    }

    /// Counts which detector declined a bot hit (the decline itself is counted by `declined`).
    pub(crate) fn bot_detected(&self, detector: crate::enrich::user_agent::BotReason) {
        self.bots_declined.with_label_values(&[detector.as_str()]).inc();
    }

    pub fn declined(&self, reason: DeclineReason) {
        self.events_declined.with_label_values(&[reason.as_str()]).inc();
    }

    /// Reads the spool's counters at each scrape from now on.
    pub(crate) fn watch_spool(&self, stats: std::sync::Arc<SpoolStats>) {
        let _ = self.spool_stats.set(stats);
    }

    fn refresh(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(stats) = self.spool_stats.get() {
            self.spool_bytes.set(stats.bytes.load(Relaxed) as i64);
            self.spool_segments.set(stats.segments.load(Relaxed) as i64);
            let corrupt = stats.corrupt_records.load(Relaxed);
            self.spool_corrupt_records.inc_by(corrupt.saturating_sub(self.spool_corrupt_records.get()));
            let fsyncs = stats.fsyncs.load(Relaxed);
            self.spool_fsyncs.inc_by(fsyncs.saturating_sub(self.spool_fsyncs.get()));
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.refresh();
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding cannot fail");
        String::from_utf8(out).expect("exposition is UTF-8")
    }
}

/// Counters the spool keeps as it works (plain atomics, no registry): read at each scrape.
#[derive(Debug, Default)]
pub struct SpoolStats {
    pub bytes: std::sync::atomic::AtomicU64,
    pub segments: std::sync::atomic::AtomicU64,
    pub corrupt_records: std::sync::atomic::AtomicU64,
    pub fsyncs: std::sync::atomic::AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

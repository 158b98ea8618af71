//! mesure: a privacy-first web-analytics collector.
//!
//! # Layout
//! One module per stage (docs/architecture.md draws the whole flow):
//!
//! ```text
//! HTTP ─► ingest ─► pipeline: gate ─► adapter ─► bot ─► enrich ─► identify ─► visit ─► Event
//!                                                                                    │
//!                                  ClickHouse ◄─ store ◄─ sink (spool ─► writer) ◄────┘
//! ```
//!
//! - [`config`]: the TOML file and `MESURE_*` overlay → validated [`config::Config`], every error at once.
//! - [`sites`]: the registry of configured sites, shared by every stage that needs one.
//! - [`server`]: the listener, routing, graceful shutdown, health and metrics pages.
//! - [`ingest`]: the HTTP edge of tracking: size caps, decoding, the protocol adapters (Matomo,
//!   Plausible), the append to the spool and the answer.
//! - [`pipeline`]: the one owner of a hit's order, from the gate to the built [`event::Event`].
//! - [`privacy`]: the gate, client addresses, geo, salts, cookie keys: the only place the IP is read.
//! - [`visits`]: live visits (sessions).
//! - [`enrich`]: URL minimisation and the columns analysts break down by.
//! - [`event`]: the row that crosses from the request path to the sink; no IP, no raw UA.
//! - [`sink`]: the durable spool and the writer that delivers it to ClickHouse.
//! - [`store`]: ClickHouse: the one owner of every statement, migrations, retention, tokens.
//! - [`catalog`]: every statement with sample values, for checking SQL on other servers.
//! - [`erasure`]: erase, export and the ledger, for cookie-mode sites.
//! - [`query`]: the read side: stats requests → SQL bounded by site and retention.
//! - [`web`]: the opt-out page, the tracker script, the stats APIs, the dashboard.
//! - [`summary`]: the privacy facts of each site and what renders them.
//! - [`telemetry`]: logging and the Prometheus metrics.
//! - [`live`]: the settings that change while running (sites, privacy), and `SIGHUP` reloads.
//! - [`app`]: wires the stages; start-up and shutdown order.
//! - [`clock`]: the injectable clock.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod enrich;
pub mod erasure;
pub mod event;
pub mod http;
pub mod ingest;
pub mod live;
pub mod pipeline;
pub mod privacy;
pub mod query;
pub mod server;
pub mod sink;
pub mod sites;
pub mod store;
pub mod summary;
pub mod telemetry;
pub mod visits;
pub mod web;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod layers;

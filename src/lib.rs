//! mesure: a privacy-first web-analytics collector.
//!
//! # Layout
//! One module per pipeline stage (see `../shared/DESIGN.md`):
//!
//! ```text
//! HTTP ─► ingest ─► (gate ─► privacy ─► enrich) ─► Event ─► sink ─► ClickHouse
//! ```
//!
//! - [`config`]: the TOML file and `MESURE_*` overlay → validated [`config::Config`], every error at once.
//! - [`server`]: the listener, routing, graceful shutdown.
//! - [`ingest`]: tracking protocols (Matomo), size caps, strict decoding.
//! - [`enrich`]: URL minimisation and the columns analysts break down by.
//! - [`event`]: the row that crosses from the request path to the sink; no IP, no raw UA.
//! - [`sink`]: the writer: bounded channel → batched INSERTs, retried until acknowledged.
//! - [`store`]: ClickHouse client and schema migrations.
//! - [`telemetry`]: logging and the Prometheus metrics.
//! - [`summary`]: the privacy summary `check-config` prints.
//! - [`app`]: wires the stages; start-up and shutdown order.
#![forbid(unsafe_code)]

pub mod app;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod enrich;
pub mod erasure;
pub mod event;
pub mod ingest;
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

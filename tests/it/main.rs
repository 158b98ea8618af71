//! Integration tests: the real binary, a real ClickHouse (started by the tests), real HTTP over
//! loopback. One test binary so one ClickHouse serves the whole run.

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod clients;
mod cluster;
mod dashboard;
mod dashboards;
mod delivery;
mod dialects;
mod docs;
mod fuzzing;
mod hostile;
mod log_import;
mod matomo_api;
mod migrations;
mod plausible_api;
mod privacy;
mod protocols;
mod reload;
mod retention;
mod salts;
mod shutdown;
mod stats;
mod storage;
mod tracking;
mod user_agents;

//! Delivery to ClickHouse, losing nothing accepted:
//! - [`spool`]: the durable local queue every accepted event is appended to before its answer;
//! - [`writer`]: spool → batched INSERTs, acknowledged rows released from the spool;
//! - [`retry`]: which failures are retried and which rows are dead-lettered;
//! - [`files`]: private files (0600 in 0700 directories, no symbolic links) and the expiry of
//!   dead letters.

pub(crate) mod files;
pub mod owner;
pub mod retry;
pub mod spool;
pub mod writer;

pub use writer::{DeliveryHealth, Writer};

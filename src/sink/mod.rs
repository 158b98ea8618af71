//! Delivery to ClickHouse, losing nothing accepted:
//! - [`spool`]: the durable local queue every accepted event is appended to before its answer;
//! - [`writer`]: spool → batched INSERTs, acknowledged rows released from the spool;
//! - [`retry`]: which failures are retried and which rows are dead-lettered.

pub mod retry;
pub mod spool;
pub mod writer;

pub use writer::{DeliveryHealth, Writer};

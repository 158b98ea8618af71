//! Delivery to ClickHouse: the [`writer::Writer`] drains the bounded channel from ingest into
//! batched INSERTs and keeps every row until ClickHouse has acknowledged it.

pub mod writer;

pub use writer::{Writer, WriterHandle};

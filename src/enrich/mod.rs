//! Enrichment: turning what a tracker sent into the columns analysts break down by, keeping
//! only what the privacy rules allow. This stage never sees the IP address.

pub mod campaign;
pub mod language;
pub mod referrer;
pub mod user_agent;
pub mod url;

//! Pages and files for people and browsers: the visitor opt-out page ([`optout`]) and Matomo's
//! opt-out at its own URLs ([`matomo_optout`]), our tracker script under its own and Plausible's
//! names ([`tracker`]), Matomo's own tracker ([`matomo_js`]), Piano's own SDK ([`piano_js`]),
//! the built-in dashboard's files ([`dashboard`]) and the headers that protect them
//! ([`security`]). The stats APIs the dashboard reads are [`crate::api`]'s.

pub mod dashboard;
pub mod matomo_js;
pub mod matomo_optout;
pub mod optout;
pub(crate) mod piano_js;
pub(crate) mod security;
pub mod tracker;

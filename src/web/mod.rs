//! Pages and files for people and browsers: the visitor opt-out page ([`optout`]), our tracker
//! script under its own and Plausible's names ([`tracker`]), the stats API ([`api`], its limits in [`budget`]) and the built-in
//! dashboard ([`dashboard`]).

pub mod api;
pub(crate) mod budget;
pub mod dashboard;
pub mod matomo_js;
pub mod matomo_optout;
pub mod optout;
pub(crate) mod plausible_api;
pub(crate) mod security;
pub(crate) mod session;
pub mod tracker;

//! Pages for people: the visitor opt-out page (and, later, the dashboard).

pub mod optout;

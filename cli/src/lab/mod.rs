//! Rehearsing incidents on the lab: `mwictl lab break` puts a lab bot into each incident for real,
//! and `mwictl demo` runs one incident end to end (break, doctor, recover, healthy again).

pub mod agents;
pub mod bk;
pub mod demo;
pub mod narrate;
pub mod scenarios;
pub mod setup;
pub mod snapshots;
pub mod tbot_yaml;

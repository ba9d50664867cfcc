//! Guided recovery of a bot (`mwictl recover`) and every other change of several steps (`bots
//! recreate`, `unlock --bot`): each flow or command builds a [`plan::Plan`] of typed
//! [`step::Step`]s; the [`runner`] journals it and one [`engine::Engine`] executes and verifies
//! it, confirming nothing. Printing (`--plan`), confirming, executing and resuming all work on the
//! same plan.

pub mod diagnose;
pub mod engine;
pub mod flows;
pub mod insecure;
pub mod journal;
pub mod plan;
pub mod runner;
pub mod step;
pub mod verify;
pub mod wizard;

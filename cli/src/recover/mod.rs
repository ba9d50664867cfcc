//! Guided recovery of a bot (`mwictl recover`): each flow reads the bot's state and builds a
//! [`plan::Plan`] of typed [`step::Step`]s; one [`engine::Engine`] confirms nothing, it executes,
//! journals and verifies. A wizard is data: printing (`--plan`), confirming, executing and resuming
//! all work on the same plan.

pub mod diagnose;
pub mod engine;
pub mod flows;
pub mod journal;
pub mod plan;
pub mod step;
pub mod verify;
pub mod wizard;

//! One module per command (group); each subcommand is one file with its clap `Args` and `run`.
//! The clap tree and the dispatch are in `cli`, above every command.

pub mod bots;
pub mod completions;
pub mod create;
#[cfg(feature = "lab")]
pub mod demo;
pub mod doctor;
pub mod edit;
pub mod flags;
pub mod fleet;
pub mod generate_docs;
pub mod get;
#[cfg(feature = "lab")]
pub mod lab;
pub mod lint;
pub mod locks;
#[cfg(not(feature = "lab"))]
mod no_lab;
pub mod ping;
pub mod recover;
pub mod rm;
pub mod roles;
pub mod tokens;
pub mod triage;
pub mod unlock;

#[cfg(not(feature = "lab"))]
pub use no_lab::{demo, lab};

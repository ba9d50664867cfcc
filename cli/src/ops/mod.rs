//! The work behind the commands: library functions with typed inputs and outputs that tests
//! call directly; command files only parse arguments, confirm and render.

pub mod access;
pub mod apply;
pub mod backup;
pub mod bots;
pub mod bound_keypair;
pub mod editor;
pub mod fleet;
pub mod instances;
pub mod listing;
pub mod live;
pub mod locks;
pub mod recovery_mode;
pub mod remove;
pub mod roles;
pub mod tokens;
pub mod triage;
pub mod unlock;

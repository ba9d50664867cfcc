//! Offline diagnosis for mwictl: the tbot log doctor (`mwictl doctor`) and the tbot.yaml linter
//! and fixer (`mwictl lint`), plus the thin command functions the CLI calls.

pub mod command;
pub mod doctor;
pub mod lint;

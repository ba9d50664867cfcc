//! Offline diagnosis for mwictl: the tbot log doctor (`mwictl doctor`), the tbot.yaml linter and
//! fixer (`mwictl lint`), the incident catalogue they share with recover and the lab, plus the
//! thin command functions the CLI calls.

pub mod command;
pub mod doctor;
pub mod incident;
pub mod lint;

//! Offline diagnosis for mwictl: the tbot log doctor (`mwictl doctor`), the tbot.yaml linter and
//! fixer (`mwictl lint`), the one tbot.yaml reader and editor (also behind recover's token
//! rewrite), the incident catalogue they share with recover and the lab, and the bot instance
//! query language the CLI checks and the lab evaluates. It returns reports and never prints: the
//! CLI renders them.

pub mod doctor;
pub mod incident;
pub mod lint;
pub mod query;
pub mod tbot_config;
pub mod tbot_release;
pub mod testing;
mod yaml;

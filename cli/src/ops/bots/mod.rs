//! Bots: the fleet overview (locks, live instances, tokens per bot), one bot's details, create,
//! update through a field mask, delete, recreate from a snapshot saved first, and a join token
//! for a new instance. Every write of a bot read from the server keeps the fields this version
//! of mwictl does not know.
//!
//! `spec` (fields and changes, no server) and `calls` (the shared RPCs) are the base; each
//! command's work (`add`, `update`, `recreate`, `overview`, `details`, `join`) builds on them
//! and on `ops::instances`, `ops::tokens` and `ops::unlock`, never on each other except
//! `details` on the overview's `Health`.

mod add;
mod calls;
mod details;
#[cfg(test)]
mod fixtures;
mod join;
mod overview;
mod recreate;
mod spec;
mod update;

pub use add::{Added, NewBot, add, preflight_add};
pub use calls::{check_roles_exist, create, delete, get, not_found};
pub use details::{BotDetails, BotToken, details};
pub use join::{
    IssuedJoin, JoinAddress, JoinToken, NewJoin, Ticket, add_instance, issue_join, refuses_join,
};
pub use overview::{BotSummary, Health, overview};
pub use recreate::{BotSnapshot, SavedSnapshot, save_snapshot, snapshot};
pub use spec::{
    BotChanges, LOGINS_TRAIT, PATH_MAX_SESSION_TTL, PATH_ROLES, PATH_TRAITS, bot_name,
    changed_paths, logins, max_session_ttl, user_and_role,
};
pub use update::{Update, update};

//! Locks left on a bot's name (a deleted bot keeps them, and they block a new bot of that name):
//! the columns the bots commands show them in, the question `bots add` and `bots rm` ask to
//! remove or keep them, and the one confirmation question the bots commands ask.

use crate::context::Context;
use crate::error::CommandError;
use crate::ops::unlock::BlockingLock;
use crate::output::{self, LockColumn, Table, lock_count, terminal_width};

/// The columns of a table of locks that block a bot.
const COLUMNS: &[LockColumn] = &[
    LockColumn::Id,
    LockColumn::Target,
    LockColumn::Why,
    LockColumn::Message,
    LockColumn::ExpiresExact,
];

/// The locks that block a bot as a table fitted to `width` columns.
pub fn lock_table(locks: &[BlockingLock], width: Option<usize>) -> Table {
    output::lock_table(
        locks.iter().map(|l| (&l.lock.value, l.reason.as_str())),
        COLUMNS,
        width,
    )
}

/// What to do with locks left on a bot's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Remove,
    Keep,
}

/// Shows `locks` on stderr and decides: `--keep-locks` keeps them, `--yes` removes them, a
/// terminal asks `question`; without either flag and without a terminal it refuses (exit 2)
/// naming both flags, before anything was changed.
pub fn decide(
    ctx: &Context,
    bot: &str,
    locks: &[BlockingLock],
    keep_locks: bool,
    question: &str,
) -> Result<Choice, CommandError> {
    let printer = ctx.printer();
    printer.warn(format!(
        "{} in force target{} bot {bot:?} (Teleport keeps a deleted bot's locks, and they block a new bot of the same name):",
        lock_count(locks.len()),
        if locks.len() == 1 { "s" } else { "" },
    ));
    printer.status(
        lock_table(locks, terminal_width(&console::Term::stderr()))
            .render()
            .trim_end(),
    );
    if keep_locks {
        return Ok(Choice::Keep);
    }
    let remove = ctx.confirm(question, || {
        CommandError::usage(format!(
            "cannot ask whether to remove {} on bot {bot:?}: stdin is not a terminal; nothing was changed",
            lock_count(locks.len())
        ))
        .hint("pass --yes to remove them (backed up first), or --keep-locks to keep them")
    })?;
    Ok(if remove { Choice::Remove } else { Choice::Keep })
}

/// Asks once; without a terminal and without `--yes` refuses at once (exit 2) naming `--yes`.
pub fn confirm(ctx: &Context, question: &str, refusal: &str) -> Result<bool, CommandError> {
    ctx.confirm(question, || {
        CommandError::usage(format!(
            "{refusal} without confirmation: stdin is not a terminal"
        ))
        .hint("pass --yes to go ahead without asking")
    })
}

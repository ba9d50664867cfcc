//! The recovery flows: each reads what it needs and builds a plan; none executes anything. The
//! token flows (S1, S2 and recreate) share their tail: tbot.yaml, restart, verify.

pub mod bk_input;
pub mod bk_keypair_lost;
pub mod bk_token_wiped;
pub mod bound_keypair;
pub mod db_access;
pub mod expired;
pub mod generation_mismatch;
pub mod ssh_login;

use crate::recover::plan::FlowInput;
use crate::recover::step::{Expect, Step};

/// What tbot needs after a new token: it reads the token only when it starts.
pub const RESTART_NOTE: &str = "restart tbot (e.g. `systemctl restart tbot`): a signal (SIGHUP, SIGUSR1) does not reload the token";

/// When tbot sees a role or trait change.
pub const RENEWAL_NOTE: &str = "tbot gets the change with its next certificates: at its next renewal (every 20 minutes by default), at once when restarted, or when sent SIGUSR1 (which renews at once)";

/// What the user does with a token no `--tbot-config` step wrote.
pub const TOKEN_NOTE: &str = "put the new join token into tbot.yaml's onboarding.token (or pass it with --token); it is printed below";

/// True for a note on bringing tbot back (token, restart, renewal), which a verified run has
/// seen done.
pub fn done_once_verified(note: &str) -> bool {
    [
        TOKEN_NOTE,
        RESTART_NOTE,
        RENEWAL_NOTE,
        bound_keypair::RESTART_INSECURE_NOTE,
        bound_keypair::RETRY_NOTE,
        bk_keypair_lost::SECRET_NOTE,
        bk_keypair_lost::STORAGE_NOTE,
        bk_keypair_lost::RESTART_NOTE,
        bk_token_wiped::RESTART_NOTE,
    ]
    .contains(&note)
}

/// Refuses a `--tbot-config` (or the wizard's answer) that is not a tbot configuration, so no
/// token is issued for a file it cannot go into.
pub fn check_tbot_config(path: &std::path::Path) -> Result<(), crate::error::CommandError> {
    mwi_diag::tbot_config::check_config(path).map_err(|e| {
        crate::error::CommandError::usage(e.to_string())
            .hint("give the tbot.yaml tbot runs with (`tbot start -c PATH`); nothing was changed")
    })
}

/// Appends the steps after a token was issued: write it into tbot.yaml, run the restart
/// command, verify that a new instance joins; and says what is left for the user.
fn token_tail(
    steps: &mut Vec<Step>,
    after: &mut Vec<String>,
    bot: &str,
    known: Vec<String>,
    input: &FlowInput,
) {
    match &input.tbot_config {
        Some(path) => steps.push(Step::UpdateTbotConfig { path: path.clone() }),
        None => after.push(TOKEN_NOTE.to_string()),
    }
    match &input.restart_cmd {
        Some(command) => steps.push(Step::RunRestart {
            command: command.clone(),
        }),
        None => after.push(RESTART_NOTE.to_string()),
    }
    steps.push(Step::Verify {
        bot: bot.to_string(),
        expect: Expect::NewInstance { known },
    });
}

/// Appends the restart step (when asked for) and the note on renewal timing.
fn access_tail(steps: &mut Vec<Step>, after: &mut Vec<String>, input: &FlowInput) {
    if let Some(command) = &input.restart_cmd {
        steps.push(Step::RunRestart {
            command: command.clone(),
        });
    }
    after.push(RENEWAL_NOTE.to_string());
}

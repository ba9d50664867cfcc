//! `lab break`'s bound-keypair incidents S8–S12: a lab bot onboarded on a bound-keypair token
//! with a registration secret, then restarted with its identity dropped, its storage copied or
//! wiped, its token re-applied or the lab rolled back, until the lab refuses it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mwi_agent::AgentExit;
use mwi_proto::types::ProvisionTokenV2;

use crate::client::Client;
use crate::error::CommandError;
use crate::ops::bound_keypair::{self, Onboarding};

use super::agents::{RunningAgent, agent_args, matching_lines};
use super::scenarios::{BreakOptions, Broken, Steps, WAIT_LIMIT, first_lines};
use super::setup::{self, LabTarget, Need};
use super::snapshots;
use super::tbot_yaml::{self, Inputs};

/// The bound-keypair incidents, each caused its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bk {
    Exhausted,
    JoinState,
    TokenWiped,
    KeypairLost,
    Rollback,
}

/// recovery.limit of the S8 token. Onboarding counts as the first recovery, so the bot recovers
/// twice and the third recovery is refused.
pub const EXHAUSTED_LIMIT: u32 = 3;

/// recovery.limit of the other scenarios' tokens: room for the recoveries they run and for the
/// one their fix needs, so none of them runs into S8 by accident.
pub const ROOMY_LIMIT: u32 = 10;

/// The refusals the agent logs, in Teleport's words (lib/auth/join_bound_keypair.go, v18).
pub const NO_REJOINS: &str = "no rejoins remaining";
pub const JOIN_STATE_FAILED: &str = "join state verification failed";
pub const FIRST_JOIN_WITH_CREDENTIALS: &str =
    "cannot perform first bound keypair join with existing credentials";
pub const SECRET_REQUIRED: &str = "a valid registration secret is required";
pub const TOKEN_NOT_FOUND: &str = "token expired or not found";
/// What tbot's join client says when the key the auth service challenges is not in its storage
/// (lib/join/joinclient/join_boundkeypair.go).
pub const SIGNER_NOT_FOUND: &str = "could not lookup signer for public key";

/// tbot's identity files in its storage: without them the next start is a recovery, with the
/// keypair (`id_bkp*`) and join state (`bkp_state`) kept.
const IDENTITY_FILES: [&str; 4] = ["tlscert", "key", "key.pub", "key-cert.pub"];

/// The certificate TTL the agents ask for: short, so that the identity a break leaves behind has
/// expired by the time a recovery restarts the agent, which then joins without it as tbot does
/// after an outage (the lab issues min(this, its bot TTL)).
pub const BK_TTL: Duration = Duration::from_secs(3);

/// The storage copy S9's second agent runs on.
const COPY_DIR: &str = "data-copy";

/// The key suite of the keypair S11 puts in the wiped storage (the lab's, as `lab keypair
/// create` defaults to).
const SUITE: &str = "legacy";

/// How many bots S12's fleet has: the one named and `NAME-2`.
pub const FLEET: usize = 2;

/// A bot of a scenario and its files.
struct Member {
    name: String,
    config: PathBuf,
    /// S12's bots share one log, as a fleet's collected logs do.
    log: PathBuf,
    data: PathBuf,
}

impl Member {
    /// The bot `--bot` names, in `--dir`.
    fn named(opts: &BreakOptions) -> Member {
        Member {
            name: opts.bot.clone(),
            config: opts.config_path(),
            log: opts.log_path(),
            data: opts.data_dir(),
        }
    }

    /// S12's other bots: `NAME-N` in `--dir`/NAME-N, logging to the fleet's log.
    fn fleet(opts: &BreakOptions, n: usize) -> Member {
        let name = fleet_bot(&opts.bot, n);
        let dir = opts.dir.join(&name);
        Member {
            config: dir.join("tbot.yaml"),
            log: opts.log_path(),
            data: dir.join("data"),
            name,
        }
    }
}

/// The name of S12's bot number `n` (from 2; the first is the one named).
pub fn fleet_bot(bot: &str, n: usize) -> String {
    format!("{bot}-{n}")
}

/// The onboarded bot: its token and files.
struct BoundBot {
    name: String,
    token: String,
    config: PathBuf,
    log: PathBuf,
    data: PathBuf,
}

/// Causes `bk` for real: onboards the bot on a new bound-keypair token, then breaks it.
pub(super) async fn break_bound(
    client: &Client,
    target: &LabTarget,
    bk: Bk,
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    match bk {
        Bk::Exhausted => {
            let bot = single(client, target, opts, EXHAUSTED_LIMIT, steps, broken).await?;
            exhausted(client, &bot, opts, steps, broken).await
        }
        Bk::JoinState => {
            let bot = single(client, target, opts, ROOMY_LIMIT, steps, broken).await?;
            join_state(client, &bot, opts, steps, broken).await
        }
        Bk::TokenWiped => {
            let bot = single(client, target, opts, ROOMY_LIMIT, steps, broken).await?;
            token_wiped(client, &bot, opts, steps, broken).await
        }
        Bk::KeypairLost => {
            let bot = single(client, target, opts, ROOMY_LIMIT, steps, broken).await?;
            keypair_lost(&bot, opts, steps, broken).await
        }
        Bk::Rollback => rollback(client, target, opts, steps, broken).await,
    }
}

/// The named bot onboarded on a token with `limit`, its log and token in the summary.
async fn single(
    client: &Client,
    target: &LabTarget,
    opts: &BreakOptions,
    limit: u32,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<BoundBot, CommandError> {
    let bot = onboard(client, target, opts, Member::named(opts), limit, steps).await?;
    broken.log = Some(bot.log.clone());
    broken.token = Some(bot.token.clone());
    Ok(bot)
}

/// The bot, its role and a new bound-keypair token with a registration secret; tbot.yaml that
/// joins with them; one agent run that registers a new keypair (recovery_count 1).
async fn onboard(
    client: &Client,
    target: &LabTarget,
    opts: &BreakOptions,
    member: Member,
    limit: u32,
    steps: &mut Steps<'_>,
) -> Result<BoundBot, CommandError> {
    let bot = member.name.as_str();
    setup::check_bot_name(bot)?;
    if let Some(step) = setup::ensure_access_role(client, bot, Need::Any).await? {
        steps.add(step);
    }
    if let Some(step) = setup::ensure_bot(client, bot).await? {
        steps.add(step);
    }
    setup::refuse_if_locked(client, bot).await?;
    // A bot with several bound-keypair tokens is ambiguous to recover; the lab bot gets one.
    for old in bound_tokens_of(client, bot).await? {
        client.delete_token(&old).await?;
        steps.add(format!(
            "deleted bot {bot}'s earlier bound-keypair token {old}"
        ));
    }
    let data = member.data;
    // An earlier break's keypair and join state belong to a token that is gone.
    remove_dir(&data)?;
    let token = bound_keypair::token(
        &bound_keypair::token_name(bot)?,
        bot,
        &Onboarding {
            initial_public_key: None,
            must_register_before: None,
            recovery_mode: "standard".into(),
            recovery_limit: limit,
        },
    );
    let issued = bound_keypair::issue(client, &token).await?;
    let secret = issued.registration_secret.ok_or_else(|| {
        CommandError::failure(format!(
            "the lab made no registration secret for token {}",
            issued.name
        ))
    })?;
    steps.add(format!(
        "created bound-keypair token {} for bot {bot} (recovery mode standard, limit {limit}) with a registration secret",
        issued.name
    ));
    let text = tbot_yaml::render(&Inputs {
        scenario: opts.scenario,
        bot,
        auth_server: &target.addr,
        proxy_server: None,
        token: &issued.name,
        registration_secret: Some(&secret),
        ca_path: Some(&target.ca_path),
        data_dir: &data,
        out_dir: &opts.out_dir(),
        login: &opts.login,
        db: &opts.db,
    });
    let (config, log) = (member.config, member.log);
    if let Some(dir) = config.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CommandError::failure(format!("cannot create {}: {e}", dir.display())))?;
    }
    setup::write_private(&config, &text)?;
    if bot == opts.bot {
        // A fresh log: the doctor should read this incident, not an earlier one.
        std::fs::write(&log, "").map_err(|e| {
            CommandError::failure(format!("cannot start the log {}: {e}", log.display()))
        })?;
    }
    steps.add(format!(
        "wrote {} (join_method bound_keypair, the token and its registration secret, storage {})",
        config.display(),
        data.display()
    ));
    let bot = BoundBot {
        name: bot.to_string(),
        token: issued.name,
        config,
        log,
        data,
    };
    expect_joined(
        run_once(&bot, None).await?,
        &bot,
        "the agent did not onboard",
    )?;
    steps.add(format!(
        "ran bot {}'s agent once: it made a keypair, registered it with the secret and joined (recovery_count {} of {limit})",
        bot.name,
        recovery_count(client, &bot.token).await?
    ));
    Ok(bot)
}

/// S8: restart after restart without an identity, each a recovery, until the limit refuses one.
async fn exhausted(
    client: &Client,
    bot: &BoundBot,
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    // Onboarding used one recovery; each further one is a run, and one more is refused.
    for _ in 1..EXHAUSTED_LIMIT {
        drop_identity(&bot.data)?;
        expect_joined(run_once(bot, None).await?, bot, "the agent did not recover")?;
        steps.add(format!(
            "dropped the agent's identity (keypair and join state kept) and restarted it: it recovered with its bound key (recovery_count {} of {EXHAUSTED_LIMIT})",
            recovery_count(client, &bot.token).await?
        ));
    }
    drop_identity(&bot.data)?;
    let exit = run_once(bot, None).await?;
    expect_line(bot, NO_REJOINS, exit, "the last recovery was not refused")?;
    steps.add(format!(
        "dropped its identity again and restarted it: the recovery was refused (`{NO_REJOINS}`)"
    ));
    broken.seen = first_lines(&bot.log, &[NO_REJOINS]);
    broken.headline = format!(
        "bot {}'s bound-keypair token {} has used up its {EXHAUSTED_LIMIT} recoveries",
        opts.bot, bot.token
    );
    Ok(())
}

/// S9: a copy of the storage holds the keypair and the join state; the copy recovers first,
/// then the bot's own agent recovers with the join state that is now stale, and the lab locks
/// the join token.
async fn join_state(
    client: &Client,
    bot: &BoundBot,
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    let copy = opts.dir.join(COPY_DIR);
    remove_dir(&copy)?;
    copy_storage(&bot.data, &copy)?;
    steps.add(format!(
        "copied the agent's storage to {} (a cloned VM or a restored backup): a second agent holds the same keypair and join state",
        copy.display()
    ));
    drop_identity(&copy)?;
    expect_joined(
        run_once(bot, Some(&copy)).await?,
        bot,
        "the agent on the copy did not recover",
    )?;
    steps.add(format!(
        "restarted the copy's agent (storage {COPY_DIR}) without its identity: it recovered (recovery_count {}), so the token now expects the copy's join state",
        recovery_count(client, &bot.token).await?
    ));
    drop_identity(&bot.data)?;
    let exit = run_once(bot, None).await?;
    expect_line(
        bot,
        JOIN_STATE_FAILED,
        exit,
        "the bot's stale join state was not refused",
    )?;
    let lock = crate::ops::unlock::find_blocking_locks(client, &opts.bot)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            CommandError::failure(format!(
                "the lab did not lock join token {} after the stale join state",
                bot.token
            ))
        })?;
    steps.add(format!(
        "restarted the bot's own agent without its identity: its recovery presented the older join state, was refused (`{JOIN_STATE_FAILED}`) and the lab locked the join token (lock {})",
        lock.name()
    ));
    // Its next try meets the lock, the line the doctor reads to name the token.
    let exit = run_once(bot, None).await?;
    expect_line(
        bot,
        "is in force",
        exit,
        "the lock did not refuse the next join",
    )?;
    steps.add(format!(
        "restarted it again: the lock on the join token refused it (the copy in {} stands for the other machine: remove it before recovering, so one agent holds the keypair)",
        copy.display()
    ));
    broken.lock = Some(lock.name().to_string());
    broken.seen = first_lines(&bot.log, &[JOIN_STATE_FAILED, "is in force"]);
    broken.headline = format!(
        "bot {}'s join token {} is locked after a stale join state (two agents share one keypair)",
        opts.bot, bot.token
    );
    Ok(())
}

/// S10: the token is deleted and (unless `--delete`) created again from its spec alone, the way
/// `create -f` of a `get` without status did before Teleport's fix (#68211); the agent is then
/// refused.
async fn token_wiped(
    client: &Client,
    bot: &BoundBot,
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    let stored = client.get_token(&bot.token).await?.value;
    client.delete_token(&bot.token).await?;
    if opts.delete {
        steps.add(format!("deleted token {}", bot.token));
    } else {
        client.create_token(&spec_only(stored)).await?;
        steps.add(format!(
            "re-applied token {} without its status (deleted, then created from its spec alone, as `create -f` did before Teleport #68211): the bound key, bot instance and recovery count are gone",
            bot.token
        ));
    }
    // With its certificates still valid the agent renews as the bot; had they expired (a slow
    // host) it joins anonymously holding join state, and no longer sends its secret.
    let needles: &[&str] = if opts.delete {
        &[TOKEN_NOT_FOUND]
    } else {
        &[FIRST_JOIN_WITH_CREDENTIALS, SECRET_REQUIRED]
    };
    let exit = run_once(bot, None).await?;
    let needle = needles
        .iter()
        .copied()
        .find(|n| !matching_lines(&bot.log, n).is_empty())
        .ok_or_else(|| {
            CommandError::failure(format!(
                "the agent's renewal was not refused: no `{}` in the agent's log (exit: {exit:?})",
                needles.join("` or `")
            ))
            .hint(format!("read the agent's log {}", bot.log.display()))
        })?;
    steps.add(format!(
        "restarted the agent: its renewal (a bound-keypair join) was refused (`{needle}`)"
    ));
    broken.seen = first_lines(&bot.log, &[needle]);
    broken.headline = if opts.delete {
        format!(
            "bot {}'s bound-keypair token {} was deleted",
            opts.bot, bot.token
        )
    } else {
        format!(
            "bot {}'s bound-keypair token {} was re-applied without its status and no longer knows its key",
            opts.bot, bot.token
        )
    };
    Ok(())
}

/// S11: the storage is wiped and a new keypair made there; the token is bound to the old one.
async fn keypair_lost(
    bot: &BoundBot,
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    remove_dir(&bot.data)?;
    let made = mwi_agent::create_keypair(&bot.data, true, SUITE).map_err(|e| {
        CommandError::failure(format!(
            "cannot make a keypair in {}: {e}",
            bot.data.display()
        ))
    })?;
    let fingerprint = bound_keypair::fingerprint(&made.public_key)
        .map_or_else(|| made.public_key.clone(), |(f, _)| f);
    steps.add(format!(
        "wiped the agent's storage {} and made a new keypair there ({fingerprint}) that token {} does not know",
        bot.data.display(),
        bot.token
    ));
    let exit = run_once(bot, None).await?;
    expect_line(
        bot,
        SIGNER_NOT_FOUND,
        exit,
        "the agent's recovery was not refused",
    )?;
    steps.add(
        "restarted the agent: the lab challenged the old bound key, which the agent no longer holds",
    );
    broken.seen = first_lines(&bot.log, &[SIGNER_NOT_FOUND]);
    broken.headline = format!(
        "bot {} lost the private key its token {} is bound to",
        opts.bot, bot.token
    );
    Ok(())
}

/// S12: the fleet onboards, the lab is snapshotted, every bot recovers (its join state moves
/// on), the snapshot is restored under the running lab, and every bot's next renewal presents a
/// join state newer than the token remembers.
async fn rollback(
    client: &Client,
    target: &LabTarget,
    opts: &BreakOptions,
    steps: &mut Steps<'_>,
    broken: &mut Broken,
) -> Result<(), CommandError> {
    let mut fleet = vec![
        onboard(
            client,
            target,
            opts,
            Member::named(opts),
            ROOMY_LIMIT,
            steps,
        )
        .await?,
    ];
    for n in 2..=FLEET {
        let member = Member::fleet(opts, n);
        fleet.push(onboard(client, target, opts, member, ROOMY_LIMIT, steps).await?);
    }
    let log = opts.log_path();
    broken.log = Some(log.clone());
    broken.token = Some(fleet[0].token.clone());
    let snapshot = snapshots::default_path(&target.lab_dir, "lab");
    let resources = snapshots::take(&target.lab_dir, &snapshot).await?;
    steps.add(format!(
        "saved a snapshot of the lab ({resources} resources) to {}",
        snapshot.display()
    ));
    for bot in &fleet {
        drop_identity(&bot.data)?;
        expect_joined(run_once(bot, None).await?, bot, "a bot did not recover")?;
        steps.add(format!(
            "restarted bot {} without its identity: it recovered (recovery_count {}, a new bot instance and join state)",
            bot.name,
            recovery_count(client, &bot.token).await?
        ));
    }
    let restored = snapshots::put_back(&target.lab_dir, &snapshot).await?;
    steps.add(format!(
        "restored the snapshot under the running lab, as an auth backend restore would: the tokens are back at their old recovery_count and bot instances (the state replaced is in {})",
        restored.saved.display()
    ));
    for bot in &fleet {
        let exit = run_once(bot, None).await?;
        expect_line(
            bot,
            JOIN_STATE_FAILED,
            exit,
            "a bot's newer join state was not refused",
        )?;
        // Its next try meets the lock on its join token, the line that names the token.
        let lock = format!("lock targeting JoinToken:{:?} is in force", bot.token);
        let exit = run_once(bot, None).await?;
        expect_line(bot, &lock, exit, "the lock did not refuse the next join")?;
        steps.add(format!(
            "restarted bot {}: its renewal presented the newer join state, was refused (`{JOIN_STATE_FAILED}`), the lab locked join token {} and refused the next try",
            bot.name, bot.token
        ));
    }
    // The certificates from before the restore name bot instances the lab no longer has: a
    // restart while they are valid is refused (`bot instance mismatch`, runbook E's caveat).
    // They would expire within BK_TTL; dropping them now lets the printed recovery run at once.
    for bot in &fleet {
        drop_identity(&bot.data)?;
    }
    steps.add(format!(
        "dropped each bot's certificates from before the restore (keypair and join state kept), as their {}s TTL would: the next start recovers with the bound key",
        BK_TTL.as_secs()
    ));
    broken.seen = first_lines(&log, &[JOIN_STATE_FAILED, "is in force"]);
    broken.headline = format!(
        "the lab was rolled back under {FLEET} bound-keypair bots: each fails its join-state check and its join token is locked"
    );
    Ok(())
}

/// The token as a `get` without status shows it: spec and metadata, no revision.
fn spec_only(stored: ProvisionTokenV2) -> ProvisionTokenV2 {
    let mut metadata = stored.metadata.unwrap_or_default();
    metadata.revision = String::new();
    ProvisionTokenV2 {
        metadata: Some(metadata),
        status: None,
        ..stored
    }
}

/// The names of `bot`'s bound-keypair tokens.
async fn bound_tokens_of(client: &Client, bot: &str) -> Result<Vec<String>, CommandError> {
    Ok(client
        .get_tokens()
        .await?
        .into_iter()
        .map(|t| t.value)
        .filter(|t| {
            t.spec
                .as_ref()
                .is_some_and(|s| s.join_method == bound_keypair::METHOD && s.bot_name == bot)
        })
        .filter_map(|t| t.metadata.map(|m| m.name))
        .collect())
}

async fn recovery_count(client: &Client, token: &str) -> Result<u32, CommandError> {
    Ok(client
        .get_token(token)
        .await?
        .value
        .status
        .and_then(|s| s.bound_keypair)
        .map_or(0, |b| b.recovery_count))
}

/// Runs the bot's agent once (on `storage` instead of its own when given) until it ends.
async fn run_once(
    bot: &BoundBot,
    storage: Option<&Path>,
) -> Result<Option<AgentExit>, CommandError> {
    let mut args = agent_args(&bot.config, &bot.log)?;
    args.oneshot = true;
    args.credential_ttl = Some(BK_TTL);
    args.data_dir = storage.map(Path::to_path_buf);
    Ok(RunningAgent::start(args).wait(WAIT_LIMIT).await)
}

fn expect_joined(exit: Option<AgentExit>, bot: &BoundBot, what: &str) -> Result<(), CommandError> {
    if exit == Some(AgentExit::Done) {
        return Ok(());
    }
    Err(CommandError::failure(format!("{what} (exit: {exit:?})"))
        .hint(format!("read the agent's log {}", bot.log.display())))
}

/// Checks that the run ended and the log holds `needle`.
fn expect_line(
    bot: &BoundBot,
    needle: &str,
    exit: Option<AgentExit>,
    what: &str,
) -> Result<(), CommandError> {
    if !matching_lines(&bot.log, needle).is_empty() {
        return Ok(());
    }
    Err(CommandError::failure(format!(
        "{what}: no `{needle}` in the agent's log (exit: {exit:?})"
    ))
    .hint(format!("read the agent's log {}", bot.log.display())))
}

/// Removes tbot's identity files from `storage`, keeping the keypair and the join state.
fn drop_identity(storage: &Path) -> Result<(), CommandError> {
    for file in IDENTITY_FILES {
        let path = storage.join(file);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CommandError::failure(format!(
                    "cannot remove {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// Removes `dir` and everything in it; nothing to do when it does not exist. Only called on
/// directories inside a `lab break` working directory.
fn remove_dir(dir: &Path) -> Result<(), CommandError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(
            CommandError::failure(format!("cannot remove {}: {e}", dir.display()))
                .hint("check the permissions of --dir"),
        ),
    }
}

/// Copies the files of tbot's storage `from` into a new `to` (not its `lock`: a copy is not
/// locked by the agent that holds the original).
fn copy_storage(from: &Path, to: &Path) -> Result<(), CommandError> {
    let failed = |e: std::io::Error| {
        CommandError::failure(format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            to.display()
        ))
    };
    std::fs::create_dir_all(to).map_err(failed)?;
    for entry in std::fs::read_dir(from).map_err(failed)? {
        let entry = entry.map_err(failed)?;
        if entry.file_name() == "lock" || !entry.file_type().map_err(failed)?.is_file() {
            continue;
        }
        std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mwi_proto::types::{Metadata, ProvisionTokenStatusV2};

    #[test]
    fn a_spec_only_copy_keeps_the_spec_and_drops_status_and_revision() {
        let stored = ProvisionTokenV2 {
            kind: "token".into(),
            metadata: Some(Metadata {
                name: "bot-x-1".into(),
                revision: "r1".into(),
                ..Default::default()
            }),
            spec: Some(Default::default()),
            status: Some(ProvisionTokenStatusV2::default()),
            ..Default::default()
        };
        let copy = spec_only(stored.clone());
        assert_eq!(copy.status, None);
        assert_eq!(copy.spec, stored.spec);
        assert_eq!(copy.kind, "token");
        let metadata = copy.metadata.unwrap();
        assert_eq!(
            (metadata.name.as_str(), metadata.revision.as_str()),
            ("bot-x-1", "")
        );
    }

    #[test]
    fn dropping_the_identity_keeps_the_keypair_and_join_state() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["tlscert", "key", "id_bkp", "bkp_state"] {
            std::fs::write(dir.path().join(file), "x").unwrap();
        }
        drop_identity(dir.path()).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["bkp_state", "id_bkp"]);
    }

    #[test]
    fn a_storage_copy_leaves_the_lock_behind() {
        let root = tempfile::tempdir().unwrap();
        let (from, to) = (root.path().join("a"), root.path().join("b"));
        std::fs::create_dir(&from).unwrap();
        for file in ["lock", "id_bkp"] {
            std::fs::write(from.join(file), file).unwrap();
        }
        copy_storage(&from, &to).unwrap();
        assert!(to.join("id_bkp").is_file());
        assert!(!to.join("lock").exists());
    }
}

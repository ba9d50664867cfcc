//! Bound-keypair join tokens: making one (`tokens add --join-method bound_keypair`), reading
//! its state for people (`tokens show`), and requesting a key rotation (`tokens rotate`, tctl's
//! `bound-keypair request-rotation`).

use std::time::SystemTime;

use mwi_proto::types::provision_token_spec_v2_bound_keypair::{OnboardingSpec, RecoverySpec};
use mwi_proto::types::{
    Metadata, ProvisionTokenSpecV2, ProvisionTokenSpecV2BoundKeypair, ProvisionTokenV2,
};

use crate::client::{Client, Fetched};
use crate::error::CommandError;
use crate::ops::tokens::TBOT_DATA_DIR;
use crate::resource::{format_timestamp, shown};

/// tbot's bound-keypair files in its storage directory (teleport-bound-keypair.md §7): the
/// active private key, its public key (authorized_keys form), the key history.
pub const KEY_FILES: [&str; 3] = ["id_bkp", "id_bkp.pub", "bkp_key_history.json"];

/// The join state tbot stores after each join; while it is there, tbot sends no secret.
pub const JOIN_STATE_FILE: &str = "bkp_state";

/// The public key tbot keeps beside its private key.
pub const PUBLIC_KEY_FILE: &str = "id_bkp.pub";

/// The join method's name in a token's spec.
pub const METHOD: &str = "bound_keypair";

/// `spec.bound_keypair.recovery.mode` values; Teleport reads `""` as `standard`.
pub const RECOVERY_MODES: &[&str] = &["standard", "relaxed", "insecure"];

/// What a new bound-keypair token allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onboarding {
    /// A preregistered key (an authorized_keys line from `tbot keypair create`); without one the
    /// server makes a registration secret.
    pub initial_public_key: Option<String>,
    /// When the registration secret stops working (ignored with a preregistered key).
    pub must_register_before: Option<SystemTime>,
    pub recovery_mode: String,
    pub recovery_limit: u32,
}

/// A bound-keypair token for `bot`. It has no `metadata.expires`: the token lives as long as the
/// bot, since every recovery joins with it; the onboarding deadline is `must_register_before`.
pub fn token(name: &str, bot: &str, onboarding: &Onboarding) -> ProvisionTokenV2 {
    let initial_public_key = onboarding.initial_public_key.clone().unwrap_or_default();
    let must_register_before = if initial_public_key.is_empty() {
        onboarding
            .must_register_before
            .map(prost_types::Timestamp::from)
    } else {
        None
    };
    ProvisionTokenV2 {
        kind: "token".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: name.into(),
            ..Default::default()
        }),
        spec: Some(ProvisionTokenSpecV2 {
            roles: vec!["Bot".into()],
            join_method: METHOD.into(),
            bot_name: bot.into(),
            bound_keypair: Some(ProvisionTokenSpecV2BoundKeypair {
                onboarding: Some(OnboardingSpec {
                    initial_public_key,
                    registration_secret: String::new(),
                    must_register_before,
                }),
                recovery: Some(RecoverySpec {
                    limit: onboarding.recovery_limit,
                    mode: onboarding.recovery_mode.clone(),
                }),
                rotate_after: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The name of a new bound-keypair token for `bot`: `bot-NAME-` and 8 random hex characters, the
/// form of tctl 19's example joining URI. The name is not a secret for this method.
pub fn token_name(bot: &str) -> Result<String, CommandError> {
    let random = crate::ops::tokens::new_token_name()?;
    Ok(format!("bot-{bot}-{}", &random[..8]))
}

/// Checks an `--initial-public-key` value: one SSH public key in authorized_keys form.
pub fn check_public_key(line: &str) -> Result<String, CommandError> {
    fingerprint(line)
        .map(|_| line.trim().to_owned())
        .ok_or_else(|| {
            CommandError::usage(format!(
                "--initial-public-key {}: not an SSH public key",
                shown(line)
            ))
            .hint("pass the line `tbot keypair create` prints, like `ssh-ed25519 AAAAC3Nza...`")
        })
}

/// A key's SHA256 fingerprint as ssh-keygen prints it (`SHA256:...`) and its algorithm, from an
/// authorized_keys line; `None` when the line is not a key.
pub fn fingerprint(line: &str) -> Option<(String, String)> {
    let key = ssh_key::PublicKey::from_openssh(line.trim()).ok()?;
    Some((
        key.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
        key.algorithm().to_string(),
    ))
}

/// Moves tbot's stale bound-keypair files out of `storage` into `to` (created, mode 0700): the
/// join state, and unless `keep_key` the keys too. Files already gone are skipped, so a rerun
/// moves what is left. Returns the names moved.
pub fn move_stale_files(
    storage: &std::path::Path,
    keep_key: bool,
    to: &std::path::Path,
) -> Result<Vec<String>, CommandError> {
    use std::os::unix::fs::DirBuilderExt;
    let failed = |what: String, e: std::io::Error| {
        CommandError::failure(format!("{what}: {e}"))
            .hint("move the files by hand, or fix the cause and run the same command again")
    };
    let mut names = vec![JOIN_STATE_FILE];
    if !keep_key {
        names.extend(KEY_FILES);
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(to)
        .map_err(|e| failed(format!("cannot create {}", to.display()), e))?;
    let mut moved = Vec::new();
    for name in names {
        let from = storage.join(name);
        if std::fs::symlink_metadata(&from).is_err() {
            continue;
        }
        let dest = to.join(name);
        if std::fs::rename(&from, &dest).is_err() {
            // Another file system: copy, then remove the original.
            std::fs::copy(&from, &dest)
                .and_then(|_| std::fs::remove_file(&from))
                .map_err(|e| {
                    failed(
                        format!("cannot move {} to {}", from.display(), dest.display()),
                        e,
                    )
                })?;
        }
        moved.push(name.to_string());
    }
    Ok(moved)
}

/// A wiped bound-keypair token as recovery recreates it (runbook D).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recreate<'a> {
    pub token: &'a str,
    pub bot: &'a str,
    /// The bot's public key (authorized_keys form).
    pub public_key: &'a str,
    /// The bot instance the restored status binds; without one no status is restored.
    pub instance: Option<&'a str>,
    pub count: u32,
    pub limit: u32,
    pub mode: &'a str,
}

/// The token to create: the wiped one's spec and labels when it still exists (same name, bot,
/// roles), else a new one, with `public_key` as initial_public_key, the recovery limit and
/// mode given, and with a known bot instance the status restored as if it had never been
/// wiped: the key bound, that instance, the recovery count.
pub fn recreated(base: Option<ProvisionTokenV2>, want: &Recreate<'_>) -> ProvisionTokenV2 {
    let onboarding = Onboarding {
        initial_public_key: Some(want.public_key.to_string()),
        must_register_before: None,
        recovery_mode: want.mode.to_string(),
        recovery_limit: want.limit,
    };
    let fresh = token(want.token, want.bot, &onboarding);
    let mut out = match base {
        Some(mut old) => {
            let spec = old.spec.get_or_insert_with(Default::default);
            let bk = spec.bound_keypair.get_or_insert_with(Default::default);
            let o = bk.onboarding.get_or_insert_with(Default::default);
            o.initial_public_key = want.public_key.to_string();
            o.registration_secret.clear();
            o.must_register_before = None;
            let r = bk.recovery.get_or_insert_with(Default::default);
            r.mode = want.mode.to_string();
            r.limit = want.limit;
            if let Some(m) = old.metadata.as_mut() {
                m.revision.clear();
            }
            old.status = None;
            old
        }
        None => fresh,
    };
    if let Some(instance) = want.instance {
        out.status = Some(mwi_proto::types::ProvisionTokenStatusV2 {
            bound_keypair: Some(mwi_proto::types::ProvisionTokenStatusV2BoundKeypair {
                bound_public_key: want.public_key.to_string(),
                bound_bot_instance_id: instance.to_string(),
                recovery_count: want.count,
                ..Default::default()
            }),
        });
    }
    out
}

/// A created token, with the registration secret the server made for it (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub name: String,
    pub registration_secret: Option<String>,
}

/// Creates `token` and reads back the registration secret the server put in its status.
pub async fn issue(client: &Client, token: &ProvisionTokenV2) -> Result<Issued, CommandError> {
    let name = token
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    client.create_token(token).await?;
    let stored = client.get_token(&name).await?;
    let secret = stored
        .value
        .status
        .and_then(|s| s.bound_keypair)
        .map(|b| b.registration_secret)
        .filter(|s| !s.is_empty());
    Ok(Issued {
        name,
        registration_secret: secret,
    })
}

/// tbot's joining URI for the token (tbot's `--join-uri`):
/// `tbot+auth|proxy+bound-keypair://TOKEN[:SECRET]@ADDR`.
pub fn join_uri(token: &str, secret: Option<&str>, addr: &str, via_proxy: bool) -> String {
    let kind = if via_proxy { "proxy" } else { "auth" };
    let secret = secret.map(|s| format!(":{s}")).unwrap_or_default();
    format!("tbot+{kind}+bound-keypair://{token}{secret}@{addr}")
}

/// The command that starts tbot with a bound-keypair token; with a registration secret it
/// registers the key tbot makes, without one tbot joins with the key already in its data dir.
pub fn tbot_start(token: &str, secret: Option<&str>, addr: &str, via_proxy: bool) -> String {
    let server = if via_proxy {
        "--proxy-server"
    } else {
        "--auth-server"
    };
    let secret = secret
        .map(|s| format!(" --registration-secret={s}"))
        .unwrap_or_default();
    format!(
        "tbot start --data-dir={TBOT_DATA_DIR} --destination-dir=./tbot-user --token={token}{secret} \
         {server}={addr} --join-method={METHOD}"
    )
}

/// The command tctl 19's `bots add` prints for a bound-keypair bot (gravitational/teleport#63422):
/// tbot's identity service started with the joining URI alone.
pub fn tbot_start_join_uri(join_uri: &str) -> String {
    format!("tbot start identity --join-uri={join_uri} --destination=./destination")
}

/// Sets `spec.bound_keypair.rotate_after` to now, as tctl's `bound-keypair request-rotation`
/// does (tool/tctl/common/bound_keypair_command.go): the bot must rotate its key at its next
/// join. The stored status and unknown fields are written back as read. Returns the time set.
pub async fn request_rotation(
    client: &Client,
    name: &str,
    now: SystemTime,
) -> Result<prost_types::Timestamp, CommandError> {
    let stored = crate::ops::recovery_mode::read(client, name).await?;
    let at = prost_types::Timestamp::from(now);
    let mut value = stored.value;
    value
        .spec
        .get_or_insert_with(Default::default)
        .bound_keypair
        .get_or_insert_with(Default::default)
        .rotate_after = Some(at);
    client
        .upsert_token(&Fetched {
            value,
            raw: stored.raw,
        })
        .await?;
    Ok(at)
}

/// A bound-keypair token's state, as `tokens show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct State {
    /// The bound key's fingerprint (`SHA256:...`), or none before the first join.
    pub bound_key_fingerprint: Option<String>,
    pub bound_key_algorithm: Option<String>,
    pub bound_public_key: Option<String>,
    pub bound_bot_instance_id: Option<String>,
    /// How the first join proves itself while no key is bound: `initial_public_key` or
    /// `registration_secret`; `bound` after it.
    pub onboarding: &'static str,
    pub initial_key_fingerprint: Option<String>,
    /// RFC 3339; after it the registration secret no longer works.
    pub must_register_before: Option<String>,
    pub recovery_count: u32,
    pub recovery_limit: u32,
    /// `standard`, `relaxed` or `insecure` (an empty mode is standard).
    pub recovery_mode: String,
    /// Recoveries left in mode standard; none when the mode does not enforce the limit.
    pub recoveries_left: Option<u32>,
    pub last_recovered_at: Option<String>,
    pub last_rotated_at: Option<String>,
    pub rotate_after: Option<String>,
    /// A rotation was requested and has not happened since.
    pub rotation_pending: bool,
}

/// How many more recoveries a bound-keypair token allows, as `bots ls` and `bots show` report it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Headroom {
    pub token: String,
    /// `standard`, `relaxed` or `insecure`.
    pub recovery_mode: String,
    pub recovery_count: u32,
    pub recovery_limit: u32,
    /// limit − count in mode standard; none when the mode does not enforce the limit.
    pub recoveries_left: Option<u32>,
    /// Set by the listing for a token in mode insecure: who switched it and how to restore it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure: Option<crate::recover::insecure::InsecureFlag>,
}

impl Headroom {
    /// The headroom of a bound-keypair token; `None` for other join methods.
    pub fn of(token: &ProvisionTokenV2) -> Option<Headroom> {
        let s = state(token)?;
        Some(Headroom {
            token: token
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            recovery_mode: s.recovery_mode,
            recovery_count: s.recovery_count,
            recovery_limit: s.recovery_limit,
            recoveries_left: s.recoveries_left,
            insecure: None,
        })
    }

    /// `1/2 left` in mode standard, else the mode and what was used (`relaxed (3 used)`).
    pub fn short(&self) -> String {
        match self.recoveries_left {
            Some(left) => format!("{left}/{} left", self.recovery_limit),
            None => format!("{} ({} used)", self.recovery_mode, self.recovery_count),
        }
    }
}

/// The state of a bound-keypair token; `None` for other join methods.
pub fn state(token: &ProvisionTokenV2) -> Option<State> {
    let spec = token.spec.as_ref()?;
    if spec.join_method != METHOD {
        return None;
    }
    let bk = spec.bound_keypair.clone().unwrap_or_default();
    let onboarding = bk.onboarding.unwrap_or_default();
    let recovery = bk.recovery.unwrap_or_default();
    let status = token
        .status
        .as_ref()
        .and_then(|s| s.bound_keypair.clone())
        .unwrap_or_default();
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().map(format_timestamp);
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let bound = fingerprint(&status.bound_public_key);
    let mode = if recovery.mode.is_empty() {
        "standard".to_owned()
    } else {
        recovery.mode.clone()
    };
    let rotation_pending = match (&bk.rotate_after, &status.last_rotated_at) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(after), Some(last)) => (last.seconds, last.nanos) < (after.seconds, after.nanos),
    };
    Some(State {
        bound_key_fingerprint: bound.as_ref().map(|b| b.0.clone()),
        bound_key_algorithm: bound.map(|b| b.1),
        bound_public_key: non_empty(&status.bound_public_key),
        bound_bot_instance_id: non_empty(&status.bound_bot_instance_id),
        onboarding: if !status.bound_public_key.is_empty() {
            "bound"
        } else if !onboarding.initial_public_key.is_empty() {
            "initial_public_key"
        } else {
            "registration_secret"
        },
        initial_key_fingerprint: fingerprint(&onboarding.initial_public_key).map(|f| f.0),
        must_register_before: time(&onboarding.must_register_before),
        recovery_count: status.recovery_count,
        recovery_limit: recovery.limit,
        recoveries_left: (mode == "standard")
            .then(|| recovery.limit.saturating_sub(status.recovery_count)),
        recovery_mode: mode,
        last_recovered_at: time(&status.last_recovered_at),
        last_rotated_at: time(&status.last_rotated_at),
        rotate_after: time(&bk.rotate_after),
        rotation_pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsqVA9xfvZBF+SY1+fE/bs+O7A7n6iSE3Z2l+Lud9Jy";

    fn onboarding(key: Option<&str>) -> Onboarding {
        Onboarding {
            initial_public_key: key.map(str::to_owned),
            must_register_before: Some(SystemTime::UNIX_EPOCH),
            recovery_mode: "standard".into(),
            recovery_limit: 1,
        }
    }

    #[test]
    fn a_recreated_token_keeps_the_old_spec_and_restores_the_status_with_an_instance() {
        let want = Recreate {
            token: "bot-example-0a6f812a",
            bot: "example",
            public_key: KEY,
            instance: Some("i-1"),
            count: 2,
            limit: 3,
            mode: "insecure",
        };
        let mut old = token("bot-example-0a6f812a", "example", &onboarding(None));
        old.metadata
            .as_mut()
            .unwrap()
            .labels
            .insert("team".into(), "ci".into());
        let t = recreated(Some(old), &want);
        assert_eq!(t.metadata.as_ref().unwrap().labels["team"], "ci");
        let bk = t.spec.as_ref().unwrap().bound_keypair.clone().unwrap();
        let o = bk.onboarding.unwrap();
        assert_eq!(
            (o.initial_public_key.as_str(), o.must_register_before),
            (KEY, None)
        );
        let r = bk.recovery.unwrap();
        assert_eq!((r.limit, r.mode.as_str()), (3, "insecure"));
        let s = t.status.unwrap().bound_keypair.unwrap();
        assert_eq!(
            (
                s.bound_public_key.as_str(),
                s.bound_bot_instance_id.as_str(),
                s.recovery_count
            ),
            (KEY, "i-1", 2)
        );
        let bare = recreated(
            None,
            &Recreate {
                instance: None,
                ..want
            },
        );
        assert_eq!(bare.status, None);
        assert_eq!(bare.spec.unwrap().bot_name, "example");
    }

    #[test]
    fn fingerprints_match_ssh_keygen() {
        // ssh-keygen -lf of the same key.
        assert_eq!(
            fingerprint(KEY),
            Some((
                "SHA256:23i19WvFyPGr/E7rMY7KpdnNO28MtUnxPzIsZjGnHy4".to_owned(),
                "ssh-ed25519".to_owned()
            ))
        );
        assert_eq!(fingerprint("ssh-ed25519 AAAA"), None);
        assert_eq!(fingerprint(""), None);
        assert!(check_public_key("not a key").is_err());
        assert_eq!(check_public_key(&format!(" {KEY} ")).unwrap(), KEY);
    }

    #[test]
    fn a_token_with_a_preregistered_key_has_no_registration_deadline() {
        let t = token("bot-example-0a6f812a", "example", &onboarding(Some(KEY)));
        assert_eq!(t.metadata.as_ref().unwrap().expires, None);
        let spec = t.spec.unwrap();
        assert_eq!(
            (
                spec.roles,
                spec.join_method.as_str(),
                spec.bot_name.as_str()
            ),
            (vec!["Bot".to_owned()], "bound_keypair", "example")
        );
        let bk = spec.bound_keypair.unwrap();
        let o = bk.onboarding.unwrap();
        assert_eq!(
            (o.initial_public_key.as_str(), o.must_register_before),
            (KEY, None)
        );
        let t = token("n", "example", &onboarding(None));
        let o = t.spec.unwrap().bound_keypair.unwrap().onboarding.unwrap();
        assert_eq!(
            o.must_register_before,
            Some(prost_types::Timestamp::default())
        );
    }

    #[test]
    fn names_uris_and_start_lines_have_tbots_forms() {
        let name = token_name("example").unwrap();
        assert!(
            name.starts_with("bot-example-") && name.len() == 20,
            "{name}"
        );
        assert_eq!(
            join_uri("tok", Some("s3"), "auth:3025", false),
            "tbot+auth+bound-keypair://tok:s3@auth:3025"
        );
        assert_eq!(
            join_uri("tok", None, "proxy:443", true),
            "tbot+proxy+bound-keypair://tok@proxy:443"
        );
        assert_eq!(
            tbot_start("tok", Some("s3"), "auth:3025", false),
            "tbot start --data-dir=/var/lib/teleport/bot --destination-dir=./tbot-user --token=tok \
             --registration-secret=s3 --auth-server=auth:3025 --join-method=bound_keypair"
        );
        assert_eq!(
            tbot_start_join_uri("tbot+proxy+bound-keypair://tok:s3@proxy:443"),
            "tbot start identity --join-uri=tbot+proxy+bound-keypair://tok:s3@proxy:443 \
             --destination=./destination"
        );
    }

    #[test]
    fn state_counts_headroom_only_in_mode_standard_and_sees_a_pending_rotation() {
        let mut t = token("n", "example", &onboarding(None));
        let s = state(&t).unwrap();
        assert_eq!(s.onboarding, "registration_secret");
        assert_eq!((s.recoveries_left, s.rotation_pending), (Some(1), false));
        let status = t.status.get_or_insert_with(Default::default);
        let b = status.bound_keypair.get_or_insert_with(Default::default);
        b.bound_public_key = KEY.into();
        b.recovery_count = 3;
        b.last_rotated_at = Some(prost_types::Timestamp {
            seconds: 10,
            nanos: 0,
        });
        let bk = t.spec.as_mut().unwrap().bound_keypair.as_mut().unwrap();
        bk.rotate_after = Some(prost_types::Timestamp {
            seconds: 20,
            nanos: 0,
        });
        let s = state(&t).unwrap();
        assert_eq!(s.onboarding, "bound");
        assert_eq!((s.recoveries_left, s.rotation_pending), (Some(0), true));
        let bk = t.spec.as_mut().unwrap().bound_keypair.as_mut().unwrap();
        bk.recovery.as_mut().unwrap().mode = "relaxed".into();
        bk.rotate_after = Some(prost_types::Timestamp {
            seconds: 5,
            nanos: 0,
        });
        let s = state(&t).unwrap();
        assert_eq!((s.recoveries_left, s.rotation_pending), (None, false));
        t.spec.as_mut().unwrap().join_method = "token".into();
        assert_eq!(state(&t), None);
    }

    #[test]
    fn headroom_is_limit_minus_count_in_mode_standard_only() {
        let mut t = token("bot-example-0a6f812a", "example", &onboarding(None));
        let b = t
            .status
            .get_or_insert_with(Default::default)
            .bound_keypair
            .get_or_insert_with(Default::default);
        b.recovery_count = 1;
        let bk = t.spec.as_mut().unwrap().bound_keypair.as_mut().unwrap();
        bk.recovery = Some(RecoverySpec {
            limit: 3,
            mode: String::new(),
        });
        let h = Headroom::of(&t).unwrap();
        assert_eq!(h.token, "bot-example-0a6f812a");
        assert_eq!(
            (h.recovery_mode.as_str(), h.recoveries_left, h.short()),
            ("standard", Some(2), "2/3 left".to_owned())
        );
        let bk = t.spec.as_mut().unwrap().bound_keypair.as_mut().unwrap();
        bk.recovery.as_mut().unwrap().mode = "insecure".into();
        let h = Headroom::of(&t).unwrap();
        assert_eq!(
            (h.recoveries_left, h.short()),
            (None, "insecure (1 used)".to_owned())
        );
        t.spec.as_mut().unwrap().join_method = "token".into();
        assert_eq!(Headroom::of(&t), None);
    }
}

//! `edit` as tctl does it: the resource as YAML in a private temp file, the user's editor on it,
//! then a write back conditional on the revision the edit started from, keeping unknown fields.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use mwi_proto::machineid::Bot;
use mwi_proto::types::{LockV2, ProvisionTokenV2};

use crate::client::{Client, ClientError, Fetched};
use crate::environment::{self, EnvVar};
use crate::error::CommandError;
use crate::resource::{Kind, Resource, ResourceRef, parse_documents, render_yaml};

/// The variables naming the editor, in the order tctl reads them.
pub const EDITOR_VARS: [EnvVar; 3] = [
    environment::TELEPORT_EDITOR,
    environment::VISUAL,
    environment::EDITOR,
];

/// The editor to run, as program and arguments: the first of `$TELEPORT_EDITOR`, `$VISUAL`,
/// `$EDITOR` that is set and not blank, split on whitespace; else `vi`.
pub fn editor_command(var: impl Fn(EnvVar) -> Option<String>) -> Vec<String> {
    EDITOR_VARS
        .into_iter()
        .filter_map(var)
        .map(|value| {
            value
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .find(|words| !words.is_empty())
        .unwrap_or_else(|| vec!["vi".to_owned()])
}

/// A private (mode 0600) temp file `teleport-resource*.yaml`, removed when dropped unless kept.
#[derive(Debug)]
pub struct TempResource {
    path: PathBuf,
    keep: bool,
}

impl TempResource {
    /// Creates the file in the system temp dir (`$TMPDIR`) holding `text`.
    pub fn create(text: &str) -> Result<TempResource, CommandError> {
        let dir = std::env::temp_dir();
        let unwritable = |e: std::io::Error| {
            CommandError::failure(format!(
                "cannot create a temp file in {}: {e}",
                dir.display()
            ))
            .hint("set TMPDIR to a writable directory")
        };
        loop {
            let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
            let path = dir.join(format!("teleport-resource{suffix}.yaml"));
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
            match file {
                Ok(mut file) => {
                    let temp = TempResource { path, keep: false };
                    file.write_all(text.as_bytes())
                        .and_then(|_| file.sync_all())
                        .map_err(unwritable)?;
                    return Ok(temp);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(unwritable(e)),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn read(&self) -> Result<String, CommandError> {
        std::fs::read_to_string(&self.path).map_err(|e| {
            CommandError::failure(format!(
                "cannot read the edited file {}: {e}",
                self.path.display()
            ))
        })
    }

    /// Leaves the file in place (it holds an edit that was not applied) and returns its path.
    pub fn keep(&mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for TempResource {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Runs `command` on `path` with the terminal (stdin, stdout, stderr) handed over, and waits.
pub async fn run_editor(command: &[String], path: &Path) -> Result<(), CommandError> {
    let Some((program, args)) = command.split_first() else {
        return Err(CommandError::usage("no editor is set"));
    };
    let status = tokio::process::Command::new(program)
        .args(args)
        .arg(path)
        .stdin(std::process::Stdio::inherit())
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit())
        .status()
        .await
        .map_err(|e| {
            CommandError::failure(format!("cannot start the editor `{program}`: {e}")).hint(
                "set TELEPORT_EDITOR, VISUAL or EDITOR to an installed editor, e.g. `EDITOR=nano`",
            )
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(CommandError::failure(format!(
            "the editor `{}` {}; skipping resource update",
            command.join(" "),
            describe_exit(status)
        )))
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_owned(),
    }
}

/// How an edit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditOutcome {
    /// The file came back unchanged: nothing was sent.
    Canceled,
    /// The resource was written back.
    Updated { kind: Kind, name: String },
}

/// The resource as read for editing: the YAML shown, and the bytes it came from.
struct Original {
    resource: Resource,
    raw: Bytes,
}

/// Edits the resource `reference` names with `editor`: writes it to a temp file, runs the
/// editor, and writes back a changed file. The write is conditional on the revision the edit
/// started from (`UpdateRole`; for bots `UpdateBot` with a mask of what changed; for locks and
/// tokens, which have no conditional update, a re-read that refuses a changed revision before
/// the upsert); `force` skips that check. Fields of the original this version does not know are
/// kept. An edit that cannot be applied leaves the temp file in place and names it.
pub async fn edit_resource(
    client: &Client,
    reference: &ResourceRef,
    force: bool,
    editor: &[String],
) -> Result<EditOutcome, CommandError> {
    let Some(name) = reference.name.as_deref() else {
        return Err(CommandError::usage(format!(
            "`{reference}` names no resource; edit one, like `{}/NAME`",
            reference.kind
        )));
    };
    let original = fetch(client, reference.kind, name).await?;
    let shown = render_yaml(std::slice::from_ref(&original.resource));
    let mut temp = TempResource::create(&shown)?;
    run_editor(editor, temp.path()).await?;
    let text = temp.read()?;
    if text == shown {
        return Ok(EditOutcome::Canceled);
    }
    let result = apply_edit(client, &original, &text, force).await;
    result.map_err(|e| {
        let path = temp.keep();
        e.hint(format!(
            "your edit is kept in {}; fix it and apply it with `mwictl create -f {}`, or run `mwictl edit {reference}` again",
            path.display(),
            path.display()
        ))
    })?;
    Ok(EditOutcome::Updated {
        kind: reference.kind,
        name: name.to_owned(),
    })
}

async fn fetch(client: &Client, kind: Kind, name: &str) -> Result<Original, CommandError> {
    let (resource, raw) = match kind {
        Kind::Lock => split(client.get_lock(name).await?, Resource::Lock),
        Kind::Role => split(client.get_role(name).await?, Resource::Role),
        Kind::Token => split(client.get_token(name).await?, Resource::Token),
        Kind::Bot => split(client.get_bot(name).await?, Resource::Bot),
        Kind::BotInstance => {
            return Err(CommandError::usage(
                "bot instances are read-only: the server records them when a bot joins",
            )
            .hint("read one with `mwictl get bot_instance/BOT/UUID`"));
        }
    };
    Ok(Original { resource, raw })
}

fn split<T>(fetched: Fetched<T>, wrap: fn(T) -> Resource) -> (Resource, Bytes) {
    (wrap(fetched.value), fetched.raw)
}

async fn apply_edit(
    client: &Client,
    original: &Original,
    text: &str,
    force: bool,
) -> Result<(), CommandError> {
    let edited = parse_edited(text, &original.resource)?;
    match (&original.resource, edited) {
        (Resource::Role(before), Resource::Role(mut after)) => {
            if force {
                let current = client.get_role(&original.resource.name()).await?;
                set_revision(&mut after.metadata, &current.value.metadata);
                client.upsert_role(&with_raw(after, current.raw)).await?;
            } else {
                set_revision(&mut after.metadata, &before.metadata);
                client
                    .update_role(&with_raw(after, original.raw.clone()))
                    .await
                    .map_err(stale_hint)?;
            }
        }
        (Resource::Bot(before), Resource::Bot(after)) => {
            edit_bot(client, original, before, after, force).await?
        }
        (Resource::Lock(_), Resource::Lock(mut after)) => {
            let current = recheck(
                client.get_lock(&original.resource.name()).await,
                original,
                force,
            )?;
            set_revision(&mut after.metadata, &current.value.metadata);
            client.upsert_lock(&with_raw(after, current.raw)).await?;
        }
        (Resource::Token(_), Resource::Token(mut after)) => {
            let current = recheck(
                client.get_token(&original.resource.name()).await,
                original,
                force,
            )?;
            set_revision(&mut after.metadata, &current.value.metadata);
            // The status shown was left as it was (parse_edited); the server's current one is
            // what is written back, so a join during the edit is not undone.
            after.status = current.value.status.clone();
            client.upsert_token(&with_raw(after, current.raw)).await?;
        }
        _ => unreachable!("parse_edited returns the kind it was given"),
    }
    Ok(())
}

/// The one resource in the edited text, of the original's kind and name.
fn parse_edited(text: &str, original: &Resource) -> Result<Resource, CommandError> {
    let mut resources = parse_documents(text)
        .map_err(|e| CommandError::usage(format!("the edited resource does not parse: {e}")))?;
    if resources.len() != 1 {
        return Err(CommandError::usage(format!(
            "the edited file holds {} resources; edit keeps exactly one",
            resources.len()
        )));
    }
    let edited = resources.remove(0);
    if edited.kind() != original.kind() {
        return Err(CommandError::usage(format!(
            "the edited file holds a {}, not a {}; the kind cannot change",
            edited.kind(),
            original.kind()
        )));
    }
    if edited.name() != original.name() {
        return Err(CommandError::usage(format!(
            "renaming resources is not supported: {} {} became {}",
            original.kind(),
            crate::resource::shown(&original.name()),
            crate::resource::shown(&edited.name())
        ))
        .hint(
            "create the new one with `mwictl create FILE` and remove the old one with `mwictl rm`",
        ));
    }
    if let (Resource::Token(before), Resource::Token(after)) = (original, &edited) {
        let changed = crate::resource::status_changes(before, after);
        if !changed.is_empty() {
            return Err(CommandError::usage(format!(
                "token {}: status is written by the auth server as bots join and cannot be edited; changed: {}",
                crate::resource::shown(&original.name()),
                changed.join(", ")
            ))
            .hint("change spec instead (e.g. spec.bound_keypair.recovery.limit); to restore a saved status use `mwictl create -f FILE --restore-status`"));
        }
    }
    Ok(edited)
}

/// The current copy of a lock or token, refused when it changed since the edit began (unless
/// `force`): neither kind has a conditional update RPC, so the check is done here.
fn recheck<T>(
    current: Result<Fetched<T>, ClientError>,
    original: &Original,
    force: bool,
) -> Result<Fetched<T>, CommandError> {
    let what = format!(
        "{} {}",
        original.resource.kind(),
        crate::resource::shown(&original.resource.name())
    );
    let current = match current {
        Err(e) if e.is_not_found() => {
            return Err(CommandError::conflict(format!(
                "{what} was deleted while it was being edited"
            )));
        }
        other => other?,
    };
    if force {
        return Ok(current);
    }
    let resource = fetched_revision(&current.raw, original);
    let changed = match (original.resource.revision(), resource) {
        (Some(before), Some(now)) => before != now,
        // Without revisions (older servers), any change of the stored bytes counts.
        _ => current.raw != original.raw,
    };
    if changed {
        return Err(CommandError::conflict(format!(
            "{what} changed on the server while it was being edited (stale revision)"
        ))
        .hint("use --force to overwrite the newer copy"));
    }
    Ok(current)
}

/// The revision in the freshly read bytes of the original's kind.
fn fetched_revision(raw: &Bytes, original: &Original) -> Option<String> {
    use prost::Message;
    let resource = match original.resource.kind() {
        Kind::Lock => Resource::Lock(LockV2::decode(raw.clone()).ok()?),
        Kind::Token => Resource::Token(ProvisionTokenV2::decode(raw.clone()).ok()?),
        // Roles and bots have conditional updates; the server checks their revision.
        Kind::Role | Kind::Bot | Kind::BotInstance => return None,
    };
    resource.revision()
}

/// A bot through `UpdateBot` with a mask of the spec fields that changed, the only ones it takes.
async fn edit_bot(
    client: &Client,
    original: &Original,
    before: &Bot,
    mut after: Bot,
    force: bool,
) -> Result<(), CommandError> {
    let name = before
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let (old_spec, new_spec) = (
        before.spec.clone().unwrap_or_default(),
        after.spec.clone().unwrap_or_default(),
    );
    let mut paths = Vec::new();
    if old_spec.roles != new_spec.roles {
        paths.push("spec.roles");
    }
    if old_spec.traits != new_spec.traits {
        paths.push("spec.traits");
    }
    if old_spec.max_session_ttl != new_spec.max_session_ttl {
        paths.push("spec.max_session_ttl");
    }
    if paths.is_empty() {
        return Err(CommandError::usage(format!(
            "bot {}: only spec.roles, spec.traits and spec.max_session_ttl can be edited",
            crate::resource::shown(&name)
        )));
    }
    // UpdateBot is conditional on the revision it carries; an empty one overwrites.
    let revision = if force {
        String::new()
    } else {
        original.resource.revision().unwrap_or_default()
    };
    after.status = None;
    after.metadata.get_or_insert_with(Default::default).revision = revision;
    client
        .update_bot(&with_raw(after, original.raw.clone()), &paths)
        .await
        .map_err(stale_hint)?;
    Ok(())
}

fn with_raw<T>(value: T, raw: Bytes) -> Fetched<T> {
    Fetched { value, raw }
}

fn set_revision(
    target: &mut Option<mwi_proto::types::Metadata>,
    from: &Option<mwi_proto::types::Metadata>,
) {
    let revision = from
        .as_ref()
        .map(|m| m.revision.clone())
        .unwrap_or_default();
    target.get_or_insert_with(Default::default).revision = revision;
}

/// A stale-revision refusal also says how to overwrite.
fn stale_hint(e: ClientError) -> CommandError {
    if e.is_conflict() {
        CommandError::from(e).hint("use --force to overwrite the newer copy")
    } else {
        e.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitStatus;
    use mwi_proto::types::RoleV6;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(EnvVar) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |var| {
            pairs
                .iter()
                .find(|(k, _)| k == var.name())
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn teleport_editor_wins_then_visual_then_editor_then_vi() {
        let all = env(&[
            ("TELEPORT_EDITOR", "code --wait"),
            ("VISUAL", "vim"),
            ("EDITOR", "nano"),
        ]);
        assert_eq!(editor_command(all), vec!["code", "--wait"]);
        assert_eq!(
            editor_command(env(&[("VISUAL", "vim"), ("EDITOR", "nano")])),
            vec!["vim"]
        );
        assert_eq!(
            editor_command(env(&[("EDITOR", "nano -w")])),
            vec!["nano", "-w"]
        );
        assert_eq!(editor_command(env(&[])), vec!["vi"]);
    }

    #[test]
    fn a_blank_variable_is_skipped() {
        assert_eq!(
            editor_command(env(&[("TELEPORT_EDITOR", "  "), ("EDITOR", "ed")])),
            vec!["ed"]
        );
    }

    #[test]
    fn temp_file_is_private_and_removed_unless_kept() {
        use std::os::unix::fs::PermissionsExt;
        let temp = TempResource::create("kind: role\n").unwrap();
        let path = temp.path().to_path_buf();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("teleport-resource") && name.ends_with(".yaml"),
            "{name}"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        drop(temp);
        assert!(!path.exists());

        let mut kept = TempResource::create("x").unwrap();
        let path = kept.keep();
        drop(kept);
        assert!(path.exists());
        std::fs::remove_file(path).unwrap();
    }

    fn role(name: &str) -> Resource {
        Resource::Role(RoleV6 {
            kind: "role".into(),
            version: "v7".into(),
            metadata: Some(mwi_proto::types::Metadata {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    #[test]
    fn renaming_is_refused() {
        let text = render_yaml(&[role("new")]);
        let err = parse_edited(&text, &role("old")).unwrap_err();
        assert!(
            err.message
                .starts_with("renaming resources is not supported"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_tokens_status_cannot_be_edited_but_its_spec_can() {
        let text = "kind: token\nversion: v2\nmetadata: {name: t}\nspec:\n  roles: [Bot]\n  \
                    bot_name: b\n  join_method: bound_keypair\n  bound_keypair:\n    \
                    recovery: {limit: LIMIT, mode: ''}\nstatus:\n  bound_keypair:\n    \
                    bound_public_key: k\n    recovery_count: COUNT\n";
        let doc = |limit: &str, count: &str| text.replace("LIMIT", limit).replace("COUNT", count);
        let original = parse_documents(&doc("1", "1")).unwrap().remove(0);
        assert!(parse_edited(&doc("2", "1"), &original).is_ok());
        let err = parse_edited(&doc("1", "0"), &original).unwrap_err();
        assert_eq!(err.status, ExitStatus::Usage);
        assert_eq!(
            err.message,
            "token \"t\": status is written by the auth server as bots join and cannot be edited; \
             changed: status.bound_keypair.recovery_count"
        );
        let removed = doc("1", "1");
        let removed = &removed[..removed.find("status:").unwrap()];
        let err = parse_edited(removed, &original).unwrap_err();
        assert!(err.message.ends_with("changed: status.bound_keypair.bound_public_key, status.bound_keypair.recovery_count"), "{}", err.message);
    }

    #[test]
    fn an_unparsable_edit_names_the_problem() {
        let err = parse_edited("kind: role\nmetadata: [", &role("r")).unwrap_err();
        assert_eq!(err.status, ExitStatus::Usage);
        assert!(
            err.message
                .starts_with("the edited resource does not parse")
        );
    }
}

//! `mwictl lab db add NAME [--label KEY=VALUE]...`: registers a database in the lab, as a
//! database agent or Teleport's discovery service would, to rehearse database incidents.

use std::collections::BTreeMap;

use mwi_diag::doctor::DISCOVERED_NAME_LABEL;

use crate::context::Context;
use crate::error::CommandError;
use crate::exit::ExitStatus;
use crate::lab::setup::LabTarget;
use crate::output::Output;

#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    Add(AddArgs),
}

/// Register a database in the lab (or replace the labels of one registered before).
///
/// The lab then lists it (ListResources `db_server`, what `tctl` and `tbot` read) and grants it
/// to roles whose rules and db_labels allow it. A database that auto-discovery renamed carries
/// its old name in the label `teleport.internal/discovered-name`: `mwictl lab db add
/// pg-prod-rds-us-east-1-123456789012 --label teleport.internal/discovered-name=pg-prod`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The database's name in Teleport (tbot's `service:`).
    #[arg(value_name = "NAME")]
    pub name: String,

    /// A label of the database, KEY=VALUE (repeatable or comma-separated).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
}

pub async fn run(ctx: &Context, command: DbCommand) -> Result<ExitStatus, CommandError> {
    match command {
        DbCommand::Add(args) => add(ctx, args).await,
    }
}

async fn add(ctx: &Context, args: AddArgs) -> Result<ExitStatus, CommandError> {
    let name = args.name.trim().to_string();
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CommandError::usage(format!(
            "database name {:?} is not valid: it must be one non-empty word",
            args.name
        ))
        .hint("e.g. mwictl lab db add pg-prod --label env=prod"));
    }
    let labels = parse_labels(&args.labels)?;
    let (_client, resolved) = ctx.connected().await?;
    if resolved.target.via_proxy {
        return Err(CommandError::usage(
            "lab db add talks to a lab auth service directly, not through --proxy",
        )
        .hint("drop --proxy; start a lab with `mwictl lab start`"));
    }
    let lab = LabTarget::from_identity(&resolved.target.addr, &resolved.target.identity)?;
    let (dir, db, stored) = (lab.lab_dir.clone(), name.clone(), labels.clone());
    tokio::task::spawn_blocking(move || mwi_auth::lab::seed_database(&dir, &db, stored))
        .await
        .map_err(|e| CommandError::failure(format!("registering the database failed: {e}")))?
        .map_err(|e| CommandError::failure(e.to_string()))?;
    ctx.printer().print(&Added { name, labels })?;
    Ok(ExitStatus::Success)
}

/// `--label` values: `KEY=VALUE`, each argument possibly a comma-separated list.
fn parse_labels(args: &[String]) -> Result<BTreeMap<String, String>, CommandError> {
    let mut labels = BTreeMap::new();
    for item in args.iter().flat_map(|a| a.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        match item.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                labels.insert(key.trim().to_string(), value.trim().to_string());
            }
            _ => {
                return Err(CommandError::usage(format!(
                    "--label {item:?}: expected KEY=VALUE with a non-empty key"
                ))
                .hint("e.g. --label env=prod"));
            }
        }
    }
    Ok(labels)
}

/// What `lab db add` registered.
struct Added {
    name: String,
    labels: BTreeMap<String, String>,
}

impl Output for Added {
    fn text(&self) -> String {
        let labels = match self.labels.is_empty() {
            true => String::new(),
            false => format!(
                " with labels {}",
                self.labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let renamed = self
            .labels
            .get(DISCOVERED_NAME_LABEL)
            .map_or(String::new(), |old| {
                format!(" (as auto-discovery renames {old})")
            });
        format!(
            "registered database {}{labels} in the lab{renamed}\n",
            self.name
        )
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "database": self.name, "labels": self.labels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_key_value_pairs_repeated_or_comma_separated() {
        let args = vec![
            "env=prod, team=db".to_string(),
            "teleport.internal/discovered-name=pg".to_string(),
        ];
        let labels = parse_labels(&args).unwrap();
        assert_eq!(labels.len(), 3);
        assert_eq!(labels["teleport.internal/discovered-name"], "pg");
        for bad in ["env", "=x"] {
            let err = parse_labels(&[bad.to_string()]).unwrap_err();
            assert!(err.render().contains("KEY=VALUE"), "{bad}");
        }
    }

    #[test]
    fn the_text_says_when_a_database_stands_for_a_renamed_one() {
        let added = Added {
            name: "pg-rds-1".into(),
            labels: BTreeMap::from([(DISCOVERED_NAME_LABEL.to_string(), "pg".to_string())]),
        };
        assert_eq!(
            added.text(),
            "registered database pg-rds-1 with labels teleport.internal/discovered-name=pg in the lab (as auto-discovery renames pg)\n"
        );
    }
}

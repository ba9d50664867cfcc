//! `mwictl roles ls|show|add-login|remove-login|add-db-access` against the lab: tables, YAML,
//! diffs, confirmation, conditional writes, and fields mwictl does not know surviving each fix.

use bytes::Bytes;
use mwi_proto::machineid::CreateBotRequest;
use mwi_proto::machineid::bot_service_client::BotServiceClient;
use mwi_proto::proto::auth_service_client::AuthServiceClient;
use mwi_proto::proto::{
    GetRoleRequest, UpsertRoleRequest, UpsertTokenV2Request, upsert_token_v2_request,
};
use mwi_proto::types::{RoleConditions, RoleV6, Rule};
use mwi_proto::wrappers::{LabelValues, StringValues};
use mwi_testkit::fixtures::{self, role_allowing};
use mwictl::exit::ExitStatus;
use mwictl::ops::roles::{self, DbGrant};
use prost::Message;
use tonic::transport::Channel;

use crate::harness::{Lab, raw_call, run, snapshot_settings, with_admin};

pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn labels(pairs: &[(&str, &str)]) -> Option<LabelValues> {
    Some(LabelValues {
        values: pairs
            .iter()
            .map(|(k, v)| {
                let values = StringValues {
                    values: strings(&[v]),
                };
                (k.to_string(), values)
            })
            .collect(),
    })
}

pub fn upsert_role(lab: &Lab, role: RoleV6) {
    lab.admin(async |mut c| {
        c.upsert_role_v2(UpsertRoleRequest { role: Some(role) })
            .await
            .expect("UpsertRoleV2");
    });
}

/// The role as stored, decoded, and its exact bytes.
pub fn stored_role(lab: &Lab, name: &str) -> (RoleV6, Bytes) {
    let raw = raw_call(
        lab,
        mwi_proto::method::auth::GET_ROLE,
        GetRoleRequest { name: name.into() }.encode_to_vec(),
    )
    .expect("GetRole");
    (RoleV6::decode(raw.clone()).expect("a role"), raw)
}

pub fn allow_of(role: &RoleV6) -> RoleConditions {
    role.spec.clone().and_then(|s| s.allow).unwrap_or_default()
}

/// Creates bot `name` (its user and role `bot-NAME`) with `roles` and `traits`.
pub fn create_bot(lab: &Lab, name: &str, roles: &[&str], traits: &[(&str, &[&str])]) {
    let bot = fixtures::bot_with(name, roles, traits, None);
    with_admin(lab, async |channel| {
        BotServiceClient::new(channel)
            .create_bot(CreateBotRequest { bot: Some(bot) })
            .await
            .expect("CreateBot");
    });
}

/// A new one-time join token for `bot` (expiring in 2100, for stable output).
pub fn create_token(lab: &Lab, bot: &str, name: &str) {
    let expires = prost_types::Timestamp {
        seconds: 4_102_444_800,
        nanos: 0,
    };
    let token = fixtures::token_until(name, bot, expires);
    lab.admin(async |mut c: AuthServiceClient<Channel>| {
        c.upsert_token_v2(UpsertTokenV2Request {
            token: Some(upsert_token_v2_request::Token::V2(token)),
        })
        .await
        .expect("UpsertTokenV2");
    });
}

/// `access`: logins ubuntu, node labels env=prod, no database access.
fn create_access_role(lab: &Lab) {
    upsert_role(
        lab,
        role_allowing(
            "access",
            RoleConditions {
                logins: strings(&["ubuntu"]),
                node_labels: labels(&[("env", "prod")]),
                rules: vec![Rule {
                    resources: strings(&["session"]),
                    verbs: strings(&["read", "list"]),
                    ..Default::default()
                }],
                ..Default::default()
            },
        ),
    );
}

#[test]
fn roles_ls_shows_logins_labels_and_rules() {
    let lab = Lab::start();
    create_access_role(&lab);
    let out = run(&mut lab.cmd(&["roles", "ls"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec![
            "Role",
            "Allowed",
            "to",
            "login",
            "as",
            "Node",
            "Labels",
            "Access",
            "to",
            "resources"
        ])
    );
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("access "))
        .expect("a row for access");
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        vec!["access", "ubuntu", "env=prod", "session:read,list"]
    );
}

#[test]
fn roles_ls_json_summarises_each_role() {
    let lab = Lab::start();
    create_access_role(&lab);
    let out = run(&mut lab.cmd(&["roles", "ls", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let access = json
        .as_array()
        .expect("an array")
        .iter()
        .find(|r| r["name"] == "access")
        .expect("access listed");
    assert_eq!(access["logins"], serde_json::json!(["ubuntu"]));
    assert_eq!(access["node_labels"], serde_json::json!({"env": ["prod"]}));
    assert_eq!(
        access["rules"],
        serde_json::json!([{"resources": ["session"], "verbs": ["read", "list"]}])
    );
}

#[test]
fn roles_show_prints_the_yaml_document_also_in_text_mode() {
    let lab = Lab::start();
    create_access_role(&lab);
    let text = run(&mut lab.cmd(&["roles", "show", "access"]));
    assert_eq!(text.code, 0, "{}", text.stderr);
    let yaml = run(&mut lab.cmd(&["roles", "show", "access", "--format", "yaml"]));
    assert_eq!(text.stdout, yaml.stdout);
    assert!(text.stdout.starts_with("kind: role\n"), "{}", text.stdout);
    let json = run(&mut lab.cmd(&["roles", "show", "access", "--format", "json"]));
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(value["metadata"]["name"], "access");
    assert_eq!(
        value["spec"]["allow"]["logins"],
        serde_json::json!(["ubuntu"])
    );
}

#[test]
fn roles_show_of_a_missing_role_is_not_found() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["roles", "show", "nope"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: role \"nope\" not found\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn add_login_dry_run_shows_the_diff_and_writes_nothing() {
    let lab = Lab::start();
    create_access_role(&lab);
    let (_, before) = stored_role(&lab, "access");
    let out = run(&mut lab.cmd(&["roles", "add-login", "access", "root", "--dry-run"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "dry run: role \"access\" was not changed\n");
    snapshot_settings().bind(|| insta::assert_snapshot!("roles_add_login_diff", out.stdout));
    assert_eq!(stored_role(&lab, "access").1, before, "nothing was written");
}

#[test]
fn add_login_with_yes_updates_the_role_like_tctl_says() {
    let lab = Lab::start();
    create_access_role(&lab);
    let out = run(&mut lab.cmd(&["roles", "add-login", "access", "root", "deploy", "--yes"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.ends_with("role \"access\" has been updated\n"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("next renewal"), "{}", out.stderr);
    let (stored, _) = stored_role(&lab, "access");
    assert_eq!(
        allow_of(&stored).logins,
        strings(&["ubuntu", "root", "deploy"])
    );
}

#[test]
fn add_login_without_a_terminal_or_yes_refuses_and_writes_nothing() {
    let lab = Lab::start();
    create_access_role(&lab);
    let (_, before) = stored_role(&lab, "access");
    let out = run(&mut lab.cmd(&["roles", "add-login", "access", "root"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "error: refusing to update role \"access\" without confirmation: stdin is not a terminal\n\
             hint: pass --yes to update it, or --dry-run to only see the diff\n"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(stored_role(&lab, "access").1, before);
}

#[test]
fn adding_a_login_the_role_has_changes_nothing() {
    let lab = Lab::start();
    create_access_role(&lab);
    let out = run(&mut lab.cmd(&["roles", "add-login", "access", "ubuntu"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "role \"access\" already grants login \"ubuntu\"\n"
    );
}

#[test]
fn add_login_json_reports_the_diff_and_the_write() {
    let lab = Lab::start();
    create_access_role(&lab);
    let out = run(&mut lab.cmd(&[
        "roles",
        "add-login",
        "access",
        "root",
        "--yes",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("one json object");
    assert_eq!(json["applied"], true);
    assert_eq!(json["changed"], true);
    assert!(
        json["diff"]
            .as_str()
            .unwrap_or_default()
            .contains("+    - root")
    );
}

#[test]
fn add_login_to_a_missing_role_is_not_found() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["roles", "add-login", "nope", "root", "--yes"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
}

#[test]
fn remove_login_takes_only_the_named_logins_out() {
    let lab = Lab::start();
    upsert_role(
        &lab,
        role_allowing(
            "access",
            RoleConditions {
                logins: strings(&["ubuntu", "root", "deploy"]),
                ..Default::default()
            },
        ),
    );
    let out = run(&mut lab.cmd(&["roles", "remove-login", "access", "root", "--yes"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    snapshot_settings().bind(|| insta::assert_snapshot!("roles_remove_login", out.stdout));
    let (stored, _) = stored_role(&lab, "access");
    assert_eq!(allow_of(&stored).logins, strings(&["ubuntu", "deploy"]));
    let again = run(&mut lab.cmd(&["roles", "remove-login", "access", "root"]));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.stdout,
        "role \"access\" does not grant login \"root\"\n"
    );
}

#[test]
fn add_db_access_adds_the_rule_and_merges_the_grants() {
    let lab = Lab::start();
    create_access_role(&lab);
    let out = run(&mut lab.cmd(&[
        "roles",
        "add-db-access",
        "access",
        "--db-labels",
        "env=prod,team=data",
        "--db-names",
        "app",
        "--db-users",
        "reader,writer",
        "--yes",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    snapshot_settings().bind(|| insta::assert_snapshot!("roles_add_db_access_diff", out.stdout));
    let allow = allow_of(&stored_role(&lab, "access").0);
    assert!(
        allow.rules.contains(&Rule {
            resources: strings(&["db_server", "db"]),
            verbs: strings(&["read", "list"]),
            ..Default::default()
        }),
        "{:?}",
        allow.rules
    );
    let db_labels = allow.database_labels.expect("db_labels").values;
    assert_eq!(db_labels["env"].values, strings(&["prod"]));
    assert_eq!(db_labels["team"].values, strings(&["data"]));
    assert_eq!(allow.database_names, strings(&["app"]));
    assert_eq!(allow.database_users, strings(&["reader", "writer"]));

    let again = run(&mut lab.cmd(&[
        "roles",
        "add-db-access",
        "access",
        "--db-labels",
        "env=prod",
        "--db-users",
        "reader",
    ]));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.stdout,
        "role \"access\" already grants read and list on db_server and db and the labels, names \
         and users given\n"
    );
    let rules = allow_of(&stored_role(&lab, "access").0).rules;
    assert_eq!(rules.len(), 2, "the rule is not duplicated: {rules:?}");
}

#[test]
fn add_db_access_without_labels_warns_that_no_database_matches() {
    let lab = Lab::start();
    create_access_role(&lab);
    let out = run(&mut lab.cmd(&["roles", "add-db-access", "access", "--dry-run"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "warning: role \"access\" has no db_labels, so it matches no database; add the \
             database's labels with --db-labels KEY=VALUE (or --db-labels '*=*' for every database)\n"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_db_labels_are_a_usage_error_before_any_call() {
    let lab = Lab::start();
    let out = run(&mut lab.cmd(&["roles", "add-db-access", "access", "--db-labels", "env"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: --db-labels \"env\": expected KEY=VALUE\n"),
        "{}",
        out.stderr
    );
}

/// `message` encoded with `extra`, an unknown field no version of Teleport uses, appended.
fn with_unknown(mut encoded: Vec<u8>, number: u32, text: &str) -> (Vec<u8>, Vec<u8>) {
    let mut extra = Vec::new();
    prost::encoding::string::encode(number, &text.to_string(), &mut extra);
    encoded.extend_from_slice(&extra);
    (encoded, extra)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn unknown_fields_survive_add_login_remove_login_and_add_db_access() {
    let lab = Lab::start();
    // A role as a newer Teleport would store it: an unknown field in spec.allow and one at the
    // top level.
    let known = role_allowing(
        "future",
        RoleConditions {
            logins: strings(&["ubuntu"]),
            ..Default::default()
        },
    );
    let allow = allow_of(&known);
    let (allow_bytes, nested) = with_unknown(allow.encode_to_vec(), 901, "nested future");
    let mut spec_bytes = Vec::new();
    prost::encoding::bytes::encode(2, &allow_bytes, &mut spec_bytes);
    let mut body = Vec::new();
    prost::encoding::string::encode(1, &known.kind, &mut body);
    prost::encoding::string::encode(3, &known.version, &mut body);
    prost::encoding::message::encode(4, known.metadata.as_ref().expect("metadata"), &mut body);
    prost::encoding::bytes::encode(5, &spec_bytes, &mut body);
    let (body, top) = with_unknown(body, 900, "top-level future");
    raw_call(&lab, mwi_proto::method::auth::UPSERT_ROLE, body).expect("UpsertRole");
    let (_, stored) = stored_role(&lab, "future");
    assert!(
        contains(&stored, &nested) && contains(&stored, &top),
        "the lab keeps bytes"
    );

    let steps: [&[&str]; 3] = [
        &["roles", "add-login", "future", "root", "--yes"],
        &["roles", "remove-login", "future", "ubuntu", "--yes"],
        &[
            "roles",
            "add-db-access",
            "future",
            "--db-labels",
            "*=*",
            "--yes",
        ],
    ];
    for step in steps {
        let out = run(&mut lab.cmd(step));
        assert_eq!(out.code, 0, "{step:?}: {}", out.stderr);
        let (_, after) = stored_role(&lab, "future");
        assert!(
            contains(&after, &top),
            "{step:?} kept the top-level unknown field"
        );
        assert!(
            contains(&after, &nested),
            "{step:?} kept the nested unknown field"
        );
    }
    let allow = allow_of(&stored_role(&lab, "future").0);
    assert_eq!(allow.logins, strings(&["root"]));
    assert_eq!(allow.rules.len(), 1);
}

/// Plans `edit` on role "access", lets `meanwhile` change the role as a racing writer would,
/// then applies the plan: the result and the role as stored.
fn race(
    lab: &Lab,
    edit: impl AsyncFnOnce(&mwictl::client::Client) -> roles::RoleChange,
    meanwhile: impl FnOnce(&mut RoleV6),
) -> (Result<roles::Applied, mwictl::error::CommandError>, RoleV6) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = runtime.block_on(async {
        let client = lab.client().await;
        let plan = edit(&client).await;
        assert!(plan.changed);
        let mut other = client.get_role("access").await.expect("read");
        meanwhile(&mut other.value);
        client.update_role(&other).await.expect("concurrent update");
        roles::apply(&client, &plan).await
    });
    (result, stored_role(lab, "access").0)
}

#[test]
fn a_role_changed_between_plan_and_apply_is_read_again_and_both_edits_stand() {
    let lab = Lab::start();
    create_access_role(&lab);
    let (applied, stored) = race(
        &lab,
        async |client| {
            let grant = DbGrant {
                labels: vec![("env".into(), "prod".into())],
                ..Default::default()
            };
            roles::plan_add_db_access(client, "access", &grant)
                .await
                .expect("plan")
        },
        |role| role.metadata.get_or_insert_default().description = "edited meanwhile".into(),
    );
    assert!(
        matches!(applied, Ok(roles::Applied::Written(_))),
        "{applied:?}"
    );
    assert_eq!(
        stored.metadata.as_ref().map(|m| m.description.as_str()),
        Some("edited meanwhile"),
        "the other edit stands"
    );
    assert!(
        allow_of(&stored).database_labels.is_some(),
        "and so does this one"
    );
}

#[test]
fn a_login_someone_else_added_meanwhile_is_not_a_conflict() {
    let lab = Lab::start();
    create_access_role(&lab);
    let (applied, stored) = race(
        &lab,
        async |client| {
            roles::plan_add_login(client, "access", &strings(&["deploy"]))
                .await
                .expect("plan")
        },
        |role| {
            let allow = role
                .spec
                .get_or_insert_default()
                .allow
                .get_or_insert_default();
            allow.logins.push("deploy".into());
        },
    );
    assert!(
        matches!(applied, Ok(roles::Applied::AlreadyThere)),
        "{applied:?}"
    );
    let logins = allow_of(&stored).logins;
    assert_eq!(
        logins.iter().filter(|l| *l == "deploy").count(),
        1,
        "{logins:?}"
    );
}

#[test]
fn a_race_that_changes_what_the_edit_means_is_a_conflict_without_force_advice() {
    let lab = Lab::start();
    create_access_role(&lab);
    let (applied, stored) = race(
        &lab,
        async |client| {
            roles::plan_add_login(client, "access", &strings(&["deploy"]))
                .await
                .expect("plan")
        },
        |role| {
            let deny = role
                .spec
                .get_or_insert_default()
                .deny
                .get_or_insert_default();
            deny.logins.push("deploy".into());
        },
    );
    let err = applied.expect_err("the new deny changes what the edit does");
    assert_eq!(err.status, ExitStatus::Conflict);
    assert!(
        err.message.contains("no longer applies as shown"),
        "{}",
        err.message
    );
    assert!(err.message.contains("deny"), "{}", err.message);
    assert!(
        !err.render().contains("--force"),
        "the role fixes have no --force: {}",
        err.render()
    );
    assert!(!allow_of(&stored).logins.contains(&"deploy".to_string()));
}

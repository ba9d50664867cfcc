//! Tests of the resource module as callers use it: documents in tctl's shape to wire messages and
//! back, tctl samples, snapshots of typical output, and the errors users see.

use mwi_proto::machineid::{Bot, BotSpec, BotStatus, Trait};
use mwi_proto::teleport::header::v1::Metadata as HeaderMetadata;
use mwi_proto::types::{
    ImpersonateConditions, LockSpecV2, LockTarget, LockV2, Metadata, RoleConditions, RoleOptions,
    RoleSpecV6, RoleV6, Rule,
};
use mwi_proto::wrappers::{LabelValues, StringValues};
use serde_json::{Value, json};

use super::*;

pub(super) fn round_trip(value: Value) {
    let resource = Resource::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resource.to_value(), value);
    // And through the wire: encoding and decoding the message changes nothing.
    let bytes = match &resource {
        Resource::Lock(m) => prost::Message::encode_to_vec(m),
        Resource::Role(m) => prost::Message::encode_to_vec(m),
        Resource::Token(m) => prost::Message::encode_to_vec(m),
        Resource::Bot(m) => prost::Message::encode_to_vec(m),
        Resource::BotInstance(m) => prost::Message::encode_to_vec(m),
    };
    let decoded = match resource.kind() {
        Kind::Lock => Resource::Lock(prost::Message::decode(bytes.as_slice()).unwrap()),
        Kind::Role => Resource::Role(prost::Message::decode(bytes.as_slice()).unwrap()),
        Kind::Token => Resource::Token(prost::Message::decode(bytes.as_slice()).unwrap()),
        Kind::Bot => Resource::Bot(prost::Message::decode(bytes.as_slice()).unwrap()),
        Kind::BotInstance => {
            Resource::BotInstance(prost::Message::decode(bytes.as_slice()).unwrap())
        }
    };
    assert_eq!(decoded.to_value(), value);
    // And through the text forms.
    let one = std::slice::from_ref(&resource);
    assert_eq!(parse_one(&render_yaml(one)).to_value(), value);
    assert_eq!(parse_one(&render_json(one)).to_value(), value);
}

pub(super) fn parse_one(text: &str) -> Resource {
    let mut resources = parse_documents(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resources.len(), 1);
    resources.remove(0)
}

pub(super) fn error_of(text: &str) -> String {
    parse_documents(text).unwrap_err().to_string()
}

fn ts(seconds: i64, nanos: i32) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos }
}

/// 2026-01-02T15:04:05Z
const T0: i64 = 1_767_366_245;

// ---------------------------------------------------------------------------------------------
// Round trips with every modelled field

#[test]
fn lock_round_trips_every_field() {
    round_trip(json!({
        "kind": "lock",
        "sub_kind": "sub",
        "version": "v2",
        "metadata": {
            "name": "5cee949f-5203-4f3b-9805-dac35d798a16",
            "description": "held for review",
            "labels": {"team": "sre"},
            "expires": "2026-01-02T15:04:05.123Z",
            "revision": "0b3cb3d5-3a2e-4d1c-9a4b-4bb1f4d3b8a6",
        },
        "spec": {
            "target": {
                "user": "bot-example",
                "role": "bot-example",
                "login": "root",
                "node": "node-1",
                "mfa_device": "mfa-1",
                "windows_desktop": "desk-1",
                "access_request": "req-1",
                "device": "dev-1",
                "server_id": "srv-1",
                "bot_instance_id": "7b6a5e0c-2f47-4c4e-a2f7-97c1b0fd8f11",
                "join_token": "bound-keypair-token",
            },
            "message": "The bot user \"bot-example\" has been locked.",
            "expires": "2026-01-02T15:04:05Z",
            "created_at": "2026-01-02T15:04:05.5Z",
            "created_by": "admin",
        },
    }));
}

#[test]
fn role_round_trips_every_field() {
    let conditions = json!({
        "logins": ["root", "ubuntu"],
        "namespaces": ["default"],
        "node_labels": {"*": "*", "env": ["prod", "staging"]},
        "rules": [
            {"resources": ["cert_authority"], "verbs": ["readnosecrets"]},
            {
                "resources": ["db_server", "db"],
                "verbs": ["read", "list"],
                "where": "contains(user.spec.traits[\"groups\"], \"prod\")",
                "actions": ["log(\"info\", \"read\")"],
            },
        ],
        "kubernetes_groups": ["system:masters"],
        "kubernetes_users": ["kube-admin"],
        "app_labels": {"app": "grafana"},
        "cluster_labels": {"region": ["eu", "us"]},
        "kubernetes_labels": {"*": "*"},
        "db_labels": {"engine": "postgres"},
        "db_names": ["example"],
        "db_users": ["alice"],
        "impersonate": {"users": ["bob"], "roles": ["access"], "where": "true"},
        "db_roles": ["reader"],
    });
    round_trip(json!({
        "kind": "role",
        "version": "v7",
        "metadata": {
            "name": "bot-example",
            "description": "Automatically generated role for bot example",
            "labels": {"teleport.internal/bot": "example"},
            "revision": "5d0f3e4c",
        },
        "spec": {
            "options": {"max_session_ttl": "12h0m0s"},
            "allow": conditions.clone(),
            "deny": conditions,
        },
    }));
}

#[test]
fn token_round_trips_every_field() {
    round_trip(json!({
        "kind": "token",
        "version": "v2",
        "metadata": {
            "name": "3f1a0c7b9d2e4f60a1b2c3d4e5f60718",
            "expires": "2026-01-02T16:04:05Z",
            "revision": "r1",
        },
        "spec": {"roles": ["Bot"], "join_method": "token", "bot_name": "example"},
    }));
}

#[test]
fn bot_round_trips_every_field_it_reads() {
    round_trip(json!({
        "kind": "bot",
        "sub_kind": "x",
        "version": "v1",
        "metadata": {
            "name": "example",
            "description": "ci bot",
            "labels": {"team": "sre"},
            "expires": "2026-01-02T15:04:05.120Z",
            "revision": "r2",
        },
        "spec": {
            "roles": ["access", "db-reader"],
            "traits": [{"name": "logins", "values": ["root", "ubuntu"]}, {"name": "empty"}],
            "max_session_ttl": "43200s",
        },
        "scope": "/staging",
    }));
}

#[test]
fn bot_instance_round_trips_every_field() {
    let authentication = json!({
        "authenticated_at": "2026-01-02T15:04:05.123456Z",
        "join_method": "token",
        "join_token": "3f1a0c7b",
        "metadata": {"a": 1, "b": [true, null, "x", 1.5], "c": {"d": "e"}},
        "generation": 3,
        "public_key": "LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0K",
    });
    let heartbeat = json!({
        "recorded_at": "2026-01-02T15:04:05Z",
        "is_startup": true,
        "version": "17.4.2",
        "hostname": "ci-runner-1",
        "uptime": "3600s",
        "join_method": "token",
        "one_shot": true,
        "architecture": "amd64",
        "os": "linux",
        "external_updater": "kube",
        "external_updater_version": "1.2.3",
        "kind": "BOT_KIND_TBOT",
    });
    round_trip(json!({
        "kind": "bot_instance",
        "version": "v1",
        "metadata": {
            "name": "7b6a5e0c-2f47-4c4e-a2f7-97c1b0fd8f11",
            "expires": "2026-01-02T16:09:05Z",
            "revision": "r3",
        },
        "spec": {
            "bot_name": "example",
            "instance_id": "7b6a5e0c-2f47-4c4e-a2f7-97c1b0fd8f11",
            "previous_instance_id": "0d1e2f30-4152-4637-8899-aabbccddeeff",
        },
        "status": {
            "initial_authentication": authentication.clone(),
            "latest_authentications": [authentication.clone(), authentication],
            "initial_heartbeat": heartbeat.clone(),
            "latest_heartbeats": [heartbeat.clone(), heartbeat],
            "service_health": [
                {
                    "service": {"type": "identity", "name": "identity-1"},
                    "status": "BOT_INSTANCE_HEALTH_STATUS_UNHEALTHY",
                    "reason": "access denied",
                    "updated_at": "2026-01-02T15:04:05Z",
                },
                {
                    "service": {"type": "database", "name": "database-2"},
                    "status": "BOT_INSTANCE_HEALTH_STATUS_HEALTHY",
                    "updated_at": "2026-01-02T15:04:05Z",
                },
            ],
        },
        "scope": "/staging",
    }));
}

#[test]
fn bot_status_is_printed_but_not_read_back() {
    let bot = Bot {
        kind: "bot".into(),
        version: "v1".into(),
        metadata: Some(HeaderMetadata {
            name: "example".into(),
            ..Default::default()
        }),
        spec: Some(BotSpec {
            roles: vec!["access".into()],
            ..Default::default()
        }),
        status: Some(BotStatus {
            user_name: "bot-example".into(),
            role_name: "bot-example".into(),
        }),
        ..Default::default()
    };
    let value = Resource::Bot(bot.clone()).to_value();
    assert_eq!(
        value["status"],
        json!({"user_name": "bot-example", "role_name": "bot-example"})
    );
    let Resource::Bot(read) = Resource::from_value(value).unwrap() else {
        panic!("not a bot");
    };
    assert_eq!(read.status, None);
    assert_eq!(read.spec, bot.spec);
}

// ---------------------------------------------------------------------------------------------
// Snapshots of typical output

/// The role Teleport's CreateBot makes for bot `example`.
fn bot_role() -> RoleV6 {
    RoleV6 {
        kind: "role".into(),
        version: "v7".into(),
        metadata: Some(Metadata {
            name: "bot-example".into(),
            namespace: "default".into(),
            description: "Automatically generated role for bot example".into(),
            labels: [("teleport.internal/bot".to_owned(), "example".to_owned())].into(),
            revision: "b7d9a8a5-1f7e-4c55-a1a7-0d3f3c1f0c11".into(),
            ..Default::default()
        }),
        spec: Some(RoleSpecV6 {
            options: Some(RoleOptions {
                max_session_ttl: 12 * 3600 * 1_000_000_000,
                ..Default::default()
            }),
            allow: Some(RoleConditions {
                rules: vec![Rule {
                    resources: vec!["cert_authority".into()],
                    verbs: vec!["readnosecrets".into()],
                    ..Default::default()
                }],
                impersonate: Some(ImpersonateConditions {
                    roles: vec!["access".into(), "db-reader".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            deny: Some(RoleConditions::default()),
        }),
        ..Default::default()
    }
}

/// The lock Teleport creates on a generation mismatch, as the troubleshooting page shows it.
fn seed_lock() -> LockV2 {
    LockV2 {
        kind: "lock".into(),
        version: "v2".into(),
        metadata: Some(Metadata {
            name: "5cee949f-5203-4f3b-9805-dac35d798a16".into(),
            namespace: "default".into(),
            revision: "2c9ad3d8-63f4-4c2b-8dd5-2f4b3e0a9e1f".into(),
            ..Default::default()
        }),
        spec: Some(LockSpecV2 {
            target: Some(LockTarget {
                user: "bot-example".into(),
                ..Default::default()
            }),
            message: "The bot user \"bot-example\" has been locked due to a certificate \
                      generation mismatch, possibly indicating a stolen certificate."
                .into(),
            // Go's zero time, as gogo sends an unset non-nullable CreatedAt.
            created_at: Some(ts(-62_135_596_800, 0)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn bot_role_yaml_snapshot() {
    insta::assert_snapshot!(render_yaml(&[Resource::Role(bot_role())]));
}

#[test]
fn seed_lock_yaml_snapshot() {
    insta::assert_snapshot!(render_yaml(&[Resource::Lock(seed_lock())]));
}

#[test]
fn several_resources_render_as_documents_with_separators() {
    let text = render_yaml(&[Resource::Lock(seed_lock()), Resource::Role(bot_role())]);
    assert_eq!(text.matches("\n---\n").count(), 1);
    assert!(text.starts_with("kind: lock\n"));
    assert!(text.contains("---\nkind: role\n"));
    assert!(text.ends_with("version: v7\n"));
}

#[test]
fn json_output_is_an_array_that_reads_back() {
    let items = [Resource::Lock(seed_lock()), Resource::Role(bot_role())];
    let text = render_json(&items);
    assert!(text.starts_with("[\n"));
    assert!(text.ends_with("]\n"));
    let back = parse_documents(&text).unwrap();
    assert_eq!(
        back.iter().map(Resource::to_value).collect::<Vec<_>>(),
        items.iter().map(Resource::to_value).collect::<Vec<_>>()
    );
}

#[test]
fn nothing_renders_as_an_empty_list() {
    assert_eq!(render_yaml(&[]), "[]\n");
    assert_eq!(render_json(&[]), "[]\n");
}

#[test]
fn rendered_yaml_reads_back_to_the_same_resources() {
    let items = [Resource::Lock(seed_lock()), Resource::Role(bot_role())];
    let text = render_yaml(&items);
    let back = parse_documents(&text).unwrap();
    assert_eq!(render_yaml(&back), text);
}

#[test]
fn unset_created_at_is_left_out() {
    let value = Resource::Lock(seed_lock()).to_value();
    assert!(value["spec"].get("created_at").is_none(), "{value}");
}

// ---------------------------------------------------------------------------------------------
// tctl samples

#[test]
fn reads_the_lock_tctl_printed_in_older_releases() {
    // From the troubleshooting page: older releases print a numeric `metadata.id`.
    let lock = parse_one(
        "\
kind: lock
metadata:
  id: 1658359514703080513
  name: 5cee949f-5203-4f3b-9805-dac35d798a16
spec:
  message: The bot user \"bot-example\" has been locked due to a certificate generation
    mismatch, possibly indicating a stolen certificate.
  target:
    user: bot-example
version: v2
",
    );
    let Resource::Lock(lock) = lock else {
        panic!("not a lock")
    };
    let spec = lock.spec.unwrap();
    assert_eq!(spec.target.as_ref().unwrap().user, "bot-example");
    assert_eq!(
        lock_target_text(spec.target.as_ref().unwrap()),
        "User:\"bot-example\""
    );
    assert!(
        spec.message
            .ends_with("possibly indicating a stolen certificate.")
    );
    assert_eq!(
        lock.metadata.unwrap().name,
        "5cee949f-5203-4f3b-9805-dac35d798a16"
    );
}

#[test]
fn reads_a_newer_lock_on_a_bot_instance() {
    let Resource::Lock(lock) = parse_one(
        "\
kind: lock
metadata:
  name: 0b6f0c1e-6d1f-4d8c-9a55-1d2c3b4a5f60
  revision: 6c2a4f0e-1b7d-4e3a-8f5c-9d0e1f2a3b4c
spec:
  created_at: \"2026-01-02T15:04:05.123456789Z\"
  created_by: system
  expires: \"2026-01-03T15:04:05+09:00\"
  message: The bot instance example/7b6a5e0c has been locked due to a certificate generation mismatch.
  target:
    bot_instance_id: 7b6a5e0c-2f47-4c4e-a2f7-97c1b0fd8f11
version: v2
",
    ) else {
        panic!("not a lock")
    };
    let spec = lock.spec.unwrap();
    assert_eq!(spec.created_at, Some(ts(T0, 123_456_789)));
    assert_eq!(spec.expires, Some(ts(T0 + 86_400 - 9 * 3600, 0)));
    assert_eq!(
        spec.target.unwrap().bot_instance_id,
        "7b6a5e0c-2f47-4c4e-a2f7-97c1b0fd8f11"
    );
}

#[test]
fn reads_a_role_written_like_the_docs() {
    let Resource::Role(role) = parse_one(
        "\
kind: role
version: v7
metadata:
  name: db-reader
  labels:
    env: prod
spec:
  options:
    max_session_ttl: 8h
  allow:
    logins: [root, '{{internal.logins}}']
    node_labels:
      '*': '*'
    db_labels:
      env: [prod, staging]
    db_names: ['*']
    db_users: [reader]
    rules:
    - resources: [db_server, db]
      verbs: [read, list]
  deny:
    logins: [admin]
",
    ) else {
        panic!("not a role")
    };
    let spec = role.spec.unwrap();
    assert_eq!(
        spec.options.unwrap().max_session_ttl,
        8 * 3600 * 1_000_000_000
    );
    let allow = spec.allow.unwrap();
    assert_eq!(allow.logins, ["root", "{{internal.logins}}"]);
    let labels = |values: &[&str]| StringValues {
        values: values.iter().map(|s| s.to_string()).collect(),
    };
    assert_eq!(
        allow.node_labels.unwrap(),
        LabelValues {
            values: [("*".to_owned(), labels(&["*"]))].into()
        }
    );
    assert_eq!(
        allow.database_labels.unwrap(),
        LabelValues {
            values: [("env".to_owned(), labels(&["prod", "staging"]))].into()
        }
    );
    assert_eq!(allow.rules[0].verbs, ["read", "list"]);
    assert_eq!(spec.deny.unwrap().logins, ["admin"]);
    assert_eq!(role.metadata.unwrap().labels["env"], "prod");
}

#[test]
fn reads_a_bot_with_either_duration_form() {
    for (ttl, seconds) in [
        ("43200s", 43_200),
        ("12h", 43_200),
        ("1h30m", 5_400),
        ("1.5s", 1),
    ] {
        let Resource::Bot(bot) = parse_one(&format!(
            "\
kind: bot
version: v1
metadata:
  name: example
spec:
  roles: [access]
  traits:
  - name: logins
    values: [root]
  max_session_ttl: {ttl}
"
        )) else {
            panic!("not a bot")
        };
        let spec = bot.spec.unwrap();
        assert_eq!(spec.max_session_ttl.unwrap().seconds, seconds, "{ttl}");
        assert_eq!(
            spec.traits,
            [Trait {
                name: "logins".into(),
                values: vec!["root".into()]
            }]
        );
    }
}

#[test]
fn reads_a_bot_token() {
    let Resource::Token(token) = parse_one(
        "\
kind: token
version: v2
metadata:
  name: 3f1a0c7b9d2e4f60a1b2c3d4e5f60718
  expires: \"2026-01-02T16:04:05Z\"
spec:
  bot_name: example
  join_method: token
  roles:
  - Bot
",
    ) else {
        panic!("not a token")
    };
    assert_eq!(token.metadata.unwrap().expires, Some(ts(T0 + 3600, 0)));
    let spec = token.spec.unwrap();
    assert_eq!(spec.roles, ["Bot"]);
    assert_eq!(spec.join_method, "token");
    assert_eq!(spec.bot_name, "example");
}

#[test]
fn reads_a_bot_instance_from_get_output() {
    let instance = parse_one(
        "\
kind: bot_instance
metadata:
  expires: \"2026-01-02T16:09:05Z\"
  name: 7b6a5e0c-2f47-4c4e-a2f7-97c1b0fd8f11
  revision: r3
spec:
  bot_name: example
  instance_id: 7b6a5e0c-2f47-4c4e-a2f7-97c1b0fd8f11
status:
  initial_authentication:
    authenticated_at: \"2026-01-02T15:04:05Z\"
    generation: 1
    join_method: token
    public_key: LS0tLS1CRUdJTg==
  latest_authentications:
  - authenticated_at: \"2026-01-02T15:24:05Z\"
    generation: 2
    join_method: token
  initial_heartbeat:
    hostname: ci-runner-1
    is_startup: true
    os: linux
    uptime: 0.500s
    kind: 1
version: v1
",
    );
    assert_eq!(
        instance.name(),
        "example/7b6a5e0c-2f47-4c4e-a2f7-97c1b0fd8f11"
    );
    assert_eq!(instance.revision().as_deref(), Some("r3"));
    let Resource::BotInstance(instance) = instance else {
        panic!("not a bot instance")
    };
    let status = instance.status.unwrap();
    let initial = status.initial_authentication.unwrap();
    assert_eq!(initial.generation, 1);
    assert_eq!(initial.public_key, b"-----BEGIN");
    assert_eq!(status.latest_authentications[0].generation, 2);
    let heartbeat = status.initial_heartbeat.unwrap();
    assert_eq!(
        heartbeat.uptime,
        Some(prost_types::Duration {
            seconds: 0,
            nanos: 500_000_000
        })
    );
    assert_eq!(heartbeat.kind, 1);
}

#[test]
fn reads_json_documents() {
    let resources = parse_documents(
        r#"{"kind": "token", "version": "v2", "metadata": {"name": "t1"}, "spec": {"roles": ["Bot"]}}
           {"kind": "token", "version": "v2", "metadata": {"name": "t2"}}"#,
    )
    .unwrap();
    let names: Vec<String> = resources.iter().map(Resource::name).collect();
    assert_eq!(names, ["t1", "t2"]);
}

#[test]
fn reads_flow_style_yaml_that_starts_like_json() {
    let resource = parse_one("{kind: token, version: v2, metadata: {name: t1}}");
    assert_eq!(resource.name(), "t1");
}

// ---------------------------------------------------------------------------------------------
// Multi-document input

#[test]
fn multi_document_yaml_skips_blank_documents() {
    let resources = parse_documents(
        "\
---
# a comment only
---
kind: token
version: v2
metadata: {name: a}
---
---
kind: lock
version: v2
metadata: {name: b}
spec: {target: {role: bot-example}}
",
    )
    .unwrap();
    let refs: Vec<String> = resources
        .iter()
        .map(|r| format!("{}/{}", r.kind(), r.name()))
        .collect();
    assert_eq!(refs, ["token/a", "lock/b"]);
}

#[test]
fn errors_in_later_documents_name_the_document() {
    let err = error_of(
        "\
kind: token
version: v2
metadata: {name: a}
---
kind: lock
version: v2
metadata: {name: b}
spec: {target: {usr: bot-example}}
",
    );
    assert_eq!(
        err,
        "document 2 (lock/b): `spec.target.usr`: unknown key; did you mean `user`?"
    );
}

#[test]
fn yaml_anchors_and_merge_keys_are_applied() {
    let Resource::Role(role) = parse_one(
        "\
kind: role
version: v7
metadata: {name: r}
spec:
  allow: &common
    logins: [root]
  deny:
    <<: *common
    db_users: [admin]
",
    ) else {
        panic!("not a role")
    };
    let spec = role.spec.unwrap();
    assert_eq!(spec.allow.unwrap().logins, ["root"]);
    let deny = spec.deny.unwrap();
    assert_eq!(deny.logins, ["root"]);
    assert_eq!(deny.database_users, ["admin"]);
}

// ---------------------------------------------------------------------------------------------
// Errors users see

#[test]
fn empty_input_says_so_like_tctl() {
    for text in [
        "",
        "\n\n",
        "---\n---\n",
        "# nothing\n",
        "[]",
        "[]\n",
        "null",
    ] {
        assert_eq!(
            error_of(text),
            "no resources found, empty input?",
            "{text:?}"
        );
    }
}

#[test]
fn unknown_key_suggests_the_known_one() {
    let err = error_of(
        "\
kind: role
version: v7
metadata: {name: r}
spec:
  allow:
    rules:
    - resources: [db]
      vrebs: [read]
",
    );
    assert_eq!(
        err,
        "`spec.allow.rules[0].vrebs`: unknown key; did you mean `verbs`?"
    );
}

#[test]
fn unknown_key_without_a_near_match_lists_the_known_keys() {
    let err = error_of(
        "\
kind: role
version: v7
metadata: {name: r}
spec:
  options:
    record_session: {desktop: true, zzz: x}
",
    );
    assert_eq!(
        err,
        "`spec.options.record_session.zzz`: unknown key; expected one of: default, desktop, ssh"
    );
}

#[test]
fn wrong_types_name_the_path_and_the_expected_type() {
    let cases = [
        (
            "kind: role\nversion: v7\nmetadata: {name: r}\nspec: {allow: {rules: [{verbs: read}]}}\n",
            "`spec.allow.rules[0].verbs`: expected a list, got a string (\"read\")",
        ),
        (
            "kind: role\nversion: v7\nmetadata: {name: r}\nspec: {allow: {node_labels: {env: {a: b}}}}\n",
            "`spec.allow.node_labels.env`: expected a string or a list of strings, got a mapping",
        ),
        (
            "kind: role\nversion: v7\nmetadata: {name: r}\nspec: {options: {max_session_ttl: 3600}}\n",
            "`spec.options.max_session_ttl`: expected a duration string like 12h0m0s, got a number (3600)",
        ),
        (
            "kind: lock\nversion: v2\nmetadata: {name: l, labels: {generation: 0}}\nspec: {target: {user: u}}\n",
            "`metadata.labels.generation`: expected a string, got a number (0); quote it to make it a string",
        ),
        (
            "kind: role\nversion: v7\nmetadata: {name: r}\nspec: {allow: {db_labels: {port: 5432}}}\n",
            "`spec.allow.db_labels.port`: expected a string, got a number (5432); quote it to make it a string",
        ),
        (
            "kind: bot\nversion: v1\nmetadata: {name: b}\nspec: {traits: {name: logins}}\n",
            "`spec.traits`: expected a list, got a mapping",
        ),
        (
            "kind: bot_instance\nversion: v1\nmetadata: {name: i}\nstatus: {initial_heartbeat: {one_shot: \"yes\"}}\n",
            "`status.initial_heartbeat.one_shot`: expected true or false, got a string (\"yes\")",
        ),
        (
            "- just\n- strings\n",
            "document 1: the document: expected a mapping with kind, version and metadata, got a string (\"just\")",
        ),
        ("kind: 5\n", "`kind`: expected a string, got a number (5)"),
    ];
    for (text, want) in cases {
        assert_eq!(error_of(text), want, "{text}");
    }
}

#[test]
fn bad_durations_and_times_name_the_field() {
    let cases = [
        (
            "kind: role\nversion: v7\nmetadata: {name: r}\nspec: {options: {max_session_ttl: 12x}}\n",
            "`spec.options.max_session_ttl`: invalid duration `12x`: unknown unit `x`; use ns, us, ms, s, m or h",
        ),
        (
            "kind: bot\nversion: v1\nmetadata: {name: b}\nspec: {max_session_ttl: 1d}\n",
            "`spec.max_session_ttl`: invalid duration `1d`: unknown unit `d`; use ns, us, ms, s, m or h",
        ),
        (
            "kind: token\nversion: v2\nmetadata: {name: t, expires: tomorrow}\n",
            "`metadata.expires`: invalid time `tomorrow`: expected RFC 3339, like 2026-01-02T15:04:05Z",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(error_of(text), want, "{text}");
    }
}

#[test]
fn documents_need_kind_version_and_a_name() {
    let cases = [
        (
            "version: v2\nmetadata: {name: x}\n",
            "`kind`: missing, expected one of lock, role, token, bot, bot_instance",
        ),
        (
            "kind: locks\nversion: v2\n",
            "`kind`: unknown resource kind `locks`; valid kinds: lock, role, token, bot, bot_instance; did you mean `lock`?",
        ),
        (
            "kind: lock\nmetadata: {name: x}\n",
            "`version`: missing, expected a non-empty string",
        ),
        (
            "kind: role\nversion: v9\nmetadata: {name: x}\n",
            "`version`: unsupported role version `v9`; expected v3 or v4 or v5 or v6 or v7 or v8",
        ),
        (
            "kind: token\nversion: v2\n",
            "`metadata`: missing, expected a mapping with at least `name`",
        ),
        (
            "kind: token\nversion: v2\nmetadata: {}\n",
            "`metadata.name`: missing, expected a non-empty string",
        ),
        (
            "kind: bot\nversion: v1\nmetadata: {name: b, id: 5}\n",
            "`metadata.id`: unknown key; expected one of: description, expires, labels, name, \
             namespace, revision",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(error_of(text), want, "{text}");
    }
}

#[test]
fn a_lock_needs_a_target() {
    assert_eq!(
        error_of("kind: lock\nversion: v2\nmetadata: {name: l}\nspec: {message: hi}\n"),
        "`spec.target`: a lock needs at least one target, like `user: bot-NAME`"
    );
    assert_eq!(
        error_of("kind: lock\nversion: v2\nmetadata: {name: l}\n"),
        "`spec`: missing, expected a mapping with `target`"
    );
}

#[test]
fn syntax_errors_say_which_format() {
    let yaml = error_of("kind: [lock\n");
    assert!(yaml.starts_with("invalid YAML: "), "{yaml}");
    let json = error_of("{\"kind\": \"lock\"");
    assert!(json.starts_with("invalid JSON: "), "{json}");
    assert_eq!(
        error_of("kind: !custom lock\n"),
        "`kind`: YAML tags like `!custom` are not supported"
    );
}

#[test]
fn bad_base64_and_bot_kinds_are_explained() {
    assert_eq!(
        error_of(
            "kind: bot_instance\nversion: v1\nmetadata: {name: i}\nstatus: {initial_authentication: {public_key: '%%%'}}\n"
        ),
        "`status.initial_authentication.public_key`: expected base64 (the key's PEM bytes, as tctl prints them)"
    );
    assert_eq!(
        error_of(
            "kind: bot_instance\nversion: v1\nmetadata: {name: i}\nstatus: {initial_heartbeat: {kind: BOT_KIND_TBOTT}}\n"
        ),
        "`status.initial_heartbeat.kind`: unknown bot kind `BOT_KIND_TBOTT`; did you mean `BOT_KIND_TBOT`?"
    );
}

// ---------------------------------------------------------------------------------------------
// Kinds and references

#[test]
fn kinds_parse_singular_plural_and_any_case() {
    let cases = [
        ("lock", Kind::Lock),
        ("locks", Kind::Lock),
        ("LOCK", Kind::Lock),
        ("role", Kind::Role),
        ("Roles", Kind::Role),
        ("token", Kind::Token),
        ("tokens", Kind::Token),
        ("bot", Kind::Bot),
        ("bots", Kind::Bot),
        ("bot_instance", Kind::BotInstance),
        ("bot_instances", Kind::BotInstance),
    ];
    for (text, kind) in cases {
        assert_eq!(Kind::parse(text).unwrap(), kind, "{text}");
    }
    assert_eq!(
        Kind::parse("bot-instance").unwrap_err().to_string(),
        "unknown resource kind `bot-instance`; valid kinds: lock, role, token, bot, bot_instance; \
         did you mean `bot_instance`?"
    );
    assert_eq!(
        Kind::parse("user").unwrap_err().to_string(),
        "unknown resource kind `user`; valid kinds: lock, role, token, bot, bot_instance"
    );
}

#[test]
fn references_parse_kind_and_name() {
    let parse = |s| ResourceRef::parse(s).unwrap();
    assert_eq!(
        parse("locks"),
        ResourceRef {
            kind: Kind::Lock,
            name: None
        }
    );
    assert_eq!(
        parse("lock/5cee949f-5203-4f3b-9805-dac35d798a16"),
        ResourceRef {
            kind: Kind::Lock,
            name: Some("5cee949f-5203-4f3b-9805-dac35d798a16".into())
        }
    );
    assert_eq!(parse("role/bot-example").to_string(), "role/bot-example");
    assert_eq!(
        parse("bot_instance/example/7b6a5e0c"),
        ResourceRef {
            kind: Kind::BotInstance,
            name: Some("example/7b6a5e0c".into())
        }
    );
}

#[test]
fn bad_references_say_what_is_expected() {
    let err = |s| ResourceRef::parse(s).unwrap_err().to_string();
    assert_eq!(
        err("lock/"),
        "invalid resource reference `lock/`: expected a name after `lock/`"
    );
    for s in [
        "bot_instance/example",
        "bot_instance/example/",
        "bot_instance//x",
    ] {
        assert_eq!(
            err(s),
            format!(
                "invalid resource reference `{s}`: expected bot_instance/BOT/UUID, like \
                 bot_instance/example/5cee949f-…"
            )
        );
    }
    assert!(err("lokc/x").contains("did you mean `lock`?"));
    let long = err(&format!("{}/x", "k".repeat(10_000)));
    assert!(long.len() < 200, "a long reference is cut: {long}");
}

#[test]
fn references_reach_names_other_tools_made() {
    // mwictl does not write these names (`check_name`), but what exists can be read and removed.
    let parse = |s| ResourceRef::parse(s).unwrap();
    assert_eq!(
        parse("role/../../etc/x").name.as_deref(),
        Some("../../etc/x")
    );
    assert_eq!(parse("role/a/b").name.as_deref(), Some("a/b"));
    assert_eq!(parse("bot_instance/a/b/c").name.as_deref(), Some("a/b/c"));
}

#[test]
fn resources_know_their_kind_name_and_revision() {
    let lock = Resource::Lock(seed_lock());
    assert_eq!(lock.kind(), Kind::Lock);
    assert_eq!(lock.name(), "5cee949f-5203-4f3b-9805-dac35d798a16");
    assert_eq!(
        lock.revision().as_deref(),
        Some("2c9ad3d8-63f4-4c2b-8dd5-2f4b3e0a9e1f")
    );
    let bare = Resource::Role(RoleV6::default());
    assert_eq!(bare.name(), "");
    assert_eq!(bare.revision(), None);
    assert_eq!(Resource::BotInstance(Default::default()).name(), "/");
}

#[test]
fn output_keeps_tctl_key_order() {
    let text = render_yaml(&[Resource::Role(bot_role())]);
    let top: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('-'))
        .map(|l| l.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(top, ["kind", "metadata", "spec", "version"]);
}

#[test]
fn mutated_documents_parse_or_fail_but_never_panic() {
    let base = "kind: role\nversion: v7\nmetadata:\n  name: access\n  labels: {env: prod}\nspec:\n  options: {max_session_ttl: 12h0m0s, cert_format: standard}\n  allow:\n    logins: ['{{internal.logins}}', root]\n    db_labels: {'*': '*'}\n    rules:\n      - resources: [db_server, db]\n        verbs: [read, list]\n---\nkind: lock\nversion: v2\nmetadata: {name: l1}\nspec: {target: {user: bot-example}, message: locked}\n";
    crate::testing::for_each_mutation(base, 3000, |text| {
        if let Ok(items) = parse_documents(text) {
            let yaml = render_yaml(&items);
            assert_eq!(
                parse_documents(&yaml).expect("rendered YAML parses"),
                items,
                "{text:?}"
            );
        }
    });
}

#[test]
fn deep_nesting_and_huge_input_are_refused_before_parsing() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        parse_documents(&deep).unwrap_err(),
        ResourceError::TooDeep { line: 1, limit: 64 }
    );
    let deep_map = format!("kind: role\nspec: {}{}", "{a: ".repeat(65), "}".repeat(65));
    assert_eq!(
        parse_documents(&deep_map).unwrap_err(),
        ResourceError::TooDeep { line: 2, limit: 64 }
    );
    let huge = " ".repeat(super::MAX_INPUT_BYTES + 1);
    assert!(matches!(
        parse_documents(&huge).unwrap_err(),
        ResourceError::TooLarge { .. }
    ));
}

#[test]
fn brackets_in_strings_and_comments_do_not_count_as_nesting() {
    let brackets = "[".repeat(100);
    let text = format!(
        "kind: role # {brackets}\nversion: v7\nmetadata:\n  name: r\n  description: \"{brackets}\"\n  labels: {{a: '{brackets}'}}\nspec:\n  allow:\n    logins: [alice]\n"
    );
    parse_documents(&text).unwrap();
}

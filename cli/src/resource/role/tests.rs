//! Tests of roles as tctl prints them: Teleport's preset `access` role read, printed back and
//! sent over the wire unchanged, every option and condition round-tripping, Teleport's lenient
//! value forms, and the errors for values and keys mwictl does not take.

use mwi_proto::types::RoleV6;
use prost::Message;
use serde_json::json;

use crate::resource::tests::{error_of, parse_one, round_trip};
use crate::resource::{Resource, render_yaml};

/// `tctl get role/access` on a Teleport 16/17 cluster (role v7): the preset role with the
/// defaults the auth server fills in. Keys sorted and quoted as tctl prints them.
const TCTL_ACCESS_ROLE: &str = "\
kind: role
metadata:
  description: Access cluster resources
  labels:
    teleport.internal/resource-type: preset
  name: access
  revision: 6a1b2f3c-8d4e-4f5a-9b6c-7d8e9f0a1b2c
spec:
  allow:
    app_labels:
      '*': '*'
    aws_role_arns:
    - '{{internal.aws_role_arns}}'
    azure_identities:
    - '{{internal.azure_identities}}'
    db_labels:
      '*': '*'
    db_names:
    - '{{internal.db_names}}'
    db_roles:
    - '{{internal.db_roles}}'
    db_service_labels:
      '*': '*'
    db_users:
    - '{{internal.db_users}}'
    gcp_service_accounts:
    - '{{internal.gcp_service_accounts}}'
    github_permissions:
    - orgs:
      - '{{internal.github_orgs}}'
    kubernetes_groups:
    - '{{internal.kubernetes_groups}}'
    kubernetes_labels:
      '*': '*'
    kubernetes_resources:
    - kind: '*'
      name: '*'
      namespace: '*'
      verbs:
      - '*'
    kubernetes_users:
    - '{{internal.kubernetes_users}}'
    logins:
    - '{{internal.logins}}'
    node_labels:
      '*': '*'
    rules:
    - resources:
      - event
      verbs:
      - list
      - read
    - resources:
      - session
      verbs:
      - read
      - list
      where: contains(session.participants, user.metadata.name)
    - resources:
      - instance
      verbs:
      - list
      - read
    - resources:
      - cluster_maintenance_config
      verbs:
      - list
      - read
    windows_desktop_labels:
      '*': '*'
    windows_desktop_logins:
    - '{{internal.windows_logins}}'
  deny: {}
  options:
    cert_format: standard
    create_db_user: false
    create_desktop_user: false
    desktop_clipboard: true
    desktop_directory_sharing: true
    enhanced_recording:
    - command
    - network
    forward_agent: true
    idp:
      saml:
        enabled: true
    max_session_ttl: 30h0m0s
    pin_source_ip: false
    port_forwarding: true
    record_session:
      default: best_effort
      desktop: true
    ssh_file_copy: true
version: v7
";

fn role_of(text: &str) -> RoleV6 {
    match parse_one(text) {
        Resource::Role(role) => role,
        other => panic!("not a role: {other:?}"),
    }
}

#[test]
fn tctl_access_role_prints_back_identically() {
    let role = role_of(TCTL_ACCESS_ROLE);
    assert_eq!(render_yaml(&[Resource::Role(role)]), TCTL_ACCESS_ROLE);
}

#[test]
fn tctl_access_role_survives_the_wire_as_create_sends_it() {
    let role = role_of(TCTL_ACCESS_ROLE);
    // `create -f` sends the message; the server (and a later `get`) decodes the same bytes.
    let bytes = role.encode_to_vec();
    let decoded = RoleV6::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(decoded, role);
    assert_eq!(render_yaml(&[Resource::Role(decoded)]), TCTL_ACCESS_ROLE);
}

#[test]
fn tctl_access_role_options_land_in_their_wire_fields() {
    let spec = role_of(TCTL_ACCESS_ROLE).spec.expect("spec");
    let options = spec.options.expect("options");
    assert_eq!(options.certificate_format, "standard");
    assert_eq!(options.max_session_ttl, 30 * 3600 * 1_000_000_000);
    assert!(options.forward_agent);
    assert!(!options.pin_source_ip);
    assert_eq!(options.bpf, ["command", "network"]);
    assert_eq!(options.ssh_file_copy.map(|b| b.value), Some(true));
    assert_eq!(options.create_database_user.map(|b| b.value), Some(false));
    let record = options.record_session.expect("record_session");
    assert_eq!(record.default, "best_effort");
    assert_eq!(record.desktop.map(|b| b.value), Some(true));
    let saml = options.idp.and_then(|i| i.saml).expect("idp.saml");
    assert_eq!(saml.enabled.map(|b| b.value), Some(true));
    let allow = spec.allow.expect("allow");
    let kube = &allow.kubernetes_resources[0];
    assert_eq!(
        (
            kube.kind.as_str(),
            kube.namespace.as_str(),
            kube.name.as_str()
        ),
        ("*", "*", "*")
    );
    assert_eq!(
        allow.windows_desktop_logins,
        ["{{internal.windows_logins}}"]
    );
    assert_eq!(
        allow.git_hub_permissions[0].organizations,
        ["{{internal.github_orgs}}"]
    );
    assert_eq!(spec.deny, Some(Default::default()));
}

#[test]
fn role_round_trips_every_option() {
    round_trip(json!({
        "kind": "role",
        "version": "v7",
        "metadata": {"name": "everything"},
        "spec": {
            "options": {
                "forward_agent": false,
                "max_session_ttl": "8h0m0s",
                "port_forwarding": false,
                "cert_format": "standard",
                "client_idle_timeout": "15m0s",
                "disconnect_expired_cert": true,
                "enhanced_recording": ["command", "disk", "network"],
                "permit_x11_forwarding": true,
                "max_connections": 3,
                "max_sessions": 10,
                "request_access": "reason",
                "request_prompt": "Say why",
                "lock": "strict",
                "record_session": {"desktop": false, "default": "strict", "ssh": "best_effort"},
                "desktop_clipboard": false,
                "cert_extensions": [
                    {"type": "ssh", "mode": "extension", "name": "login@github.com", "value": "{{external.github_login}}"},
                ],
                "max_kubernetes_connections": 5,
                "desktop_directory_sharing": false,
                "create_host_user": true,
                "pin_source_ip": true,
                "ssh_file_copy": false,
                "require_session_mfa": "hardware_key_touch",
                "device_trust_mode": "required",
                "idp": {"saml": {"enabled": false}},
                "create_desktop_user": true,
                "create_db_user": true,
                "create_host_user_mode": "keep",
                "create_db_user_mode": "best_effort_drop",
                "mfa_verification_interval": 3_600_000_000_000_i64,
                "create_host_user_default_shell": "/bin/bash",
                "ssh_port_forwarding": {"local": {"enabled": true}, "remote": {"enabled": false}},
            },
            "allow": {},
            "deny": {},
        },
    }));
}

#[test]
fn role_round_trips_every_condition() {
    let conditions = json!({
        "logins": ["root"],
        "request": {
            "roles": ["dba"],
            "claims_to_roles": [{"claim": "groups", "value": "admins", "roles": ["dba"]}],
            "annotations": {"pagerduty_services": ["db"]},
            "thresholds": [{"name": "two", "filter": "!equals(request.reason, \"\")", "approve": 2, "deny": 1}],
            "suggested_reviewers": ["alice"],
            "search_as_roles": ["access"],
            "max_duration": "168h0m0s",
            "kubernetes_resources": [{"kind": "namespace"}],
            "reason": {"mode": "required"},
        },
        "kubernetes_users": ["viewer"],
        "review_requests": {
            "roles": ["dba"],
            "claims_to_roles": [{"claim": "team", "value": "", "roles": ["x"]}],
            "where": "contains(reviewer.traits[\"team\"], \"dba\")",
            "preview_as_roles": ["access"],
        },
        "aws_role_arns": ["arn:aws:iam::123456789012:role/ro"],
        "windows_desktop_logins": ["Administrator"],
        "windows_desktop_labels": {"os": "windows"},
        "require_session_join": [{
            "name": "auditor",
            "filter": "contains(user.roles, \"auditor\")",
            "kinds": ["k8s", "ssh"],
            "count": 1,
            "modes": ["moderator"],
            "on_leave": "pause",
        }],
        "join_sessions": [{"name": "observe", "roles": ["access"], "kinds": ["ssh"], "modes": ["observer"]}],
        "host_groups": ["ubuntu"],
        "host_sudoers": ["ALL=(ALL) NOPASSWD: ALL"],
        "azure_identities": ["/subscriptions/0/id"],
        "kubernetes_resources": [{"kind": "pod", "namespace": "dev", "name": "*", "verbs": ["get", "list"]}],
        "gcp_service_accounts": ["sa@project.iam.gserviceaccount.com"],
        "db_service_labels": {"*": "*"},
        "group_labels": {"okta": ["a", "b"]},
        "desktop_groups": ["Remote Desktop Users"],
        "db_roles": ["reader"],
        "node_labels_expression": "labels[\"env\"] == \"dev\"",
        "app_labels_expression": "a",
        "cluster_labels_expression": "c",
        "kubernetes_labels_expression": "k",
        "db_labels_expression": "d",
        "db_service_labels_expression": "s",
        "windows_desktop_labels_expression": "w",
        "group_labels_expression": "g",
        "db_permissions": [{"permissions": ["SELECT"], "match": {"schema": ["public", "sales"]}}],
        "spiffe": [{"path": "/svc/foo", "dns_sans": ["*.example.com"], "ip_sans": ["10.0.0.0/8"]}],
        "account_assignments": [{"permission_set": "arn:aws:sso:::permissionSet/ps", "account": "123456789012"}],
        "github_permissions": [{"orgs": ["gravitational"]}],
        "workload_identity_labels": {"env": "prod"},
        "workload_identity_labels_expression": "true",
    });
    round_trip(json!({
        "kind": "role",
        "version": "v7",
        "metadata": {"name": "everything"},
        "spec": {"options": {}, "allow": conditions.clone(), "deny": conditions},
    }));
}

#[test]
fn present_but_empty_option_blocks_are_kept() {
    // A nil block and an empty one differ to Teleport (e.g. record_session.desktop defaults on).
    round_trip(json!({
        "kind": "role",
        "version": "v7",
        "metadata": {"name": "r"},
        "spec": {
            "options": {"record_session": {}, "idp": {"saml": {}}, "ssh_port_forwarding": {}},
            "allow": {"request": {}, "review_requests": {}},
            "deny": {},
        },
    }));
}

#[test]
fn plain_booleans_show_only_when_set_on_roles_without_teleport_defaults() {
    let role = role_of(
        "kind: role\nversion: v7\nmetadata: {name: r}\n\
         spec: {options: {forward_agent: false, pin_source_ip: false}}\n",
    );
    assert_eq!(
        Resource::Role(role).to_value()["spec"]["options"],
        json!({})
    );
}

#[test]
fn teleports_lenient_value_forms_are_read_and_printed_canonically() {
    let role = role_of(
        "\
kind: role
version: v7
metadata: {name: r}
spec:
  options:
    forward_agent: 'yes'
    ssh_file_copy: 'off'
    require_session_mfa: 'on'
    create_host_user_mode: drop
    create_db_user_mode: false
    mfa_verification_interval: 1h
    cert_extensions: [{type: 0, mode: 0, name: n, value: v}]
",
    );
    assert_eq!(
        Resource::Role(role).to_value()["spec"]["options"],
        json!({
            "forward_agent": true,
            "ssh_file_copy": false,
            "require_session_mfa": true,
            "create_host_user_mode": "insecure-drop",
            "create_db_user_mode": "off",
            "mfa_verification_interval": 3_600_000_000_000_i64,
            "cert_extensions": [{"type": "ssh", "mode": "extension", "name": "n", "value": "v"}],
        })
    );
}

#[test]
fn bad_option_values_name_the_field_and_the_accepted_values() {
    let role = |options: &str| {
        format!(
            "kind: role\nversion: v7\nmetadata: {{name: r}}\nspec: {{options: {{{options}}}}}\n"
        )
    };
    let cases = [
        (
            "forward_agent: maybe",
            "`spec.options.forward_agent`: expected true or false (or yes, no, on, off), got a string (\"maybe\")",
        ),
        (
            "require_session_mfa: hardware",
            "`spec.options.require_session_mfa`: unknown value `hardware`; use true, false, \
             hardware_key, hardware_key_touch, hardware_key_pin or hardware_key_touch_and_pin",
        ),
        (
            "require_session_mfa: 9",
            "`spec.options.require_session_mfa`: unknown value 9; numbers run from 0 to 5",
        ),
        (
            "create_host_user_mode: true",
            "`spec.options.create_host_user_mode`: cannot be true; use off, drop, keep, insecure-drop",
        ),
        (
            "create_db_user_mode: remove",
            "`spec.options.create_db_user_mode`: unknown value `remove`; use off, keep, best_effort_drop",
        ),
        (
            "max_connections: '10'",
            "`spec.options.max_connections`: expected a whole number, got a string (\"10\")",
        ),
        (
            "client_idle_timeout: 1d",
            "`spec.options.client_idle_timeout`: invalid duration `1d`: unknown unit `d`; use ns, us, ms, s, m or h",
        ),
        (
            "cert_extensions: [{type: x509}]",
            "`spec.options.cert_extensions[0].type`: unknown value `x509`; use ssh",
        ),
        (
            "record_session: {desktop: 1}",
            "`spec.options.record_session.desktop`: expected true or false, got a number (1)",
        ),
    ];
    for (options, want) in cases {
        assert_eq!(error_of(&role(options)), want, "{options}");
    }
}

#[test]
fn a_v8_api_group_round_trips() {
    // Role v8 (the newest releases) adds api_group to kubernetes_resources (KubernetesResource
    // field 5, RequestKubernetesResource field 2).
    let yaml = "\
kind: role
version: v8
metadata: {name: r}
spec:
  allow:
    kubernetes_resources: [{kind: pods, name: '*', namespace: '*', verbs: ['*'], api_group: '*'}]
    request:
      kubernetes_resources: [{kind: deployments, api_group: apps}]
";
    let parsed = crate::resource::parse_documents(yaml).unwrap();
    let crate::resource::Resource::Role(role) = &parsed[0] else {
        panic!("a role")
    };
    let allow = role.spec.as_ref().unwrap().allow.as_ref().unwrap();
    assert_eq!(allow.kubernetes_resources[0].api_group, "*");
    assert_eq!(
        allow.request.as_ref().unwrap().kubernetes_resources[0].api_group,
        "apps"
    );
    let again = crate::resource::parse_documents(&crate::resource::render_yaml(&parsed)).unwrap();
    assert_eq!(again, parsed);
}

#[test]
fn keys_still_unmodelled_are_refused_by_name() {
    let err = error_of(
        "kind: role\nversion: v8\nmetadata: {name: r}\nspec: {deny: {mcp: {tools: ['*']}}}\n",
    );
    assert!(err.starts_with("`spec.deny.mcp`: unknown key"), "{err}");
    let err = error_of(
        "kind: role\nversion: v7\nmetadata: {name: r}\nspec: {options: {cert_formt: standard}}\n",
    );
    assert_eq!(
        err,
        "`spec.options.cert_formt`: unknown key; did you mean `cert_format`?"
    );
}

//! A role's `spec.allow` and `spec.deny` (`types.RoleConditions`): logins, labels and their
//! expressions, rules, Kubernetes, database, desktop and cloud identities, access requests and
//! reviews, session policies, SPIFFE and workload identity conditions.

use mwi_proto::types::{
    AccessRequestConditions, AccessRequestConditionsReason, AccessReviewConditions,
    AccessReviewThreshold, ClaimMapping, DatabasePermission, GitHubPermission,
    IdentityCenterAccountAssignment, ImpersonateConditions, KubernetesResource,
    RequestKubernetesResource, RoleConditions, Rule, SessionJoinPolicy, SessionRequirePolicy,
    SpiffeRoleCondition,
};
use mwi_proto::wrappers::LabelValues;
use serde_json::Value;

use super::{label_values, nanos_value, read_label_values, read_nanos, read_traits, traits_value};
use crate::resource::error::ResourceError;
use crate::resource::fields::{Fields, Obj, as_i32, as_u32, mapping};

type Result<T> = std::result::Result<T, ResourceError>;

pub(super) fn to_value(c: Option<&RoleConditions>) -> Obj {
    let Some(c) = c else {
        return Obj::new();
    };
    let impersonate = c.impersonate.as_ref().map_or_else(Obj::new, |i| {
        Obj::new()
            .strings("users", &i.users)
            .strings("roles", &i.roles)
            .string("where", &i.r#where)
    });
    let labels = |l: &Option<LabelValues>| label_values(l.as_ref());
    Obj::new()
        .strings("logins", &c.logins)
        .strings("namespaces", &c.namespaces)
        .object("node_labels", labels(&c.node_labels))
        .list("rules", each(&c.rules, rule))
        .strings("kubernetes_groups", &c.kube_groups)
        .option("request", c.request.as_ref().map(request))
        .strings("kubernetes_users", &c.kube_users)
        .object("app_labels", labels(&c.app_labels))
        .object("cluster_labels", labels(&c.cluster_labels))
        .object("kubernetes_labels", labels(&c.kubernetes_labels))
        .object("db_labels", labels(&c.database_labels))
        .strings("db_names", &c.database_names)
        .strings("db_users", &c.database_users)
        .object("impersonate", impersonate)
        .option("review_requests", c.review_requests.as_ref().map(review))
        .strings("aws_role_arns", &c.aws_role_ar_ns)
        .strings("windows_desktop_logins", &c.windows_desktop_logins)
        .object("windows_desktop_labels", labels(&c.windows_desktop_labels))
        .list(
            "require_session_join",
            each(&c.require_session_join, require_policy),
        )
        .list("join_sessions", each(&c.join_sessions, join_policy))
        .strings("host_groups", &c.host_groups)
        .strings("host_sudoers", &c.host_sudoers)
        .strings("azure_identities", &c.azure_identities)
        .list(
            "kubernetes_resources",
            each(&c.kubernetes_resources, kubernetes_resource),
        )
        .strings("gcp_service_accounts", &c.gcp_service_accounts)
        .object("db_service_labels", labels(&c.database_service_labels))
        .object("group_labels", labels(&c.group_labels))
        .strings("desktop_groups", &c.desktop_groups)
        .strings("db_roles", &c.database_roles)
        .string("node_labels_expression", &c.node_labels_expression)
        .string("app_labels_expression", &c.app_labels_expression)
        .string("cluster_labels_expression", &c.cluster_labels_expression)
        .string(
            "kubernetes_labels_expression",
            &c.kubernetes_labels_expression,
        )
        .string("db_labels_expression", &c.database_labels_expression)
        .string(
            "db_service_labels_expression",
            &c.database_service_labels_expression,
        )
        .string(
            "windows_desktop_labels_expression",
            &c.windows_desktop_labels_expression,
        )
        .string("group_labels_expression", &c.group_labels_expression)
        .list(
            "db_permissions",
            each(&c.database_permissions, db_permission),
        )
        .list("spiffe", each(&c.spiffe, spiffe))
        .list(
            "account_assignments",
            each(&c.account_assignments, account_assignment),
        )
        .list("github_permissions", each(&c.git_hub_permissions, github))
        .object(
            "workload_identity_labels",
            labels(&c.workload_identity_labels),
        )
        .string(
            "workload_identity_labels_expression",
            &c.workload_identity_labels_expression,
        )
}

pub(super) fn read(mut c: Fields) -> Result<RoleConditions> {
    let labels =
        |c: &mut Fields, key: &'static str| c.with(key, read_label_values).map(Option::flatten);
    let conditions = RoleConditions {
        logins: c.strings("logins")?,
        namespaces: c.strings("namespaces")?,
        node_labels: labels(&mut c, "node_labels")?,
        rules: c.list("rules", mapping(read_rule))?,
        kube_groups: c.strings("kubernetes_groups")?,
        request: c.with("request", mapping(read_request))?,
        kube_users: c.strings("kubernetes_users")?,
        app_labels: labels(&mut c, "app_labels")?,
        cluster_labels: labels(&mut c, "cluster_labels")?,
        kubernetes_labels: labels(&mut c, "kubernetes_labels")?,
        database_labels: labels(&mut c, "db_labels")?,
        database_names: c.strings("db_names")?,
        database_users: c.strings("db_users")?,
        impersonate: c.with("impersonate", mapping(read_impersonate))?.flatten(),
        review_requests: c.with("review_requests", mapping(read_review))?,
        aws_role_ar_ns: c.strings("aws_role_arns")?,
        windows_desktop_logins: c.strings("windows_desktop_logins")?,
        windows_desktop_labels: labels(&mut c, "windows_desktop_labels")?,
        require_session_join: c.list("require_session_join", mapping(read_require_policy))?,
        join_sessions: c.list("join_sessions", mapping(read_join_policy))?,
        host_groups: c.strings("host_groups")?,
        host_sudoers: c.strings("host_sudoers")?,
        azure_identities: c.strings("azure_identities")?,
        kubernetes_resources: c.list("kubernetes_resources", mapping(read_kubernetes_resource))?,
        gcp_service_accounts: c.strings("gcp_service_accounts")?,
        database_service_labels: labels(&mut c, "db_service_labels")?,
        group_labels: labels(&mut c, "group_labels")?,
        desktop_groups: c.strings("desktop_groups")?,
        database_roles: c.strings("db_roles")?,
        node_labels_expression: c.string("node_labels_expression")?,
        app_labels_expression: c.string("app_labels_expression")?,
        cluster_labels_expression: c.string("cluster_labels_expression")?,
        kubernetes_labels_expression: c.string("kubernetes_labels_expression")?,
        database_labels_expression: c.string("db_labels_expression")?,
        database_service_labels_expression: c.string("db_service_labels_expression")?,
        windows_desktop_labels_expression: c.string("windows_desktop_labels_expression")?,
        group_labels_expression: c.string("group_labels_expression")?,
        database_permissions: c.list("db_permissions", mapping(read_db_permission))?,
        spiffe: c.list("spiffe", mapping(read_spiffe))?,
        account_assignments: c.list("account_assignments", mapping(read_account_assignment))?,
        git_hub_permissions: c.list("github_permissions", mapping(read_github))?,
        workload_identity_labels: labels(&mut c, "workload_identity_labels")?,
        workload_identity_labels_expression: c.string("workload_identity_labels_expression")?,
    };
    c.finish()?;
    Ok(conditions)
}

fn each<T>(items: &[T], write: impl Fn(&T) -> Obj) -> Vec<Value> {
    items.iter().map(|item| write(item).into()).collect()
}

fn rule(r: &Rule) -> Obj {
    Obj::new()
        .strings("resources", &r.resources)
        .strings("verbs", &r.verbs)
        .string("where", &r.r#where)
        .strings("actions", &r.actions)
}

fn read_rule(r: &mut Fields) -> Result<Rule> {
    Ok(Rule {
        resources: r.strings("resources")?,
        verbs: r.strings("verbs")?,
        r#where: r.string("where")?,
        actions: r.strings("actions")?,
    })
}

/// An empty `impersonate` reads as none, as it always has in mwictl.
fn read_impersonate(i: &mut Fields) -> Result<Option<ImpersonateConditions>> {
    let impersonate = ImpersonateConditions {
        users: i.strings("users")?,
        roles: i.strings("roles")?,
        r#where: i.string("where")?,
    };
    Ok((impersonate != ImpersonateConditions::default()).then_some(impersonate))
}

fn claim_mapping(m: &ClaimMapping) -> Obj {
    // claim and value have no `omitempty` in Teleport; roles has.
    Obj::new()
        .set("claim", m.claim.as_str())
        .set("value", m.value.as_str())
        .strings("roles", &m.roles)
}

fn read_claim_mapping(m: &mut Fields) -> Result<ClaimMapping> {
    Ok(ClaimMapping {
        claim: m.string("claim")?,
        value: m.string("value")?,
        roles: m.strings("roles")?,
    })
}

fn request(r: &AccessRequestConditions) -> Obj {
    Obj::new()
        .strings("roles", &r.roles)
        .list("claims_to_roles", each(&r.claims_to_roles, claim_mapping))
        .object("annotations", traits_value(r.annotations.as_ref()))
        .list("thresholds", each(&r.thresholds, threshold))
        .strings("suggested_reviewers", &r.suggested_reviewers)
        .strings("search_as_roles", &r.search_as_roles)
        .option("max_duration", nanos_value(r.max_duration))
        .list(
            "kubernetes_resources",
            each(&r.kubernetes_resources, |k| {
                Obj::new()
                    .string("kind", &k.kind)
                    .string("api_group", &k.api_group)
            }),
        )
        .option(
            "reason",
            r.reason
                .as_ref()
                .map(|reason| Obj::new().string("mode", &reason.mode)),
        )
}

fn read_request(r: &mut Fields) -> Result<AccessRequestConditions> {
    Ok(AccessRequestConditions {
        roles: r.strings("roles")?,
        claims_to_roles: r.list("claims_to_roles", mapping(read_claim_mapping))?,
        annotations: r.with("annotations", read_traits)?.flatten(),
        thresholds: r.list("thresholds", mapping(read_threshold))?,
        suggested_reviewers: r.strings("suggested_reviewers")?,
        search_as_roles: r.strings("search_as_roles")?,
        max_duration: r.with("max_duration", read_nanos)?.unwrap_or_default(),
        kubernetes_resources: r.list(
            "kubernetes_resources",
            mapping(|k| {
                Ok(RequestKubernetesResource {
                    kind: k.string("kind")?,
                    api_group: k.string("api_group")?,
                })
            }),
        )?,
        reason: r.with(
            "reason",
            mapping(|reason| {
                Ok(AccessRequestConditionsReason {
                    mode: reason.string("mode")?,
                })
            }),
        )?,
    })
}

fn threshold(t: &AccessReviewThreshold) -> Obj {
    Obj::new()
        .string("name", &t.name)
        .string("filter", &t.filter)
        .int("approve", t.approve)
        .int("deny", t.deny)
}

fn read_threshold(t: &mut Fields) -> Result<AccessReviewThreshold> {
    Ok(AccessReviewThreshold {
        name: t.string("name")?,
        filter: t.string("filter")?,
        approve: t.with("approve", as_u32)?.unwrap_or_default(),
        deny: t.with("deny", as_u32)?.unwrap_or_default(),
    })
}

fn review(r: &AccessReviewConditions) -> Obj {
    Obj::new()
        .strings("roles", &r.roles)
        .list("claims_to_roles", each(&r.claims_to_roles, claim_mapping))
        .string("where", &r.r#where)
        .strings("preview_as_roles", &r.preview_as_roles)
}

fn read_review(r: &mut Fields) -> Result<AccessReviewConditions> {
    Ok(AccessReviewConditions {
        roles: r.strings("roles")?,
        claims_to_roles: r.list("claims_to_roles", mapping(read_claim_mapping))?,
        r#where: r.string("where")?,
        preview_as_roles: r.strings("preview_as_roles")?,
    })
}

fn require_policy(p: &SessionRequirePolicy) -> Obj {
    Obj::new()
        .string("name", &p.name)
        .string("filter", &p.filter)
        .strings("kinds", &p.kinds)
        .int("count", p.count)
        .strings("modes", &p.modes)
        .string("on_leave", &p.on_leave)
}

fn read_require_policy(p: &mut Fields) -> Result<SessionRequirePolicy> {
    Ok(SessionRequirePolicy {
        name: p.string("name")?,
        filter: p.string("filter")?,
        kinds: p.strings("kinds")?,
        count: p.with("count", as_i32)?.unwrap_or_default(),
        modes: p.strings("modes")?,
        on_leave: p.string("on_leave")?,
    })
}

fn join_policy(p: &SessionJoinPolicy) -> Obj {
    Obj::new()
        .string("name", &p.name)
        .strings("roles", &p.roles)
        .strings("kinds", &p.kinds)
        .strings("modes", &p.modes)
}

fn read_join_policy(p: &mut Fields) -> Result<SessionJoinPolicy> {
    Ok(SessionJoinPolicy {
        name: p.string("name")?,
        roles: p.strings("roles")?,
        kinds: p.strings("kinds")?,
        modes: p.strings("modes")?,
    })
}

fn kubernetes_resource(k: &KubernetesResource) -> Obj {
    Obj::new()
        .string("kind", &k.kind)
        .string("namespace", &k.namespace)
        .string("name", &k.name)
        .strings("verbs", &k.verbs)
        .string("api_group", &k.api_group)
}

fn read_kubernetes_resource(k: &mut Fields) -> Result<KubernetesResource> {
    Ok(KubernetesResource {
        kind: k.string("kind")?,
        namespace: k.string("namespace")?,
        name: k.string("name")?,
        verbs: k.strings("verbs")?,
        api_group: k.string("api_group")?,
    })
}

fn db_permission(p: &DatabasePermission) -> Obj {
    Obj::new()
        .strings("permissions", &p.permissions)
        .object("match", label_values(p.r#match.as_ref()))
}

fn read_db_permission(p: &mut Fields) -> Result<DatabasePermission> {
    Ok(DatabasePermission {
        permissions: p.strings("permissions")?,
        r#match: p.with("match", read_label_values)?.flatten(),
    })
}

fn spiffe(s: &SpiffeRoleCondition) -> Obj {
    Obj::new()
        .string("path", &s.path)
        .strings("dns_sans", &s.dnssa_ns)
        .strings("ip_sans", &s.ipsa_ns)
}

fn read_spiffe(s: &mut Fields) -> Result<SpiffeRoleCondition> {
    Ok(SpiffeRoleCondition {
        path: s.string("path")?,
        dnssa_ns: s.strings("dns_sans")?,
        ipsa_ns: s.strings("ip_sans")?,
    })
}

fn account_assignment(a: &IdentityCenterAccountAssignment) -> Obj {
    Obj::new()
        .string("permission_set", &a.permission_set)
        .string("account", &a.account)
}

fn read_account_assignment(a: &mut Fields) -> Result<IdentityCenterAccountAssignment> {
    Ok(IdentityCenterAccountAssignment {
        permission_set: a.string("permission_set")?,
        account: a.string("account")?,
    })
}

fn github(g: &GitHubPermission) -> Obj {
    Obj::new().strings("orgs", &g.organizations)
}

fn read_github(g: &mut Fields) -> Result<GitHubPermission> {
    Ok(GitHubPermission {
        organizations: g.strings("orgs")?,
    })
}

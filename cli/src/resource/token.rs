//! Join tokens (`types.ProvisionTokenV2`) in tctl's shape: the spec of every join method (fields
//! 1-20) and the server-written `status` of bound-keypair tokens.
//!
//! Keys and their `omitempty` follow the gogo JSON tags of Teleport's types.proto (teleport18-dev
//! @90f5dc4b): a key without `omitempty` is printed even when empty (`recovery.mode: ""`,
//! `status.bound_keypair.registration_secret: ""`), the way `tctl get token/X` prints it, so a
//! tctl file reads and prints back unchanged.

use mwi_proto::types::provision_token_spec_v2_azure as azure;
use mwi_proto::types::provision_token_spec_v2_azure_devops as azure_devops;
use mwi_proto::types::provision_token_spec_v2_bitbucket as bitbucket;
use mwi_proto::types::provision_token_spec_v2_bound_keypair::{OnboardingSpec, RecoverySpec};
use mwi_proto::types::provision_token_spec_v2_circle_ci as circleci;
use mwi_proto::types::provision_token_spec_v2_git_hub as github;
use mwi_proto::types::provision_token_spec_v2_git_lab as gitlab;
use mwi_proto::types::provision_token_spec_v2_kubernetes as kubernetes;
use mwi_proto::types::provision_token_spec_v2_oracle as oracle;
use mwi_proto::types::provision_token_spec_v2_spacelift as spacelift;
use mwi_proto::types::provision_token_spec_v2_terraform_cloud as terraform;
use mwi_proto::types::provision_token_spec_v2gcp as gcp;
use mwi_proto::types::provision_token_spec_v2tpm as tpm;
use mwi_proto::types::{
    Metadata, ProvisionTokenSpecV2, ProvisionTokenSpecV2Azure, ProvisionTokenSpecV2AzureDevops,
    ProvisionTokenSpecV2Bitbucket, ProvisionTokenSpecV2BoundKeypair, ProvisionTokenSpecV2CircleCi,
    ProvisionTokenSpecV2GitHub, ProvisionTokenSpecV2GitLab, ProvisionTokenSpecV2Kubernetes,
    ProvisionTokenSpecV2Oracle, ProvisionTokenSpecV2Spacelift, ProvisionTokenSpecV2TerraformCloud,
    ProvisionTokenSpecV2gcp, ProvisionTokenSpecV2tpm, ProvisionTokenStatusV2,
    ProvisionTokenStatusV2BoundKeypair, ProvisionTokenV2, TokenRule,
};
use serde_json::Value;

use super::Kind;
use super::error::ResourceError;
use super::fields::{Fields, Obj, as_u32, mapping};
use super::header::{Meta, Style, read_header, write_header};
use super::role::{
    bool_value, label_values, nanos_value, read_bool_value, read_label_values, read_nanos,
};

type Result<T> = std::result::Result<T, ResourceError>;

pub(crate) fn to_value(token: &ProvisionTokenV2) -> Value {
    let default_spec = ProvisionTokenSpecV2::default();
    let s = token.spec.as_ref().unwrap_or(&default_spec);
    let spec = Obj::new()
        .strings("roles", &s.roles)
        .list("allow", s.allow.iter().map(token_rule).collect())
        .option("aws_iid_ttl", nanos_value(s.awsiidttl))
        .string("join_method", &s.join_method)
        .string("bot_name", &s.bot_name)
        .object(
            "suggested_labels",
            label_values(s.suggested_labels.as_ref()),
        )
        .option("github", s.git_hub.as_ref().map(github_value))
        .option("circleci", s.circle_ci.as_ref().map(circleci_value))
        .object(
            "suggested_agent_matcher_labels",
            label_values(s.suggested_agent_matcher_labels.as_ref()),
        )
        .option("kubernetes", s.kubernetes.as_ref().map(kubernetes_value))
        .option("azure", s.azure.as_ref().map(azure_value))
        .option("gitlab", s.git_lab.as_ref().map(gitlab_value))
        .option("gcp", s.gcp.as_ref().map(gcp_value))
        .option("spacelift", s.spacelift.as_ref().map(spacelift_value))
        .option("tpm", s.tpm.as_ref().map(tpm_value))
        .option(
            "terraform_cloud",
            s.terraform_cloud.as_ref().map(terraform_value),
        )
        .option("bitbucket", s.bitbucket.as_ref().map(bitbucket_value))
        .option("oracle", s.oracle.as_ref().map(oracle_value))
        .option(
            "bound_keypair",
            s.bound_keypair.as_ref().map(bound_keypair_value),
        )
        .option(
            "azure_devops",
            s.azure_devops.as_ref().map(azure_devops_value),
        );
    let meta = token.metadata.as_ref().map(Meta::from).unwrap_or_default();
    write_header(
        Kind::Token,
        &token.sub_kind,
        &token.version,
        &meta,
        Style::Legacy,
    )
    .set("spec", spec)
    .option("status", token.status.as_ref().map(status_value))
    .into()
}

pub(crate) fn from_fields(mut f: Fields) -> Result<ProvisionTokenV2> {
    let header = read_header(&mut f, Kind::Token, &["v2"], Style::Legacy)?;
    let mut s = f.object_or_empty("spec")?;
    let spec = ProvisionTokenSpecV2 {
        roles: s.strings("roles")?,
        allow: s.list("allow", mapping(read_token_rule))?,
        awsiidttl: s.with("aws_iid_ttl", read_nanos)?.unwrap_or_default(),
        join_method: s.string("join_method")?,
        bot_name: s.string("bot_name")?,
        suggested_labels: s.with("suggested_labels", read_label_values)?.flatten(),
        git_hub: s.with("github", mapping(read_github))?,
        circle_ci: s.with("circleci", mapping(read_circleci))?,
        suggested_agent_matcher_labels: s
            .with("suggested_agent_matcher_labels", read_label_values)?
            .flatten(),
        kubernetes: s.with("kubernetes", mapping(read_kubernetes))?,
        azure: s.with("azure", mapping(read_azure))?,
        git_lab: s.with("gitlab", mapping(read_gitlab))?,
        gcp: s.with("gcp", mapping(read_gcp))?,
        spacelift: s.with("spacelift", mapping(read_spacelift))?,
        tpm: s.with("tpm", mapping(read_tpm))?,
        terraform_cloud: s.with("terraform_cloud", mapping(read_terraform))?,
        bitbucket: s.with("bitbucket", mapping(read_bitbucket))?,
        oracle: s.with("oracle", mapping(read_oracle))?,
        bound_keypair: s.with("bound_keypair", mapping(read_bound_keypair))?,
        azure_devops: s.with("azure_devops", mapping(read_azure_devops))?,
    };
    s.finish()?;
    let status = f.with("status", mapping(read_status))?;
    f.finish()?;
    Ok(ProvisionTokenV2 {
        kind: Kind::Token.name().to_owned(),
        sub_kind: header.sub_kind,
        version: header.version,
        metadata: Some(Metadata::from(header.meta)),
        spec: Some(spec),
        status,
    })
}

fn token_rule(r: &TokenRule) -> Value {
    Obj::new()
        .string("aws_account", &r.aws_account)
        .strings("aws_regions", &r.aws_regions)
        .string("aws_role", &r.aws_role)
        .string("aws_arn", &r.awsarn)
        .into()
}

fn read_token_rule(f: &mut Fields) -> Result<TokenRule> {
    Ok(TokenRule {
        aws_account: f.string("aws_account")?,
        aws_regions: f.strings("aws_regions")?,
        aws_role: f.string("aws_role")?,
        awsarn: f.string("aws_arn")?,
    })
}

/// The `allow` list of a join method's block.
fn rules<R>(obj: Obj, allow: &[R], rule: impl Fn(&R) -> Obj) -> Obj {
    obj.list("allow", allow.iter().map(|r| rule(r).into()).collect())
}

fn github_value(g: &ProvisionTokenSpecV2GitHub) -> Value {
    rules(Obj::new(), &g.allow, |r: &github::Rule| {
        Obj::new()
            .string("sub", &r.sub)
            .string("repository", &r.repository)
            .string("repository_owner", &r.repository_owner)
            .string("workflow", &r.workflow)
            .string("environment", &r.environment)
            .string("actor", &r.actor)
            .string("ref", &r.r#ref)
            .string("ref_type", &r.ref_type)
    })
    .string("enterprise_server_host", &g.enterprise_server_host)
    .string("enterprise_slug", &g.enterprise_slug)
    .string("static_jwks", &g.static_jwks)
    .into()
}

fn read_github(f: &mut Fields) -> Result<ProvisionTokenSpecV2GitHub> {
    Ok(ProvisionTokenSpecV2GitHub {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(github::Rule {
                    sub: r.string("sub")?,
                    repository: r.string("repository")?,
                    repository_owner: r.string("repository_owner")?,
                    workflow: r.string("workflow")?,
                    environment: r.string("environment")?,
                    actor: r.string("actor")?,
                    r#ref: r.string("ref")?,
                    ref_type: r.string("ref_type")?,
                })
            }),
        )?,
        enterprise_server_host: f.string("enterprise_server_host")?,
        enterprise_slug: f.string("enterprise_slug")?,
        static_jwks: f.string("static_jwks")?,
    })
}

fn gitlab_value(g: &ProvisionTokenSpecV2GitLab) -> Value {
    rules(Obj::new(), &g.allow, |r: &gitlab::Rule| {
        Obj::new()
            .string("sub", &r.sub)
            .string("ref", &r.r#ref)
            .string("ref_type", &r.ref_type)
            .string("namespace_path", &r.namespace_path)
            .string("project_path", &r.project_path)
            .string("pipeline_source", &r.pipeline_source)
            .string("environment", &r.environment)
            .string("user_login", &r.user_login)
            .string("user_id", &r.user_id)
            .string("user_email", &r.user_email)
            .option("ref_protected", bool_value(r.ref_protected.as_ref()))
            .option(
                "environment_protected",
                bool_value(r.environment_protected.as_ref()),
            )
            .string("ci_config_sha", &r.ci_config_sha)
            .string("ci_config_ref_uri", &r.ci_config_ref_uri)
            .string("deployment_tier", &r.deployment_tier)
            .string("project_visibility", &r.project_visibility)
    })
    .string("domain", &g.domain)
    .into()
}

fn read_gitlab(f: &mut Fields) -> Result<ProvisionTokenSpecV2GitLab> {
    Ok(ProvisionTokenSpecV2GitLab {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(gitlab::Rule {
                    sub: r.string("sub")?,
                    r#ref: r.string("ref")?,
                    ref_type: r.string("ref_type")?,
                    namespace_path: r.string("namespace_path")?,
                    project_path: r.string("project_path")?,
                    pipeline_source: r.string("pipeline_source")?,
                    environment: r.string("environment")?,
                    user_login: r.string("user_login")?,
                    user_id: r.string("user_id")?,
                    user_email: r.string("user_email")?,
                    ref_protected: r.with("ref_protected", read_bool_value)?,
                    environment_protected: r.with("environment_protected", read_bool_value)?,
                    ci_config_sha: r.string("ci_config_sha")?,
                    ci_config_ref_uri: r.string("ci_config_ref_uri")?,
                    deployment_tier: r.string("deployment_tier")?,
                    project_visibility: r.string("project_visibility")?,
                })
            }),
        )?,
        domain: f.string("domain")?,
    })
}

fn circleci_value(c: &ProvisionTokenSpecV2CircleCi) -> Value {
    rules(Obj::new(), &c.allow, |r: &circleci::Rule| {
        Obj::new()
            .string("project_id", &r.project_id)
            .string("context_id", &r.context_id)
    })
    .string("organization_id", &c.organization_id)
    .into()
}

fn read_circleci(f: &mut Fields) -> Result<ProvisionTokenSpecV2CircleCi> {
    Ok(ProvisionTokenSpecV2CircleCi {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(circleci::Rule {
                    project_id: r.string("project_id")?,
                    context_id: r.string("context_id")?,
                })
            }),
        )?,
        organization_id: f.string("organization_id")?,
    })
}

fn kubernetes_value(k: &ProvisionTokenSpecV2Kubernetes) -> Value {
    rules(Obj::new(), &k.allow, |r: &kubernetes::Rule| {
        Obj::new().string("service_account", &r.service_account)
    })
    .string("type", &k.r#type)
    .option(
        "static_jwks",
        k.static_jwks
            .as_ref()
            .map(|j| Value::from(Obj::new().string("jwks", &j.jwks))),
    )
    .into()
}

fn read_kubernetes(f: &mut Fields) -> Result<ProvisionTokenSpecV2Kubernetes> {
    Ok(ProvisionTokenSpecV2Kubernetes {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(kubernetes::Rule {
                    service_account: r.string("service_account")?,
                })
            }),
        )?,
        r#type: f.string("type")?,
        static_jwks: f.with(
            "static_jwks",
            mapping(|j| {
                Ok(kubernetes::StaticJwksConfig {
                    jwks: j.string("jwks")?,
                })
            }),
        )?,
    })
}

fn azure_value(a: &ProvisionTokenSpecV2Azure) -> Value {
    rules(Obj::new(), &a.allow, |r: &azure::Rule| {
        Obj::new()
            .string("subscription", &r.subscription)
            .strings("resource_groups", &r.resource_groups)
    })
    .into()
}

fn read_azure(f: &mut Fields) -> Result<ProvisionTokenSpecV2Azure> {
    Ok(ProvisionTokenSpecV2Azure {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(azure::Rule {
                    subscription: r.string("subscription")?,
                    resource_groups: r.strings("resource_groups")?,
                })
            }),
        )?,
    })
}

fn gcp_value(g: &ProvisionTokenSpecV2gcp) -> Value {
    rules(Obj::new(), &g.allow, |r: &gcp::Rule| {
        Obj::new()
            .strings("project_ids", &r.project_i_ds)
            .strings("locations", &r.locations)
            .strings("service_accounts", &r.service_accounts)
    })
    .into()
}

fn read_gcp(f: &mut Fields) -> Result<ProvisionTokenSpecV2gcp> {
    Ok(ProvisionTokenSpecV2gcp {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(gcp::Rule {
                    project_i_ds: r.strings("project_ids")?,
                    locations: r.strings("locations")?,
                    service_accounts: r.strings("service_accounts")?,
                })
            }),
        )?,
    })
}

fn spacelift_value(s: &ProvisionTokenSpecV2Spacelift) -> Value {
    rules(Obj::new(), &s.allow, |r: &spacelift::Rule| {
        Obj::new()
            .string("space_id", &r.space_id)
            .string("caller_id", &r.caller_id)
            .string("caller_type", &r.caller_type)
            .string("scope", &r.scope)
    })
    .string("hostname", &s.hostname)
    .into()
}

fn read_spacelift(f: &mut Fields) -> Result<ProvisionTokenSpecV2Spacelift> {
    Ok(ProvisionTokenSpecV2Spacelift {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(spacelift::Rule {
                    space_id: r.string("space_id")?,
                    caller_id: r.string("caller_id")?,
                    caller_type: r.string("caller_type")?,
                    scope: r.string("scope")?,
                })
            }),
        )?,
        hostname: f.string("hostname")?,
    })
}

fn tpm_value(t: &ProvisionTokenSpecV2tpm) -> Value {
    rules(Obj::new(), &t.allow, |r: &tpm::Rule| {
        Obj::new()
            .string("description", &r.description)
            .string("ek_public_hash", &r.ek_public_hash)
            .string("ek_certificate_serial", &r.ek_certificate_serial)
    })
    .strings("ekcert_allowed_cas", &t.ek_cert_allowed_c_as)
    .into()
}

fn read_tpm(f: &mut Fields) -> Result<ProvisionTokenSpecV2tpm> {
    Ok(ProvisionTokenSpecV2tpm {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(tpm::Rule {
                    description: r.string("description")?,
                    ek_public_hash: r.string("ek_public_hash")?,
                    ek_certificate_serial: r.string("ek_certificate_serial")?,
                })
            }),
        )?,
        ek_cert_allowed_c_as: f.strings("ekcert_allowed_cas")?,
    })
}

fn terraform_value(t: &ProvisionTokenSpecV2TerraformCloud) -> Value {
    rules(Obj::new(), &t.allow, |r: &terraform::Rule| {
        Obj::new()
            .string("organization_id", &r.organization_id)
            .string("organization_name", &r.organization_name)
            .string("project_id", &r.project_id)
            .string("project_name", &r.project_name)
            .string("workspace_id", &r.workspace_id)
            .string("workspace_name", &r.workspace_name)
            .string("run_phase", &r.run_phase)
    })
    .string("audience", &t.audience)
    .string("hostname", &t.hostname)
    .into()
}

fn read_terraform(f: &mut Fields) -> Result<ProvisionTokenSpecV2TerraformCloud> {
    Ok(ProvisionTokenSpecV2TerraformCloud {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(terraform::Rule {
                    organization_id: r.string("organization_id")?,
                    organization_name: r.string("organization_name")?,
                    project_id: r.string("project_id")?,
                    project_name: r.string("project_name")?,
                    workspace_id: r.string("workspace_id")?,
                    workspace_name: r.string("workspace_name")?,
                    run_phase: r.string("run_phase")?,
                })
            }),
        )?,
        audience: f.string("audience")?,
        hostname: f.string("hostname")?,
    })
}

fn bitbucket_value(b: &ProvisionTokenSpecV2Bitbucket) -> Value {
    rules(Obj::new(), &b.allow, |r: &bitbucket::Rule| {
        Obj::new()
            .string("workspace_uuid", &r.workspace_uuid)
            .string("repository_uuid", &r.repository_uuid)
            .string(
                "deployment_environment_uuid",
                &r.deployment_environment_uuid,
            )
            .string("branch_name", &r.branch_name)
    })
    .string("audience", &b.audience)
    .string("identity_provider_url", &b.identity_provider_url)
    .into()
}

fn read_bitbucket(f: &mut Fields) -> Result<ProvisionTokenSpecV2Bitbucket> {
    Ok(ProvisionTokenSpecV2Bitbucket {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(bitbucket::Rule {
                    workspace_uuid: r.string("workspace_uuid")?,
                    repository_uuid: r.string("repository_uuid")?,
                    deployment_environment_uuid: r.string("deployment_environment_uuid")?,
                    branch_name: r.string("branch_name")?,
                })
            }),
        )?,
        audience: f.string("audience")?,
        identity_provider_url: f.string("identity_provider_url")?,
    })
}

fn oracle_value(o: &ProvisionTokenSpecV2Oracle) -> Value {
    // `tenancy` has no omitempty in Teleport's tags.
    rules(Obj::new(), &o.allow, |r: &oracle::Rule| {
        Obj::new()
            .set("tenancy", r.tenancy.as_str())
            .strings("parent_compartments", &r.parent_compartments)
            .strings("regions", &r.regions)
    })
    .into()
}

fn read_oracle(f: &mut Fields) -> Result<ProvisionTokenSpecV2Oracle> {
    Ok(ProvisionTokenSpecV2Oracle {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(oracle::Rule {
                    tenancy: r.string("tenancy")?,
                    parent_compartments: r.strings("parent_compartments")?,
                    regions: r.strings("regions")?,
                })
            }),
        )?,
    })
}

fn azure_devops_value(a: &ProvisionTokenSpecV2AzureDevops) -> Value {
    // `organization_id` has no omitempty in Teleport's tags.
    rules(Obj::new(), &a.allow, |r: &azure_devops::Rule| {
        Obj::new()
            .string("sub", &r.sub)
            .string("project_name", &r.project_name)
            .string("pipeline_name", &r.pipeline_name)
            .string("project_id", &r.project_id)
            .string("definition_id", &r.definition_id)
            .string("repository_uri", &r.repository_uri)
            .string("repository_version", &r.repository_version)
            .string("repository_ref", &r.repository_ref)
    })
    .set("organization_id", a.organization_id.as_str())
    .into()
}

fn read_azure_devops(f: &mut Fields) -> Result<ProvisionTokenSpecV2AzureDevops> {
    Ok(ProvisionTokenSpecV2AzureDevops {
        allow: f.list(
            "allow",
            mapping(|r| {
                Ok(azure_devops::Rule {
                    sub: r.string("sub")?,
                    project_name: r.string("project_name")?,
                    pipeline_name: r.string("pipeline_name")?,
                    project_id: r.string("project_id")?,
                    definition_id: r.string("definition_id")?,
                    repository_uri: r.string("repository_uri")?,
                    repository_version: r.string("repository_version")?,
                    repository_ref: r.string("repository_ref")?,
                })
            }),
        )?,
        organization_id: f.string("organization_id")?,
    })
}

/// `onboarding` and `recovery` have no omitempty: Go prints a missing one as null.
fn bound_keypair_value(b: &ProvisionTokenSpecV2BoundKeypair) -> Value {
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| Style::Legacy.time(t));
    let onboarding = b.onboarding.as_ref().map(|o| {
        Value::from(
            Obj::new()
                .string("initial_public_key", &o.initial_public_key)
                .string("registration_secret", &o.registration_secret)
                .option("must_register_before", time(&o.must_register_before)),
        )
    });
    let recovery = b.recovery.as_ref().map(|r| {
        Value::from(
            Obj::new()
                .set("limit", r.limit)
                .set("mode", r.mode.as_str()),
        )
    });
    Obj::new()
        .set("onboarding", onboarding.unwrap_or(Value::Null))
        .set("recovery", recovery.unwrap_or(Value::Null))
        .option("rotate_after", time(&b.rotate_after))
        .into()
}

fn read_bound_keypair(f: &mut Fields) -> Result<ProvisionTokenSpecV2BoundKeypair> {
    Ok(ProvisionTokenSpecV2BoundKeypair {
        onboarding: f.with(
            "onboarding",
            mapping(|o| {
                Ok(OnboardingSpec {
                    initial_public_key: o.string("initial_public_key")?,
                    registration_secret: o.string("registration_secret")?,
                    must_register_before: o.timestamp("must_register_before")?,
                })
            }),
        )?,
        recovery: f.with(
            "recovery",
            mapping(|r| {
                Ok(RecoverySpec {
                    limit: r.with("limit", as_u32)?.unwrap_or_default(),
                    mode: r.string("mode")?,
                })
            }),
        )?,
        rotate_after: f.timestamp("rotate_after")?,
    })
}

/// The status as tctl prints it: the four plain fields always, the times when set.
fn status_value(s: &ProvisionTokenStatusV2) -> Value {
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| Style::Legacy.time(t));
    let bound_keypair = s.bound_keypair.as_ref().map(|b| {
        Value::from(
            Obj::new()
                .set("registration_secret", b.registration_secret.as_str())
                .set("bound_public_key", b.bound_public_key.as_str())
                .set("bound_bot_instance_id", b.bound_bot_instance_id.as_str())
                .set("recovery_count", b.recovery_count)
                .option("last_recovered_at", time(&b.last_recovered_at))
                .option("last_rotated_at", time(&b.last_rotated_at)),
        )
    });
    Obj::new().option("bound_keypair", bound_keypair).into()
}

/// The `status` keys (as `status.bound_keypair.recovery_count`) whose values differ between two
/// copies of a token; an absent status reads as an empty one.
pub(crate) fn status_changes(before: &ProvisionTokenV2, after: &ProvisionTokenV2) -> Vec<String> {
    let keys = |t: &ProvisionTokenV2| -> serde_json::Map<String, Value> {
        let status = t.status.clone().unwrap_or_default();
        let bound_keypair = status.bound_keypair.unwrap_or_default();
        let value = status_value(&ProvisionTokenStatusV2 {
            bound_keypair: Some(bound_keypair),
        });
        match value.get("bound_keypair") {
            Some(Value::Object(map)) => map.clone(),
            _ => serde_json::Map::new(),
        }
    };
    let (before, after) = (keys(before), keys(after));
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| format!("status.bound_keypair.{k}"))
        .collect()
}

fn read_status(f: &mut Fields) -> Result<ProvisionTokenStatusV2> {
    Ok(ProvisionTokenStatusV2 {
        bound_keypair: f.with(
            "bound_keypair",
            mapping(|b| {
                Ok(ProvisionTokenStatusV2BoundKeypair {
                    registration_secret: b.string("registration_secret")?,
                    bound_public_key: b.string("bound_public_key")?,
                    bound_bot_instance_id: b.string("bound_bot_instance_id")?,
                    recovery_count: b.with("recovery_count", as_u32)?.unwrap_or_default(),
                    last_recovered_at: b.timestamp("last_recovered_at")?,
                    last_rotated_at: b.timestamp("last_rotated_at")?,
                })
            }),
        )?,
    })
}

#[cfg(test)]
mod tests {
    use mwi_proto::types::ProvisionTokenV2;
    use prost::Message;

    use crate::resource::tests::{parse_one, round_trip};
    use crate::resource::{Resource, render_json, render_yaml};

    /// One `tctl get token/X` file per join method (see testdata/tokens/README.md).
    pub(crate) const FIXTURES: &[(&str, &str)] = &[
        ("token", include_str!("testdata/tokens/token.yaml")),
        ("ec2", include_str!("testdata/tokens/ec2.yaml")),
        ("iam", include_str!("testdata/tokens/iam.yaml")),
        ("github", include_str!("testdata/tokens/github.yaml")),
        ("gitlab", include_str!("testdata/tokens/gitlab.yaml")),
        ("circleci", include_str!("testdata/tokens/circleci.yaml")),
        (
            "kubernetes",
            include_str!("testdata/tokens/kubernetes.yaml"),
        ),
        ("azure", include_str!("testdata/tokens/azure.yaml")),
        ("gcp", include_str!("testdata/tokens/gcp.yaml")),
        ("spacelift", include_str!("testdata/tokens/spacelift.yaml")),
        ("tpm", include_str!("testdata/tokens/tpm.yaml")),
        (
            "terraform_cloud",
            include_str!("testdata/tokens/terraform_cloud.yaml"),
        ),
        ("bitbucket", include_str!("testdata/tokens/bitbucket.yaml")),
        ("oracle", include_str!("testdata/tokens/oracle.yaml")),
        (
            "azure_devops",
            include_str!("testdata/tokens/azure_devops.yaml"),
        ),
        (
            "bound_keypair",
            include_str!("testdata/tokens/bound_keypair_secret.yaml"),
        ),
        (
            "bound_keypair",
            include_str!("testdata/tokens/bound_keypair_bound.yaml"),
        ),
    ];

    /// The document without its leading `# docs:` comment.
    fn body(fixture: &str) -> String {
        fixture
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn every_join_methods_tctl_file_prints_back_byte_for_byte() {
        for (method, fixture) in FIXTURES {
            let text = body(fixture);
            let resource = parse_one(&text);
            let Resource::Token(token) = &resource else {
                panic!("{method}: not a token");
            };
            assert_eq!(token.spec.as_ref().unwrap().join_method, *method);
            assert_eq!(
                render_yaml(std::slice::from_ref(&resource)),
                text,
                "{method}"
            );
            round_trip(resource.to_value());
            let json = render_json(std::slice::from_ref(&resource));
            assert_eq!(parse_one(&json), resource, "{method} through JSON");
        }
    }

    #[test]
    fn every_method_block_reaches_its_own_wire_field() {
        // Field numbers 7..20 of ProvisionTokenSpecV2, by the method whose block they carry.
        let numbers = [
            ("github", 7),
            ("circleci", 8),
            ("kubernetes", 10),
            ("azure", 11),
            ("gitlab", 12),
            ("gcp", 13),
            ("spacelift", 14),
            ("tpm", 15),
            ("terraform_cloud", 16),
            ("bitbucket", 17),
            ("oracle", 18),
            ("bound_keypair", 19),
            ("azure_devops", 20),
        ];
        for (method, number) in numbers {
            let fixture = FIXTURES.iter().find(|(m, _)| *m == method).unwrap().1;
            let Resource::Token(token) = parse_one(&body(fixture)) else {
                panic!("not a token");
            };
            let spec = token.spec.unwrap().encode_to_vec();
            let key = ((number << 3) | 2) as u8;
            assert!(spec.contains(&key), "{method}: no key for field {number}");
        }
    }

    #[test]
    fn unknown_fields_of_a_newer_server_survive_an_edit() {
        let Resource::Token(token) = parse_one(&body(FIXTURES[16].1)) else {
            panic!("not a token");
        };
        let mut stored = token.encode_to_vec();
        // A newer server's spec field 21 and status.bound_keypair field 7, appended as a
        // second occurrence of Spec (5) and Status (6), which protobuf merges.
        stored.extend_from_slice(&[0x2a, 4, 0xaa, 0x01, 1, b'x']);
        stored.extend_from_slice(&[0x32, 5, 0x0a, 3, 0x3a, 1, b'h']);
        let mut edited = ProvisionTokenV2::decode(stored.as_slice()).unwrap();
        let recovery = edited
            .spec
            .as_mut()
            .and_then(|s| s.bound_keypair.as_mut())
            .and_then(|b| b.recovery.as_mut())
            .unwrap();
        recovery.limit = 5;
        let written = mwi_proto::unknown::keep_unknown(&stored, &edited);
        assert!(mwi_proto::unknown::has_unknown::<ProvisionTokenV2>(
            &written
        ));
        let read = ProvisionTokenV2::decode(written.as_slice()).unwrap();
        assert_eq!(read, edited);
        let needle = |n: &[u8]| written.windows(n.len()).any(|w| w == n);
        assert!(needle(&[0xaa, 0x01, 1, b'x']), "spec field 21 kept");
        assert!(needle(&[0x3a, 1, b'h']), "status field 7 kept");
    }

    #[test]
    fn bad_values_name_their_path() {
        let text = "kind: token\nversion: v2\nmetadata: {name: t}\nspec:\n  roles: [Bot]\n  \
                    bound_keypair: {recovery: {limit: -1}}\n";
        assert_eq!(
            crate::resource::parse_documents(text)
                .unwrap_err()
                .to_string(),
            "`spec.bound_keypair.recovery.limit`: expected a whole number from 0 (32-bit), got a number (-1)"
        );
        let text = "kind: token\nversion: v2\nmetadata: {name: t}\nspec:\n  github: {alow: []}\n";
        assert!(
            crate::resource::parse_documents(text)
                .unwrap_err()
                .to_string()
                .starts_with("`spec.github.alow`: unknown key; did you mean `allow`?"),
        );
    }
}

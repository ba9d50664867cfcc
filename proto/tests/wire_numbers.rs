//! Checks our declarations against Teleport's field numbers and wire types, transcribed a second
//! time by hand from the wire facts: each row sets one field, encodes the message, and compares the
//! leading key bytes with a key computed by hand ((number << 3) | wire type, as a varint).

use prost::Message;
use prost_reflect::{DynamicMessage, Kind, Value};

const VARINT: u64 = 0;
const LEN: u64 = 2;

/// (message, field name, number, wire type)
// One row per line, read as a table.
#[rustfmt::skip]
const ROWS: &[(&str, &str, u64, u64)] = &[
    ("types.Metadata", "Name", 1, LEN),
    ("types.Metadata", "Description", 3, LEN),
    ("types.Metadata", "Labels", 5, LEN),
    ("types.Metadata", "Expires", 6, LEN),
    ("types.Metadata", "Revision", 8, LEN),
    ("types.LockV2", "Kind", 1, LEN),
    ("types.LockV2", "Version", 3, LEN),
    ("types.LockV2", "Metadata", 4, LEN),
    ("types.LockV2", "Spec", 5, LEN),
    ("types.LockSpecV2", "Target", 1, LEN),
    ("types.LockSpecV2", "Message", 2, LEN),
    ("types.LockSpecV2", "Expires", 3, LEN),
    ("types.LockSpecV2", "CreatedAt", 4, LEN),
    ("types.LockSpecV2", "CreatedBy", 5, LEN),
    ("types.LockTarget", "User", 1, LEN),
    ("types.LockTarget", "Role", 2, LEN),
    ("types.LockTarget", "Login", 3, LEN),
    ("types.LockTarget", "MFADevice", 5, LEN),
    ("types.LockTarget", "ServerID", 9, LEN),
    ("types.LockTarget", "BotInstanceID", 10, LEN),
    ("types.LockTarget", "JoinToken", 11, LEN),
    ("types.LockFilter", "in_force_only", 2, VARINT),
    ("types.RoleV6", "Spec", 5, LEN),
    ("types.RoleSpecV6", "Options", 1, LEN),
    ("types.RoleSpecV6", "Allow", 2, LEN),
    ("types.RoleSpecV6", "Deny", 3, LEN),
    ("types.RoleOptions", "MaxSessionTTL", 2, VARINT),
    ("types.RoleOptions", "ForwardAgent", 1, VARINT),
    ("types.RoleOptions", "PortForwarding", 3, LEN),
    ("types.RoleOptions", "CertificateFormat", 4, LEN),
    ("types.RoleOptions", "ClientIdleTimeout", 5, VARINT),
    ("types.RoleOptions", "DisconnectExpiredCert", 6, VARINT),
    ("types.RoleOptions", "BPF", 7, LEN),
    ("types.RoleOptions", "PermitX11Forwarding", 8, VARINT),
    ("types.RoleOptions", "MaxConnections", 9, VARINT),
    ("types.RoleOptions", "MaxSessions", 10, VARINT),
    ("types.RoleOptions", "RequestAccess", 11, LEN),
    ("types.RoleOptions", "RequestPrompt", 12, LEN),
    ("types.RoleOptions", "Lock", 14, LEN),
    ("types.RoleOptions", "RecordSession", 15, LEN),
    ("types.RoleOptions", "DesktopClipboard", 16, LEN),
    ("types.RoleOptions", "CertExtensions", 17, LEN),
    ("types.RoleOptions", "MaxKubernetesConnections", 18, VARINT),
    ("types.RoleOptions", "DesktopDirectorySharing", 19, LEN),
    ("types.RoleOptions", "CreateHostUser", 20, LEN),
    ("types.RoleOptions", "PinSourceIP", 21, VARINT),
    ("types.RoleOptions", "SSHFileCopy", 22, LEN),
    ("types.RoleOptions", "RequireMFAType", 23, VARINT),
    ("types.RoleOptions", "DeviceTrustMode", 24, LEN),
    ("types.RoleOptions", "IDP", 25, LEN),
    ("types.RoleOptions", "CreateDesktopUser", 26, LEN),
    ("types.RoleOptions", "CreateDatabaseUser", 27, LEN),
    ("types.RoleOptions", "CreateHostUserMode", 28, VARINT),
    ("types.RoleOptions", "CreateDatabaseUserMode", 29, VARINT),
    ("types.RoleOptions", "MFAVerificationInterval", 30, LEN),
    ("types.RoleOptions", "CreateHostUserDefaultShell", 31, LEN),
    ("types.RoleOptions", "SSHPortForwarding", 32, LEN),
    ("types.BoolValue", "Value", 1, VARINT),
    ("types.RecordSession", "Desktop", 1, LEN),
    ("types.RecordSession", "Default", 2, LEN),
    ("types.RecordSession", "SSH", 3, LEN),
    ("types.CertExtension", "Type", 1, VARINT),
    ("types.CertExtension", "Mode", 2, VARINT),
    ("types.CertExtension", "Name", 3, LEN),
    ("types.CertExtension", "Value", 4, LEN),
    ("types.IdPOptions", "SAML", 1, LEN),
    ("types.IdPSAMLOptions", "Enabled", 1, LEN),
    ("types.SSHPortForwarding", "Local", 1, LEN),
    ("types.SSHPortForwarding", "Remote", 2, LEN),
    ("types.SSHLocalPortForwarding", "Enabled", 1, LEN),
    ("types.SSHRemotePortForwarding", "Enabled", 1, LEN),
    ("types.RoleConditions", "Logins", 1, LEN),
    ("types.RoleConditions", "NodeLabels", 3, LEN),
    ("types.RoleConditions", "Rules", 4, LEN),
    ("types.RoleConditions", "KubeGroups", 5, LEN),
    ("types.RoleConditions", "AppLabels", 8, LEN),
    ("types.RoleConditions", "DatabaseLabels", 11, LEN),
    ("types.RoleConditions", "DatabaseNames", 12, LEN),
    ("types.RoleConditions", "DatabaseUsers", 13, LEN),
    ("types.RoleConditions", "Impersonate", 14, LEN),
    ("types.RoleConditions", "DatabaseRoles", 29, LEN),
    ("types.RoleConditions", "Namespaces", 2, LEN),
    ("types.RoleConditions", "Request", 6, LEN),
    ("types.RoleConditions", "KubeUsers", 7, LEN),
    ("types.RoleConditions", "ClusterLabels", 9, LEN),
    ("types.RoleConditions", "KubernetesLabels", 10, LEN),
    ("types.RoleConditions", "ReviewRequests", 15, LEN),
    ("types.RoleConditions", "AWSRoleARNs", 16, LEN),
    ("types.RoleConditions", "WindowsDesktopLogins", 17, LEN),
    ("types.RoleConditions", "WindowsDesktopLabels", 18, LEN),
    ("types.RoleConditions", "RequireSessionJoin", 19, LEN),
    ("types.RoleConditions", "JoinSessions", 20, LEN),
    ("types.RoleConditions", "HostGroups", 21, LEN),
    ("types.RoleConditions", "HostSudoers", 22, LEN),
    ("types.RoleConditions", "AzureIdentities", 23, LEN),
    ("types.RoleConditions", "KubernetesResources", 24, LEN),
    ("types.RoleConditions", "GCPServiceAccounts", 25, LEN),
    ("types.RoleConditions", "DatabaseServiceLabels", 26, LEN),
    ("types.RoleConditions", "GroupLabels", 27, LEN),
    ("types.RoleConditions", "DesktopGroups", 28, LEN),
    ("types.RoleConditions", "NodeLabelsExpression", 30, LEN),
    ("types.RoleConditions", "AppLabelsExpression", 31, LEN),
    ("types.RoleConditions", "ClusterLabelsExpression", 32, LEN),
    ("types.RoleConditions", "KubernetesLabelsExpression", 33, LEN),
    ("types.RoleConditions", "DatabaseLabelsExpression", 34, LEN),
    ("types.RoleConditions", "DatabaseServiceLabelsExpression", 35, LEN),
    ("types.DatabaseServerV3", "Kind", 1, LEN),
    ("types.DatabaseServerV3", "Metadata", 4, LEN),
    ("types.DatabaseServerV3", "Spec", 5, LEN),
    ("types.DatabaseServerSpecV3", "Version", 6, LEN),
    ("types.DatabaseServerSpecV3", "Hostname", 7, LEN),
    ("types.DatabaseServerSpecV3", "HostID", 8, LEN),
    ("types.DatabaseServerSpecV3", "Database", 12, LEN),
    ("types.DatabaseServerSpecV3", "ProxyIDs", 13, LEN),
    ("types.DatabaseV3List", "Databases", 1, LEN),
    ("types.DatabaseV3", "Kind", 1, LEN),
    ("types.DatabaseV3", "Version", 3, LEN),
    ("types.DatabaseV3", "Metadata", 4, LEN),
    ("types.DatabaseV3", "Spec", 5, LEN),
    ("types.DatabaseSpecV3", "Protocol", 1, LEN),
    ("types.DatabaseSpecV3", "URI", 2, LEN),
    ("proto.ListResourcesRequest", "ResourceType", 1, LEN),
    ("proto.ListResourcesRequest", "Namespace", 2, LEN),
    ("proto.ListResourcesRequest", "Limit", 3, VARINT),
    ("proto.ListResourcesRequest", "StartKey", 4, LEN),
    ("proto.ListResourcesRequest", "Labels", 5, LEN),
    ("proto.ListResourcesRequest", "PredicateExpression", 6, LEN),
    ("proto.ListResourcesRequest", "SearchKeywords", 7, LEN),
    ("proto.PaginatedResource", "DatabaseServer", 1, LEN),
    ("proto.ListResourcesResponse", "Resources", 1, LEN),
    ("proto.ListResourcesResponse", "NextKey", 2, LEN),
    ("proto.ListResourcesResponse", "TotalCount", 3, VARINT),
    ("types.RoleConditions", "WindowsDesktopLabelsExpression", 36, LEN),
    ("types.RoleConditions", "GroupLabelsExpression", 37, LEN),
    ("types.RoleConditions", "DatabasePermissions", 38, LEN),
    ("types.RoleConditions", "SPIFFE", 39, LEN),
    ("types.RoleConditions", "AccountAssignments", 42, LEN),
    ("types.RoleConditions", "git_hub_permissions", 43, LEN),
    ("types.RoleConditions", "WorkloadIdentityLabels", 44, LEN),
    ("types.RoleConditions", "WorkloadIdentityLabelsExpression", 45, LEN),
    ("types.AccessRequestConditions", "Roles", 1, LEN),
    ("types.AccessRequestConditions", "ClaimsToRoles", 2, LEN),
    ("types.AccessRequestConditions", "Annotations", 3, LEN),
    ("types.AccessRequestConditions", "Thresholds", 4, LEN),
    ("types.AccessRequestConditions", "SuggestedReviewers", 5, LEN),
    ("types.AccessRequestConditions", "SearchAsRoles", 6, LEN),
    ("types.AccessRequestConditions", "MaxDuration", 7, VARINT),
    ("types.AccessRequestConditions", "kubernetes_resources", 8, LEN),
    ("types.AccessRequestConditions", "Reason", 9, LEN),
    ("types.AccessRequestConditionsReason", "Mode", 1, LEN),
    ("types.RequestKubernetesResource", "kind", 1, LEN),
    ("types.AccessReviewThreshold", "Name", 1, LEN),
    ("types.AccessReviewThreshold", "Filter", 2, LEN),
    ("types.AccessReviewThreshold", "Approve", 3, VARINT),
    ("types.AccessReviewThreshold", "Deny", 4, VARINT),
    ("types.AccessReviewConditions", "Roles", 1, LEN),
    ("types.AccessReviewConditions", "ClaimsToRoles", 2, LEN),
    ("types.AccessReviewConditions", "Where", 3, LEN),
    ("types.AccessReviewConditions", "PreviewAsRoles", 4, LEN),
    ("types.ClaimMapping", "Claim", 1, LEN),
    ("types.ClaimMapping", "Value", 2, LEN),
    ("types.ClaimMapping", "Roles", 3, LEN),
    ("types.SessionRequirePolicy", "Name", 1, LEN),
    ("types.SessionRequirePolicy", "Filter", 2, LEN),
    ("types.SessionRequirePolicy", "Kinds", 3, LEN),
    ("types.SessionRequirePolicy", "Count", 4, VARINT),
    ("types.SessionRequirePolicy", "Modes", 5, LEN),
    ("types.SessionRequirePolicy", "OnLeave", 6, LEN),
    ("types.SessionJoinPolicy", "Name", 1, LEN),
    ("types.SessionJoinPolicy", "Roles", 2, LEN),
    ("types.SessionJoinPolicy", "Kinds", 3, LEN),
    ("types.SessionJoinPolicy", "Modes", 4, LEN),
    ("types.KubernetesResource", "Kind", 1, LEN),
    ("types.KubernetesResource", "Namespace", 2, LEN),
    ("types.KubernetesResource", "Name", 3, LEN),
    ("types.KubernetesResource", "Verbs", 4, LEN),
    ("types.DatabasePermission", "Permissions", 1, LEN),
    ("types.DatabasePermission", "Match", 2, LEN),
    ("types.SPIFFERoleCondition", "Path", 1, LEN),
    ("types.SPIFFERoleCondition", "DNSSANs", 2, LEN),
    ("types.SPIFFERoleCondition", "IPSANs", 3, LEN),
    ("types.IdentityCenterAccountAssignment", "PermissionSet", 1, LEN),
    ("types.IdentityCenterAccountAssignment", "Account", 2, LEN),
    ("types.GitHubPermission", "organizations", 1, LEN),
    ("types.KubernetesResource", "APIGroup", 5, LEN),
    ("types.RequestKubernetesResource", "APIGroup", 2, LEN),
    ("types.Rule", "Resources", 1, LEN),
    ("types.Rule", "Verbs", 2, LEN),
    ("types.Rule", "Where", 3, LEN),
    ("types.Rule", "Actions", 4, LEN),
    ("types.ImpersonateConditions", "Roles", 2, LEN),
    ("types.RoleFilter", "SkipSystemRoles", 2, VARINT),
    ("types.ProvisionTokenV2", "Metadata", 4, LEN),
    ("types.ProvisionTokenSpecV2", "Roles", 1, LEN),
    ("types.ProvisionTokenSpecV2", "JoinMethod", 4, LEN),
    ("types.ProvisionTokenSpecV2", "BotName", 5, LEN),
    ("types.ProvisionTokenV2List", "ProvisionTokens", 1, LEN),
    ("types.ResourceRequest", "Name", 1, LEN),
    ("types.RegisterUsingTokenRequest", "Role", 3, LEN),
    ("types.RegisterUsingTokenRequest", "Token", 4, LEN),
    ("types.RegisterUsingTokenRequest", "PublicTLSKey", 7, LEN),
    ("types.RegisterUsingTokenRequest", "PublicSSHKey", 8, LEN),
    ("types.RegisterUsingTokenRequest", "Expires", 12, LEN),
    ("types.RegisterUsingTokenRequest", "BotInstanceID", 13, LEN),
    ("types.RegisterUsingTokenRequest", "BotGeneration", 14, VARINT),
    ("wrappers.LabelValues", "Values", 1, LEN),
    ("wrappers.StringValues", "Values", 1, LEN),
    ("proto.PingResponse", "ClusterName", 1, LEN),
    ("proto.PingResponse", "ServerVersion", 2, LEN),
    ("proto.PingResponse", "ProxyPublicAddr", 4, LEN),
    ("proto.PingResponse", "RemoteAddr", 7, LEN),
    ("proto.PingResponse", "LicenseExpiry", 10, LEN),
    ("proto.GetLocksRequest", "Targets", 1, LEN),
    ("proto.GetLocksRequest", "InForceOnly", 2, VARINT),
    ("proto.GetLocksResponse", "Locks", 1, LEN),
    ("proto.GetLockRequest", "Name", 1, LEN),
    ("proto.DeleteLockRequest", "Name", 1, LEN),
    ("proto.GetRoleRequest", "Name", 1, LEN),
    ("proto.GetRolesResponse", "Roles", 1, LEN),
    ("proto.ListRolesRequest", "Limit", 1, VARINT),
    ("proto.ListRolesRequest", "StartKey", 2, LEN),
    ("proto.ListRolesRequest", "Filter", 3, LEN),
    ("proto.ListRolesResponse", "NextKey", 2, LEN),
    ("proto.CreateRoleRequest", "Role", 1, LEN),
    ("proto.UpdateRoleRequest", "Role", 1, LEN),
    ("proto.UpsertRoleRequest", "Role", 1, LEN),
    ("proto.DeleteRoleRequest", "Name", 1, LEN),
    ("proto.CreateTokenV2Request", "V2", 1, LEN),
    ("proto.UpsertTokenV2Request", "V2", 1, LEN),
    ("proto.UserCertsRequest", "Username", 2, LEN),
    ("proto.UserCertsRequest", "Expires", 3, LEN),
    ("proto.UserCertsRequest", "RouteToDatabase", 8, LEN),
    ("proto.UserCertsRequest", "Usage", 10, VARINT),
    ("proto.UserCertsRequest", "RoleRequests", 12, LEN),
    ("proto.UserCertsRequest", "UseRoleRequests", 14, VARINT),
    ("proto.UserCertsRequest", "SSHLogin", 19, LEN),
    ("proto.UserCertsRequest", "SSHPublicKey", 22, LEN),
    ("proto.UserCertsRequest", "TLSPublicKey", 23, LEN),
    ("proto.UserCertsRequest", "ReissuableRoleImpersonation", 27, VARINT),
    ("proto.RouteToDatabase", "ServiceName", 1, LEN),
    ("proto.RouteToDatabase", "Username", 3, LEN),
    ("proto.RouteToDatabase", "Database", 4, LEN),
    ("proto.Certs", "SSH", 1, LEN),
    ("proto.Certs", "TLS", 2, LEN),
    ("proto.Certs", "TLSCACerts", 3, LEN),
    ("proto.Certs", "SSHCACerts", 4, LEN),
    ("teleport.header.v1.Metadata", "name", 1, LEN),
    ("teleport.header.v1.Metadata", "expires", 6, LEN),
    ("teleport.header.v1.Metadata", "revision", 8, LEN),
    ("teleport.machineid.v1.Bot", "metadata", 4, LEN),
    ("teleport.machineid.v1.Bot", "spec", 5, LEN),
    ("teleport.machineid.v1.Bot", "status", 6, LEN),
    ("teleport.machineid.v1.Bot", "scope", 7, LEN),
    ("teleport.machineid.v1.BotSpec", "roles", 1, LEN),
    ("teleport.machineid.v1.BotSpec", "traits", 2, LEN),
    ("teleport.machineid.v1.BotSpec", "max_session_ttl", 3, LEN),
    ("teleport.machineid.v1.Trait", "values", 2, LEN),
    ("teleport.machineid.v1.BotStatus", "user_name", 1, LEN),
    ("teleport.machineid.v1.BotStatus", "role_name", 3, LEN),
    ("teleport.machineid.v1.GetBotRequest", "bot_name", 1, LEN),
    ("teleport.machineid.v1.ListBotsRequest", "page_size", 1, VARINT),
    ("teleport.machineid.v1.ListBotsRequest", "page_token", 2, LEN),
    ("teleport.machineid.v1.ListBotsResponse", "next_page_token", 2, LEN),
    ("teleport.machineid.v1.CreateBotRequest", "bot", 1, LEN),
    ("teleport.machineid.v1.UpdateBotRequest", "update_mask", 2, LEN),
    ("teleport.machineid.v1.UpsertBotRequest", "bot", 1, LEN),
    ("teleport.machineid.v1.DeleteBotRequest", "bot_name", 1, LEN),
    ("teleport.machineid.v1.BotInstanceSpec", "bot_name", 1, LEN),
    ("teleport.machineid.v1.BotInstanceSpec", "instance_id", 2, LEN),
    ("teleport.machineid.v1.BotInstanceSpec", "previous_instance_id", 4, LEN),
    ("teleport.machineid.v1.BotInstanceStatus", "initial_authentication", 1, LEN),
    ("teleport.machineid.v1.BotInstanceStatus", "latest_authentications", 2, LEN),
    ("teleport.machineid.v1.BotInstanceStatus", "initial_heartbeat", 3, LEN),
    ("teleport.machineid.v1.BotInstanceStatus", "latest_heartbeats", 4, LEN),
    ("teleport.machineid.v1.BotInstanceStatusAuthentication", "authenticated_at", 1, LEN),
    ("teleport.machineid.v1.BotInstanceStatusAuthentication", "join_method", 2, LEN),
    ("teleport.machineid.v1.BotInstanceStatusAuthentication", "generation", 5, VARINT),
    ("teleport.machineid.v1.BotInstanceStatusAuthentication", "public_key", 6, LEN),
    ("teleport.machineid.v1.BotInstanceStatusHeartbeat", "is_startup", 2, VARINT),
    ("teleport.machineid.v1.BotInstanceStatusHeartbeat", "hostname", 4, LEN),
    ("teleport.machineid.v1.BotInstanceStatusHeartbeat", "uptime", 5, LEN),
    ("teleport.machineid.v1.BotInstanceStatusHeartbeat", "one_shot", 7, VARINT),
    ("teleport.machineid.v1.BotInstanceStatusHeartbeat", "kind", 13, VARINT),
    ("teleport.machineid.v1.GetBotInstanceRequest", "instance_id", 2, LEN),
    ("teleport.machineid.v1.ListBotInstancesRequest", "filter_bot_name", 1, LEN),
    ("teleport.machineid.v1.ListBotInstancesRequest", "page_size", 2, VARINT),
    ("teleport.machineid.v1.ListBotInstancesRequest", "page_token", 3, LEN),
    ("teleport.machineid.v1.ListBotInstancesV2Request", "page_size", 1, VARINT),
    ("teleport.machineid.v1.ListBotInstancesV2Request", "filter", 5, LEN),
    ("teleport.machineid.v1.ListBotInstancesV2Request.Filters", "bot_name", 1, LEN),
    ("teleport.machineid.v1.ListBotInstancesResponse", "bot_instances", 1, LEN),
    ("teleport.machineid.v1.ListBotInstancesResponse", "next_page_token", 2, LEN),
    ("teleport.machineid.v1.DeleteBotInstanceRequest", "instance_id", 2, LEN),
    ("teleport.machineid.v1.SubmitHeartbeatRequest", "heartbeat", 1, LEN),
    // teleport.join.v1 (teleport-bound-keypair.md §2a)
    ("teleport.join.v1.ClientInit", "join_method", 1, LEN),
    ("teleport.join.v1.ClientInit", "token_name", 2, LEN),
    ("teleport.join.v1.ClientInit", "system_role", 3, LEN),
    ("teleport.join.v1.ClientInit", "forwarded_by_proxy", 4, VARINT),
    ("teleport.join.v1.ClientInit", "proxy_supplied_parameters", 5, LEN),
    ("teleport.join.v1.ClientInit.ProxySuppliedParams", "remote_addr", 1, LEN),
    ("teleport.join.v1.ClientInit.ProxySuppliedParams", "client_version", 2, LEN),
    ("teleport.join.v1.PublicKeys", "public_tls_key", 1, LEN),
    ("teleport.join.v1.PublicKeys", "public_ssh_key", 2, LEN),
    ("teleport.join.v1.HostParams", "public_keys", 1, LEN),
    ("teleport.join.v1.HostParams", "host_name", 2, LEN),
    ("teleport.join.v1.HostParams", "additional_principals", 3, LEN),
    ("teleport.join.v1.HostParams", "dns_names", 4, LEN),
    ("teleport.join.v1.BotParams", "public_keys", 1, LEN),
    ("teleport.join.v1.BotParams", "expires", 2, LEN),
    ("teleport.join.v1.ClientParams", "host_params", 1, LEN),
    ("teleport.join.v1.ClientParams", "bot_params", 2, LEN),
    ("teleport.join.v1.TokenInit", "client_params", 1, LEN),
    ("teleport.join.v1.BoundKeypairInit", "client_params", 1, LEN),
    ("teleport.join.v1.BoundKeypairInit", "initial_join_secret", 2, LEN),
    ("teleport.join.v1.BoundKeypairInit", "previous_join_state", 3, LEN),
    ("teleport.join.v1.BoundKeypairChallenge", "public_key", 1, LEN),
    ("teleport.join.v1.BoundKeypairChallenge", "challenge", 2, LEN),
    ("teleport.join.v1.BoundKeypairChallengeSolution", "solution", 1, LEN),
    ("teleport.join.v1.BoundKeypairRotationRequest", "signature_algorithm_suite", 1, LEN),
    ("teleport.join.v1.BoundKeypairRotationResponse", "public_key", 1, LEN),
    ("teleport.join.v1.BoundKeypairResult", "join_state", 2, LEN),
    ("teleport.join.v1.BoundKeypairResult", "public_key", 3, LEN),
    ("teleport.join.v1.EC2Init", "document", 2, LEN),
    ("teleport.join.v1.OracleChallengeSolution", "signed_root_ca_req", 4, LEN),
    ("teleport.join.v1.ChallengeSolution", "bound_keypair_challenge_solution", 1, LEN),
    ("teleport.join.v1.ChallengeSolution", "bound_keypair_rotation_response", 2, LEN),
    ("teleport.join.v1.ChallengeSolution", "iam_challenge_solution", 3, LEN),
    ("teleport.join.v1.ChallengeSolution", "oracle_challenge_solution", 4, LEN),
    ("teleport.join.v1.GivingUp", "reason", 1, VARINT),
    ("teleport.join.v1.GivingUp", "msg", 2, LEN),
    ("teleport.join.v1.JoinRequest", "client_init", 1, LEN),
    ("teleport.join.v1.JoinRequest", "token_init", 2, LEN),
    ("teleport.join.v1.JoinRequest", "bound_keypair_init", 3, LEN),
    ("teleport.join.v1.JoinRequest", "solution", 4, LEN),
    ("teleport.join.v1.JoinRequest", "iam_init", 5, LEN),
    ("teleport.join.v1.JoinRequest", "giving_up", 6, LEN),
    ("teleport.join.v1.JoinRequest", "ec2_init", 7, LEN),
    ("teleport.join.v1.JoinRequest", "oracle_init", 9, LEN),
    ("teleport.join.v1.ServerInit", "join_method", 1, LEN),
    ("teleport.join.v1.ServerInit", "signature_algorithm_suite", 2, LEN),
    ("teleport.join.v1.Challenge", "bound_keypair_challenge", 1, LEN),
    ("teleport.join.v1.Challenge", "bound_keypair_rotation_request", 2, LEN),
    ("teleport.join.v1.Challenge", "iam_challenge", 3, LEN),
    ("teleport.join.v1.Challenge", "oracle_challenge", 4, LEN),
    ("teleport.join.v1.Certificates", "tls_cert", 1, LEN),
    ("teleport.join.v1.Certificates", "tls_ca_certs", 2, LEN),
    ("teleport.join.v1.Certificates", "ssh_cert", 3, LEN),
    ("teleport.join.v1.Certificates", "ssh_ca_keys", 4, LEN),
    ("teleport.join.v1.HostResult", "certificates", 1, LEN),
    ("teleport.join.v1.HostResult", "host_id", 2, LEN),
    ("teleport.join.v1.BotResult", "certificates", 1, LEN),
    ("teleport.join.v1.BotResult", "bound_keypair_result", 2, LEN),
    ("teleport.join.v1.Result", "host_result", 1, LEN),
    ("teleport.join.v1.Result", "bot_result", 2, LEN),
    ("teleport.join.v1.JoinResponse", "init", 1, LEN),
    ("teleport.join.v1.JoinResponse", "challenge", 2, LEN),
    ("teleport.join.v1.JoinResponse", "result", 3, LEN),
    // proto.JoinService/RegisterUsingBoundKeypairMethod (teleport-bound-keypair.md §2b)
    ("proto.RegisterUsingBoundKeypairInitialRequest", "join_request", 1, LEN),
    ("proto.RegisterUsingBoundKeypairInitialRequest", "initial_join_secret", 2, LEN),
    ("proto.RegisterUsingBoundKeypairInitialRequest", "previous_join_state", 3, LEN),
    ("proto.RegisterUsingBoundKeypairChallengeResponse", "solution", 1, LEN),
    ("proto.RegisterUsingBoundKeypairRotationResponse", "public_key", 1, LEN),
    ("proto.RegisterUsingBoundKeypairMethodRequest", "init", 1, LEN),
    ("proto.RegisterUsingBoundKeypairMethodRequest", "challenge_response", 2, LEN),
    ("proto.RegisterUsingBoundKeypairMethodRequest", "rotation_response", 3, LEN),
    ("proto.RegisterUsingBoundKeypairChallenge", "public_key", 1, LEN),
    ("proto.RegisterUsingBoundKeypairChallenge", "challenge", 2, LEN),
    ("proto.RegisterUsingBoundKeypairCertificates", "certs", 1, LEN),
    ("proto.RegisterUsingBoundKeypairCertificates", "join_state", 2, LEN),
    ("proto.RegisterUsingBoundKeypairCertificates", "public_key", 3, LEN),
    ("proto.RegisterUsingBoundKeypairMethodResponse", "challenge", 1, LEN),
    ("proto.RegisterUsingBoundKeypairMethodResponse", "certs", 2, LEN),
    ("proto.RegisterUsingBoundKeypairMethodResponse", "rotation", 3, LEN),
];

/// The key of a field, computed by hand: a varint of (number << 3) | wire type.
fn hand_key(number: u64, wire_type: u64) -> Vec<u8> {
    let mut v = (number << 3) | wire_type;
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[test]
fn every_row_encodes_with_teleports_key() {
    let pool = mwi_proto::descriptor_pool();
    for &(message, field, number, wire_type) in ROWS {
        let desc = pool
            .get_message_by_name(message)
            .unwrap_or_else(|| panic!("{message} is not declared"));
        let fd = desc
            .get_field_by_name(field)
            .unwrap_or_else(|| panic!("{message}.{field} is not declared"));
        let mut msg = DynamicMessage::new(desc.clone());
        let value = match fd.kind() {
            Kind::String => Value::String("x".into()),
            Kind::Bytes => Value::Bytes(bytes::Bytes::from_static(b"x")),
            Kind::Bool => Value::Bool(true),
            Kind::Int32 => Value::I32(1),
            Kind::Int64 => Value::I64(1),
            Kind::Uint32 => Value::U32(1),
            Kind::Enum(_) => Value::EnumNumber(1),
            Kind::Message(m) => Value::Message(DynamicMessage::new(m)),
            other => panic!("{message}.{field}: no sample for {other:?}"),
        };
        let value = if fd.is_map() {
            Value::Map(Default::default())
        } else if fd.is_list() {
            Value::List(vec![value])
        } else {
            value
        };
        msg.set_field(&fd, value);
        let bytes = msg.encode_to_vec();
        let key = hand_key(number, wire_type);
        if fd.is_map() {
            // An empty map encodes nothing; check the declared number and type instead.
            assert_eq!(u64::from(fd.number()), number, "{message}.{field}");
            continue;
        }
        assert!(
            bytes.starts_with(&key),
            "{message}.{field}: expected key {key:02x?}, encoded {bytes:02x?}"
        );
    }
}

#[test]
fn a_lock_encodes_to_hand_computed_bytes() {
    use mwi_proto::types::{LockSpecV2, LockTarget, LockV2};
    let lock = LockV2 {
        kind: "lock".into(),
        spec: Some(LockSpecV2 {
            target: Some(LockTarget {
                bot_instance_id: "i".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Kind (1, LEN) "lock"; Spec (5, LEN) { Target (1, LEN) { BotInstanceID (10, LEN) "i" } }
    let expected = [
        0x0a, 4, b'l', b'o', b'c', b'k', 0x2a, 5, 0x0a, 3, 0x52, 1, b'i',
    ];
    assert_eq!(lock.encode_to_vec(), expected);
}

#[test]
fn role_options_set_by_teleport_defaults_encode_to_hand_computed_bytes() {
    use mwi_proto::types::{BoolValue, RoleOptions, SshPortForwarding};
    let options = RoleOptions {
        ssh_file_copy: Some(BoolValue { value: true }),
        ssh_port_forwarding: Some(SshPortForwarding::default()),
        ..Default::default()
    };
    // SSHFileCopy (22, LEN): (22 << 3) | 2 = 178 = 0xb2 0x01, then BoolValue { Value (1, VARINT) 1 };
    // SSHPortForwarding (32, LEN): 258 = 0x82 0x02, empty message.
    assert_eq!(
        options.encode_to_vec(),
        [0xb2, 0x01, 2, 0x08, 1, 0x82, 0x02, 0]
    );
}

#[test]
fn a_user_certs_request_uses_two_byte_keys_above_field_15() {
    use mwi_proto::proto::UserCertsRequest;
    let req = UserCertsRequest {
        tls_public_key: b"k".to_vec(),
        ..Default::default()
    };
    // TLSPublicKey = 23, LEN: (23 << 3) | 2 = 186 = 0xba 0x01
    assert_eq!(req.encode_to_vec(), [0xba, 0x01, 1, b'k']);
}

#[test]
fn a_bound_keypair_result_skips_field_1() {
    use mwi_proto::teleport::join::v1::BoundKeypairResult;
    let result = BoundKeypairResult {
        join_state: b"j".to_vec(),
        public_key: b"k".to_vec(),
    };
    // join_state (2, LEN) = 0x12, public_key (3, LEN) = 0x1a; Teleport leaves field 1 unused.
    assert_eq!(result.encode_to_vec(), [0x12, 1, b'j', 0x1a, 1, b'k']);
}

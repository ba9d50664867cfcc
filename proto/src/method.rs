//! Full gRPC method paths (`/package.Service/Method`) of every RPC we declare. A test checks each
//! against the compiled descriptors, so a path here cannot drift from the .proto files.

macro_rules! methods {
    ($service:literal { $($name:ident = $method:literal),* $(,)? }) => {
        $(pub const $name: &str = concat!("/", $service, "/", $method);)*
        /// Every path of this service.
        pub const ALL: &[&str] = &[$($name),*];
    };
}

/// `proto.AuthService`.
pub mod auth {
    methods!("proto.AuthService" {
        PING = "Ping",
        GET_LOCK = "GetLock",
        GET_LOCKS = "GetLocks",
        UPSERT_LOCK = "UpsertLock",
        DELETE_LOCK = "DeleteLock",
        GET_ROLE = "GetRole",
        GET_ROLES = "GetRoles",
        LIST_ROLES = "ListRoles",
        CREATE_ROLE = "CreateRole",
        UPDATE_ROLE = "UpdateRole",
        UPSERT_ROLE_V2 = "UpsertRoleV2",
        UPSERT_ROLE = "UpsertRole",
        DELETE_ROLE = "DeleteRole",
        GET_TOKEN = "GetToken",
        GET_TOKENS = "GetTokens",
        CREATE_TOKEN_V2 = "CreateTokenV2",
        UPSERT_TOKEN_V2 = "UpsertTokenV2",
        DELETE_TOKEN = "DeleteToken",
        GENERATE_USER_CERTS = "GenerateUserCerts",
        LIST_RESOURCES = "ListResources",
    });
}

/// `proto.JoinService`.
pub mod join {
    methods!("proto.JoinService" {
        REGISTER_USING_TOKEN = "RegisterUsingToken",
        REGISTER_USING_BOUND_KEYPAIR_METHOD = "RegisterUsingBoundKeypairMethod",
    });
}

/// `teleport.join.v1.JoinService`.
pub mod join_v1 {
    methods!("teleport.join.v1.JoinService" {
        JOIN = "Join",
    });
}

/// `teleport.machineid.v1.BotService`.
pub mod bot {
    methods!("teleport.machineid.v1.BotService" {
        GET_BOT = "GetBot",
        LIST_BOTS = "ListBots",
        CREATE_BOT = "CreateBot",
        UPDATE_BOT = "UpdateBot",
        UPSERT_BOT = "UpsertBot",
        DELETE_BOT = "DeleteBot",
    });
}

/// `teleport.machineid.v1.BotInstanceService`.
pub mod bot_instance {
    methods!("teleport.machineid.v1.BotInstanceService" {
        GET_BOT_INSTANCE = "GetBotInstance",
        LIST_BOT_INSTANCES = "ListBotInstances",
        LIST_BOT_INSTANCES_V2 = "ListBotInstancesV2",
        DELETE_BOT_INSTANCE = "DeleteBotInstance",
        SUBMIT_HEARTBEAT = "SubmitHeartbeat",
    });
}

/// Service name and method name of a path, e.g. `("proto.AuthService", "Ping")`.
pub fn split(path: &str) -> Option<(&str, &str)> {
    path.strip_prefix('/')?.split_once('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_names_a_declared_method() {
        let pool = crate::descriptor_pool();
        let all = [
            auth::ALL,
            join::ALL,
            join_v1::ALL,
            bot::ALL,
            bot_instance::ALL,
        ];
        let mut count = 0;
        for path in all.iter().flat_map(|s| s.iter()) {
            let (service, method) = split(path).unwrap();
            let svc = pool
                .get_service_by_name(service)
                .unwrap_or_else(|| panic!("{service} not declared"));
            assert!(
                svc.methods().any(|m| m.name() == method),
                "{path} not declared"
            );
            count += 1;
        }
        let declared: usize = pool.services().map(|s| s.methods().len()).sum();
        assert_eq!(count, declared, "every declared method has a path constant");
    }
}

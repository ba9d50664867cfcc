//! ListResources for database servers (`ResourceType: "db_server"`): the databases registered in
//! the lab (`mwictl lab db add`, `lab break db-access`), each as a database agent would heartbeat it.

use bytes::Bytes;
use mwi_proto::proto::{ListResourcesRequest, ListResourcesResponse, PaginatedResource};
use mwi_proto::types::{DatabaseServerSpecV3, DatabaseServerV3, DatabaseV3, Metadata};
use prost::Message;

use crate::authz::Caller;
use crate::certs::database_visible;
use crate::datadir::ADMIN;
use crate::error::ApiError;
use crate::records::DatabaseRecord;
use crate::rpc::decode;
use crate::server::Auth;
use crate::store::{Kind, Page, now_ms};

/// The resource type this lab lists (Teleport's `types.KindDatabaseServer`).
const DB_SERVER: &str = "db_server";
/// Page size when the request gives none, and the most one page holds.
const PAGE_DEFAULT: usize = 1000;

impl Auth {
    /// One page of the database servers the caller may see: rules allowing read and list on
    /// db_server and db, and db_labels matching the database (as the bot's impersonated
    /// certificates are checked); the lab's admin identity stands for Teleport's built-in Admin
    /// role (tctl on the auth host) and sees them all. Labels and search keywords filter;
    /// predicate expressions are refused rather than ignored.
    pub(crate) async fn list_resources(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<Bytes, ApiError> {
        let req: ListResourcesRequest = decode(body)?;
        if req.resource_type != DB_SERVER {
            return Err(ApiError::BadParameter(format!(
                "the lab lists resource type {DB_SERVER:?} only, not {:?}",
                req.resource_type
            )));
        }
        if !req.predicate_expression.is_empty() {
            return Err(ApiError::BadParameter(
                "the lab does not evaluate predicate expressions; filter by labels or search \
                 keywords"
                    .into(),
            ));
        }
        self.authorize(caller, &["list", "read"], DB_SERVER)?;
        let limit = usize::try_from(req.limit)
            .ok()
            .filter(|l| *l > 0)
            .unwrap_or(PAGE_DEFAULT)
            .min(PAGE_DEFAULT);
        let admin = caller.id.roles.iter().any(|r| r == ADMIN);
        let roles = self.policy.role_set(&caller.id.roles, now_ms());
        let keywords: Vec<String> = req
            .search_keywords
            .iter()
            .map(|k| k.to_lowercase())
            .collect();
        let wanted = move |db: &DatabaseRecord| {
            let text = std::iter::once(db.name.as_str())
                .chain(db.labels.values().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            (admin || database_visible(&roles, db))
                && req.labels.iter().all(|(k, v)| db.labels.get(k) == Some(v))
                && keywords.iter().all(|k| text.contains(k.as_str()))
        };
        let start = req.start_key;
        let (page, next_key) = self
            .store
            .read(move |r| {
                let mut found = Vec::new();
                let mut from = (!start.is_empty()).then_some(start);
                loop {
                    let rows = r.list(
                        Kind::DbServer,
                        &Page {
                            from: from.take(),
                            limit: PAGE_DEFAULT + 1,
                            ..Default::default()
                        },
                    )?;
                    for row in rows.iter().take(PAGE_DEFAULT) {
                        let db = DatabaseRecord::from_bytes(&row.value)?;
                        if !wanted(&db) {
                            continue;
                        }
                        if found.len() == limit {
                            return Ok((found, db.name));
                        }
                        found.push(db);
                    }
                    match rows.get(PAGE_DEFAULT) {
                        Some(next) => from = Some(next.name.clone()),
                        None => return Ok((found, String::new())),
                    }
                }
            })
            .await?;
        let host_id = self.cluster.clone();
        let resources = page
            .into_iter()
            .map(|db| PaginatedResource {
                resource: Some(
                    mwi_proto::proto::paginated_resource::Resource::DatabaseServer(
                        database_server(db, &host_id),
                    ),
                ),
            })
            .collect();
        Ok(ListResourcesResponse {
            resources,
            next_key,
            total_count: 0,
        }
        .encode_to_vec()
        .into())
    }
}

/// A database server as a database agent heartbeats it: named after its database.
fn database_server(db: DatabaseRecord, host_id: &str) -> DatabaseServerV3 {
    let metadata = |labels| Metadata {
        name: db.name.clone(),
        labels,
        ..Default::default()
    };
    DatabaseServerV3 {
        kind: DB_SERVER.into(),
        version: "v3".into(),
        metadata: Some(metadata(Default::default())),
        spec: Some(DatabaseServerSpecV3 {
            hostname: "lab".into(),
            host_id: host_id.to_string(),
            database: Some(DatabaseV3 {
                kind: "db".into(),
                version: "v3".into(),
                metadata: Some(metadata(db.labels.clone())),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

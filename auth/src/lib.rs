//! The lab auth service: an embedded, single-node auth service that speaks Teleport's wire
//! protocol over mTLS, with a SQLite store, for learning, demos, runbook rehearsal and tests.
//!
//! Start it with [`lab::serve`] (until a shutdown future resolves) or [`lab::spawn`] (in the
//! background); connect with the admin identity file it writes into the data dir
//! (`DATA_DIR/admin.identity`, TLS server name `teleport.cluster.local`, ALPN `h2`).
//!
//! What a client can rely on:
//! - Every RPC of `mwi_proto::method` is served with Teleport's semantics
//!   (teleport-behaviors.md §1–§2): CreateBot makes user and role `bot-NAME`; a `token` join
//!   token is spent only by a successful join; renewal checks the generation counter and, on a
//!   mismatch, creates the lock Teleport creates ([`lab::LockStyle`]); in-force locks refuse
//!   every call of the identities they target; revisions make UpdateRole/UpdateBot conditional.
//! - Resources (locks, roles, tokens) are stored as the bytes they arrived in, with only
//!   `metadata.revision` (and defaults Teleport fills in) changed, so fields the lab does not
//!   model come back unchanged. Bots are assembled from their user and role, as in Teleport.
//! - Errors carry Teleport's gRPC codes (gravitational/trace `trail.ToGRPC`): AccessDenied →
//!   `PermissionDenied`, CompareFailed (stale revision) → `FailedPrecondition`, NotFound,
//!   AlreadyExists, BadParameter → `InvalidArgument`; a call without a client certificate
//!   (other than RegisterUsingToken) → `Unauthenticated`; a request over 4 MiB →
//!   `ResourceExhausted`.
//! - Ping reports ServerVersion `18.0.0+lab` (`19.0.0+lab` with [`lab::LockStyle::Instance`]):
//!   build metadata marks the lab without lowering semver precedence.
//!
//! - Joining: `proto.JoinService/RegisterUsingToken` (one-time `token` tokens),
//!   `teleport.join.v1.JoinService/Join` (bidirectional stream; `token` and `bound_keypair`) and
//!   the legacy `proto.JoinService/RegisterUsingBoundKeypairMethod` stream. Bound-keypair joins
//!   follow Teleport's decision table (teleport-bound-keypair.md §5): challenges as compact JWS,
//!   recovery counting in three modes, rotation, join-state JWTs signed by the lab's
//!   `bound_keypair` CA (`DATA_DIR/bound_keypair_ca.key`, Ed25519, `kid` = key ID), and locks on
//!   the join token for a stale join state or a certificate generation mismatch.
//!
//! Lab-only: [`lab::seed_database`] registers a database server (Teleport learns them from its
//! database agents), so that database access of bots can be rehearsed; ListResources lists them
//! (`db_server` only). Locks on a `join_token`
//! are checked when joining; certificates do not carry the join token.

pub mod auth_host;
pub mod lab;

mod authz;
mod bots;
mod bound_keypair;
mod certs;
mod databases;
mod datadir;
mod error;
mod instance_index;
mod instances;
mod join;
mod join_stream;
mod locks;
mod pki;
mod policy;
mod proxy;
mod records;
mod roles;
mod rpc;
mod seed;
mod server;
mod sshca;
mod store;
mod tls;
mod tokens;
mod wire;

//! The lab auth service: an embedded, single-node auth service that speaks Teleport's wire
//! protocol over mTLS, with a SQLite store, for learning, demos, runbook rehearsal and tests.
//!
//! Start it with [`lab::serve`] (until a shutdown future resolves) or [`lab::spawn`] (in the
//! background); connect with the admin identity file it writes into the data dir.

pub mod lab;

mod authz;
mod bots;
mod certs;
mod datadir;
mod error;
mod instances;
mod join;
mod locks;
mod pki;
mod policy;
mod records;
mod roles;
mod rpc;
mod server;
mod sshca;
mod store;
mod tls;
mod tokens;
mod wire;

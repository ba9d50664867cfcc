//! Integration tests of the lab auth service: each starts a lab in a temp dir on a free
//! loopback port (`mwi_testkit::Lab`) and talks to it over mTLS with the generated Teleport
//! clients.

mod bots;
mod bound_keypair;
mod data_dir;
mod databases;
mod impersonation;
mod instances;
mod join;
mod locks;
mod proxy;
mod rbac;
mod roles;
mod tokens;
mod transport;

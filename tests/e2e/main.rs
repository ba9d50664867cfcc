//! End-to-end tests: start the lab on a free loopback port and run the real mwictl binary.

mod access;
mod bad_input;
mod bots;
mod client;
mod connection;
mod demo;
mod diagnose;
mod diagnose_input;
mod durability;
mod get;
mod harness;
mod incidents;
mod instances;
mod lab;
mod locks;
mod pipes;
mod recover;
mod recover_input;
mod recover_pty;
mod recover_resume;
mod recreate_resume;
mod roles;
mod stream;
mod tokens;
mod unlock;
mod verbs;

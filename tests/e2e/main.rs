//! End-to-end tests: start the lab on a free loopback port and run the real mwictl binary.

mod client;
mod connection;
mod fake_auth;
mod get;
mod harness;
mod lab;
mod stream;

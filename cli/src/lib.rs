//! mwictl as a library: every command's work lives here so tests can call it directly; the
//! binary (`main.rs`) only parses arguments and dispatches.

pub mod auth_host;
pub mod cli;
pub mod client;
pub mod commands;
pub mod connect;
pub mod context;
pub mod docs;
pub mod environment;
pub mod error;
pub mod exit;
pub mod home;
#[cfg(feature = "lab")]
pub mod lab;
pub mod logging;
pub mod ops;
pub mod output;
pub mod profile;
pub mod recover;
pub mod resource;
pub mod shell;
#[cfg(test)]
mod testing;
pub mod tsh;
pub mod upgrade;
pub mod webapi;

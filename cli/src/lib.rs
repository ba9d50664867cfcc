//! mwictl as a library: every command's work lives here so tests can call it directly; the
//! binary (`main.rs`) only parses arguments and dispatches.

pub mod resource;

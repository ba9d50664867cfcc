//! Fuzzes the bot instance query parser (`bots instances ls --query`, and the lab's
//! ListBotInstancesV2 `filter.query`): any text parses or gives an error that points inside it,
//! never a panic or a stack overflow; a query that parses evaluates on any instance.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mwi_diag::query::{Instance, Query};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Query::parse(&text) {
        Ok(query) => {
            let mut parts = text.split('\u{0}');
            let mut next = || parts.next().unwrap_or("");
            let instance = Instance {
                name: next(),
                bot_name: next(),
                instance_id: next(),
                hostname: next(),
                version: next(),
                os: next(),
                architecture: next(),
                one_shot: data.len() % 2 == 0,
                join_method: next(),
            };
            query.matches(&instance);
        }
        Err(e) => {
            if let Some(column) = e.column() {
                assert!(column >= 1 && column <= text.chars().count() + 1);
            }
        }
    }
});

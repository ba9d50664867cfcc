//! The demo's narration: a numbered line per step and a few indented lines saying what happened,
//! written to a sink (stderr in the command, a buffer in tests).

use std::sync::Mutex;

/// Where narration lines go.
pub type Sink = Box<dyn Fn(&str) + Send + Sync>;

/// Numbers the steps of a run of known length and indents their details.
pub struct Narrator {
    total: usize,
    sink: Sink,
    state: Mutex<State>,
}

struct State {
    step: usize,
    title: String,
}

impl Narrator {
    pub fn new(total: usize, sink: Sink) -> Narrator {
        Narrator {
            total,
            sink,
            state: Mutex::new(State {
                step: 0,
                title: String::new(),
            }),
        }
    }

    /// Starts the next step: `[n/N] title`.
    pub fn step(&self, title: &str) {
        let number = match self.state.lock() {
            Ok(mut state) => {
                state.step += 1;
                state.title = title.to_string();
                state.step
            }
            Err(_) => 0,
        };
        (self.sink)(&format!("[{number}/{}] {title}", self.total));
    }

    /// A line about the current step, indented under it.
    pub fn detail(&self, text: &str) {
        for line in text.lines() {
            (self.sink)(&format!("      {line}"));
        }
    }

    /// The current step's number and title, for naming a failed step.
    pub fn current(&self) -> (usize, String) {
        match self.state.lock() {
            Ok(state) => (state.step, state.title.clone()),
            Err(_) => (0, String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn steps_are_numbered_and_details_indented() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink_lines = lines.clone();
        let narrator = Narrator::new(
            2,
            Box::new(move |line: &str| sink_lines.lock().unwrap().push(line.to_string())),
        );
        narrator.step("Start a lab");
        narrator.detail("listening\non a port");
        narrator.step("Break it");
        assert_eq!(narrator.current(), (2, "Break it".to_string()));
        assert_eq!(
            *lines.lock().unwrap(),
            [
                "[1/2] Start a lab",
                "      listening",
                "      on a port",
                "[2/2] Break it"
            ]
        );
    }
}

//! Problems before any run starts (the command line, `tables.toml`, connecting), as `--json`
//! prints them: one JSON object on stdout, the stream a script already parses, so it never has
//! to scrape text from stderr to learn why nothing ran.

use serde::Serialize;

use crate::config::ConfigError;
use crate::contract::exit::EXIT_USAGE;

/// What kind of problem stopped dynashift before it ran anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StartupErrorKind {
    /// The command line is wrong (an unknown flag, `--table` naming no table).
    Usage,
    /// `tables.toml` is wrong.
    Config,
    /// An adapter could not be set up (the warehouse, AWS, a state file).
    Connect,
    /// Anything else that ended the process before or around the runs.
    Internal,
}

/// One problem in `tables.toml`, placed where its position is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlacedProblem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub hint: String,
}

/// The `{"event": "error", …}` object `--json` prints instead of the text message. `file`,
/// `line` and `column` are those of the first problem; `problems` lists all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartupError {
    /// Always `"error"`: the same tag field every JSON Lines event has.
    pub event: &'static str,
    pub kind: StartupErrorKind,
    /// The whole message, as the text output shows it.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<PlacedProblem>,
    /// The process's exit code (see `dynashift --help`).
    pub exit_code: u8,
}

impl StartupError {
    /// A problem of `kind` known only by its message.
    pub fn new(kind: StartupErrorKind, message: impl Into<String>, exit_code: u8) -> StartupError {
        StartupError {
            event: "error",
            kind,
            message: message.into(),
            hint: None,
            file: None,
            line: None,
            column: None,
            problems: Vec::new(),
            exit_code,
        }
    }

    /// A command-line problem (exit 2).
    pub fn usage(message: impl Into<String>) -> StartupError {
        StartupError::new(StartupErrorKind::Usage, message, EXIT_USAGE)
    }

    /// Every problem of a broken `tables.toml` (exit 2), the first one's place at the top.
    pub fn config(error: &ConfigError) -> StartupError {
        let problems: Vec<PlacedProblem> = error
            .problems
            .iter()
            .map(|p| PlacedProblem {
                line: p.line,
                column: p.column,
                message: p.message.clone(),
                hint: p.hint.clone(),
            })
            .collect();
        let first = problems.first();
        StartupError {
            hint: first.map(|p| p.hint.clone()),
            file: Some(error.file.display().to_string()),
            line: first.and_then(|p| p.line),
            column: first.and_then(|p| p.column),
            problems,
            ..StartupError::new(StartupErrorKind::Config, error.to_string().trim_end(), EXIT_USAGE)
        }
    }

    /// The object as one line of JSON.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a startup error always serializes")
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn a_config_error_carries_file_line_column_hint_and_exit_code() {
        let text = "[defaults]\nsource = \"demo\"\nbogus = 1\n";
        let error = crate::config::load_str(text, Path::new("/etc/t.toml")).unwrap_err();
        let json: serde_json::Value =
            serde_json::from_str(&StartupError::config(&error).to_json_line()).unwrap();
        assert_eq!(json["event"], "error");
        assert_eq!(json["kind"], "config");
        assert_eq!(json["file"], "/etc/t.toml");
        assert_eq!(json["line"], 3);
        assert_eq!(json["column"], 1);
        assert_eq!(json["exit_code"], 2);
        assert!(json["hint"].as_str().is_some_and(|h| !h.is_empty()), "{json}");
        assert!(json["message"].as_str().unwrap().starts_with("/etc/t.toml:3:1:"), "{json}");
        assert_eq!(json["problems"][0]["line"], json["line"]);
    }

    #[test]
    fn a_usage_error_has_no_place() {
        let json: serde_json::Value =
            serde_json::from_str(&StartupError::usage("--headless needs --table").to_json_line()).unwrap();
        assert_eq!(json["kind"], "usage");
        assert_eq!(json["exit_code"], 2);
        assert!(json.get("file").is_none() && json.get("problems").is_none(), "{json}");
    }
}

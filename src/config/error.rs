//! What a user sees when `tables.toml` is wrong.
//!
//! A config is checked completely before anything runs, and every problem found is reported at
//! once (fixing one error per run at 3 a.m. is misery). Each problem names the file, line and
//! column, quotes the offending line with carets under the culprit, and ends with a hint that says
//! what to change — the same shape rustc and the toml crate use, so it reads familiar.

use std::fmt;
use std::path::PathBuf;

/// One or more problems in a config file. `Display` renders all of them, one block each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    /// The config file, as the caller named it.
    pub file: PathBuf,
    /// Every problem found, in file order (problems without a position come last).
    pub problems: Vec<Problem>,
}

/// One problem: where, what, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// 1-based column in characters.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// The offending line, for display under the message.
    pub excerpt: Option<Excerpt>,
}

/// A source line with a marked range, shown under a problem's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The whole line, without its line break.
    pub text: String,
    /// Character offset of the first marked character within `text`.
    pub start: usize,
    /// Number of marked characters (at least 1; a caret at the line end marks the end itself).
    pub len: usize,
}

impl ConfigError {
    /// A problem with the file as a whole (it cannot be read, for instance).
    pub fn whole_file(file: impl Into<PathBuf>, message: impl Into<String>, hint: impl Into<String>) -> Self {
        let problem =
            Problem { line: None, column: None, message: message.into(), hint: hint.into(), excerpt: None };
        ConfigError { file: file.into(), problems: vec![problem] }
    }

    fn render(&self) -> String {
        let file = self.file.display().to_string();
        let mut out = String::new();
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&problem.render(&file));
        }
        if self.problems.len() > 1 {
            out.push_str(&format!(
                "\n{} problems in {file}; all of them must be fixed.",
                self.problems.len()
            ));
        }
        out
    }
}

impl Problem {
    /// `file:line:col: message`, the marked line, then `= hint: …`.
    fn render(&self, file: &str) -> String {
        let mut out = match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{file}:{line}:{column}: {}\n", self.message),
            (Some(line), None) => format!("{file}:{line}: {}\n", self.message),
            _ => format!("{file}: {}\n", self.message),
        };
        let gutter = self.line.map_or(0, |line| line.to_string().len());
        if let (Some(line), Some(excerpt)) = (self.line, &self.excerpt) {
            out.push_str(&excerpt.render(line, gutter));
        }
        out.push_str(&format!("{:gutter$} = hint: {}\n", "", self.hint));
        out
    }
}

impl Excerpt {
    /// The line under a `NN |` gutter and a caret line that keeps tabs, so carets stay aligned.
    fn render(&self, line: usize, gutter: usize) -> String {
        let indent: String =
            self.text.chars().take(self.start).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        let carets = "^".repeat(self.len.max(1));
        format!("{:gutter$} |\n{line} | {}\n{:gutter$} | {indent}{carets}\n", "", self.text, "")
    }
}

impl fmt::Display for Problem {
    /// A problem on its own, without the file name (for callers that show the file elsewhere).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{line}:{column}: {} (hint: {})", self.message, self.hint)
            }
            _ => write!(f, "{} (hint: {})", self.message, self.hint),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(line: usize, column: usize, text: &str, start: usize, len: usize) -> Problem {
        Problem {
            line: Some(line),
            column: Some(column),
            message: "column name \"Order ID\" contains a space".into(),
            hint: "use _ instead".into(),
            excerpt: Some(Excerpt { text: text.into(), start, len }),
        }
    }

    #[test]
    fn renders_location_excerpt_and_hint() {
        let error = ConfigError {
            file: "tables.toml".into(),
            problems: vec![placed(12, 12, "  { name = \"Order ID\" },", 11, 10)],
        };
        let expected = "tables.toml:12:12: column name \"Order ID\" contains a space\n   |\n12 |   { name = \
                        \"Order ID\" },\n   |            ^^^^^^^^^^\n   = hint: use _ instead\n";
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn carets_follow_tabs_in_the_source_line() {
        let error =
            ConfigError { file: "t.toml".into(), problems: vec![placed(3, 10, "\tname = \"X\"", 8, 3)] };
        let rendered = error.to_string();
        assert!(rendered.contains("\n  | \t       ^^^\n"), "{rendered}");
    }

    #[test]
    fn several_problems_are_counted_and_separated() {
        let one = placed(1, 1, "a = 1", 0, 1);
        let error = ConfigError { file: "t.toml".into(), problems: vec![one.clone(), one] };
        let rendered = error.to_string();
        assert_eq!(rendered.matches("t.toml:1:1:").count(), 2);
        assert!(rendered.ends_with("2 problems in t.toml; all of them must be fixed."), "{rendered}");
    }

    #[test]
    fn whole_file_problems_have_no_position() {
        let error = ConfigError::whole_file("missing.toml", "cannot read it", "create it");
        assert_eq!(error.to_string(), "missing.toml: cannot read it\n = hint: create it\n");
    }
}

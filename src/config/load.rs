//! Loading `tables.toml`: read the file, parse, read every value, validate, and either return the
//! [`Config`] or every problem found. Nothing here touches anything but the config file itself.

use std::io::ErrorKind;
use std::path::Path;

use toml::de::DeTable;

use super::issues::Issues;
use super::location::base_dir_of;
use super::raw::read_config;
use super::source_map::SourceMap;
use super::syntax::syntax_issue;
use super::validate::validate;
use super::{Config, ConfigError};

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| unreadable(path, &error))?;
    load_str(&text, path)
}

/// Validates `text` as the contents of `path` (which need not exist): relative paths in it
/// resolve against `path`'s folder, and messages name `path`.
pub fn load_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let map = SourceMap::new(text);
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    let issues = Issues::default();
    if !syntax_errors.is_empty() {
        syntax_errors.iter().for_each(|error| issues.push(syntax_issue(error)));
        return Err(map.error(path, issues.into_sorted()));
    }
    let raw = read_config(document.get_ref(), &issues);
    let config = validate(&raw, path, &base_dir_of(path), &issues);
    match config {
        Some(config) if issues.is_empty() => Ok(config),
        _ => Err(map.error(path, issues.into_sorted())),
    }
}

fn unreadable(path: &Path, error: &std::io::Error) -> ConfigError {
    let (message, hint) = match error.kind() {
        ErrorKind::NotFound => ("there is no such file".to_owned(), "create it or pass --config PATH"),
        ErrorKind::InvalidData => ("is not UTF-8 text".to_owned(), "save the file as UTF-8"),
        ErrorKind::IsADirectory => {
            ("is a folder, not a file".to_owned(), "pass the file itself with --config PATH")
        }
        _ => {
            (format!("cannot be read: {error}"), "check the path and its permissions, or pass --config PATH")
        }
    };
    ConfigError::whole_file(path, message, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "[[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n";

    #[test]
    fn a_byte_order_mark_and_crlf_line_ends_are_accepted() {
        let text = format!("\u{FEFF}{}", TABLE.replace('\n', "\r\n"));
        let config = load_str(&text, Path::new("/c/tables.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.tables[0].name, "customers");
    }

    #[test]
    fn every_syntax_error_is_reported_and_nothing_else() {
        let text = format!("[demo]\nseed = \"1\"\nspeed = fast\nx = [1,\n{TABLE}");
        let error = load_str(&text, Path::new("t.toml")).unwrap_err();
        assert!(error.problems.len() >= 2, "{error}");
        assert!(error.problems.iter().all(|p| p.message.starts_with("TOML syntax error")), "{error}");
        assert_eq!(error.problems[0].line, Some(3));
    }

    #[test]
    fn reading_a_folder_says_so() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = load(dir.path()).unwrap_err();
        assert_eq!(error.problems[0].hint, "pass the file itself with --config PATH");
    }

    #[test]
    fn a_file_on_disk_loads_relative_to_its_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tables.toml");
        std::fs::write(&path, TABLE).expect("write config");
        let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
        let base = dir.path().canonicalize().expect("canonical");
        assert_eq!(config.base_dir, base);
        assert_eq!(config.demo.state_dir, base.join(".dynashift/demo"));
    }
}

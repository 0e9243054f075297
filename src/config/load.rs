//! PLACEHOLDER (config helper replaces this file).
use std::path::Path;

use super::{Config, ConfigError};

pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError { message: e.to_string() })?;
    load_str(&text, path)
}

pub fn load_str(_text: &str, _path: &Path) -> Result<Config, ConfigError> {
    Err(ConfigError { message: "placeholder".into() })
}

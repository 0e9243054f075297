//! PLACEHOLDER (config helper replaces this file).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub message: String,
}

//! What can go wrong with the demo's local state, naming the file and what to do about it.

use std::path::{Path, PathBuf};

use crate::source::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo state {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A state file that does not parse: written by another version, or damaged by hand.
    #[error(
        "demo state {} is damaged ({detail}); delete the folder {} to start the demo table over",
        path.display(),
        folder.display()
    )]
    Damaged { path: PathBuf, folder: PathBuf, detail: String },
    /// The table's history was generated with other settings than the configuration now says.
    #[error(
        "the demo table's history in {} was generated with {setting} = {recorded}, but [demo] now says \
         {configured}; set it back, or delete that folder to start the demo table over",
        folder.display()
    )]
    SettingsChanged { folder: PathBuf, setting: &'static str, recorded: String, configured: String },
    /// An instant before the oldest the compacted history keeps.
    #[error(
        "the demo table's history in {} starts at {kept_from} (older writes are compacted away, like \
         point-in-time recovery data past its recovery period); {asked} is before it: ask for a later instant",
        folder.display()
    )]
    Compacted {
        folder: PathBuf,
        asked: chrono::DateTime<chrono::Utc>,
        kept_from: chrono::DateTime<chrono::Utc>,
    },
}

impl DemoError {
    /// An I/O error on `path`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
        move |source| DemoError::Io { path: path.to_owned(), source }
    }

    /// A file under `folder` that does not hold what it should.
    pub fn damaged(path: &Path, folder: &Path, detail: impl std::fmt::Display) -> DemoError {
        DemoError::Damaged { path: path.to_owned(), folder: folder.to_owned(), detail: detail.to_string() }
    }
}

impl From<DemoError> for SourceError {
    fn from(err: DemoError) -> SourceError {
        match err {
            DemoError::Io { .. } => SourceError::Other(err.to_string()),
            DemoError::Damaged { .. } | DemoError::SettingsChanged { .. } | DemoError::Compacted { .. } => {
                SourceError::Invalid(err.to_string())
            }
        }
    }
}

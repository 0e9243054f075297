//! Per-process sharing of demo state by folder.
//!
//! The simulated clock runs "while a process runs", and a table's history index is costly to
//! rebuild; both must therefore outlive any one `DemoSource`, which the wiring may create per
//! run. Each is kept here, once per folder, for the life of the process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One `T` per folder, created on first use and kept for the life of the process.
pub(super) struct ProcessShared<T> {
    entries: Mutex<BTreeMap<PathBuf, Arc<T>>>,
}

impl<T> ProcessShared<T> {
    pub(super) const fn new() -> ProcessShared<T> {
        ProcessShared { entries: Mutex::new(BTreeMap::new()) }
    }

    /// The `T` of `folder`, made by `make` the first time.
    pub(super) fn get_or_try_insert<E>(
        &self,
        folder: &Path,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(existing) = entries.get(folder) {
            return Ok(existing.clone());
        }
        let made = Arc::new(make()?);
        entries.insert(folder.to_owned(), made.clone());
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_per_folder_and_failures_are_not_kept() {
        let shared: ProcessShared<u32> = ProcessShared::new();
        let a = shared.get_or_try_insert::<()>(Path::new("/a"), || Ok(1)).unwrap();
        let again = shared.get_or_try_insert::<()>(Path::new("/a"), || Ok(2)).unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(shared.get_or_try_insert(Path::new("/b"), || Err("no")), Err("no"));
        assert_eq!(*shared.get_or_try_insert::<()>(Path::new("/b"), || Ok(3)).unwrap(), 3);
    }
}

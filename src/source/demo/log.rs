//! The write log of a demo table: `writes.jsonl`, one JSON line per write, append-only, in
//! timestamp order. A write stores the item's whole new image (or `null` for a delete), so any
//! state is "the last write of each key before T" and one line is read to know an item.
//!
//! Appends are buffered in memory until [`WriteLog::commit`]; everything past the committed
//! length (recorded in the table's meta file) is a crashed writer's tail and is cut off.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::error::DemoError;
use super::files::private_options;
use crate::ddb::Item;

/// One write, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct WriteRecord {
    /// Write timestamp, microseconds since the epoch.
    #[serde(rename = "ts_micros")]
    pub ts: i64,
    /// The key attributes of the item written.
    pub keys: Item,
    /// The item after the write; `None` for a delete.
    pub image: Option<Item>,
}

/// What the index needs of a line; the image is skipped, not built.
#[derive(Debug, Deserialize)]
pub(super) struct WriteHeader {
    #[serde(rename = "ts_micros")]
    pub ts: i64,
    pub keys: Item,
    pub image: Option<IgnoredAny>,
}

/// Where a line is in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Location {
    pub offset: u64,
    pub len: u32,
}

/// Pending bytes that are moved into the file without waiting for the commit.
const PENDING_LIMIT: usize = 4 << 20;

pub(super) struct WriteLog {
    path: PathBuf,
    /// The table's state folder, named in errors about damaged content.
    folder: PathBuf,
    file: File,
    /// Bytes in the file (all written lines, committed or not yet).
    written: u64,
    /// Appended lines not yet in the file.
    pending: Vec<u8>,
}

impl WriteLog {
    /// Opens (creating) the log at `path`.
    pub(super) fn open(path: &Path, folder: &Path) -> Result<WriteLog, DemoError> {
        let file = private_options().read(true).write(true).create(true).truncate(false).open(path);
        let file = file.map_err(DemoError::io(path))?;
        let written = file.metadata().map_err(DemoError::io(path))?.len();
        Ok(WriteLog { path: path.to_owned(), folder: folder.to_owned(), file, written, pending: Vec::new() })
    }

    /// The length the log has once pending lines are written.
    pub(super) fn len(&self) -> u64 {
        self.written + self.pending.len() as u64
    }

    /// Bytes actually in the file.
    pub(super) fn file_len(&self) -> Result<u64, DemoError> {
        Ok(self.file.metadata().map_err(DemoError::io(&self.path))?.len())
    }

    /// Cuts the log to `len` bytes, dropping pending lines and anything a crashed writer left.
    pub(super) fn truncate(&mut self, len: u64) -> Result<(), DemoError> {
        self.pending.clear();
        self.file.set_len(len).map_err(DemoError::io(&self.path))?;
        self.written = len;
        Ok(())
    }

    /// Appends a write; it can be read back at once, and is durable after [`WriteLog::commit`].
    /// Pending lines go to the file (uncommitted) every [`PENDING_LIMIT`] bytes, so generating a
    /// million items does not hold them all.
    pub(super) fn append(&mut self, record: &WriteRecord) -> Result<Location, DemoError> {
        let offset = self.len();
        serde_json::to_writer(&mut self.pending, record).expect("write records always serialize");
        self.pending.push(b'\n');
        let len = (self.len() - offset) as u32;
        if self.pending.len() >= PENDING_LIMIT {
            self.write_pending()?;
        }
        Ok(Location { offset, len })
    }

    /// Writes pending lines and syncs them to disk; returns the durable length.
    pub(super) fn commit(&mut self) -> Result<u64, DemoError> {
        self.write_pending()?;
        self.file.sync_data().map_err(DemoError::io(&self.path))?;
        Ok(self.written)
    }

    /// Moves pending lines into the file (past the committed length until the next commit).
    fn write_pending(&mut self) -> Result<(), DemoError> {
        if !self.pending.is_empty() {
            self.file.seek(SeekFrom::Start(self.written)).map_err(DemoError::io(&self.path))?;
            self.file.write_all(&self.pending).map_err(DemoError::io(&self.path))?;
            self.written += self.pending.len() as u64;
            self.pending.clear();
        }
        Ok(())
    }

    /// Reads the write at `at`.
    pub(super) fn read(&mut self, at: Location) -> Result<WriteRecord, DemoError> {
        let mut line = vec![0u8; at.len as usize];
        if at.offset >= self.written {
            let start = (at.offset - self.written) as usize;
            line.copy_from_slice(&self.pending[start..start + at.len as usize]);
        } else {
            self.file.seek(SeekFrom::Start(at.offset)).map_err(DemoError::io(&self.path))?;
            self.file.read_exact(&mut line).map_err(DemoError::io(&self.path))?;
        }
        serde_json::from_slice(&line)
            .map_err(|e| DemoError::damaged(&self.path, &self.folder, format!("at byte {}: {e}", at.offset)))
    }

    /// The bytes of the line at `at`, newline included, as stored.
    pub(super) fn read_raw(&mut self, at: Location) -> Result<Vec<u8>, DemoError> {
        self.write_pending()?;
        let mut line = vec![0u8; at.len as usize];
        self.file.seek(SeekFrom::Start(at.offset)).map_err(DemoError::io(&self.path))?;
        self.file.read_exact(&mut line).map_err(DemoError::io(&self.path))?;
        Ok(line)
    }

    /// Copies bytes `from..to` of the file into `out`.
    pub(super) fn copy_range(&mut self, from: u64, to: u64, out: &mut impl Write) -> Result<(), DemoError> {
        self.write_pending()?;
        self.file.seek(SeekFrom::Start(from)).map_err(DemoError::io(&self.path))?;
        let copied =
            std::io::copy(&mut (&self.file).take(to - from), out).map_err(DemoError::io(&self.path))?;
        if copied != to - from {
            return Err(DemoError::damaged(&self.path, &self.folder, format!("it ends before byte {to}")));
        }
        Ok(())
    }

    /// Passes each line in bytes `from..to` of the file, with its location, in order, to `each`
    /// (one at a time: indexing a million-item log must not hold its headers).
    pub(super) fn scan(
        &mut self,
        from: u64,
        to: u64,
        mut each: impl FnMut(Location, WriteHeader) -> Result<(), DemoError>,
    ) -> Result<(), DemoError> {
        self.file.seek(SeekFrom::Start(from)).map_err(DemoError::io(&self.path))?;
        let mut reader = BufReader::new((&self.file).take(to - from));
        let mut offset = from;
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = reader.read_until(b'\n', &mut line).map_err(DemoError::io(&self.path))?;
            if read == 0 {
                return Ok(());
            }
            let header: WriteHeader = serde_json::from_slice(&line).map_err(|e| {
                DemoError::damaged(&self.path, &self.folder, format!("at byte {offset}: {e}"))
            })?;
            each(Location { offset, len: read as u32 }, header)?;
            offset += read as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddb::AttributeValue as V;

    fn scan_all(log: &mut WriteLog, from: u64, to: u64) -> Result<Vec<(Location, WriteHeader)>, DemoError> {
        let mut lines = Vec::new();
        log.scan(from, to, |at, header| {
            lines.push((at, header));
            Ok(())
        })?;
        Ok(lines)
    }

    fn record(ts: i64, image: bool) -> WriteRecord {
        let keys = Item::from([("id".into(), V::S(format!("k{ts}")))]);
        let image = image.then(|| {
            let mut item = keys.clone();
            item.insert("n".into(), V::N(ts.to_string()));
            item
        });
        WriteRecord { ts, keys, image }
    }

    #[test]
    fn appended_writes_read_back_before_and_after_commit() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = WriteLog::open(&dir.path().join("writes.jsonl"), dir.path()).unwrap();
        let first = log.append(&record(1, true)).unwrap();
        assert_eq!(log.read(first).unwrap(), record(1, true), "pending lines are readable");
        assert_eq!(log.commit().unwrap(), log.len());
        let second = log.append(&record(2, false)).unwrap();
        assert_eq!(log.read(first).unwrap(), record(1, true));
        assert_eq!(log.read(second).unwrap(), record(2, false));
        let committed = log.commit().unwrap();

        let mut reopened = WriteLog::open(&dir.path().join("writes.jsonl"), dir.path()).unwrap();
        let scanned = scan_all(&mut reopened, 0, committed).unwrap();
        assert_eq!(scanned.len(), 2);
        assert_eq!(scanned[0].0, first);
        assert_eq!((scanned[1].1.ts, scanned[1].1.image.is_some()), (2, false));
        assert_eq!(reopened.read(second).unwrap(), record(2, false));
    }

    #[test]
    fn truncation_drops_a_crashed_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writes.jsonl");
        let mut log = WriteLog::open(&path, dir.path()).unwrap();
        log.append(&record(1, true)).unwrap();
        let committed = log.commit().unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"ts_micros\":2,\"ke")
            .unwrap();
        let mut log = WriteLog::open(&path, dir.path()).unwrap();
        assert!(log.file_len().unwrap() > committed);
        log.truncate(committed).unwrap();
        let len = log.len();
        assert_eq!(scan_all(&mut log, 0, len).unwrap().len(), 1);
    }

    #[test]
    fn a_long_generation_spills_to_the_file_before_its_commit_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writes.jsonl");
        let mut log = WriteLog::open(&path, dir.path()).unwrap();
        let big = |ts| {
            let mut r = record(ts, true);
            r.image.as_mut().unwrap().insert("pad".into(), V::S("x".repeat(100_000)));
            r
        };
        let locations: Vec<Location> = (0..60).map(|ts| log.append(&big(ts)).unwrap()).collect();
        assert!(log.file_len().unwrap() > 0, "pending lines reached the file");
        assert!(log.pending.len() < PENDING_LIMIT);
        assert_eq!(log.read(locations[0]).unwrap(), big(0));
        assert_eq!(log.read(locations[59]).unwrap(), big(59));
        // Uncommitted, the spilled lines are a crashed writer's tail.
        let mut reopened = WriteLog::open(&path, dir.path()).unwrap();
        reopened.truncate(0).unwrap();
        assert_eq!(reopened.file_len().unwrap(), 0);
    }

    #[test]
    fn a_damaged_line_names_the_file_and_the_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writes.jsonl");
        std::fs::write(&path, "garbage\n").unwrap();
        let mut log = WriteLog::open(&path, dir.path()).unwrap();
        let err = scan_all(&mut log, 0, 8).unwrap_err().to_string();
        assert!(err.contains("writes.jsonl") && err.contains("at byte 0"), "{err}");
    }
}

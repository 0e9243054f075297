//! Streaming one export data file: store object → MD5 and byte count of the compressed bytes →
//! gzip → lines. Runs on a blocking worker thread; the async store is bridged with
//! `SyncIoBridge`, so nothing of the file is held beyond a few buffers.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;
use md5::{Digest as _, Md5};
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;

use crate::store::{ObjectReader, ObjectStore, StoreError};

use super::checksum::digest_base64;
use super::error::StageError;

/// Read buffer sizes: large enough that per-read overhead (a bridge round trip to the runtime,
/// a decompressor call) disappears next to the work per byte.
const COMPRESSED_BUFFER: usize = 256 * 1024;
const DECOMPRESSED_BUFFER: usize = 256 * 1024;

/// Longest data line read. A DynamoDB item is at most 400 KB (Amazon DynamoDB Developer Guide,
/// "Service, account, and table quotas": item size), and its export line (an incremental line
/// holds the keys, the new and the old image) stays well under this; anything longer is refused
/// while reading, before it is buffered whole.
pub(super) const MAX_LINE_BYTES: usize = 2 * 1024 * 1024;

type Source = SyncIoBridge<ObjectReader>;
type Lines = BufReader<MultiGzDecoder<BufReader<ChecksumReader<Source>>>>;

/// What was read of a data file, for verification against its manifest entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileDigest {
    /// Compressed bytes.
    pub bytes: u64,
    pub md5_base64: String,
}

/// The lines of one data file.
pub(super) struct DataFileReader {
    key: String,
    lines: Lines,
    /// Physical line number of the last line returned (1-based).
    line_number: u64,
}

impl DataFileReader {
    /// Opens `key`; a missing object is [`StageError::MissingDataFile`].
    pub(super) fn open(
        store: &dyn ObjectStore,
        handle: &Handle,
        key: &str,
    ) -> Result<DataFileReader, StageError> {
        let object = handle.block_on(store.open(key)).map_err(|e| match e {
            StoreError::NotFound { .. } => StageError::MissingDataFile { key: key.into() },
            other => StageError::Store(other),
        })?;
        let source = SyncIoBridge::new_with_handle(object, handle.clone());
        let compressed = BufReader::with_capacity(COMPRESSED_BUFFER, ChecksumReader::new(source));
        let lines = BufReader::with_capacity(DECOMPRESSED_BUFFER, MultiGzDecoder::new(compressed));
        Ok(DataFileReader { key: key.into(), lines, line_number: 0 })
    }

    pub(super) fn key(&self) -> &str {
        &self.key
    }

    /// Physical line number of the last line read (1-based), for error messages.
    pub(super) fn line_number(&self) -> u64 {
        self.line_number
    }

    /// Compressed bytes read so far.
    pub(super) fn compressed_bytes(&self) -> u64 {
        self.checksum().bytes
    }

    /// Reads the next non-blank line into `line` (without its line break); `false` at the end.
    /// A line longer than [`MAX_LINE_BYTES`] is [`StageError::LineTooLong`].
    pub(super) fn read_line(&mut self, line: &mut Vec<u8>) -> Result<bool, StageError> {
        loop {
            line.clear();
            let read = self.read_bounded(line)?;
            if read == 0 {
                return Ok(false);
            }
            self.line_number += 1;
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            if line.len() > MAX_LINE_BYTES {
                let (key, line) = (self.key.clone(), self.line_number);
                return Err(StageError::LineTooLong { key, line, limit: MAX_LINE_BYTES });
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Ok(true);
            }
        }
    }

    /// `read_until(b'\n')`, but giving up once the line passes [`MAX_LINE_BYTES`].
    fn read_bounded(&mut self, line: &mut Vec<u8>) -> Result<usize, StageError> {
        let mut read = 0;
        loop {
            let available = match self.lines.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return self.end_of_empty_object(error),
            };
            if available.is_empty() {
                return Ok(read);
            }
            let (taken, done) = match memchr::memchr(b'\n', available) {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            if line.len() + taken > MAX_LINE_BYTES + 2 {
                return Err(StageError::LineTooLong {
                    key: self.key.clone(),
                    line: self.line_number + 1,
                    limit: MAX_LINE_BYTES,
                });
            }
            line.extend_from_slice(&available[..taken]);
            self.lines.consume(taken);
            read += taken;
            if done {
                return Ok(read);
            }
        }
    }

    /// Reads whatever is left of the object (so the checksum covers every byte) and returns the
    /// byte count and MD5.
    pub(super) fn finish(self) -> Result<FileDigest, StageError> {
        let key = self.key;
        let mut checksum = self.lines.into_inner().into_inner().into_inner();
        io::copy(&mut checksum, &mut io::sink()).map_err(|source| StageError::Read { key, source })?;
        Ok(FileDigest { bytes: checksum.bytes, md5_base64: digest_base64(&checksum.md5.finalize()) })
    }

    fn checksum(&self) -> &ChecksumReader<Source> {
        self.lines.get_ref().get_ref().get_ref()
    }

    /// A zero-byte object has no gzip header; it holds no lines rather than being corrupt. Every
    /// other read error is classified as the store's fault or the file's.
    fn end_of_empty_object(&self, error: io::Error) -> Result<usize, StageError> {
        let checksum = self.checksum();
        if checksum.bytes == 0
            && checksum.source_error.is_none()
            && error.kind() == io::ErrorKind::UnexpectedEof
        {
            return Ok(0);
        }
        let key = self.key.clone();
        Err(if checksum.source_error.is_some() {
            StageError::Read { key, source: error }
        } else {
            StageError::CorruptGzip { key, source: error }
        })
    }
}

/// Hashes and counts the bytes that pass through, and remembers whether the source itself failed
/// (so a store error is not reported as a corrupt file).
struct ChecksumReader<R> {
    inner: R,
    md5: Md5,
    bytes: u64,
    source_error: Option<io::ErrorKind>,
}

impl<R> ChecksumReader<R> {
    fn new(inner: R) -> ChecksumReader<R> {
        ChecksumReader { inner, md5: Md5::new(), bytes: 0, source_error: None }
    }
}

impl<R: Read> Read for ChecksumReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.md5.update(&buf[..n]);
                self.bytes += n as u64;
                Ok(n)
            }
            Err(error) => {
                if error.kind() != io::ErrorKind::Interrupted {
                    self.source_error = Some(error.kind());
                }
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stage::checksum::md5_base64;
    use crate::pipeline::stage::testing::{gzip, store_in};

    async fn read_all(
        store: &crate::store::LocalStore,
        key: &str,
    ) -> Result<(Vec<String>, FileDigest), StageError> {
        let store = store.clone();
        let key = key.to_owned();
        let handle = Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut reader = DataFileReader::open(&store, &handle, &key)?;
            let mut lines = Vec::new();
            let mut line = Vec::new();
            while reader.read_line(&mut line)? {
                lines.push(format!("{}:{}", reader.line_number(), String::from_utf8(line.clone()).unwrap()));
            }
            Ok((lines, reader.finish()?))
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_lines_and_checksums_the_compressed_bytes() {
        let (_dir, store) = store_in();
        let object = gzip(b"{\"a\":1}\r\n\n   \n{\"b\":2}\n{\"c\":3}");
        store.put("d/f.json.gz", object.clone()).await.unwrap();
        let (lines, digest) = read_all(&store, "d/f.json.gz").await.unwrap();
        assert_eq!(lines, [r#"1:{"a":1}"#, r#"4:{"b":2}"#, r#"5:{"c":3}"#]);
        assert_eq!(digest, FileDigest { bytes: object.len() as u64, md5_base64: md5_base64(&object) });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_concatenated_gzip_members() {
        let (_dir, store) = store_in();
        let mut object = gzip(b"{\"a\":1}\n");
        object.extend(gzip(b"{\"b\":2}\n"));
        store.put("d/multi.json.gz", object).await.unwrap();
        let (lines, _) = read_all(&store, "d/multi.json.gz").await.unwrap();
        assert_eq!(lines.len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn empty_files_have_no_lines() {
        let (_dir, store) = store_in();
        store.put("d/empty-gzip.json.gz", gzip(b"")).await.unwrap();
        store.put("d/zero-bytes.json.gz", Vec::new()).await.unwrap();
        assert!(read_all(&store, "d/empty-gzip.json.gz").await.unwrap().0.is_empty());
        let (lines, digest) = read_all(&store, "d/zero-bytes.json.gz").await.unwrap();
        assert!(lines.is_empty());
        assert_eq!(digest.bytes, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corrupt_and_truncated_gzip_are_reported_as_such() {
        let (_dir, store) = store_in();
        store.put("d/plain.json.gz", b"{\"not\":\"gzip\"}\n".to_vec()).await.unwrap();
        let error = read_all(&store, "d/plain.json.gz").await.unwrap_err();
        assert!(matches!(&error, StageError::CorruptGzip { key, .. } if key == "d/plain.json.gz"), "{error}");
        let whole = gzip(&b"{\"a\":1}\n".repeat(1000));
        store.put("d/cut.json.gz", whole[..whole.len() / 2].to_vec()).await.unwrap();
        let error = read_all(&store, "d/cut.json.gz").await.unwrap_err();
        assert!(matches!(error, StageError::CorruptGzip { .. }), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_line_over_the_limit_is_refused_while_reading() {
        let (_dir, store) = store_in();
        let exact = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_LINE_BYTES - 8));
        assert_eq!(exact.len(), MAX_LINE_BYTES);
        let text = format!("{{}}\n{exact}\r\n{exact}x\n{{}}\n");
        store.put("d/long.json.gz", gzip(text.as_bytes())).await.unwrap();
        let error = read_all(&store, "d/long.json.gz").await.unwrap_err();
        assert!(matches!(&error, StageError::LineTooLong { line: 3, .. }), "{error}");
        assert!(
            error.to_string().contains("`d/long.json.gz`, line 3: the line is longer than 2 MiB"),
            "{error}"
        );
        assert!(error.to_string().contains("400 KB"), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missing_objects_are_missing_data_files() {
        let (_dir, store) = store_in();
        let error = read_all(&store, "d/none.json.gz").await.unwrap_err();
        assert!(matches!(&error, StageError::MissingDataFile { key } if key == "d/none.json.gz"), "{error}");
    }
}

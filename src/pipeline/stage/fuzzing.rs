//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz) and for the replay of their corpus
//! in `cargo test`: each feeds arbitrary bytes to one reader of untrusted input and panics only
//! when an invariant breaks. Not an API: hidden from the docs, used by the fuzz harness alone.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use crate::config::TableConfig;
use crate::contract::StageRules;
use crate::source::{ExportDescription, ExportSpec, ExportStatus};
use crate::store::{ObjectMeta, ObjectReader, ObjectStore, StoreError};
use crate::warehouse::shape::TableShape;
use crate::warehouse::staged_lines::LineDecoder;

use super::diagnose::{failing_path, lenient_key};
use super::error::MAX_QUOTED_CHARS;
use super::image::Map;
use super::key_checks::{KeyDigests, KeyTypes, LaneDigests};
use super::key_origin::Origin;
use super::lines::{ChangeLine, FullItemLine, item_key, key_problem, keys_disagree};
use super::map::RowMapper;
use super::scan::Scanned;

/// The table the export-line target stages into: text, number, super and whole-item columns,
/// under Redshift's rules and `on_type_error = "null"`, so every mapping path runs.
const TABLE: &str = r#"
[warehouse]
kind = "sqlite"
path = "w.sqlite"

[[table]]
name = "fuzz"
bucket = "file://bucket"
source = "exports"
prefix = "t"
on_type_error = "null"
unmapped = "keep"
key = ["pk", "sk"]
columns = [
  { name = "pk", type = "varchar(256)" },
  { name = "sk", type = "decimal(38,0)" },
  { name = "n", type = "decimal(38,10)" },
  { name = "d", type = "double precision" },
  { name = "t", type = "timestamptz" },
  { name = "b", type = "boolean" },
  { name = "doc", path = "doc.inner", type = "super" },
]
"#;

fn table() -> &'static TableConfig {
    static TABLE_CONFIG: OnceLock<TableConfig> = OnceLock::new();
    TABLE_CONFIG.get_or_init(|| {
        let config =
            crate::config::load_str(TABLE, Path::new("tables.toml")).expect("the fuzz table is valid");
        config.tables[0].clone()
    })
}

/// One export data line, full or incremental: parsed, checked and mapped as staging does.
pub fn export_line(bytes: &[u8]) {
    let table = table();
    let mapper = RowMapper::with_rules(table, StageRules::REDSHIFT);
    let full = serde_json::from_slice::<FullItemLine<'_>>(bytes);
    scanner_agrees(bytes, &full);
    match full {
        Ok(FullItemLine { item }) => stage_image(table, &mapper, &item, None),
        Err(_) => check_diagnosis::<FullItemLine<'_>>(bytes, &table.key),
    }
    let change = serde_json::from_slice::<ChangeLine<'_>>(bytes);
    scanner_agrees(bytes, &change);
    match change {
        Ok(change) => {
            let _ = change.write_micros();
            let _ = key_problem(&change.keys, &table.key, "Keys");
            match &change.new_image {
                Some(image) => {
                    let _ = keys_disagree(&change.keys, image, &table.key);
                    stage_image(table, &mapper, image, Some(1));
                }
                None if key_problem(&change.keys, &table.key, "Keys").is_none() => {
                    let mut out = Vec::new();
                    if mapper.write_delete(&mut out, &change.keys, 1).is_ok() {
                        assert_json_line(&out);
                    }
                }
                None => {}
            }
        }
        Err(_) => check_diagnosis::<ChangeLine<'_>>(bytes, &table.key),
    }
}

/// The fast scanner reads a line only as serde_json does: the same value, never a line that
/// serde_json refuses.
fn scanner_agrees<'a, T: Scanned<'a> + PartialEq + std::fmt::Debug>(
    bytes: &'a [u8],
    parsed: &Result<T, serde_json::Error>,
) {
    match (T::scan(bytes), parsed) {
        (Some(scanned), Ok(parsed)) => assert_eq!(&scanned, parsed, "the scanner and serde_json agree"),
        (Some(scanned), Err(error)) => panic!("the scanner read {scanned:?} where serde_json says {error}"),
        (None, _) => {}
    }
}

fn stage_image(table: &TableConfig, mapper: &RowMapper, image: &Map<'_>, micros: Option<i64>) {
    // The borrowed form agrees with the owned one wherever both read the image.
    let owned = image.to_item();
    assert_eq!(&Map::of(&owned), image, "borrowed and owned items agree");
    if key_problem(image, &table.key, "Item").is_some() {
        return;
    }
    let key = item_key(image, &table.key).expect("a key without problems is complete");
    assert_eq!(Some(key), crate::ddb::ItemKey::of(&owned, &table.key));
    // Without types from tables.toml the first line sets them; with them (the fuzz table types
    // `sk` as a number) a line may contradict them, which must only be reported.
    let untyped = KeyTypes::new(&table.key, &[]);
    assert_eq!(untyped.check(image, &table.key, "Item", "f", 1), None, "the first line sets the types");
    let _ = KeyTypes::new(&table.key, &table.key_types).check(image, &table.key, "Item", "f", 1);
    let digests = KeyDigests::new(true);
    let origin = Origin { file: digests.file_index("f"), line: 1 };
    let mut lane = LaneDigests::default();
    digests.record(&mut lane, image, &table.key, origin).unwrap();
    digests.absorb(std::mem::take(&mut lane));
    assert_eq!(digests.first_clash().unwrap(), None);
    digests.record(&mut lane, image, &table.key, origin).unwrap();
    digests.record(&mut lane, image, &table.key, origin).unwrap();
    digests.absorb(lane);
    assert!(digests.first_clash().unwrap().is_some(), "a key seen twice clashes");
    let mut out = Vec::new();
    if mapper.write_upsert(&mut out, image, micros).is_ok() {
        assert_json_line(&out);
    } else {
        assert!(out.is_empty(), "a failed line leaves nothing behind");
    }
}

/// A staged line is one line of JSON, which a load reads through its one-pass scanner exactly
/// as through serde_json.
fn assert_json_line(out: &[u8]) {
    let line = out.strip_suffix(b"\n").expect("a staged line ends with a newline");
    assert!(!line.contains(&b'\n'), "one staged line per change");
    serde_json::from_slice::<serde_json::Value>(line).expect("a staged line is JSON");
    let text = std::str::from_utf8(out).expect("a staged line is UTF-8");
    let decoder = line_decoder();
    let any = decoder.decode_any(text).unwrap_or_else(|e| panic!("a load cannot read {text}: {e}"));
    assert_eq!(decoder.decode_as_staged(text), Some(any), "{text}");
}

fn line_decoder() -> &'static LineDecoder {
    static DECODER: OnceLock<LineDecoder> = OnceLock::new();
    DECODER.get_or_init(|| LineDecoder::new(&TableShape::of(table())))
}

/// One staged line, as a load reads it: whatever the one-pass scanner decodes, serde_json
/// decodes the same; and no line panics either reader.
pub fn staged_line(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    let decoder = line_decoder();
    let any = decoder.decode_any(text);
    if let Some(scanned) = decoder.decode_as_staged(text) {
        assert_eq!(any, Ok(scanned), "the scanner and serde_json agree on {text}");
    }
    assert_eq!(decoder.decode(text), any, "{text}");
}

/// The error-path helpers never panic and never quote more than the cap.
fn check_diagnosis<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8], key_attributes: &[String]) {
    let bound = 4 * (MAX_QUOTED_CHARS + 32);
    if let Some(path) = failing_path::<T>(bytes) {
        assert!(path.chars().count() <= bound, "the failing path is capped");
    }
    if let Some(key) = lenient_key(bytes, key_attributes) {
        assert!(key.chars().count() <= bound, "the key is capped");
    }
}

/// `manifest-summary.json`, a NUL byte, then `manifest-files.json`: read as a full export when
/// the input's first byte is even, as an incremental one otherwise.
pub fn manifests(bytes: &[u8]) {
    let (summary, files) = match bytes.iter().position(|&b| b == 0) {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &[][..]),
    };
    let root = "t/AWSDynamoDB/01768384800000-aaaaaaaa";
    // Every file of an export lies below `<prefix>/AWSDynamoDB/` (incremental exports share `data/`).
    let exports_root = "t/AWSDynamoDB/";
    let store = MemoryStore(vec![
        (format!("{root}/manifest-summary.json"), summary.to_vec()),
        (format!("{root}/manifest-files.json"), files.to_vec()),
    ]);
    let time = chrono::DateTime::from_timestamp(1_768_384_800, 0).expect("a valid time");
    let spec = if bytes.first().is_some_and(|b| b % 2 == 0) {
        ExportSpec::Full { export_time: time }
    } else {
        ExportSpec::Incremental { from: time, to: time, view_type: crate::config::ViewType::NewAndOldImages }
    };
    let export = ExportDescription {
        export_arn: "arn:aws:dynamodb:eu-north-1:123456789123:table/t/export/01768384800000-aaaaaaaa".into(),
        status: ExportStatus::Completed,
        spec,
        manifest_summary_key: Some(format!("{root}/manifest-summary.json")),
        item_count: None,
        billed_size_bytes: None,
        failure_code: None,
        failure_message: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    if let Ok(files) = runtime.block_on(super::manifest::read_export(&store, &export)) {
        for file in &files.files {
            let inside = file.key.starts_with(exports_root) && !file.key.split('/').any(|p| p == "..");
            assert!(inside, "data files lie under the exports folder: {}", file.key);
        }
    }
}

/// A `tables.toml`: loading either succeeds or fails with a message, never panics.
pub fn config(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    match crate::config::load_str(text, Path::new("tables.toml")) {
        Ok(config) => drop(Arc::new(config)),
        Err(error) => drop(error.to_string()),
    }
}

/// A read-only store of a few objects, enough for the manifest reader.
#[derive(Debug)]
struct MemoryStore(Vec<(String, Vec<u8>)>);

impl MemoryStore {
    fn find(&self, key: &str) -> Result<&Vec<u8>, StoreError> {
        let found = self.0.iter().find(|(k, _)| k == key).map(|(_, bytes)| bytes);
        found.ok_or_else(|| StoreError::NotFound { location: key.to_owned() })
    }

    fn read_only(key: &str) -> StoreError {
        StoreError::Other { location: key.to_owned(), message: "read-only".into() }
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    fn root_url(&self) -> String {
        "memory://".into()
    }

    fn url_of(&self, key: &str) -> String {
        format!("memory://{key}")
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.find(key).cloned()
    }

    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError> {
        Ok(Box::pin(std::io::Cursor::new(self.find(key)?.clone())))
    }

    async fn put(&self, key: &str, _: Vec<u8>) -> Result<(), StoreError> {
        Err(MemoryStore::read_only(key))
    }

    async fn put_file(&self, key: &str, _: &Path) -> Result<(), StoreError> {
        Err(MemoryStore::read_only(key))
    }

    async fn create_new(&self, key: &str, _: Vec<u8>) -> Result<(), StoreError> {
        Err(MemoryStore::read_only(key))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut found: Vec<ObjectMeta> = self
            .0
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(key, bytes)| ObjectMeta { key: key.clone(), size: bytes.len() as u64 })
            .collect();
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        Err(MemoryStore::read_only(key))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        Ok(self.find(key).ok().map(|bytes| ObjectMeta { key: key.to_owned(), size: bytes.len() as u64 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed seed and every input a fuzzing campaign kept (`fuzz/corpus/<target>/`),
    /// replayed through its target: what the fuzzers found stays fixed.
    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 4] = [
            ("export_line", export_line),
            ("staged_line", staged_line),
            ("manifests", manifests),
            ("config", config),
        ];
        for (name, target) in targets {
            let entries = std::fs::read_dir(corpus.join(name)).expect("a committed corpus");
            let mut inputs = 0;
            for entry in entries {
                let path = entry.unwrap().path();
                target(&std::fs::read(&path).unwrap());
                inputs += 1;
            }
            assert!(inputs > 0, "the {name} corpus has seeds");
        }
    }
}

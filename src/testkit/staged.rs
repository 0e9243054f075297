//! Staged files written by hand: single lines, gzip, a set of parts in a store (with the COPY
//! manifest and jsonpaths file the stage step writes beside them) and a request to load them.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::config::{Mode, TableConfig, staged_columns};
use crate::contract::staged::{StagedCompression, StagedFile, StagedFormat, StagedSet};
use crate::store::{LocalStore, ObjectStore};
use crate::warehouse::LoadRequest;

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// A request with no staged files, for planning.
pub fn request_for(table: TableConfig, mode: Mode, run_id: &str) -> LoadRequest {
    let staged = StagedSet {
        manifest_key: format!("{}/staged/{run_id}/copy.manifest", table.name),
        jsonpaths_key: format!("{}/staged/{run_id}/jsonpaths.json", table.name),
        columns: staged_columns(&table),
        files: Vec::new(),
        upserts: 0,
        deletes: 0,
        format: StagedFormat::Folded,
    };
    LoadRequest {
        run_id: run_id.into(),
        table: Arc::new(table),
        mode,
        staged,
        watermark: at("2024-05-01T12:00:00Z"),
        previous_watermark: None,
        store: Arc::new(LocalStore::new("/nonexistent-store")),
        accepted_gaps: Vec::new(),
    }
}

/// One staged line: every staged column present, `fields` given as raw JSON text, the rest null.
pub fn line(table: &TableConfig, op: &str, fields: &[(&str, &str)]) -> String {
    let parts: Vec<String> = staged_columns(table)
        .iter()
        .map(|name| {
            let value = match name.as_str() {
                "dynashift_op" => format!("\"{op}\""),
                _ => fields.iter().find(|(n, _)| n == name).map_or("null", |(_, v)| v).to_owned(),
            };
            format!("{}:{value}", serde_json::to_string(name).unwrap())
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

pub fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

pub fn lz4(text: &str) -> Vec<u8> {
    let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// Writes `parts` (each a list of lines) into `store` as gzip staged files and describes them;
/// the counts are taken from the lines' ops, as the stage step counts them.
pub async fn write_staged_parts(
    store: &dyn ObjectStore,
    table: &TableConfig,
    run_id: &str,
    parts: &[Vec<String>],
) -> StagedSet {
    write_staged_parts_as(store, table, run_id, parts, StagedCompression::Gzip).await
}

/// [`write_staged_parts`], compressed as `compression`.
pub async fn write_staged_parts_as(
    store: &dyn ObjectStore,
    table: &TableConfig,
    run_id: &str,
    parts: &[Vec<String>],
    compression: StagedCompression,
) -> StagedSet {
    let mut staged = request_for(table.clone(), Mode::Full, run_id).staged;
    for (index, lines) in parts.iter().enumerate() {
        let key = format!("{}/staged/{run_id}/part-{index:05}.{}", table.name, compression.extension());
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let bytes = match compression {
            StagedCompression::Gzip => gzip(&text),
            StagedCompression::Lz4 => lz4(&text),
        };
        staged.files.push(StagedFile {
            key: key.clone(),
            rows: lines.len() as u64,
            bytes: bytes.len() as u64,
        });
        store.put(&key, bytes).await.unwrap();
        staged.upserts += lines.iter().filter(|l| l.contains("\"dynashift_op\":\"U\"")).count() as u64;
        staged.deletes += lines.iter().filter(|l| l.contains("\"dynashift_op\":\"D\"")).count() as u64;
    }
    staged
}

/// [`write_staged_parts`], plus the COPY manifest and jsonpaths file the stage step writes
/// beside the parts (what Redshift's COPY reads).
pub async fn stage_files(
    store: &dyn ObjectStore,
    table: &TableConfig,
    run_id: &str,
    parts: &[Vec<String>],
) -> StagedSet {
    let staged = write_staged_parts(store, table, run_id, parts).await;
    let entries: Vec<serde_json::Value> = staged
        .files
        .iter()
        .map(|f| serde_json::json!({"url": store.url_of(&f.key), "mandatory": true, "meta": {"content_length": f.bytes}}))
        .collect();
    store
        .put(&staged.manifest_key, serde_json::json!({ "entries": entries }).to_string().into_bytes())
        .await
        .unwrap();
    let paths: Vec<String> = staged.columns.iter().map(|c| format!("$['{c}']")).collect();
    store
        .put(&staged.jsonpaths_key, serde_json::json!({ "jsonpaths": paths }).to_string().into_bytes())
        .await
        .unwrap();
    staged
}

//! Running a Redshift `COPY … FROM 's3://…manifest' MANIFEST FORMAT JSON '…'` on PostgreSQL:
//! the manifest, the JSONPaths file and every listed data file are read from the S3 stand-in
//! (gunzipped under GZIP), each line is shredded into a row (`copy_row`), and the rows stream
//! into one `COPY <table> (<cols>) FROM STDIN` on the statement's own connection, inside its
//! transaction. ResultRows is the number of rows loaded.
//!
//! A rejected line fails the statement with Redshift's text and leaves a row in
//! `sys_load_error_detail` (see `load_errors`), located through PostgreSQL's COPY error
//! context (the stand-in keeps each COPY row's file and line).
//!
//! Lines are JSON Lines: one JSON value per line (Redshift also accepts a value spanning
//! lines; the adapter's staged files never do). Blank lines are skipped.

use std::io::Read;
use std::pin::pin;

use bytes::Bytes;
use futures::SinkExt;
use serde::Deserialize;
use tokio_postgres::Client;

use super::copy_command::CopyCommand;
use super::copy_row::{ColumnKind, TargetColumn, encode_row};
use super::jsonpath::{self, JsonPath};
use super::load_errors::{self, LoadError, RowOrigin};
use super::runner::postgres_error_text;

/// Rows are handed to PostgreSQL in chunks of about this many bytes.
const FLUSH_BYTES: usize = 256 * 1024;

/// What a COPY needs beyond its own connection.
pub struct CopyContext<'a> {
    pub s3: &'a aws_sdk_s3::Client,
    /// For the load-error rows, written on a separate connection.
    pub pg_url: &'a str,
    /// The statement's RedshiftQueryId, the key of its load-error rows.
    pub query_id: i64,
    /// The Region of every bucket (moto's) and of the warehouse the stand-in plays.
    pub bucket_region: &'a str,
    pub warehouse_region: &'a str,
}

/// Redshift reads a bucket outside its own Region only when COPY names the bucket's Region
/// ("COPY from Amazon S3", data source parameters). The stand-in is stricter: REGION must be
/// given exactly when the bucket is elsewhere, so a COPY that adds it needlessly is caught too.
fn check_region(context: &CopyContext<'_>, command: &CopyCommand) -> Result<(), String> {
    let expected = (context.bucket_region != context.warehouse_region).then_some(context.bucket_region);
    match (command.options.region.as_deref(), expected) {
        (given, expected) if given == expected => Ok(()),
        (None, None) => Ok(()),
        (None, Some(bucket)) => Err(format!(
            "ERROR: S3ServiceException:The bucket is in Region {bucket}, not the warehouse's ({}); \
             COPY needs REGION '{bucket}'",
            context.warehouse_region
        )),
        (Some(given), _) if given != context.bucket_region => Err(format!(
            "ERROR: S3ServiceException:The bucket is in Region {}, not {given}",
            context.bucket_region
        )),
        (Some(given), _) => Err(format!(
            "ERROR: (stand-in) COPY names REGION '{given}', but the bucket is in the warehouse's Region; \
             leave REGION out"
        )),
    }
}

/// Why a load stopped.
enum Failure {
    /// The statement fails with this text, no load-error row.
    Statement(String),
    /// A line the stand-in rejected.
    Row(LoadError),
    /// PostgreSQL refused the COPY (a rejected value, or something else).
    Postgres(tokio_postgres::Error),
}

/// Runs `command` on `client`; the number of rows loaded, or the statement's error text.
pub async fn run(context: &CopyContext<'_>, client: &Client, command: &CopyCommand) -> Result<u64, String> {
    check_region(context, command)?;
    let columns = target_columns(client, command).await?;
    let paths = column_paths(context.s3, command, &columns).await?;
    let files = manifest_files(context.s3, &command.manifest_url).await?;
    let mut origins = Vec::new();
    let failure = match load(context.s3, client, command, (&columns, &paths), &files, &mut origins).await {
        Ok(rows) => return Ok(rows),
        Err(failure) => failure,
    };
    let rejected = match failure {
        Failure::Statement(text) => return Err(text),
        Failure::Row(rejected) => rejected,
        Failure::Postgres(error) => {
            let origin_of = |n: u64| {
                let (file, line) = *origins.get(usize::try_from(n).ok()?.checked_sub(1)?)?;
                Some(RowOrigin { file_url: files[file].url.clone(), line })
            };
            let described =
                error.as_db_error().and_then(|db| load_errors::from_postgres(db, &columns, origin_of));
            let Some(mut rejected) = described else { return Err(postgres_error_text(&error)) };
            rejected.raw_line = raw_line(context.s3, &files, &rejected.origin, command.options.gzip).await;
            rejected
        }
    };
    load_errors::record(context.pg_url, context.query_id, &rejected).await?;
    Err(format!(
        "ERROR: Load into table '{}' failed. Check 'sys_load_error_detail' system table for details.",
        command.table_name
    ))
}

const COLUMNS_SQL: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
     format_type(coalesce(nullif(t.typbasetype, 0), t.oid), NULL), a.atttypmod \
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
     WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

/// The loaded columns: the column list's, or every column of the table in order.
async fn target_columns(client: &Client, command: &CopyCommand) -> Result<Vec<TargetColumn>, String> {
    let rows = client.query(COLUMNS_SQL, &[&command.table_sql]).await.map_err(|e| postgres_error_text(&e))?;
    let table: Vec<TargetColumn> = rows
        .iter()
        .map(|row| TargetColumn {
            name: row.get(0),
            type_text: row.get(1),
            kind: column_kind(row.get(2), row.get(3)),
        })
        .collect();
    let Some(names) = &command.columns else { return Ok(table) };
    names
        .iter()
        .map(|name| {
            table.iter().find(|c| &c.name == name).cloned().ok_or_else(|| {
                format!("ERROR: column \"{name}\" of relation \"{}\" does not exist", command.table_name)
            })
        })
        .collect()
}

fn column_kind(base_type: &str, type_modifier: i32) -> ColumnKind {
    match base_type {
        "jsonb" | "json" => ColumnKind::Json,
        "character varying" | "character" | "text" => {
            // PostgreSQL stores a length n as n + 4; -1 means "no length".
            ColumnKind::Text { max_bytes: usize::try_from(type_modifier - 4).ok() }
        }
        _ => ColumnKind::Other,
    }
}

/// One path per column: the JSONPaths file's, or the column names (`'auto'`).
async fn column_paths(
    s3: &aws_sdk_s3::Client,
    command: &CopyCommand,
    columns: &[TargetColumn],
) -> Result<Vec<JsonPath>, String> {
    let Some(url) = &command.options.jsonpaths_url else {
        return Ok(columns.iter().map(|c| JsonPath::top_level_key(&c.name)).collect());
    };
    let bytes = read_object(s3, url)
        .await?
        .ok_or_else(|| format!("ERROR: the JSONPaths file {url} does not exist"))?;
    let paths = jsonpath::parse_file(&bytes, url)?;
    if paths.len() != columns.len() {
        return Err(format!(
            "ERROR: Number of jsonpaths and the number of columns should match. JSONPath size: {}, \
             Number of columns in table or column list: {}",
            paths.len(),
            columns.len()
        ));
    }
    Ok(paths)
}

#[derive(Deserialize)]
struct Manifest {
    entries: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    url: String,
    #[serde(default)]
    mandatory: bool,
}

async fn manifest_files(s3: &aws_sdk_s3::Client, url: &str) -> Result<Vec<ManifestEntry>, String> {
    let bytes =
        read_object(s3, url).await?.ok_or_else(|| format!("ERROR: the manifest {url} does not exist"))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| format!("ERROR: the manifest {url} is not {{\"entries\": [{{\"url\": …}}]}}: {e}"))?;
    Ok(manifest.entries)
}

/// Streams every line of `files` into one PostgreSQL COPY; `origins` gets each row's file
/// index and line.
async fn load(
    s3: &aws_sdk_s3::Client,
    client: &Client,
    command: &CopyCommand,
    (columns, paths): (&[TargetColumn], &[JsonPath]),
    files: &[ManifestEntry],
    origins: &mut Vec<(usize, u64)>,
) -> Result<u64, Failure> {
    let column_list: Vec<String> =
        columns.iter().map(|c| format!("\"{}\"", c.name.replace('"', "\"\""))).collect();
    let sql = format!("COPY {} ({}) FROM STDIN", command.table_sql, column_list.join(", "));
    let mut sink = pin!(client.copy_in::<_, Bytes>(&sql).await.map_err(Failure::Postgres)?);
    let mut buffer = Vec::new();
    let mut found_a_file = false;
    for (file_index, file) in files.iter().enumerate() {
        let Some(text) = data_file(s3, file, command.options.gzip).await.map_err(Failure::Statement)? else {
            continue;
        };
        found_a_file = true;
        for (line_number, line) in lines(&text) {
            encode_row(&mut buffer, line, paths, columns, &command.options).map_err(|problem| {
                Failure::Row(LoadError {
                    origin: RowOrigin { file_url: file.url.clone(), line: line_number },
                    column: problem.column.map(|index| columns[index].clone()),
                    code: problem.code,
                    message: problem.message,
                    raw_line: Some(String::from_utf8_lossy(line).into_owned()),
                })
            })?;
            origins.push((file_index, line_number));
            if buffer.len() >= FLUSH_BYTES {
                sink.send(Bytes::from(std::mem::take(&mut buffer))).await.map_err(Failure::Postgres)?;
            }
        }
    }
    if !found_a_file {
        return Err(Failure::Statement(format!(
            "ERROR: no file listed in the manifest {} exists",
            command.manifest_url
        )));
    }
    sink.send(Bytes::from(buffer)).await.map_err(Failure::Postgres)?;
    sink.as_mut().finish().await.map_err(Failure::Postgres)
}

/// The non-blank lines of `text`, numbered from 1 (blank lines count).
fn lines(text: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    text.split(|b| *b == b'\n')
        .zip(1u64..)
        .map(|(line, number)| (number, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
}

/// A data file's content (gunzipped under GZIP); `None` when an optional file is missing.
async fn data_file(
    s3: &aws_sdk_s3::Client,
    file: &ManifestEntry,
    gzip: bool,
) -> Result<Option<Vec<u8>>, String> {
    let Some(bytes) = read_object(s3, &file.url).await? else {
        if file.mandatory {
            return Err(format!(
                "ERROR: the mandatory file {} listed in the manifest does not exist",
                file.url
            ));
        }
        return Ok(None);
    };
    if !gzip {
        return Ok(Some(bytes.to_vec()));
    }
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut text)
        .map_err(|e| format!("ERROR: {} is not valid gzip (COPY says GZIP): {e}", file.url))?;
    Ok(Some(text))
}

/// The text of the rejected line, read again (PostgreSQL names only its position).
async fn raw_line(
    s3: &aws_sdk_s3::Client,
    files: &[ManifestEntry],
    origin: &RowOrigin,
    gzip: bool,
) -> Option<String> {
    let file = files.iter().find(|f| f.url == origin.file_url)?;
    let text = data_file(s3, file, gzip).await.ok()??;
    let (_, line) = lines(&text).find(|(number, _)| *number == origin.line)?;
    Some(String::from_utf8_lossy(line).into_owned())
}

/// An object's bytes; `None` when it does not exist.
async fn read_object(s3: &aws_sdk_s3::Client, url: &str) -> Result<Option<Bytes>, String> {
    let (bucket, key) = url
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .ok_or_else(|| format!("ERROR: {url} is not an s3://bucket/key URL"))?;
    let output = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(output) => output,
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
        Err(e) => {
            return Err(format!(
                "ERROR: reading {url} from S3: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ));
        }
    };
    let body = output.body.collect().await.map_err(|e| format!("ERROR: reading {url} from S3: {e}"))?;
    Ok(Some(body.into_bytes()))
}

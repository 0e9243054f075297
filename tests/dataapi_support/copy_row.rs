//! One JSON line of a loaded file → one row of PostgreSQL's COPY text format, the way Redshift
//! shreds a line through JSONPaths:
//!
//! | value at the path        | loaded as                                                 |
//! |--------------------------|-----------------------------------------------------------|
//! | missing, or JSON null    | NULL                                                      |
//! | string                   | its text (into a SUPER column: the JSON string itself)     |
//! | number, true, false      | its literal text, exactly as in the file                  |
//! | object, array            | its JSON text                                             |
//!
//! Into CHAR/VARCHAR columns Redshift counts BYTES, PostgreSQL characters: the byte limit is
//! checked here (error 1204, or cut at a character boundary under TRUNCATECOLUMNS), so a value
//! Redshift would reject is rejected here too.

use serde_json::value::RawValue;

use super::copy_command::CopyOptions;
use super::jsonpath::JsonPath;
use super::load_errors::codes;

/// A column being loaded, with what shredding needs to know about its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetColumn {
    pub name: String,
    /// As `format_type` prints it (e.g. `character varying(64)`, `super`).
    pub type_text: String,
    pub kind: ColumnKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `super` (jsonb): JSON strings keep their quotes.
    Json,
    /// CHAR/VARCHAR, with its length in bytes when it has one.
    Text {
        max_bytes: Option<usize>,
    },
    Other,
}

/// Why a line could not become a row (recorded in `sys_load_error_detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// Index into the loaded columns; `None` when the line itself is broken.
    pub column: Option<usize>,
    pub code: i32,
    pub message: String,
}

/// Appends `line` to `out` as one COPY text row of `columns`.
pub fn encode_row(
    out: &mut Vec<u8>,
    line: &[u8],
    paths: &[JsonPath],
    columns: &[TargetColumn],
    options: &CopyOptions,
) -> Result<(), RowProblem> {
    let text = decode_utf8(line, options.invalid_char_replacement)?;
    let root: &RawValue = serde_json::from_str(text.trim()).map_err(|e| RowProblem {
        column: None,
        code: codes::BAD_JSON,
        message: format!("Invalid JSON in the line: {e}"),
    })?;
    for (index, (path, column)) in paths.iter().zip(columns).enumerate() {
        if index > 0 {
            out.push(b'\t');
        }
        let problem = |code, message: String| RowProblem { column: Some(index), code, message };
        let value = path.resolve(root).map_err(|message| problem(codes::OTHER, message))?;
        match field_text(value, column.kind, options).map_err(|(code, message)| problem(code, message))? {
            Some(field) => escape_into(out, &field).map_err(|message| problem(codes::OTHER, message))?,
            None => out.extend_from_slice(b"\\N"),
        }
    }
    out.push(b'\n');
    Ok(())
}

/// The line as text; invalid UTF-8 fails (1220) unless ACCEPTINVCHARS gave a replacement.
fn decode_utf8(line: &[u8], replacement: Option<char>) -> Result<std::borrow::Cow<'_, str>, RowProblem> {
    if let Ok(text) = std::str::from_utf8(line) {
        return Ok(text.into());
    }
    let Some(replacement) = replacement else {
        return Err(RowProblem {
            column: None,
            code: codes::INVALID_UTF8,
            message: "Invalid UTF-8 in the line".into(),
        });
    };
    let mut text = String::with_capacity(line.len());
    for chunk in line.utf8_chunks() {
        text.push_str(chunk.valid());
        text.extend(std::iter::repeat_n(replacement, chunk.invalid().len()));
    }
    Ok(text.into())
}

/// The text loaded for `value` into a column of `kind`; `None` is NULL.
fn field_text(
    value: Option<&RawValue>,
    kind: ColumnKind,
    options: &CopyOptions,
) -> Result<Option<String>, (i32, String)> {
    let Some(value) = value else { return Ok(None) };
    let raw = value.get();
    let text = match (raw.starts_with('"'), kind) {
        (_, ColumnKind::Json) => return Ok(Some(raw.to_owned())),
        (true, _) => serde_json::from_str::<String>(raw).expect("a JSON string decodes"),
        (false, _) => raw.to_owned(),
    };
    let ColumnKind::Text { max_bytes } = kind else { return Ok(Some(text)) };
    if (options.empty_as_null && text.is_empty())
        || (options.blanks_as_null && !text.is_empty() && text.trim().is_empty())
    {
        return Ok(None);
    }
    match max_bytes {
        Some(limit) if text.len() > limit && options.truncate_columns => Ok(Some(truncate(text, limit))),
        Some(limit) if text.len() > limit => Err((
            codes::OUT_OF_RANGE,
            format!("String length exceeds DDL length ({} bytes > {limit})", text.len()),
        )),
        _ => Ok(Some(text)),
    }
}

/// `text` cut to at most `limit` bytes, at a character boundary.
fn truncate(mut text: String, limit: usize) -> String {
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// Appends `text` with COPY's text-format escapes; PostgreSQL text cannot hold U+0000.
fn escape_into(out: &mut Vec<u8>, text: &str) -> Result<(), String> {
    if text.contains('\0') {
        return Err("PostgreSQL text cannot hold the NUL character (U+0000)".into());
    }
    dynashift::testkit::escape_copy_text(out, text);
    Ok(())
}

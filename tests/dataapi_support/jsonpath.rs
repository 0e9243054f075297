//! Redshift JSONPaths: the `{"jsonpaths": [...]}` file, one path per loaded column, in bracket
//! (`$['a']['b'][0]`) or dot (`$.a.b[0]`) notation.
//!
//! Paths are resolved on `serde_json::value::RawValue`, so a value is handed on as the exact
//! text of the line (a 38-digit decimal or `1E-130` inside an object is never rounded through
//! `f64`).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// One parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

const OUT_OF_RANGE: &str = "Invalid JSONPath format: Not an array or index out of range";

impl JsonPath {
    /// The path `FORMAT JSON 'auto'` uses for a column: its name as a top-level key.
    pub fn top_level_key(name: &str) -> JsonPath {
        JsonPath { steps: vec![Step::Key(name.to_owned())] }
    }

    /// Parses `$['a'][0]` or `$.a[0]`.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let rest = text
            .strip_prefix('$')
            .ok_or_else(|| format!("Invalid JSONPath format: {text} (must start with $)"))?;
        let mut steps = Vec::new();
        let mut rest = rest;
        while !rest.is_empty() {
            let (step, after) = if let Some(after) = rest.strip_prefix('[') {
                bracket_step(after).ok_or_else(|| format!("Invalid JSONPath format: {text}"))?
            } else if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                if end == 0 {
                    return Err(format!("Invalid JSONPath format: {text} (empty name)"));
                }
                (Step::Key(after[..end].to_owned()), &after[end..])
            } else {
                return Err(format!("Invalid JSONPath format: {text}"));
            };
            steps.push(step);
            rest = after;
        }
        Ok(JsonPath { steps })
    }

    /// The value at this path in `root`: `None` for a missing key, a non-object, or JSON null
    /// (Redshift loads NULL); an error for an index out of range or into a non-array.
    pub fn resolve<'a>(&self, root: &'a RawValue) -> Result<Option<&'a RawValue>, String> {
        let mut current = root;
        for step in &self.steps {
            let next = match step {
                Step::Key(key) => member(current, key),
                Step::Index(index) => Some(element(current, *index).ok_or(OUT_OF_RANGE)?),
            };
            match next {
                Some(value) => current = value,
                None => return Ok(None),
            }
        }
        Ok((current.get() != "null").then_some(current))
    }
}

/// `'name']…`, `"name"]…` or `3]…` after a `[`.
fn bracket_step(after: &str) -> Option<(Step, &str)> {
    if let Some(quote) = after.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let body = &after[1..];
        let end = body.find(quote)?;
        let rest = body[end + 1..].strip_prefix(']')?;
        return Some((Step::Key(body[..end].to_owned()), rest));
    }
    let end = after.find(']')?;
    let index = after[..end].trim().parse().ok()?;
    Some((Step::Index(index), &after[end + 1..]))
}

fn member<'a>(value: &'a RawValue, key: &str) -> Option<&'a RawValue> {
    if !value.get().starts_with('{') {
        return None;
    }
    let mut members: HashMap<String, &'a RawValue> = serde_json::from_str(value.get()).ok()?;
    members.remove(key)
}

fn element(value: &RawValue, index: usize) -> Option<&RawValue> {
    if !value.get().starts_with('[') {
        return None;
    }
    let elements: Vec<&RawValue> = serde_json::from_str(value.get()).ok()?;
    elements.get(index).copied()
}

#[derive(Deserialize)]
struct JsonPathsFile {
    jsonpaths: Vec<String>,
}

/// Parses a JSONPaths file; `url` names it in errors.
pub fn parse_file(bytes: &[u8], url: &str) -> Result<Vec<JsonPath>, String> {
    let file: JsonPathsFile = serde_json::from_slice(bytes)
        .map_err(|e| format!("ERROR: the JSONPaths file {url} is not {{\"jsonpaths\": [...]}}: {e}"))?;
    file.jsonpaths.iter().map(|p| JsonPath::parse(p).map_err(|e| format!("ERROR: {e} in {url}"))).collect()
}

//! Parsing a Redshift `COPY <table> [(<cols>)] FROM 's3://…' <options>` into what the stand-in
//! needs to run it.
//!
//! Only the manifest + JSON form is supported, and the options that do not change data are
//! accepted as no-ops (REGION, STATUPDATE, COMPUPDATE, TIMEFORMAT/DATEFORMAT 'auto'). Anything
//! the stand-in cannot honour exactly is refused with a statement error rather than ignored:
//! a load that quietly behaved differently from Redshift would hide bugs.
//!
//! Credentials in SQL (`CREDENTIALS`, `ACCESS_KEY_ID`, …) are refused, naming the keyword but
//! never the value, so a test catches an adapter that leaks them.

use super::dialect::{Token, TokenKind};

/// A parsed COPY.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyCommand {
    /// The table reference as written (e.g. `"sales"."orders"`), reused in PostgreSQL's COPY.
    pub table_sql: String,
    /// The table's own name, unquoted (Redshift names it so in load errors).
    pub table_name: String,
    /// The column list, as the database names them; `None` means every column in order.
    pub columns: Option<Vec<String>>,
    /// FROM: the manifest's URL.
    pub manifest_url: String,
    pub options: CopyOptions,
}

/// The options that change what is loaded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CopyOptions {
    /// `None` = `FORMAT JSON 'auto'` (top-level keys named like the columns).
    pub jsonpaths_url: Option<String>,
    pub gzip: bool,
    pub truncate_columns: bool,
    pub empty_as_null: bool,
    pub blanks_as_null: bool,
    /// ACCEPTINVCHARS: what replaces each byte of invalid UTF-8.
    pub invalid_char_replacement: Option<char>,
    /// REGION: the bucket's Region, when it is not the warehouse's.
    pub region: Option<String>,
}

/// Parses the tokens of a COPY statement; an error is the statement's failure text.
pub fn parse_copy(tokens: &[Token<'_>]) -> Result<CopyCommand, String> {
    let mut cursor = Cursor { tokens, at: 1 };
    let (table_sql, table_name) = table_reference(&mut cursor)?;
    let columns =
        if cursor.peek().is_some_and(|t| t.is_symbol('(')) { Some(column_list(&mut cursor)?) } else { None };
    if !cursor.take_word("FROM") {
        return Err("ERROR: the stand-in supports only COPY <table> FROM 's3://…' (a manifest)".into());
    }
    let manifest_url = cursor
        .next()
        .and_then(Token::string_value)
        .filter(|url| url.starts_with("s3://"))
        .ok_or("ERROR: the stand-in supports only COPY … FROM 's3://bucket/manifest'")?;
    let options = options(&mut cursor)?;
    Ok(CopyCommand { table_sql, table_name, columns, manifest_url, options })
}

fn table_reference(cursor: &mut Cursor<'_, '_>) -> Result<(String, String), String> {
    let mut parts = Vec::new();
    loop {
        let token = cursor.next().ok_or("ERROR: COPY needs a table name")?;
        let name =
            token.identifier().ok_or_else(|| format!("ERROR: syntax error at or near \"{}\"", token.text))?;
        parts.push((token.text, name));
        if !cursor.peek().is_some_and(|t| t.is_symbol('.')) {
            break;
        }
        cursor.next();
    }
    let sql = parts.iter().map(|(text, _)| *text).collect::<Vec<_>>().join(".");
    let name = parts.pop().map(|(_, name)| name).unwrap_or_default();
    Ok((sql, name))
}

fn column_list(cursor: &mut Cursor<'_, '_>) -> Result<Vec<String>, String> {
    cursor.next();
    let mut columns = Vec::new();
    loop {
        let token = cursor.next().ok_or("ERROR: unterminated column list in COPY")?;
        columns.push(
            token.identifier().ok_or_else(|| format!("ERROR: syntax error at or near \"{}\"", token.text))?,
        );
        match cursor.next() {
            Some(t) if t.is_symbol(',') => continue,
            Some(t) if t.is_symbol(')') => return Ok(columns),
            _ => return Err("ERROR: unterminated column list in COPY".into()),
        }
    }
}

const CREDENTIAL_KEYWORDS: [&str; 5] =
    ["CREDENTIALS", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "MASTER_SYMMETRIC_KEY"];

/// What the options must include, beyond what [`CopyOptions`] keeps.
#[derive(Default)]
struct Required {
    iam_role: bool,
    manifest: bool,
    json: bool,
}

fn options(cursor: &mut Cursor<'_, '_>) -> Result<CopyOptions, String> {
    let mut options = CopyOptions::default();
    let mut required = Required::default();
    while let Some(token) = cursor.next() {
        if token.is_symbol(';') && cursor.peek().is_none() {
            break;
        }
        let keyword = match token.kind {
            TokenKind::Word => token.text.to_ascii_uppercase(),
            _ => return Err(format!("ERROR: syntax error at or near \"{}\" in COPY", token.text)),
        };
        if CREDENTIAL_KEYWORDS.contains(&keyword.as_str()) {
            return Err(format!(
                "ERROR: {keyword} in COPY: credentials in SQL are refused by the stand-in (use IAM_ROLE)"
            ));
        }
        option(cursor, &keyword, &mut options, &mut required)?;
    }
    if !required.iam_role {
        return Err("ERROR: the stand-in requires IAM_ROLE in COPY (no credentials in SQL)".into());
    }
    if !required.manifest {
        return Err("ERROR: the stand-in supports only MANIFEST COPY".into());
    }
    if !required.json {
        return Err("ERROR: the stand-in supports only FORMAT JSON in COPY".into());
    }
    Ok(options)
}

fn option(
    cursor: &mut Cursor<'_, '_>,
    keyword: &str,
    options: &mut CopyOptions,
    required: &mut Required,
) -> Result<(), String> {
    match keyword {
        "IAM_ROLE" => {
            let role = cursor.next();
            if !role.is_some_and(|t| t.string_value().is_some() || t.is_word("DEFAULT")) {
                return Err("ERROR: IAM_ROLE needs 'arn:…' or default".into());
            }
            required.iam_role = true;
        }
        "REGION" => options.region = Some(cursor.string_after_optional_as(keyword)?),
        "MANIFEST" => required.manifest = true,
        "FORMAT" => {
            cursor.take_word("AS");
            if !cursor.take_word("JSON") {
                return Err("ERROR: the stand-in supports only FORMAT JSON in COPY".into());
            }
            options.jsonpaths_url = json_source(cursor)?;
            required.json = true;
        }
        "JSON" => {
            options.jsonpaths_url = json_source(cursor)?;
            required.json = true;
        }
        "GZIP" => options.gzip = true,
        "TIMEFORMAT" | "DATEFORMAT" => {
            let format = cursor.string_after_optional_as(keyword)?;
            if !format.eq_ignore_ascii_case("auto") {
                return Err(format!("ERROR: the stand-in supports only {keyword} 'auto', not '{format}'"));
            }
        }
        "ACCEPTINVCHARS" => {
            let explicit =
                cursor.take_word("AS") || cursor.peek().is_some_and(|t| t.string_value().is_some());
            let replacement = if explicit { cursor.string_after_optional_as(keyword)? } else { "?".into() };
            let mut chars = replacement.chars();
            options.invalid_char_replacement = match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii() => Some(c),
                _ => return Err("ERROR: ACCEPTINVCHARS takes one ASCII character".into()),
            };
        }
        "TRUNCATECOLUMNS" => options.truncate_columns = true,
        "EMPTYASNULL" => options.empty_as_null = true,
        "BLANKSASNULL" => options.blanks_as_null = true,
        "STATUPDATE" | "COMPUPDATE" => {
            let settings = ["ON", "OFF", "TRUE", "FALSE", "PRESET"];
            if cursor.peek().is_some_and(|t| settings.iter().any(|s| t.is_word(s))) {
                cursor.next();
            }
        }
        "MAXERROR" => {
            cursor.take_word("AS");
            let limit = cursor
                .next()
                .filter(|t| t.kind == TokenKind::Number)
                .and_then(|t| t.text.parse::<u64>().ok());
            match limit {
                Some(0 | 1) => {}
                Some(_) => {
                    return Err(
                        "ERROR: the stand-in supports only MAXERROR 0 or 1 (it stops at the first bad row)"
                            .into(),
                    );
                }
                None => return Err("ERROR: MAXERROR needs a number".into()),
            }
        }
        other => return Err(format!("ERROR: the stand-in does not support the COPY option {other}")),
    }
    Ok(())
}

/// After `JSON`: `[AS] 'auto'` (the default when absent) or `[AS] 's3://…jsonpaths'`.
fn json_source(cursor: &mut Cursor<'_, '_>) -> Result<Option<String>, String> {
    let explicit = cursor.take_word("AS") || cursor.peek().is_some_and(|t| t.string_value().is_some());
    if !explicit {
        return Ok(None);
    }
    let source = cursor.string_after_optional_as("JSON")?;
    if source == "auto" {
        Ok(None)
    } else if source.starts_with("s3://") {
        Ok(Some(source))
    } else {
        Err(format!(
            "ERROR: the stand-in supports only JSON 'auto' or a jsonpaths file on S3, not '{source}'"
        ))
    }
}

struct Cursor<'t, 'a> {
    tokens: &'t [Token<'a>],
    at: usize,
}

impl<'t, 'a> Cursor<'t, 'a> {
    fn peek(&self) -> Option<&'t Token<'a>> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<&'t Token<'a>> {
        let token = self.tokens.get(self.at);
        self.at += usize::from(token.is_some());
        token
    }

    fn take_word(&mut self, keyword: &str) -> bool {
        let matches = self.peek().is_some_and(|t| t.is_word(keyword));
        self.at += usize::from(matches);
        matches
    }

    /// `[AS] '<text>'` after `keyword`.
    fn string_after_optional_as(&mut self, keyword: &str) -> Result<String, String> {
        self.take_word("AS");
        self.next()
            .and_then(Token::string_value)
            .ok_or_else(|| format!("ERROR: {keyword} needs a quoted value"))
    }
}

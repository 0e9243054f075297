//! Redshift SQL on PostgreSQL 15: what the stand-in adds to the database once, and how each
//! statement is translated before it runs.
//!
//! The database gets `super` (a domain over `jsonb`, so SUPER values keep exact numbers),
//! `getdate()` (the current UTC `timestamp`) and an empty `sys_load_error_detail`, which the
//! stand-in's COPY fills the way Redshift's system view is filled.
//!
//! Translation is deliberately small, because the adapter writes SQL both engines accept:
//! - `CREATE TABLE` loses the Redshift table attributes that follow its column list (or precede
//!   `AS` in a CTAS): `DISTSTYLE x`, `DISTKEY (c)`, `[COMPOUND|INTERLEAVED] SORTKEY (c, …)`,
//!   `SORTKEY AUTO`, `BACKUP YES|NO`, `ENCODE AUTO`. Column-level attributes (`ENCODE az64`
//!   on a column) are NOT stripped: PostgreSQL rejects them, which says the adapter used one.
//! - `COPY … FROM 's3://…'` is run by the stand-in itself (see `copy`).
//! - Redshift's `OBJECT(k, v, …)` (a SUPER object) becomes `jsonb_build_object(k, v, …)`, which
//!   builds the same object (`super` is jsonb here).
//! - Everything else passes through unchanged.
//!
//! The SQL is tokenized (quoted identifiers and literals may hold anything), never matched by
//! regular expressions.

use super::copy_command::{CopyCommand, parse_copy};

/// Run once per database when the stand-in starts; safe to run again.
pub const SETUP_SQL: &str = r#"
DO $$ BEGIN CREATE DOMAIN super AS jsonb; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE OR REPLACE FUNCTION getdate() RETURNS timestamp LANGUAGE sql VOLATILE
    AS $$ SELECT (clock_timestamp() AT TIME ZONE 'UTC')::timestamp $$;
CREATE TABLE IF NOT EXISTS sys_load_error_detail (
    query_id bigint, file_name text, line_number bigint, column_name text, column_type text,
    position int, error_code int, error_message text, raw_line text, start_time timestamp
);
"#;

/// What a statement becomes on PostgreSQL.
#[derive(Debug)]
pub enum Translated {
    /// Plain SQL for PostgreSQL.
    Sql(String),
    /// A Redshift COPY from S3, which the stand-in runs itself.
    Copy(CopyCommand),
}

/// Translates one Redshift statement; an error is the statement's failure text ("ERROR: …").
pub fn translate(sql: &str) -> Result<Translated, String> {
    let Ok(tokens) = tokenize(sql) else {
        // Unbalanced quotes: let PostgreSQL report the syntax error in its own words.
        return Ok(Translated::Sql(sql.to_owned()));
    };
    match tokens.first() {
        Some(first) if first.is_word("COPY") => parse_copy(&tokens).map(Translated::Copy),
        Some(first) if first.is_word("CREATE") => Ok(Translated::Sql(strip_attributes(sql, &tokens))),
        _ => Ok(Translated::Sql(object_calls_as_jsonb(sql, &tokens))),
    }
}

/// `sql` with every call `OBJECT(` written `jsonb_build_object(`.
fn object_calls_as_jsonb(sql: &str, tokens: &[Token<'_>]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut copied_to = 0;
    for pair in tokens.windows(2) {
        if pair[0].is_word("OBJECT") && pair[1].is_symbol('(') {
            out.push_str(&sql[copied_to..pair[0].start]);
            out.push_str("jsonb_build_object");
            copied_to = pair[0].end;
        }
    }
    out.push_str(&sql[copied_to..]);
    out
}

/// `sql` without the Redshift table attributes of a `CREATE TABLE` (unchanged otherwise).
pub fn strip_table_attributes(sql: &str) -> String {
    match tokenize(sql) {
        Ok(tokens) if tokens.first().is_some_and(|t| t.is_word("CREATE")) => strip_attributes(sql, &tokens),
        _ => sql.to_owned(),
    }
}

fn strip_attributes(sql: &str, tokens: &[Token<'_>]) -> String {
    // CREATE [LOCAL] [TEMP | TEMPORARY] TABLE …: other CREATEs are left alone.
    let prefix = ["CREATE", "LOCAL", "TEMP", "TEMPORARY"];
    let table_at = tokens.iter().position(|t| !prefix.iter().any(|word| t.is_word(word)));
    let Some(table_at) = table_at.filter(|at| tokens[*at].is_word("TABLE")) else {
        return sql.to_owned();
    };
    let mut out = String::with_capacity(sql.len());
    let mut copied_to = 0;
    let mut depth = 0usize;
    let mut at = table_at + 1;
    while at < tokens.len() {
        let token = &tokens[at];
        if depth == 0
            && let Some(end) = attribute_end(tokens, at)
        {
            // The whitespace before the attribute goes with it.
            out.push_str(&sql[copied_to..tokens[at - 1].end]);
            copied_to = tokens[end - 1].end;
            at = end;
            continue;
        }
        depth = match token.kind {
            TokenKind::Symbol('(') => depth + 1,
            TokenKind::Symbol(')') => depth.saturating_sub(1),
            _ => depth,
        };
        at += 1;
    }
    out.push_str(&sql[copied_to..]);
    out
}

/// When a table attribute starts at `at`, the index just past it.
fn attribute_end(tokens: &[Token<'_>], at: usize) -> Option<usize> {
    let word = |offset: usize, expected: &[&str]| {
        tokens.get(at + offset).is_some_and(|t| expected.iter().any(|e| t.is_word(e)))
    };
    let first = &tokens[at];
    if first.is_word("DISTSTYLE") && word(1, &["AUTO", "EVEN", "KEY", "ALL"]) {
        return Some(at + 2);
    }
    if (first.is_word("BACKUP") && word(1, &["YES", "NO"])) || (first.is_word("ENCODE") && word(1, &["AUTO"]))
    {
        return Some(at + 2);
    }
    if first.is_word("DISTKEY") {
        return group_end(tokens, at + 1);
    }
    let sortkey_at = if first.is_word("COMPOUND") || first.is_word("INTERLEAVED") { at + 1 } else { at };
    if !tokens.get(sortkey_at).is_some_and(|t| t.is_word("SORTKEY")) {
        return None;
    }
    if tokens.get(sortkey_at + 1).is_some_and(|t| t.is_word("AUTO")) {
        return Some(sortkey_at + 2);
    }
    group_end(tokens, sortkey_at + 1)
}

/// When a parenthesized group opens at `at`, the index just past its closing parenthesis.
fn group_end(tokens: &[Token<'_>], at: usize) -> Option<usize> {
    if !tokens.get(at).is_some_and(|t| t.kind == TokenKind::Symbol('(')) {
        return None;
    }
    let mut depth = 0usize;
    for (index, token) in tokens.iter().enumerate().skip(at) {
        match token.kind {
            TokenKind::Symbol('(') => depth += 1,
            TokenKind::Symbol(')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(index + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A keyword or unquoted identifier (Redshift's `#temp` names included).
    Word,
    /// `"…"`, `""` standing for one quote.
    QuotedIdent,
    /// `'…'` (`''` for one quote) or a dollar-quoted `$tag$…$tag$`.
    StringLit,
    Number,
    Symbol(char),
}

/// One token of a statement: its kind and where it sits in the text.
#[derive(Clone, Debug)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

impl Token<'_> {
    /// Whether this is the keyword `keyword` (any case).
    pub fn is_word(&self, keyword: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(keyword)
    }

    pub fn is_symbol(&self, symbol: char) -> bool {
        self.kind == TokenKind::Symbol(symbol)
    }

    /// An identifier's name as the database sees it: unquoted ones fold to lower case.
    pub fn identifier(&self) -> Option<String> {
        match self.kind {
            TokenKind::Word => Some(self.text.to_lowercase()),
            TokenKind::QuotedIdent => Some(self.text[1..self.text.len() - 1].replace("\"\"", "\"")),
            _ => None,
        }
    }

    /// A single-quoted literal's value.
    pub fn string_value(&self) -> Option<String> {
        (self.kind == TokenKind::StringLit && self.text.starts_with('\''))
            .then(|| self.text[1..self.text.len() - 1].replace("''", "'"))
    }
}

/// Splits SQL into tokens, skipping whitespace and comments; fails on an unterminated quote or
/// comment.
pub fn tokenize(sql: &str) -> Result<Vec<Token<'_>>, String> {
    let bytes = sql.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (kind, end) = match bytes[at] {
            b if b.is_ascii_whitespace() => {
                at += 1;
                continue;
            }
            b'-' if bytes.get(at + 1) == Some(&b'-') => {
                at = sql[at..].find('\n').map_or(sql.len(), |n| at + n + 1);
                continue;
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                at = sql[at + 2..].find("*/").map(|n| at + 2 + n + 2).ok_or("unterminated comment")?;
                continue;
            }
            b'\'' => (TokenKind::StringLit, quoted_end(sql, at, '\'')?),
            b'"' => (TokenKind::QuotedIdent, quoted_end(sql, at, '"')?),
            b'$' => dollar_quoted_end(sql, at)
                .map_or((TokenKind::Symbol('$'), at + 1), |end| (TokenKind::StringLit, end)),
            b if b.is_ascii_digit() => {
                (TokenKind::Number, run_end(bytes, at, |b| b.is_ascii_alphanumeric() || b == b'.'))
            }
            b if is_word_byte(b) || b == b'#' => (TokenKind::Word, run_end(bytes, at + 1, is_word_byte)),
            _ => {
                let symbol = sql[at..].chars().next().expect("at is a char boundary");
                (TokenKind::Symbol(symbol), at + symbol.len_utf8())
            }
        };
        tokens.push(Token { kind, text: &sql[at..end], start: at, end });
        at = end;
    }
    Ok(tokens)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn run_end(bytes: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    bytes[from..].iter().position(|b| !keep(*b)).map_or(bytes.len(), |n| from + n)
}

/// The end of a quoted token opening at `at`; a doubled quote stands for one.
fn quoted_end(sql: &str, at: usize, quote: char) -> Result<usize, String> {
    let mut chars = sql[at + 1..].char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if c == quote {
            if chars.peek().is_some_and(|(_, next)| *next == quote) {
                chars.next();
                continue;
            }
            return Ok(at + 1 + offset + 1);
        }
    }
    Err(format!("unterminated {quote}"))
}

/// The end of `$tag$…$tag$` opening at `at`, when there is one.
fn dollar_quoted_end(sql: &str, at: usize) -> Option<usize> {
    let tag_len = sql[at + 1..].find('$')?;
    let tag = &sql[at..at + 1 + tag_len + 1];
    if !tag[1..tag.len() - 1].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let body = at + tag.len();
    sql[body..].find(tag).map(|n| body + n + tag.len())
}

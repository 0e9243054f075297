//! Warehouse identifiers: column names, target schemas and tables, the item column.
//!
//! dynashift only accepts identifiers that need no quoting anywhere: `^[a-z_][a-z0-9_$]*$`, at
//! most 127 bytes, not a reserved word. Redshift and PostgreSQL fold unquoted names to lowercase,
//! so `OrderId` in a config would silently become `orderid` in a hand-written query — refusing
//! uppercase avoids that surprise. Non-ASCII look-alikes (a Cyrillic `о`) and invisible characters
//! pasted from documents are the nastiest case: the name looks right and every query fails, so the
//! check names the exact character and its code point.

use super::reserved::is_reserved;

/// Redshift's identifier limit, in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 127;

/// Whether `name` can be used unquoted as a warehouse identifier.
pub fn is_valid_identifier(name: &str) -> bool {
    identifier_problem(name).is_none()
}

/// `"name"` with embedded quotes doubled: the SQL way to quote an identifier.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"a", "b", "c"`: a quoted column list.
pub fn quote_identifier_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().map(quote_identifier).collect::<Vec<_>>().join(", ")
}

/// Why `name` is not a valid identifier (see the module docs for the rules).
pub fn check_identifier(name: &str) -> Result<(), String> {
    match identifier_problem(name) {
        None => Ok(()),
        Some(problem) => Err(problem.reason()),
    }
}

/// The first rule `name` breaks, if any.
pub(super) fn identifier_problem(name: &str) -> Option<IdentProblem> {
    if name.is_empty() {
        return Some(IdentProblem::Empty);
    }
    if let Some((index, c)) = name.chars().enumerate().find(|(_, c)| !is_identifier_char(*c)) {
        return Some(IdentProblem::BadChar { c, position: index + 1 });
    }
    let first = name.chars().next()?;
    if !(first.is_ascii_lowercase() || first == '_') {
        return Some(IdentProblem::BadStart(first));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Some(IdentProblem::TooLong(name.len()));
    }
    is_reserved(name).then_some(IdentProblem::Reserved)
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$'
}

/// A broken identifier rule, with the words to explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdentProblem {
    Empty,
    /// A character outside `[a-z0-9_$]`, at this 1-based character position.
    BadChar {
        c: char,
        position: usize,
    },
    /// Starts with a digit or `$`.
    BadStart(char),
    TooLong(usize),
    Reserved,
}

impl IdentProblem {
    /// What is wrong, for a message like `column name "x" <reason>`.
    pub(super) fn reason(self) -> String {
        match self {
            IdentProblem::Empty => "is empty".into(),
            IdentProblem::BadChar { c, position } => format!(
                "contains {} at character {position}; identifiers are [a-z_][a-z0-9_$]*",
                describe_char(c)
            ),
            IdentProblem::BadStart(c) => {
                format!("starts with {}; identifiers start with a lowercase letter or _", describe_char(c))
            }
            IdentProblem::TooLong(bytes) => {
                format!("is {bytes} bytes long; the limit is {MAX_IDENTIFIER_BYTES}")
            }
            IdentProblem::Reserved => "is a reserved word in Redshift/PostgreSQL".into(),
        }
    }

    /// What to do about it.
    pub(super) fn hint(self, name: &str) -> String {
        let suggestion = suggest_identifier(name);
        let instead = match &suggestion {
            Some(s) if s != name => format!(", e.g. \"{s}\""),
            _ => String::new(),
        };
        match self {
            IdentProblem::Empty => "give it a name of lowercase letters, digits and _".into(),
            IdentProblem::BadChar { c, .. } if c.is_ascii_uppercase() => {
                format!("use lowercase: warehouses fold identifiers{instead}")
            }
            IdentProblem::BadChar { c, .. } if is_invisible(c) => {
                "delete the name and type it again: it holds an invisible character, \
                 probably pasted from a document"
                    .into()
            }
            IdentProblem::BadChar { c, .. } if !c.is_ascii() => "retype the name with plain ASCII letters: \
                 the character may look like a Latin letter but is not one"
                .into(),
            IdentProblem::BadChar { c, .. } if is_quote(c) => {
                format!("remove the quote: dynashift quotes identifiers itself when it writes SQL{instead}")
            }
            IdentProblem::BadChar { .. } => format!("use _ instead{instead}"),
            IdentProblem::BadStart(_) => format!("put a letter or _ in front, e.g. \"c_{name}\""),
            IdentProblem::TooLong(_) => format!("shorten it to at most {MAX_IDENTIFIER_BYTES} bytes"),
            IdentProblem::Reserved => {
                format!("pick another name, e.g. \"{name}_\" or something more specific")
            }
        }
    }
}

/// The name with uppercase lowered and punctuation turned into `_`, when that gives an ASCII
/// name (no guessing for look-alikes).
fn suggest_identifier(name: &str) -> Option<String> {
    if !name.is_ascii() {
        return None;
    }
    let lowered: String = name
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if is_identifier_char(c) { c } else { '_' })
        .collect();
    Some(lowered)
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '`')
}

/// Characters that take no visible space.
fn is_invisible(c: char) -> bool {
    invisible_name(c).is_some() || c.is_control()
}

fn invisible_name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{200B}' => "zero-width space",
        '\u{200C}' => "zero-width non-joiner",
        '\u{200D}' => "zero-width joiner",
        '\u{2060}' => "word joiner",
        '\u{FEFF}' => "zero-width no-break space",
        '\u{00AD}' => "soft hyphen",
        '\u{00A0}' => "no-break space",
        _ => return None,
    })
}

/// Names a character so it can be found in the file: quotes and punctuation by name, invisible
/// characters by code point, non-ASCII letters with their code point beside them.
pub(super) fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        '"' => "a double quote (\")".into(),
        '\'' => "a single quote (')".into(),
        '`' => "a backtick (`)".into(),
        ';' => "a semicolon (;)".into(),
        c if c.is_ascii_uppercase() => format!("uppercase '{c}'"),
        c if invisible_name(c).is_some() => {
            format!("an invisible {} (U+{:04X})", invisible_name(c).unwrap_or_default(), u32::from(c))
        }
        c if c.is_control() => format!("the control character U+{:04X}", u32::from(c)),
        c if !c.is_ascii() => format!("'{c}' (U+{:04X}, not ASCII)", u32::from(c)),
        c => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> String {
        check_identifier(name).unwrap_err()
    }

    #[test]
    fn accepts_plain_lowercase_identifiers() {
        for name in ["orders", "_x", "a1", "total$", "customer_id"] {
            assert_eq!(check_identifier(name), Ok(()), "{name}");
            assert!(is_valid_identifier(name));
        }
    }

    #[test]
    fn names_the_offending_character() {
        assert!(reason("order id").contains("a space at character 6"));
        assert!(reason("a\"b").contains("a double quote"));
        assert!(reason("a;drop").contains("a semicolon"));
        assert!(reason("a-b").contains("'-'"));
        assert!(reason("Total").contains("uppercase 'T' at character 1"));
    }

    #[test]
    fn names_look_alikes_and_invisible_characters_by_code_point() {
        assert!(reason("\u{043E}rders").contains("U+043E, not ASCII"), "{}", reason("\u{043E}rders"));
        assert!(reason("ord\u{200B}ers").contains("invisible zero-width space (U+200B)"));
        assert!(reason("a\u{7}").contains("control character U+0007"));
    }

    #[test]
    fn rejects_bad_starts_length_and_reserved_words() {
        assert!(reason("").contains("empty"));
        assert!(reason("1abc").contains("starts with '1'"));
        assert!(reason("$x").contains("starts with '$'"));
        assert!(reason(&"a".repeat(128)).contains("128 bytes"));
        assert!(check_identifier(&"a".repeat(127)).is_ok());
        assert!(reason("select").contains("reserved word"));
        assert!(!is_valid_identifier("order"));
    }

    #[test]
    fn hints_say_what_to_write_instead() {
        let hint = |name: &str| identifier_problem(name).unwrap().hint(name);
        assert_eq!(hint("OrderId"), "use lowercase: warehouses fold identifiers, e.g. \"orderid\"");
        assert_eq!(hint("order id"), "use _ instead, e.g. \"order_id\"");
        assert!(hint("a\"b").starts_with("remove the quote"));
        assert!(hint("x\u{200B}").contains("invisible"));
        assert!(hint("\u{043E}x").contains("ASCII"));
        assert!(hint("order").contains("\"order_\""));
        assert!(hint("9lives").contains("\"c_9lives\""));
    }

    #[test]
    fn quoting_doubles_embedded_quotes() {
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_identifier("plain"), "\"plain\"");
    }
}

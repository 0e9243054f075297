//! TOML syntax errors, with a hint for the mistakes people actually make.
//!
//! The toml parser's messages say what it expected ("string values must be quoted"); the hint
//! adds what to type. Its byte spans are kept so the error points at the exact spot.

use super::issues::Issue;

/// Turns a parser error into an issue at its span.
pub(super) fn syntax_issue(error: &toml::de::Error) -> Issue {
    let message = error.message().trim_end();
    Issue {
        span: Some(error.span().unwrap_or(0..0)),
        message: format!("TOML syntax error: {message}"),
        hint: hint_for(message).to_owned(),
        first_at: None,
    }
}

fn hint_for(message: &str) -> &'static str {
    if message.contains("duplicate key") {
        "this key or [section] is already defined above in the same table; keep one \
         (a list of tables is written [[table]], one header per entry)"
    } else if message.contains("must be quoted") {
        "put text values in double quotes, like safety_lag = \"5m\""
    } else if message.contains("unclosed") || message.contains("invalid basic string") {
        "close the string, array or table that starts here"
    } else if message.contains("newline") {
        "put each key = value on its own line; inline tables { … } must fit on one line"
    } else {
        "fix the TOML syntax at the marked spot (see https://toml.io for the format)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_issue(text: &str) -> Issue {
        let (_, errors) = toml::de::DeTable::parse_recoverable(text);
        syntax_issue(&errors[0])
    }

    #[test]
    fn unquoted_values_get_a_quoting_hint() {
        let issue = first_issue("[defaults]\nsafety_lag = 5m\n");
        assert_eq!(issue.span, Some(24..26));
        assert!(
            issue.message.starts_with("TOML syntax error: string values must be quoted"),
            "{}",
            issue.message
        );
        assert!(issue.hint.contains("double quotes"));
    }

    #[test]
    fn duplicate_sections_get_a_duplicate_hint() {
        let issue = first_issue("[demo]\nseed = 1\n[demo]\n");
        assert!(issue.message.contains("duplicate key"));
        assert!(issue.hint.contains("already defined"));
    }

    #[test]
    fn unclosed_strings_get_a_closing_hint() {
        assert!(first_issue("x = \"abc\ny = 1\n").hint.starts_with("close the string"));
    }
}

//! JSON in one canonical text, so two JSON values can be compared for equality — exactly,
//! numbers included — whoever wrote them. A jsonb value read back from PostgreSQL is the staged
//! JSON re-written: keys reordered, spaces added, `1E+2` printed as `100`, `1.10` kept as
//! `1.10`. Canonical form undoes all of that:
//! - objects: keys sorted by their bytes; of repeated keys the last wins (as in jsonb);
//! - no whitespace; strings re-escaped the way serde_json writes them;
//! - numbers: sign, significant digits and a power of ten (`-1.50e3` and `-1500` both become
//!   `-15e2`), computed on the text, never through `f64`.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::value::RawValue;

/// A JSON value in canonical text (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CanonicalJson(String);

impl CanonicalJson {
    /// Canonicalises one JSON text; the error says why it is not JSON.
    pub fn parse(text: &str) -> Result<CanonicalJson, String> {
        let raw: &RawValue = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
        let mut out = String::with_capacity(text.len());
        write_canonical(raw, &mut out)?;
        Ok(CanonicalJson(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CanonicalJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn write_canonical(raw: &RawValue, out: &mut String) -> Result<(), String> {
    let text = raw.get().trim();
    let invalid = |e: serde_json::Error| format!("not JSON ({e})");
    match text.as_bytes().first() {
        Some(b'{') => {
            let object: BTreeMap<String, &RawValue> = serde_json::from_str(text).map_err(invalid)?;
            out.push('{');
            for (i, (key, value)) in object.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(&key).map_err(invalid)?);
                out.push(':');
                write_canonical(value, out)?;
            }
            out.push('}');
        }
        Some(b'[') => {
            let array: Vec<&RawValue> = serde_json::from_str(text).map_err(invalid)?;
            out.push('[');
            for (i, value) in array.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(value, out)?;
            }
            out.push(']');
        }
        Some(b'"') => {
            let string: String = serde_json::from_str(text).map_err(invalid)?;
            out.push_str(&serde_json::to_string(&string).map_err(invalid)?);
        }
        Some(b'-' | b'0'..=b'9') => out.push_str(&canonical_number(text)?),
        _ => out.push_str(text),
    }
    Ok(())
}

/// `-?digits e exponent` with no leading or trailing zeros in `digits`; zero is `0`.
fn canonical_number(text: &str) -> Result<String, String> {
    let bad = || format!("`{text}` is not a JSON number");
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().map_err(|_| bad())?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let digits = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0');
    let trimmed = significant.trim_end_matches('0');
    if trimmed.is_empty() {
        return Ok("0".to_owned());
    }
    let fraction_len = i64::try_from(fraction.len()).map_err(|_| bad())?;
    let dropped = i64::try_from(significant.len() - trimmed.len()).map_err(|_| bad())?;
    let power = exponent.checked_sub(fraction_len).and_then(|p| p.checked_add(dropped)).ok_or_else(bad)?;
    let sign = if negative { "-" } else { "" };
    Ok(format!("{sign}{trimmed}e{power}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        CanonicalJson::parse(text).unwrap().0
    }

    #[test]
    fn numbers_compare_by_exact_value() {
        for (a, b) in [("100", "1E+2"), ("-1.50e3", "-1500"), ("0.10", "1e-1"), ("0", "-0.000"), ("1.0", "1")]
        {
            assert_eq!(canonical(a), canonical(b), "{a} vs {b}");
        }
        let huge = "12345678901234567890123456789012345678";
        assert_eq!(canonical(huge), format!("{}e0", huge));
        assert_ne!(canonical("0.1000000000000000055511151231257827"), canonical("0.1"));
    }

    #[test]
    fn objects_sort_their_keys_and_keep_the_last_duplicate() {
        assert_eq!(
            canonical(r#"{ "b" : [1, {"d":true,"c":null}], "a": "x", "b": 2 }"#),
            r#"{"a":"x","b":2e0}"#
        );
        assert_eq!(canonical(r#"{"aa": 1, "b": 1}"#), canonical(r#"{"b":1,"aa":1}"#));
    }

    #[test]
    fn strings_are_compared_by_content_not_escapes() {
        assert_eq!(canonical(r#""\u00e9\/""#), canonical(r#""é/""#));
    }

    #[test]
    fn postgres_jsonb_output_matches_the_staged_text() {
        let staged = r#"{"n":1E+2,"f":0.10,"s":["a","b"],"m":{"k":-0}}"#;
        let from_postgres = r#"{"f": 0.10, "m": {"k": 0}, "n": 100, "s": ["a", "b"]}"#;
        assert_eq!(canonical(staged), canonical(from_postgres));
    }

    #[test]
    fn rejects_what_is_not_json() {
        assert!(CanonicalJson::parse("{").is_err());
        assert!(canonical_number("1.2.3").is_err());
        assert!(canonical_number("1e99999999999999999999").is_err());
    }
}

//! The fast path for staged lines: a reader of the exact form the stage writes them in.
//!
//! A load decodes every staged line the stage just wrote. Through serde_json that was most of
//! the CPU of a SQLite COPY's reading thread, which is the thread the whole COPY waits for: each
//! column name parsed and looked up, each value skipped once to find its end and read again to
//! check it. The stage writes every line as `{"name":value,…}` with the staged columns in their
//! order and no whitespace, and most values are plain strings, integers, booleans or null, so
//! [`FieldScanner`] reads that form in one pass and hands anything else (escaped strings,
//! fractions, super values) to serde_json one value at a time. It gives up (`None`) at anything
//! outside the form: the caller then decodes the line with serde_json as before, which accepts
//! it or says what is wrong. So the scanner only has to be right about what it accepts: that
//! serde_json reads it as the same values under the same names.

use serde::Deserialize as _;
use serde_json::value::RawValue;

use crate::ddb::json::first_special;

use super::staged_value::JsonText;

/// A cursor over one staged line, after its opening brace.
pub(super) struct FieldScanner<'l> {
    line: &'l str,
    at: usize,
}

impl<'l> FieldScanner<'l> {
    /// A scanner of `line`, which must open with `{`.
    pub(super) fn new(line: &'l str) -> Option<FieldScanner<'l>> {
        line.starts_with('{').then_some(FieldScanner { line, at: 1 })
    }

    /// The value of the next field, which must be named `name` (a name written as is in JSON:
    /// see [`writes_as_is`]).
    pub(super) fn field(&mut self, name: &str) -> Option<JsonText<'l>> {
        let bytes = self.line.as_bytes();
        if self.at > 1 {
            self.eat(b',')?;
        }
        self.eat(b'"')?;
        let end = self.at + name.len();
        (bytes.get(self.at..end)? == name.as_bytes()).then_some(())?;
        self.at = end;
        self.eat(b'"')?;
        self.eat(b':')?;
        self.value()
    }

    /// The object ends after the last field; only JSON whitespace (the line's end) follows.
    pub(super) fn end(mut self) -> Option<()> {
        self.eat(b'}')?;
        let rest = &self.line.as_bytes()[self.at..];
        rest.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')).then_some(())
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (*self.line.as_bytes().get(self.at)? == byte).then(|| self.at += 1)
    }

    fn value(&mut self) -> Option<JsonText<'l>> {
        let bytes = self.line.as_bytes();
        let start = self.at;
        match *bytes.get(start)? {
            b'"' => {
                let length = first_special(&bytes[start + 1..])?;
                match bytes[start + 1 + length] {
                    b'"' => self.at = start + length + 2,
                    // An escape: serde_json reads it (a raw control character fails there too).
                    _ => return self.by_serde_json(),
                }
            }
            b'n' => self.literal(b"null")?,
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'-' | b'0'..=b'9' => {
                let digits = start + usize::from(bytes[start] == b'-');
                let count = bytes[digits..].iter().take_while(|b| b.is_ascii_digit()).count();
                // JSON integers have a digit and no leading zero.
                if count == 0 || (bytes[digits] == b'0' && count > 1) {
                    return None;
                }
                if matches!(bytes.get(digits + count), Some(b'.' | b'e' | b'E')) {
                    return self.by_serde_json();
                }
                self.at = digits + count;
            }
            b'[' | b'{' => return self.by_serde_json(),
            _ => return None,
        }
        Some(JsonText::checked(&self.line[start..self.at]))
    }

    fn literal(&mut self, text: &[u8]) -> Option<()> {
        let end = self.at + text.len();
        (self.line.as_bytes().get(self.at..end)? == text).then(|| self.at = end)
    }

    /// The value at the cursor as serde_json reads it: valid JSON, its text borrowed from the
    /// line, so its end is where the line's next field starts.
    fn by_serde_json(&mut self) -> Option<JsonText<'l>> {
        let rest = &self.line[self.at..];
        let raw = <&RawValue>::deserialize(&mut serde_json::Deserializer::from_str(rest)).ok()?;
        let text = raw.get();
        // serde_json skips whitespace before a value; the stage writes none.
        if text.as_ptr() != rest.as_ptr() {
            return None;
        }
        self.at += text.len();
        Some(JsonText::checked(text))
    }
}

/// JSON writes `name` as it is between its quotes (no quote, backslash or control character to
/// escape), so the scanner can match it byte for byte.
pub(super) fn writes_as_is(name: &str) -> bool {
    name.bytes().all(|b| b != b'"' && b != b'\\' && b >= 0x20)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'l>(line: &'l str, names: &[&str]) -> Option<Vec<&'l str>> {
        let mut scanner = FieldScanner::new(line)?;
        let values =
            names.iter().map(|name| scanner.field(name).map(JsonText::get)).collect::<Option<_>>()?;
        scanner.end()?;
        Some(values)
    }

    /// serde_json's reading of the line: its fields' names and raw values, in line order.
    fn by_serde(line: &str) -> Option<Vec<(String, String)>> {
        let Fields(fields) = serde_json::from_str(line).ok()?;
        Some(fields.into_iter().map(|(name, value)| (name, value.get().to_owned())).collect())
    }

    struct Fields<'l>(Vec<(String, &'l RawValue)>);

    impl<'de> serde::Deserialize<'de> for Fields<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct InOrder;
            impl<'de> serde::de::Visitor<'de> for InOrder {
                type Value = Fields<'de>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Fields<'de>, A::Error> {
                    let mut fields = Vec::new();
                    while let Some(entry) = map.next_entry()? {
                        fields.push(entry);
                    }
                    Ok(Fields(fields))
                }
            }
            deserializer.deserialize_map(InOrder)
        }
    }

    #[test]
    fn reads_the_values_serde_json_reads_or_gives_up() {
        let values = [
            r#""plain""#,
            r#""""#,
            r#""a\"b""#,
            r#""\u00e9""#,
            r#""Zoë 🦀""#,
            "\"raw\ttab\"",
            "0",
            "-0",
            "7",
            "-12",
            "012",
            "-",
            "1.5",
            "-1e3",
            "1E+2",
            "1.",
            "true",
            "false",
            "null",
            "nul",
            "tru",
            "[1,{\"a\":[null]}]",
            "{\"k\":\"v\\n\"}",
            "[1,",
            "{}",
            "[]",
            " 1",
            "x",
        ];
        for first in values {
            for second in values {
                let line = format!(r#"{{"a":{first},"b_2":{second}}}"#);
                let scanned = fields(&line, &["a", "b_2"]);
                if let Some(scanned) = &scanned {
                    let expected = by_serde(&line).unwrap_or_else(|| panic!("serde_json refuses {line}"));
                    let names: Vec<_> = expected.iter().map(|(name, _)| name.as_str()).collect();
                    let texts: Vec<_> = expected.iter().map(|(_, text)| text.as_str()).collect();
                    assert_eq!((names, texts), (vec!["a", "b_2"], scanned.clone()), "{line}");
                }
                let plain = [first, second].iter().all(|v| {
                    matches!(
                        *v,
                        r#""plain""# | r#""""# | "0" | "-0" | "7" | "-12" | "true" | "false" | "null"
                    )
                });
                if plain {
                    assert!(scanned.is_some(), "the scanner gives up on {line}");
                }
            }
        }
    }

    #[test]
    fn gives_up_on_other_names_orders_and_spacing() {
        let names = ["a", "b"];
        for line in [
            r#"{"b":1,"a":2}"#,
            r#"{"a":1}"#,
            r#"{"a":1,"b":2,"c":3}"#,
            r#"{"a":1,"b":2} x"#,
            r#"{ "a":1,"b":2}"#,
            r#"{"a" :1,"b":2}"#,
            r#"{"a":1, "b":2}"#,
            r#"{"\u0061":1,"b":2}"#,
            r#"{"ab":1,"b":2}"#,
            r#"{"a":1,"b":2"#,
            r#"["a",1]"#,
            "",
        ] {
            assert_eq!(fields(line, &names), None, "{line}");
        }
        for line in ["{\"a\":1,\"b\":2}", "{\"a\":1,\"b\":2}\n", "{\"a\":1,\"b\":2}\r\n"] {
            assert_eq!(fields(line, &names), Some(vec!["1", "2"]), "{line}");
        }
    }

    #[test]
    fn names_with_characters_json_escapes_are_not_matched_as_is() {
        assert!(writes_as_is("order_id") && writes_as_is("Größe #1"));
        for name in ["a\"b", "a\\b", "tab\there", "\u{1f}"] {
            assert!(!writes_as_is(name), "{name:?}");
        }
    }
}

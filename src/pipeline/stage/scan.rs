//! The fast path for export lines: a scanner of the DynamoDB JSON that exports actually hold.
//!
//! Parsing through serde_json was half of the stage step's CPU, most of it the visitor machinery
//! around short strings rather than the strings themselves. Export lines are a narrow subset of
//! JSON: objects, arrays, strings and `true`/`false`, in one fixed shape. This scanner reads that
//! subset straight into [`Map`] and [`Value`] (escapes included; fields beyond the ones read are
//! skipped, as serde_json skips them), and gives up (`None`) at the first thing outside it: a
//! number, a repeated field, a second type tag, half a surrogate pair, a raw control character,
//! deep nesting, invalid UTF-8. The caller then parses the line with serde_json as before, which
//! either accepts it or produces the error a user sees. So every error keeps its wording, and the
//! scanner only has to be right about what it accepts: whatever it accepts, serde_json accepts
//! with the same result (the fuzz target `export_line` and the tests below check this).

use std::borrow::Cow;

use crate::ddb::json::first_special;

use super::image::{Map, Value};
use super::lines::{ChangeLine, FullItemLine, Metadata, SkippedMap};

/// Nesting deeper than this is left to serde_json (whose own limit is 128), so the scanner never
/// accepts a line serde_json would refuse for its depth.
const MAX_DEPTH: u32 = 100;

/// An export line type the scanner can read.
pub(super) trait Scanned<'a>: Sized {
    /// The line, or `None` when it is outside the subset the scanner reads.
    fn scan(line: &'a [u8]) -> Option<Self>;
}

impl<'a> Scanned<'a> for FullItemLine<'a> {
    fn scan(line: &'a [u8]) -> Option<FullItemLine<'a>> {
        let mut scanner = Scanner::new(line)?;
        let mut item = None;
        scanner.object(|scanner, field| match field.as_ref() {
            "Item" => scanner.once(&mut item, Scanner::map),
            _ => scanner.skip_value(),
        })?;
        scanner.end()?;
        Some(FullItemLine { item: item? })
    }
}

impl<'a> Scanned<'a> for ChangeLine<'a> {
    fn scan(line: &'a [u8]) -> Option<ChangeLine<'a>> {
        let mut scanner = Scanner::new(line)?;
        let (mut metadata, mut keys, mut new_image, mut old_image) = (None, None, None, None);
        scanner.object(|scanner, field| match field.as_ref() {
            "Metadata" => scanner.once(&mut metadata, Scanner::metadata),
            "Keys" => scanner.once(&mut keys, Scanner::map),
            "NewImage" => scanner.once(&mut new_image, Scanner::map),
            "OldImage" => scanner.once(&mut old_image, |scanner| scanner.skip_map().map(|()| SkippedMap)),
            _ => scanner.skip_value(),
        })?;
        scanner.end()?;
        Some(ChangeLine { metadata: metadata?, keys: keys?, new_image, _old_image: old_image })
    }
}

/// A cursor over one line, known to be UTF-8.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
    depth: u32,
}

impl<'a> Scanner<'a> {
    fn new(line: &'a [u8]) -> Option<Scanner<'a>> {
        Some(Scanner { text: std::str::from_utf8(line).ok()?, at: 0, depth: 0 })
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte that is not JSON whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        while let Some(&byte) = bytes.get(self.at) {
            if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Nothing but whitespace is left.
    fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// A string: borrowed from the line when it has no escapes. Raw control characters (which
    /// serde_json refuses) and half a surrogate pair are left to serde_json.
    #[inline]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.at;
        let length = first_special(&self.bytes()[start..])?;
        self.at = start + length;
        // The slice ends before an ASCII byte, so it is on a character boundary.
        let plain = &self.text[start..start + length];
        match self.bytes()[self.at] {
            b'"' => {
                self.at += 1;
                Some(Cow::Borrowed(plain))
            }
            b'\\' => self.escaped(plain.to_owned()).map(Cow::Owned),
            _ => None,
        }
    }

    /// The rest of a string from its first backslash, unescaped onto `text`.
    fn escaped(&mut self, mut text: String) -> Option<String> {
        loop {
            let bytes = self.bytes();
            match *bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(text);
                }
                b'\\' => {
                    let unescaped = match *bytes.get(self.at + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let (code, length) = self.unicode_escape()?;
                            self.at += length - 2;
                            code
                        }
                        _ => return None,
                    };
                    text.push(unescaped);
                    self.at += 2;
                }
                byte if byte < 0x20 => return None,
                _ => {
                    let start = self.at;
                    let length = first_special(&bytes[start..])?;
                    text.push_str(&self.text[start..start + length]);
                    self.at = start + length;
                }
            }
        }
    }

    /// The character of the `\uXXXX` escape at the cursor, or of a `\uXXXX\uXXXX` surrogate pair
    /// (what JSON writers make of characters beyond the BMP, such as emoji), and the escape's
    /// length. Half a pair is left to serde_json.
    fn unicode_escape(&self) -> Option<(char, usize)> {
        let hex = |at: usize| {
            let digits = self.text.get(at..at + 4)?;
            digits.bytes().all(|b| b.is_ascii_hexdigit()).then(|| u32::from_str_radix(digits, 16).ok())?
        };
        let code = hex(self.at + 2)?;
        if !(0xD800..0xDC00).contains(&code) {
            return Some((char::from_u32(code)?, 6));
        }
        if self.bytes().get(self.at + 6..self.at + 8)? != b"\\u" {
            return None;
        }
        let low = hex(self.at + 8)?;
        let pair =
            (0xDC00..0xE000).contains(&low).then(|| 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))?;
        Some((char::from_u32(pair)?, 12))
    }

    fn boolean(&mut self) -> Option<bool> {
        self.peek()?;
        let rest = &self.bytes()[self.at..];
        let (flag, length) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.at += length;
        Some(flag)
    }

    /// Opens a nested object or array, within [`MAX_DEPTH`].
    fn enter(&mut self, open: u8) -> Option<()> {
        self.eat(open)?;
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// `{"name": value, …}`: `entry` reads each value after its name.
    fn object(&mut self, mut entry: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>) -> Option<()> {
        self.enter(b'{')?;
        if self.eat(b'}').is_none() {
            loop {
                let name = self.string()?;
                self.eat(b':')?;
                entry(self, name)?;
                if self.eat(b',').is_none() {
                    self.eat(b'}')?;
                    break;
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// `[item, …]`: `item` reads each element.
    fn array<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.enter(b'[')?;
        let mut items = Vec::new();
        if self.eat(b']').is_none() {
            loop {
                items.push(item(self)?);
                if self.eat(b',').is_none() {
                    self.eat(b']')?;
                    break;
                }
            }
        }
        self.depth -= 1;
        Some(items)
    }

    /// A map of names to values, sorted (and deduplicated) as its serde form is.
    fn map(&mut self) -> Option<Map<'a>> {
        // Room for an item of a typical table: growing from 8 copied every item's entries once.
        // A map lives only while its line is staged, and malloc costs the same for either size.
        let mut entries = Vec::with_capacity(16);
        self.object(|scanner, name| {
            entries.push((name, scanner.value()?));
            Some(())
        })?;
        Some(Map::from_entries(entries))
    }

    /// `{"<tag>": <value>}` with exactly one known tag: an empty object, a second entry (a
    /// repeated or another tag) or an unknown tag gives up.
    fn value(&mut self) -> Option<Value<'a>> {
        self.enter(b'{')?;
        // Export lines have no whitespace, and most values are strings or numbers: their tag is
        // matched with its quotes and colon in one comparison.
        let rest = &self.bytes()[self.at..];
        let quick: Option<fn(Cow<'a, str>) -> Value<'a>> = match rest.get(..5) {
            Some(b"\"S\":\"") => Some(Value::S),
            Some(b"\"N\":\"") => Some(Value::N),
            _ => None,
        };
        if let Some(variant) = quick {
            self.at += 4;
            let value = variant(self.string()?);
            self.eat(b'}')?;
            self.depth -= 1;
            return Some(value);
        }
        let tag = self.string()?;
        self.eat(b':')?;
        let value = self.tagged(tag.as_bytes())?;
        self.eat(b'}')?;
        self.depth -= 1;
        Some(value)
    }

    /// The value after the type tag `tag` (matched as bytes: a `str` match compares with
    /// `memcmp`, and every value of every line has a tag).
    fn tagged(&mut self, tag: &[u8]) -> Option<Value<'a>> {
        let strings = |scanner: &mut Self| scanner.array(Self::string);
        Some(match tag {
            b"S" => Value::S(self.string()?),
            b"N" => Value::N(self.string()?),
            b"M" => Value::M(self.map()?),
            b"L" => Value::L(self.array(Self::value)?),
            b"BOOL" => Value::Bool(self.boolean()?),
            b"NULL" => Value::Null(self.boolean()?),
            b"B" => Value::B(self.string()?),
            b"SS" => Value::Ss(strings(self)?),
            b"NS" => Value::Ns(strings(self)?),
            b"BS" => Value::Bs(strings(self)?),
            _ => return None,
        })
    }

    /// `{"WriteTimestampMicros": <value>}`.
    fn metadata(&mut self) -> Option<Metadata<'a>> {
        let mut micros = None;
        self.object(|scanner, field| match field.as_ref() {
            "WriteTimestampMicros" => scanner.once(&mut micros, Scanner::value),
            _ => scanner.skip_value(),
        })?;
        Some(Metadata { write_timestamp_micros: micros? })
    }

    /// Reads a field into `slot` the first time it appears. A repeat gives up: serde_json refuses
    /// a repeated field of the ones read (and would keep either value, not both).
    fn once<T>(&mut self, slot: &mut Option<T>, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(read(self)?);
        Some(())
    }

    /// An object whose entries are checked for syntax and dropped (`OldImage`).
    fn skip_map(&mut self) -> Option<()> {
        self.object(|scanner, _| scanner.skip_value())
    }

    /// Any value of the subset, dropped (`OldImage`'s, and fields a line may carry beyond the
    /// ones read, which serde_json ignores too).
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => self.skip_map(),
            b'[' => self.array(Self::skip_value).map(drop),
            b'"' => self.string().map(drop),
            b'n' => self.bytes()[self.at..].starts_with(b"null").then(|| self.at += 4),
            _ => self.boolean().map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the scanner reads, serde_json reads the same; what it refuses, serde_json decides.
    fn agrees<'a, T>(line: &'a str) -> Option<T>
    where
        T: Scanned<'a> + serde::Deserialize<'a> + std::fmt::Debug + PartialEq,
    {
        let scanned = T::scan(line.as_bytes());
        if let Some(scanned) = &scanned {
            let parsed: T = serde_json::from_str(line).expect("serde_json reads what the scanner read");
            assert_eq!(&parsed, scanned, "{line}");
        }
        scanned
    }

    #[test]
    fn reads_every_type_as_serde_json_does() {
        let line = r#"{"Item":{"pk":{"S":"a"},"n":{"N":"-1.5e3"},"b":{"B":"AAE="},"t":{"BOOL":true},
            "f":{"BOOL":false},"z":{"NULL":true},"m":{"M":{"y":{"S":"ü"},"x":{"L":[]}}},
            "l":{"L":[{"S":"1"},{"N":"2"},{"M":{}}]},"ss":{"SS":["a","b"]},"ns":{"NS":["1"]},
            "bs":{"BS":[]},"pk":{"S":"last wins"}}}"#;
        let FullItemLine { item } = agrees::<FullItemLine<'_>>(line).expect("the scanner reads it");
        assert_eq!(item.get("pk"), Some(&Value::S(Cow::Borrowed("last wins"))));
        assert_eq!(item.entries().len(), 11);
    }

    #[test]
    fn reads_change_lines_with_or_without_images() {
        let upsert = r#"{"Metadata":{"WriteTimestampMicros":{"N":"17"}},"Keys":{"pk":{"S":"1"}},
            "OldImage":{"pk":{"S":"1"},"x":{"L":[{"BOOL":false},{"M":{"a":{"SS":[]}}}]}},
            "NewImage":{"pk":{"S":"1"},"x":{"S":"y"}}}"#;
        let change = agrees::<ChangeLine<'_>>(upsert).expect("the scanner reads it");
        assert_eq!(change.write_micros(), Some(17));
        assert!(change.new_image.is_some_and(|image| image.contains_key("x")));
        let delete = r#"{"Keys":{"pk":{"N":"1"}},"Metadata":{"WriteTimestampMicros":{"N":"1"}}}"#;
        assert!(agrees::<ChangeLine<'_>>(delete).expect("the scanner reads it").new_image.is_none());
    }

    #[test]
    fn leaves_everything_outside_the_subset_to_serde_json() {
        let deep = format!(r#"{{"Item":{{"a":{}{{"S":"x"}}{}}}}}"#, r#"{"L":["#.repeat(60), "]}".repeat(60));
        let lines = [
            r#"{"Item":{"a":{"S":"x\ud800"}}}"#,       // half a surrogate pair
            r#"{"Item":{"a":{"S":"x\ude00"}}}"#,       // a trailing surrogate alone
            r#"{"Item":{"a":{"S":"x\ud83d\u0041"}}}"#, // a leading surrogate, then no trailing one
            r#"{"Item":{"a":{"S":"x\ud83dz"}}}"#,      // a leading surrogate, then no escape
            r#"{"Item":{"a":{"S":"x\q"}}}"#,           // an unknown escape
            r#"{"Item":{"a":{"S":"x\u+041"}}}"#,       // a malformed \u escape
            r#"{"Item":{"a":{"S":"x\u00"}}}"#,         // a cut \u escape
            "{\"Item\":{\"a\":{\"S\":\"x\u{1}y\"}}}",  // a raw control character
            r#"{"Item":{"a":{"N":1}}}"#,               // a JSON number
            r#"{"Item":{"a":{"S":"x","N":"1"}}}"#,     // two type tags
            r#"{"Item":{"a":{}}}"#,                    // no type tag
            r#"{"Item":{"a":{"X":"1"}}}"#,             // an unknown tag
            r#"{"Item":{"a":{"BOOL":"true"}}}"#,       // a quoted boolean
            r#"{"Item":{},"Extra":1}"#,                // a number in an unknown field
            r#"{"Item":{},"Item":{}}"#,                // a repeated field
            r#"{"Item":{"a":{"S":"x"},}}"#,            // a trailing comma
            r#"{"Item":{"a":{"S":"x"}}} x"#,           // trailing text
            r#"{"Item":{"a":{"S":"x"}}"#,              // cut short
            r#"{"Item":null}"#,                        // a null map
            &deep,                                     // deeper than MAX_DEPTH
        ];
        for line in lines {
            assert_eq!(agrees::<FullItemLine<'_>>(line), None, "{line}");
        }
        assert_eq!(FullItemLine::scan(b"{\"Item\":{\"a\":{\"S\":\"\xff\"}}}").map(|_| ()), None);
        let changes = [
            r#"{"Keys":{"pk":{"S":"1"}}}"#,
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"},"Other":1},"Keys":{}}"#,
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{},"Keys":{}}"#,
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{},"NewImage":null}"#,
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{},"OldImage":{"a":1}}"#,
        ];
        for line in changes {
            assert_eq!(agrees::<ChangeLine<'_>>(line), None, "{line}");
        }
    }

    #[test]
    fn escapes_are_read_as_serde_json_reads_them() {
        let line = r#"{"It\u0065m":{"a\tb":{"\u0053":"q\"b\\s\/ \b\f\n\r\t \u00e9\u4e2d\u0000 end"},
            "l":{"SS":["\"","\ud83d\ude00\uD834\uDD1E"]},"k":{"S":"plain"}}}"#;
        let FullItemLine { item } = agrees::<FullItemLine<'_>>(line).expect("the scanner reads it");
        assert_eq!(
            item.get("a\tb"),
            Some(&Value::S(Cow::Owned("q\"b\\s/ \u{8}\u{c}\n\r\t é中\0 end".into())))
        );
        assert!(matches!(item.get("k"), Some(Value::S(Cow::Borrowed("plain")))));
        assert_eq!(item.get("l"), Some(&Value::Ss(vec!["\"".into(), "😀𝄞".into()])));
    }

    /// Random items of every type, written as DynamoDB and other JSON writers write them: the
    /// scanner must read every one (or the fast path is silently lost) and agree with serde_json.
    #[test]
    fn reads_every_generated_export_line_as_serde_json_does() {
        use crate::ddb::line::{IncrementalLineOut, LineMetadata};
        use crate::ddb::{AttributeValue, FullLine, Item};
        use rand::{Rng, SeedableRng};
        use rand_chacha::ChaCha8Rng;

        const CHARS: &[char] =
            &['a', 'Z', '7', ' ', '"', '\\', '/', '\n', '\t', '\u{1}', '\u{1f}', 'é', '中', '😀', '𝄞'];
        fn text(rng: &mut ChaCha8Rng) -> String {
            (0..rng.random_range(0..12)).map(|_| CHARS[rng.random_range(0..CHARS.len())]).collect()
        }
        fn value(rng: &mut ChaCha8Rng, depth: u32) -> AttributeValue {
            let texts = |rng: &mut ChaCha8Rng| (0..rng.random_range(0..3)).map(|_| text(rng)).collect();
            match rng.random_range(0..if depth < 3 { 10 } else { 8 }) {
                0 => AttributeValue::S(text(rng)),
                1 => AttributeValue::N(rng.random_range(-1000..1000).to_string()),
                2 => AttributeValue::B("AAE=".into()),
                3 => AttributeValue::Bool(rng.random()),
                4 => AttributeValue::Null(true),
                5 => AttributeValue::Ss(texts(rng)),
                6 => AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
                7 => AttributeValue::Bs(vec!["AA==".into()]),
                8 => AttributeValue::M(item(rng, depth + 1)),
                _ => AttributeValue::L((0..rng.random_range(0..4)).map(|_| value(rng, depth + 1)).collect()),
            }
        }
        fn item(rng: &mut ChaCha8Rng, depth: u32) -> Item {
            (0..rng.random_range(0..6)).map(|_| (text(rng), value(rng, depth))).collect()
        }
        /// Writers that escape everything beyond ASCII (`\u00e9`, surrogate pairs for emoji).
        fn ascii_escaped(json: &str) -> String {
            json.chars()
                .map(|c| match c.is_ascii() {
                    true => c.to_string(),
                    false => {
                        c.encode_utf16(&mut [0; 2]).iter().map(|unit| format!("\\u{unit:04x}")).collect()
                    }
                })
                .collect()
        }

        let mut rng = ChaCha8Rng::seed_from_u64(13);
        for round in 0..2_000 {
            let new = item(&mut rng, 0);
            let keys: Item = new.iter().take(1).map(|(k, v)| (k.clone(), v.clone())).collect();
            let full = serde_json::to_string(&FullLine { item: new.clone() }).unwrap();
            let change = serde_json::to_string(&IncrementalLineOut {
                metadata: LineMetadata { write_timestamp_micros: AttributeValue::N(round.to_string()) },
                keys: &keys,
                old_image: Some(&keys).filter(|_| round % 2 == 0),
                new_image: Some(&new).filter(|_| round % 3 != 0),
            })
            .unwrap();
            for line in [full.clone(), ascii_escaped(&full)] {
                let scanned = agrees::<FullItemLine<'_>>(&line);
                assert_eq!(scanned.map(|l| l.item.to_item()), Some(new.clone()), "{line}");
            }
            for line in [change.clone(), ascii_escaped(&change)] {
                assert!(agrees::<ChangeLine<'_>>(&line).is_some(), "{line}");
            }
        }
    }

    #[test]
    fn fields_beyond_the_ones_read_are_skipped_as_serde_json_skips_them() {
        let full = r#"{"Extra":{"k":["v",true,null,{"x":false}]},"Item":{"a":{"S":"x"}},"More":"y"}"#;
        assert!(agrees::<FullItemLine<'_>>(full).is_some());
        let change = r#"{"Metadata":{"Other":null,"WriteTimestampMicros":{"N":"5"}},"Keys":{"a":{"S":"x"}},
            "Extra":[]}"#;
        assert_eq!(agrees::<ChangeLine<'_>>(change).and_then(|c| c.write_micros()), Some(5));
        assert_eq!(agrees::<FullItemLine<'_>>(r#"{"Item":{},"X":nul}"#), None);
    }

    #[test]
    fn whitespace_between_tokens_is_read() {
        let line = " {\t\"Item\" : { \"a\" :\r\n{ \"S\" : \"x y\" } } } ";
        assert!(agrees::<FullItemLine<'_>>(line).is_some());
    }
}

//! Plain JSON for DynamoDB values: what a `super` column (and the whole-item column) holds.
//!
//! `{"M":{"n":{"N":"1.50"},"s":{"SS":["a"]}}}` becomes `{"n":1.5,"s":["a"]}`: S → string,
//! N → number (its exact digits, in canonical plain notation), B → base64 string, BOOL → bool,
//! NULL → null, M → object, L → array, SS/NS/BS → arrays. Numbers are written from their decimal
//! text, never through `f64`, so no digit is lost. Writers append to a caller's buffer, so the
//! stage step can build a whole staged line without allocating per value.

use super::number::{NumberError, write_json_number};
use super::value::{AttributeValue, Item};

/// Appends the plain JSON of `value`. Fails only on a number that is not a valid DynamoDB number.
pub fn write_value(out: &mut Vec<u8>, value: &AttributeValue) -> Result<(), NumberError> {
    match value {
        AttributeValue::S(text) | AttributeValue::B(text) => write_string(out, text),
        AttributeValue::N(text) => write_json_number(text, out)?,
        AttributeValue::Bool(flag) => out.extend_from_slice(if *flag { b"true" } else { b"false" }),
        AttributeValue::Null(_) => out.extend_from_slice(b"null"),
        AttributeValue::M(map) => write_item(out, map)?,
        AttributeValue::L(values) => {
            write_array(out, values, write_value)?;
        }
        AttributeValue::Ss(texts) | AttributeValue::Bs(texts) => {
            write_array(out, texts, |out, text| {
                write_string(out, text);
                Ok(())
            })?;
        }
        AttributeValue::Ns(texts) => write_array(out, texts, |out, text| write_json_number(text, out))?,
    }
    Ok(())
}

/// Appends the plain JSON object of an item (or map), keys in the item's (sorted) order.
pub fn write_item(out: &mut Vec<u8>, item: &Item) -> Result<(), NumberError> {
    out.push(b'{');
    for (i, (name, value)) in item.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, name);
        out.push(b':');
        write_value(out, value)?;
    }
    out.push(b'}');
    Ok(())
}

/// The plain JSON of `value` as a string.
pub fn value_to_json(value: &AttributeValue) -> Result<String, NumberError> {
    let mut out = Vec::new();
    write_value(&mut out, value)?;
    Ok(into_string(out))
}

/// The plain JSON of an item as a string.
pub fn item_to_json(item: &Item) -> Result<String, NumberError> {
    let mut out = Vec::new();
    write_item(&mut out, item)?;
    Ok(into_string(out))
}

/// Appends `text` as a JSON string literal, escaping `"`, `\` and control characters.
pub fn write_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let mut rest = text.as_bytes();
    while let Some(at) = first_special(rest) {
        out.extend_from_slice(&rest[..at]);
        write_escape(out, rest[at]);
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The offset of the first byte that cannot stand for itself inside a JSON string: `"`, `\` or
/// a control character. Eight bytes at a time, because it runs over every string the stage reads
/// and writes.
#[inline]
pub fn first_special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // `(x - ONES) & !x & HIGHS` flags the zero bytes of x, and `(w - 0x20…) & !w & HIGHS` the
    // bytes of w below 0x20. A borrow can flag a byte wrongly only above a byte rightly flagged,
    // so the lowest flag is exact.
    let flags = |word: u64| {
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | word.wrapping_sub(ONES * 0x20) & !word)
            & HIGHS
    };
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let found = flags(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|i| at + i)
}

fn write_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match byte {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ]),
    }
}

/// Writes `[e1,e2,…]`, each element by `write_element` (shared with the stage's borrowed values).
pub fn write_array<T>(
    out: &mut Vec<u8>,
    elements: &[T],
    mut write_element: impl FnMut(&mut Vec<u8>, &T) -> Result<(), NumberError>,
) -> Result<(), NumberError> {
    out.push(b'[');
    for (i, element) in elements.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_element(out, element)?;
    }
    out.push(b']');
    Ok(())
}

/// Everything written here is valid UTF-8: string contents are copied from `&str`s and every
/// other byte is ASCII.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn first_special_finds_what_a_byte_loop_finds() {
        let naive = |bytes: &[u8]| bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
        // Every special and boundary byte, at every offset of strings up to 20 bytes long, over
        // backgrounds that provoke borrows (0x00, 0x01, 0x21, 0x7f, 0x80, 0xff…).
        let specials = [b'"', b'\\', 0x00, 0x01, 0x1f];
        let others = [0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff, b'a'];
        for length in 0..20 {
            for &background in &others {
                let mut bytes = vec![background; length];
                assert_eq!(first_special(&bytes), naive(&bytes), "{bytes:?}");
                for at in 0..length {
                    for &special in specials.iter().chain(&others) {
                        bytes[at] = special;
                        assert_eq!(first_special(&bytes), naive(&bytes), "{bytes:?}");
                        if at + 1 < length {
                            bytes[at + 1] = b'"';
                            assert_eq!(first_special(&bytes), naive(&bytes), "{bytes:?}");
                            bytes[at + 1] = background;
                        }
                    }
                    bytes[at] = background;
                }
            }
        }
    }

    fn item(json: &str) -> Item {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_type_maps_to_plain_json() {
        let item = item(
            r#"{"s":{"S":"x"},"n":{"N":"1.50"},"b":{"B":"AAE="},"t":{"BOOL":true},"f":{"BOOL":false},
                "z":{"NULL":true},"m":{"M":{"k":{"N":"-0"}}},"l":{"L":[{"S":"a"},{"N"
                :"1E2"}]},"ss":{"SS":["a","b"]},"ns":{"NS":["1","2.0"]},"bs":{"BS":["AA=="]}}"#,
        );
        assert_eq!(
            item_to_json(&item).unwrap(),
            r#"{"b":"AAE=","bs":["AA=="],"f":false,"l":["a",100],"m":{"k":0},"n":1.5,"ns":[1,2],"s":"x","ss":["a","b"],"t":true,"z":null}"#
        );
    }

    #[test]
    fn numbers_keep_every_digit() {
        let n = AttributeValue::N("12345678901234567890123456789012345678".into());
        assert_eq!(value_to_json(&n).unwrap(), "12345678901234567890123456789012345678");
        let tiny = AttributeValue::N("1E-130".into());
        assert_eq!(value_to_json(&tiny).unwrap(), format!("0.{}1", "0".repeat(129)));
    }

    #[test]
    fn invalid_numbers_are_errors() {
        assert!(value_to_json(&AttributeValue::N("1E+999".into())).is_err());
        assert!(value_to_json(&AttributeValue::Ns(vec!["1".into(), "x".into()])).is_err());
        assert!(value_to_json(&AttributeValue::L(vec![AttributeValue::N("".into())])).is_err());
    }

    #[test]
    fn strings_are_escaped_and_round_trip() {
        let text = "quote \" backslash \\ newline \n tab \t bell \u{7} nul \0 é 😀 \u{1f}";
        let json = value_to_json(&AttributeValue::S(text.into())).unwrap();
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
        assert!(json.contains("\\u0007") && json.contains("\\u0000") && json.contains("\\u001f"), "{json}");
        let key_item = item(r#"{"a\"b":{"S":"v"}}"#);
        assert_eq!(item_to_json(&key_item).unwrap(), r#"{"a\"b":"v"}"#);
    }

    #[test]
    fn empty_containers() {
        assert_eq!(item_to_json(&Item::new()).unwrap(), "{}");
        assert_eq!(value_to_json(&AttributeValue::L(vec![])).unwrap(), "[]");
    }
}

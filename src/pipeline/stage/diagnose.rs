//! Error-path helpers for a data line that failed: where in the line it failed and which item it
//! was. Run only once a line has failed, so they may parse it again and slowly.

use serde::Deserialize;

use super::error::capped;

/// The JSON path at which `line` stops being a `T`, e.g. `NewImage.address.M.city`; `None` when
/// it is the line itself (or it parses after all).
pub(super) fn failing_path<'de, T: Deserialize<'de>>(line: &'de [u8]) -> Option<String> {
    let mut deserializer = serde_json::Deserializer::from_slice(line);
    let error = serde_path_to_error::deserialize::<_, T>(&mut deserializer).err()?;
    let path = error.path().to_string();
    (path != "." && !path.is_empty()).then(|| capped(&path).into_owned())
}

/// The key of a line that failed, read leniently from its `Keys` (or a full export's `Item`) as
/// `ItemKey` displays keys: each key attribute's DynamoDB JSON, joined by ", ". `None` when the
/// line is not JSON or holds no key attribute.
pub(super) fn lenient_key(line: &[u8], key_attributes: &[String]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    let image = value.get("Keys").or_else(|| value.get("Item"))?.as_object()?;
    let parts: Vec<String> = key_attributes
        .iter()
        .map(|name| image.get(name).map_or_else(|| "(missing)".to_owned(), |v| v.to_string()))
        .collect();
    if parts.iter().all(|part| part == "(missing)") {
        return None;
    }
    Some(capped(&parts.join(", ")).into_owned())
}

/// "item {…}, attribute `p`: reason", leaving out what is not known.
pub(super) fn describe(item: Option<&str>, path: Option<&str>, reason: &str) -> String {
    let mut text = String::new();
    if let Some(item) = item {
        text.push_str(&format!("item {item}, "));
    }
    if let Some(path) = path {
        text.push_str(&format!("attribute `{}`, ", capped(path)));
    }
    if text.is_empty() {
        return reason.to_owned();
    }
    text.truncate(text.len() - 2);
    format!("{text}: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stage::lines::{ChangeLine, FullItemLine};

    fn keys() -> Vec<String> {
        vec!["id".to_owned()]
    }

    #[test]
    fn the_failing_path_walks_into_images_and_maps() {
        let line = br#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"S":"1"}},
            "NewImage":{"id":{"S":"1"},"a":{"M":{"b":{"N":"3","S":"3"}}}}}"#;
        let path = failing_path::<ChangeLine<'_>>(line).unwrap();
        assert!(path.starts_with("NewImage.a.M.b"), "{path}");
        assert_eq!(failing_path::<FullItemLine<'_>>(br#"{"Item":{"id":{"S":"1"}}}"#), None);
        let null_image =
            br#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"S":"1"}},"NewImage":null}"#;
        assert_eq!(failing_path::<ChangeLine<'_>>(null_image).as_deref(), Some("NewImage"));
    }

    #[test]
    fn the_key_of_a_broken_line_is_read_leniently() {
        let line = br#"{"Keys":{"id":{"S":"k7"}},"NewImage":{"a":{"X":1}}}"#;
        assert_eq!(lenient_key(line, &keys()).as_deref(), Some(r#"{"S":"k7"}"#));
        assert_eq!(lenient_key(br#"{"Item":{"id":{"N":"3"}}}"#, &keys()).as_deref(), Some(r#"{"N":"3"}"#));
        assert_eq!(lenient_key(b"{broken", &keys()), None);
        assert_eq!(lenient_key(br#"{"Item":{"x":{"N":"3"}}}"#, &keys()), None);
        let long = format!(r#"{{"Item":{{"id":{{"S":"{}"}}}}}}"#, "x".repeat(10_000_000));
        assert!(lenient_key(long.as_bytes(), &keys()).unwrap().len() < 300);
    }

    #[test]
    fn descriptions_leave_out_what_is_unknown() {
        assert_eq!(
            describe(Some("{\"S\":\"a\"}"), Some("NewImage.x"), "bad"),
            "item {\"S\":\"a\"}, attribute `NewImage.x`: bad"
        );
        assert_eq!(describe(None, Some("Keys"), "bad"), "attribute `Keys`: bad");
        assert_eq!(describe(None, None, "bad"), "bad");
    }
}

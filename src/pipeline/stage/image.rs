//! Item images as the stage step reads them: DynamoDB JSON parsed without copying.
//!
//! [`crate::ddb::AttributeValue`] owns every string and keeps maps in a `BTreeMap`, which is
//! right for the rest of dynashift but costs an allocation per attribute name and value. The
//! stage step parses each exported item once and throws it away, so here strings borrow from the
//! line (unless they contain escapes) and maps are sorted vectors. Profiling the stage step
//! showed parsing into the owned types as its largest cost.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, Error as _, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::ddb::json::{write_array, write_string};
use crate::ddb::number::{NumberError, write_json_number};
use crate::ddb::{AttributeValue, Item};

use super::error::capped;

/// Maps up to this size are searched linearly.
const LINEAR_SEARCH_MAX: usize = 32;

/// One DynamoDB value (all ten types), borrowing its text. Serializes back to DynamoDB JSON.
///
/// Parsed by hand (see [`ValueVisitor`]) rather than as a derived externally tagged enum: the
/// derived form calls `{"N":"3","S":"3"}` a JSON syntax error ("trailing comma"), where the line
/// is valid JSON holding a value with two type tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Value<'a> {
    S(Cow<'a, str>),
    N(Cow<'a, str>),
    B(Cow<'a, str>),
    #[serde(rename = "BOOL")]
    Bool(bool),
    #[serde(rename = "NULL")]
    Null(bool),
    M(Map<'a>),
    L(Vec<Value<'a>>),
    /// Set elements borrow from the line when the scanner reads them; through serde they are
    /// owned (serde borrows a `Cow` only when it is the field itself).
    #[serde(rename = "SS")]
    Ss(Vec<Cow<'a, str>>),
    #[serde(rename = "NS")]
    Ns(Vec<Cow<'a, str>>),
    #[serde(rename = "BS")]
    Bs(Vec<Cow<'a, str>>),
}

/// The type tags DynamoDB JSON uses, for error messages.
const TYPE_TAGS: &str = "S, N, B, BOOL, NULL, M, L, SS, NS or BS";

impl<'de: 'a, 'a> Deserialize<'de> for Value<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value<'a>, D::Error> {
        deserializer.deserialize_map(ValueVisitor(std::marker::PhantomData))
    }
}

/// Reads `{"<tag>": <value>}` and insists on exactly one tag.
struct ValueVisitor<'a>(std::marker::PhantomData<Value<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for ValueVisitor<'a> {
    type Value = Value<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DynamoDB attribute value such as {\"S\": \"text\"}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value<'a>, A::Error> {
        let Some(Name(tag)) = access.next_key::<Name<'de>>()? else {
            return Err(A::Error::custom(format!(
                "an attribute value needs exactly one type tag ({TYPE_TAGS}); this one is empty"
            )));
        };
        let value = match tag.as_ref() {
            "S" => Value::S(access.next_value::<Name<'de>>()?.0),
            "N" => Value::N(access.next_value::<Name<'de>>()?.0),
            "B" => Value::B(access.next_value::<Name<'de>>()?.0),
            "BOOL" => Value::Bool(access.next_value()?),
            "NULL" => Value::Null(access.next_value()?),
            "M" => Value::M(access.next_value()?),
            "L" => Value::L(access.next_value()?),
            "SS" => Value::Ss(access.next_value()?),
            "NS" => Value::Ns(access.next_value()?),
            "BS" => Value::Bs(access.next_value()?),
            other => {
                return Err(A::Error::custom(format!(
                    "unknown type tag {}; DynamoDB JSON uses {TYPE_TAGS}",
                    capped(&format!("`{other}`"))
                )));
            }
        };
        if let Some(Name(second)) = access.next_key::<Name<'de>>()? {
            return Err(A::Error::custom(format!(
                "an attribute value has exactly one type tag; this one has `{}` and {}",
                value.type_tag(),
                capped(&format!("`{second}`"))
            )));
        }
        Ok(value)
    }
}

/// An owned set's elements, borrowed.
fn borrowed(texts: &[String]) -> Vec<Cow<'_, str>> {
    texts.iter().map(|text| Cow::Borrowed(text.as_str())).collect()
}

/// A set's elements, owned (for [`AttributeValue`]).
fn owned(texts: &[Cow<'_, str>]) -> Vec<String> {
    texts.iter().map(|text| text.to_string()).collect()
}

/// A map (or item) of name → value, sorted by name (as `Item`'s `BTreeMap` is), so lookups are
/// binary searches and JSON output is deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Map<'a>(Vec<(Cow<'a, str>, Value<'a>)>);

impl<'a> Value<'a> {
    /// The DynamoDB type tag (`"S"`, `"N"`, `"BOOL"`…), for error messages.
    pub fn type_tag(&self) -> &'static str {
        match self {
            Value::S(_) => "S",
            Value::N(_) => "N",
            Value::B(_) => "B",
            Value::Bool(_) => "BOOL",
            Value::Null(_) => "NULL",
            Value::M(_) => "M",
            Value::L(_) => "L",
            Value::Ss(_) => "SS",
            Value::Ns(_) => "NS",
            Value::Bs(_) => "BS",
        }
    }

    /// `an N value`, `a BOOL value`: the type tag with the article it is read with (S, N, M and
    /// L are read "ess", "en", "em", "el"), for error messages.
    pub fn type_phrase(&self) -> String {
        let tag = self.type_tag();
        let article = if matches!(tag, "S" | "N" | "M" | "L" | "SS" | "NS") { "an" } else { "a" };
        format!("{article} {tag} value")
    }

    /// Bytes of the longest string in the value (S, B, set elements, map names, at any depth):
    /// what a warehouse's string limit inside JSON applies to.
    pub fn longest_string(&self) -> usize {
        let longest = |texts: &[Cow<'_, str>]| texts.iter().map(|text| text.len()).max().unwrap_or(0);
        match self {
            Value::S(text) | Value::B(text) => text.len(),
            Value::N(_) | Value::Bool(_) | Value::Null(_) => 0,
            Value::M(map) => map.longest_string(),
            Value::L(list) => list.iter().map(Value::longest_string).max().unwrap_or(0),
            Value::Ss(texts) | Value::Bs(texts) => longest(texts),
            Value::Ns(_) => 0,
        }
    }

    /// A borrowed view of an owned value.
    pub fn of(value: &'a AttributeValue) -> Value<'a> {
        match value {
            AttributeValue::S(text) => Value::S(Cow::Borrowed(text)),
            AttributeValue::N(text) => Value::N(Cow::Borrowed(text)),
            AttributeValue::B(text) => Value::B(Cow::Borrowed(text)),
            AttributeValue::Bool(flag) => Value::Bool(*flag),
            AttributeValue::Null(flag) => Value::Null(*flag),
            AttributeValue::M(map) => Value::M(Map::of(map)),
            AttributeValue::L(list) => Value::L(list.iter().map(Value::of).collect()),
            AttributeValue::Ss(texts) => Value::Ss(borrowed(texts)),
            AttributeValue::Ns(texts) => Value::Ns(borrowed(texts)),
            AttributeValue::Bs(texts) => Value::Bs(borrowed(texts)),
        }
    }

    /// The owned value (for error messages and keys).
    pub fn to_owned_value(&self) -> AttributeValue {
        match self {
            Value::S(text) => AttributeValue::S(text.to_string()),
            Value::N(text) => AttributeValue::N(text.to_string()),
            Value::B(text) => AttributeValue::B(text.to_string()),
            Value::Bool(flag) => AttributeValue::Bool(*flag),
            Value::Null(flag) => AttributeValue::Null(*flag),
            Value::M(map) => AttributeValue::M(map.to_item()),
            Value::L(list) => AttributeValue::L(list.iter().map(Value::to_owned_value).collect()),
            Value::Ss(texts) => AttributeValue::Ss(owned(texts)),
            Value::Ns(texts) => AttributeValue::Ns(owned(texts)),
            Value::Bs(texts) => AttributeValue::Bs(owned(texts)),
        }
    }

    /// Appends the plain JSON of the value (see [`crate::ddb::json`], which does the same for
    /// owned values).
    pub fn write_plain_json(&self, out: &mut Vec<u8>) -> Result<(), NumberError> {
        match self {
            Value::S(text) | Value::B(text) => write_string(out, text),
            Value::N(text) => write_json_number(text, out)?,
            Value::Bool(flag) => out.extend_from_slice(if *flag { b"true" } else { b"false" }),
            Value::Null(_) => out.extend_from_slice(b"null"),
            Value::M(map) => map.write_plain_json(out)?,
            Value::L(list) => write_array(out, list, |out, value| value.write_plain_json(out))?,
            Value::Ss(texts) | Value::Bs(texts) => write_array(out, texts, |out, text| {
                write_string(out, text);
                Ok(())
            })?,
            Value::Ns(texts) => write_array(out, texts, |out, text| write_json_number(text, out))?,
        }
        Ok(())
    }
}

impl<'a> Map<'a> {
    /// A borrowed view of an owned item.
    pub fn of(item: &'a Item) -> Map<'a> {
        // A BTreeMap iterates in key order, so the entries are already sorted.
        Map(item.iter().map(|(name, value)| (Cow::Borrowed(name.as_str()), Value::of(value))).collect())
    }

    /// Name and value of each entry, sorted by name.
    pub(super) fn entries(&self) -> &[(Cow<'a, str>, Value<'a>)] {
        &self.0
    }

    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        // Items are small: comparing lengths first rules out almost every entry without touching
        // its text, which beats a binary search's string comparisons.
        if self.0.len() <= LINEAR_SEARCH_MAX {
            return self.0.iter().find(|(key, _)| same_name(key, name)).map(|(_, value)| value);
        }
        let index = self.0.binary_search_by(|(key, _)| key.as_ref().cmp(name)).ok()?;
        Some(&self.0[index].1)
    }

    /// Bytes of the longest name or string in the map, at any depth.
    pub fn longest_string(&self) -> usize {
        self.0.iter().map(|(name, value)| name.len().max(value.longest_string())).max().unwrap_or(0)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The owned item (for error messages and keys).
    pub fn to_item(&self) -> Item {
        self.0.iter().map(|(name, value)| (name.to_string(), value.to_owned_value())).collect()
    }

    /// Appends the plain JSON object, keys in sorted order.
    pub fn write_plain_json(&self, out: &mut Vec<u8>) -> Result<(), NumberError> {
        out.push(b'{');
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(out, name);
            out.push(b':');
            value.write_plain_json(out)?;
        }
        out.push(b'}');
        Ok(())
    }

    /// Sorts by name; of repeated names the last one stays, as when parsing into a `BTreeMap`.
    pub(super) fn from_entries(mut entries: Vec<(Cow<'a, str>, Value<'a>)>) -> Map<'a> {
        entries.sort_by(|a, b| by_name(&a.0, &b.0));
        entries.dedup_by(|later, earlier| {
            let repeated = later.0 == earlier.0;
            if repeated {
                std::mem::swap(later, earlier);
            }
            repeated
        });
        Map(entries)
    }
}

/// `a == b` for attribute names, compared in line: names are a few bytes long, and every item
/// compares dozens (column lookups, the drift walk), where a `memcmp` call costs more than the
/// comparison. Names of one length (`pk` and `sk`, `created_at` and `updated_at`) mostly differ in
/// their first byte.
#[inline]
pub(super) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// `a.cmp(b)` for attribute names, compared in line (see [`same_name`]): the sort of every map
/// in every line and the drift walk run it.
#[inline]
pub(super) fn by_name(a: &str, b: &str) -> std::cmp::Ordering {
    match a.bytes().zip(b.bytes()).find(|(x, y)| x != y) {
        Some((x, y)) => x.cmp(&y),
        None => a.len().cmp(&b.len()),
    }
}

/// A map key or a string, borrowed from the input when it has no escapes. Read as a plain
/// string (not a newtype), so error paths built by `serde_path_to_error` name map keys.
struct Name<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Name<'a>, D::Error> {
        struct NameVisitor<'a>(std::marker::PhantomData<Name<'a>>);

        impl<'de: 'a, 'a> Visitor<'de> for NameVisitor<'a> {
            type Value = Name<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E>(self, text: String) -> Result<Name<'a>, E> {
                Ok(Name(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_str(NameVisitor(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Map<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Map<'a>, D::Error> {
        struct MapVisitor<'a>(std::marker::PhantomData<Map<'a>>);

        impl<'de: 'a, 'a> Visitor<'de> for MapVisitor<'a> {
            type Value = Map<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of attribute names to DynamoDB values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Map<'a>, A::Error> {
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(8));
                while let Some((Name(name), value)) = access.next_entry::<Name<'de>, Value<'de>>()? {
                    entries.push((name, value));
                }
                Ok(Map::from_entries(entries))
            }
        }

        deserializer.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

impl Serialize for Map<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddb::json::item_to_json;

    const ITEM: &str = r#"{"z":{"S":"last"},"s":{"S":"plain"},"e":{"S":"tab\tescaped"},"n":{"N":"1.50"},
        "b":{"B":"AAE="},"t":{"BOOL":true},"u":{"NULL":true},"m":{"M":{"k":{"N":"-0"}}},
        "l":{"L":[{"S":"a"},{"N":"1E2"}]},"ss":{"SS":["x","y"]},"ns":{"NS":["1","2.0"]},"bs":{"BS":["AA=="]}}"#;

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let map: Map<'_> = serde_json::from_str(ITEM).unwrap();
        assert!(matches!(map.get("s"), Some(Value::S(Cow::Borrowed("plain")))));
        assert!(matches!(map.get("n"), Some(Value::N(Cow::Borrowed("1.50")))));
        assert!(matches!(map.get("e"), Some(Value::S(Cow::Owned(text))) if text == "tab\tescaped"));
        assert!(map.0.iter().all(|(name, _)| matches!(name, Cow::Borrowed(_))));
    }

    #[test]
    fn maps_are_sorted_and_looked_up_by_name() {
        let map: Map<'_> = serde_json::from_str(ITEM).unwrap();
        let names: Vec<&str> = map.0.iter().map(|(name, _)| name.as_ref()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(map.contains_key("z") && map.contains_key("b") && !map.contains_key("missing"));
        let text = format!(
            "{{{}}}",
            (0..100).map(|i| format!(r#""a{i}":{{"N":"{i}"}}"#)).collect::<Vec<_>>().join(",")
        );
        let large: Map<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(large.get("a57"), Some(&Value::N("57".into())));
        assert_eq!(large.get("a100"), None);
    }

    #[test]
    fn repeated_names_keep_the_last_value_like_a_btree_map() {
        let text = r#"{"a":{"S":"1"},"b":{"S":"x"},"a":{"S":"2"}}"#;
        let map: Map<'_> = serde_json::from_str(text).unwrap();
        let item: Item = serde_json::from_str(text).unwrap();
        assert_eq!(map.to_item(), item);
        assert_eq!(map.get("a"), Some(&Value::S(Cow::Borrowed("2"))));
    }

    #[test]
    fn agrees_with_the_owned_types() {
        let item: Item = serde_json::from_str(ITEM).unwrap();
        let map: Map<'_> = serde_json::from_str(ITEM).unwrap();
        assert_eq!(map.to_item(), item);
        assert_eq!(Map::of(&item), map);
        let mut plain = Vec::new();
        map.write_plain_json(&mut plain).unwrap();
        assert_eq!(String::from_utf8(plain).unwrap(), item_to_json(&item).unwrap());
        let dynamodb_json = serde_json::to_string(&map).unwrap();
        assert_eq!(serde_json::from_str::<Item>(&dynamodb_json).unwrap(), item);
    }

    #[test]
    fn rejects_values_that_are_not_dynamodb_json() {
        for text in [r#"{"a":{"X":"1"}}"#, r#"{"a":"plain"}"#, r#"{"a":{"S":1}}"#, "[]"] {
            assert!(serde_json::from_str::<Map<'_>>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_value_has_exactly_one_type_tag() {
        let error = |text: &str| serde_json::from_str::<Value<'_>>(text).unwrap_err();
        let two = error(r#"{"N":"3","S":"3"}"#);
        assert_eq!(two.classify(), serde_json::error::Category::Data, "{two}");
        assert!(two.to_string().contains("exactly one type tag; this one has `N` and `S`"), "{two}");
        let empty = error("{}");
        assert!(empty.to_string().contains("this one is empty"), "{empty}");
        let unknown = error(&format!(r#"{{"{}":"1"}}"#, "X".repeat(10_000)));
        assert!(unknown.to_string().len() < 400, "{unknown}");
        assert!(unknown.to_string().contains("(10002 bytes)"), "{unknown}");
    }

    #[test]
    fn the_longest_string_is_found_at_any_depth() {
        let map: Map<'_> = serde_json::from_str(ITEM).unwrap();
        assert_eq!(map.longest_string(), "tab\tescaped".len());
        let nested: Value<'_> =
            serde_json::from_str(r#"{"L":[{"M":{"k":{"SS":["a","abcdef"]}}},{"N":"123456789"}]}"#).unwrap();
        assert_eq!(nested.longest_string(), 6);
    }

    #[test]
    fn every_tag_parses_to_its_variant() {
        let map: Map<'_> = serde_json::from_str(ITEM).unwrap();
        let tags: Vec<&str> = map.0.iter().map(|(_, value)| value.type_tag()).collect();
        assert_eq!(tags, ["B", "BS", "S", "L", "M", "N", "NS", "S", "SS", "BOOL", "NULL", "S"]);
    }
}

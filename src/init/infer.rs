//! Proposed columns for a DynamoDB table from its key schema and a sample of its items.
//!
//! Only top-level attributes become columns; what is nested (maps, lists, sets) is proposed as
//! `super`. Every type is a guess from the sample, and each proposal carries a note saying what
//! it was guessed from, which [`super::render`] writes beside it: the user must be able to tell a
//! fact (the key, from DescribeTable) from a guess. Types follow aws-facts §7 and the stage
//! step's conversions (`pipeline::stage::coerce`), so a guess that fits the sample loads it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::naming::ColumnNames;
use crate::config::{ColumnType, KeyAttribute, KeyScalar, VARCHAR_MAX};
use crate::ddb::number::Number;

/// Shortest varchar proposed for a value (room for values longer than the sample's).
const VALUE_VARCHAR_FLOOR: usize = 32;
/// Shortest varchar proposed for a key attribute (a key that outgrows its column fails the run).
const KEY_VARCHAR_FLOOR: usize = 64;
/// Most integer digits a `decimal` column holds (Redshift's maximum precision).
const MAX_PRECISION: usize = 38;

/// One sampled value, reduced to what typing it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sampled {
    S(String),
    N(String),
    /// A binary value of this many bytes (it loads as base64 text).
    B(usize),
    Bool,
    Null,
    /// A map, list or set, by its DynamoDB type tag.
    Nested(&'static str),
}

impl Sampled {
    fn tag(&self) -> &'static str {
        match self {
            Sampled::S(_) => "S",
            Sampled::N(_) => "N",
            Sampled::B(_) => "B",
            Sampled::Bool => "BOOL",
            Sampled::Null => "NULL",
            Sampled::Nested(tag) => tag,
        }
    }
}

/// A sampled item: attribute name to value.
pub(super) type SampledItem = BTreeMap<String, Sampled>;

/// A proposed column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Proposal {
    pub column: String,
    pub attribute: String,
    pub ty: ColumnType,
    /// What the type was guessed from, for a comment beside it.
    pub note: String,
}

/// Columns for the key attributes (partition key first), then every attribute the sample
/// holds, the most frequent first.
pub(super) fn propose(key: &[KeyAttribute], items: &[SampledItem], names: &mut ColumnNames) -> Vec<Proposal> {
    let mut proposals: Vec<Proposal> = key
        .iter()
        .map(|attribute| {
            let (ty, note) = key_type(attribute, &observe(&attribute.name, items), items.len());
            Proposal { column: names.name_for(&attribute.name), attribute: attribute.name.clone(), ty, note }
        })
        .collect();
    let key_names: BTreeSet<&str> = key.iter().map(|attribute| attribute.name.as_str()).collect();
    let mut others: Vec<(&str, Observed)> = attribute_names(items)
        .into_iter()
        .filter(|name| !key_names.contains(name))
        .map(|name| (name, observe(name, items)))
        .collect();
    others.sort_by(|(a, x), (b, y)| y.present.cmp(&x.present).then(a.cmp(b)));
    for (attribute, observed) in others {
        let (ty, note) = value_type(&observed, items.len());
        proposals.push(Proposal {
            column: names.name_for(attribute),
            attribute: attribute.to_owned(),
            ty,
            note,
        });
    }
    proposals
}

fn attribute_names(items: &[SampledItem]) -> BTreeSet<&str> {
    items.iter().flat_map(|item| item.keys().map(String::as_str)).collect()
}

/// What the sample shows of one attribute. Also what the stage step's drift report gathers of
/// each attribute no column maps, so a proposed column is typed by one piece of code.
#[derive(Debug, Default, Clone)]
pub(crate) struct Observed {
    /// Items holding the attribute (NULL included).
    present: usize,
    /// Items per type tag, NULL left out.
    tags: BTreeMap<&'static str, usize>,
    /// Longest text the column would hold (strings; binaries as base64), in bytes.
    longest_text: usize,
    strings: Vec<String>,
    numbers: Vec<String>,
}

fn observe(attribute: &str, items: &[SampledItem]) -> Observed {
    let mut observed = Observed::default();
    for value in items.iter().filter_map(|item| item.get(attribute)) {
        observed.add(value.clone());
    }
    observed
}

impl Observed {
    /// One more item holding the attribute, with its value.
    pub(crate) fn add(&mut self, value: Sampled) {
        self.count(value.tag());
        match value {
            Sampled::S(text) => {
                self.longest_text = self.longest_text.max(text.len());
                self.strings.push(text);
            }
            Sampled::B(bytes) => self.longest_text = self.longest_text.max(bytes.div_ceil(3) * 4),
            Sampled::N(text) => self.numbers.push(text),
            _ => {}
        }
    }

    /// One more item holding a string of `len` bytes, too long to be a date or a timestamp, whose
    /// text is not kept (the caller bounds what it holds).
    pub(crate) fn add_long_text(&mut self, len: usize) {
        self.count("S");
        self.longest_text = self.longest_text.max(len);
        self.strings.push(String::new());
    }

    /// One more item holding a value of type `tag`, counted but not sampled (the caller keeps a
    /// bounded sample; the type guess then reads the sampled values).
    pub(crate) fn count(&mut self, tag: &'static str) {
        self.present += 1;
        if tag != "NULL" {
            *self.tags.entry(tag).or_default() += 1;
        }
    }

    /// Folds `other` (the same attribute seen elsewhere) into this one.
    pub(crate) fn merge(&mut self, other: Observed) {
        self.present += other.present;
        for (tag, count) in other.tags {
            *self.tags.entry(tag).or_default() += count;
        }
        self.longest_text = self.longest_text.max(other.longest_text);
        self.strings.extend(other.strings);
        self.numbers.extend(other.numbers);
    }

    /// Items that held the attribute, NULL included.
    pub(crate) fn present(&self) -> u64 {
        self.present as u64
    }

    /// Items per DynamoDB type tag, NULL left out.
    pub(crate) fn tags(&self) -> &BTreeMap<&'static str, usize> {
        &self.tags
    }

    /// Strings and numbers kept so far (what bounds the sample).
    pub(crate) fn sampled(&self) -> usize {
        self.strings.len() + self.numbers.len()
    }

    /// The column type `init` would propose for the attribute (see [`value_type`]), with what it
    /// was guessed from.
    pub(crate) fn guess(&self) -> (ColumnType, String) {
        value_type(self, self.present)
    }
}

/// A key column's type: the scalar type is DescribeTable's (a fact), the size a guess.
fn key_type(attribute: &KeyAttribute, observed: &Observed, sampled: usize) -> (ColumnType, String) {
    let seen = format!("{} of {sampled} sampled items", observed.present);
    match attribute.scalar {
        Some(KeyScalar::Number) => match number_type(&observed.numbers) {
            Some(ty) if ty != ColumnType::Double => {
                (ty, format!("key, N (DescribeTable); guess: range from {seen}"))
            }
            _ => {
                (ColumnType::Varchar(128), format!("key, N (DescribeTable), kept as text; guess from {seen}"))
            }
        },
        Some(KeyScalar::Binary) => (
            varchar(observed.longest_text, KEY_VARCHAR_FLOOR).unwrap_or(ColumnType::Varchar(VARCHAR_MAX)),
            format!("key, B (DescribeTable), as base64; guess: length from {seen}"),
        ),
        Some(KeyScalar::String) | None => (
            varchar(observed.longest_text, KEY_VARCHAR_FLOOR).unwrap_or(ColumnType::Varchar(VARCHAR_MAX)),
            format!(
                "key, S (DescribeTable); guess: length from {seen}, longest {} bytes",
                observed.longest_text
            ),
        ),
    }
}

/// A value column's type, all of it a guess.
fn value_type(observed: &Observed, sampled: usize) -> (ColumnType, String) {
    let seen = format!("in {} of {sampled} sampled items", observed.present);
    let tags: Vec<&str> = observed.tags.keys().copied().collect();
    let (ty, what) = match tags.as_slice() {
        [] => (ColumnType::Super, "only NULL seen".to_owned()),
        ["S"] => string_type(observed),
        ["N"] => match number_type(&observed.numbers) {
            Some(ColumnType::Double) => {
                (ColumnType::Double, "numbers too wide for decimal; may round".into())
            }
            Some(ty) => (ty, "numbers".into()),
            None => (ColumnType::Super, "numbers that did not parse".into()),
        },
        ["B"] => match varchar(observed.longest_text, VALUE_VARCHAR_FLOOR) {
            Some(ty) => (ty, format!("binary, as base64 up to {} bytes", observed.longest_text)),
            None => (ColumnType::Super, "binary too long for varchar".into()),
        },
        ["BOOL"] => (ColumnType::Boolean, "booleans".into()),
        [tag] => (ColumnType::Super, format!("{tag} values, kept as JSON")),
        _ => {
            let mixed: Vec<String> = observed.tags.iter().map(|(tag, n)| format!("{tag} ×{n}")).collect();
            (ColumnType::Super, format!("mixed types ({}), kept as JSON", mixed.join(", ")))
        }
    };
    (ty, format!("guess: {what}, {seen}"))
}

/// Dates and timestamps when every sampled string is one, else text sized from the sample.
fn string_type(observed: &Observed) -> (ColumnType, String) {
    let all = |test: fn(&str) -> bool| observed.strings.iter().all(|text| test(text));
    if all(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()) {
        return (ColumnType::Date, "YYYY-MM-DD strings".into());
    }
    if all(|text| DateTime::parse_from_rfc3339(text).is_ok()) {
        return (ColumnType::TimestampTz, "RFC 3339 timestamps with an offset".into());
    }
    if all(|text| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()) {
        return (ColumnType::Timestamp, "timestamps without an offset (taken as UTC)".into());
    }
    match varchar(observed.longest_text, VALUE_VARCHAR_FLOOR) {
        Some(ty) => (ty, format!("text up to {} bytes", observed.longest_text)),
        None => {
            (ColumnType::Super, format!("text of {} bytes, longer than varchar holds", observed.longest_text))
        }
    }
}

/// `bigint` for integers that fit, `decimal(38,s)` for the rest that fit one, else `double
/// precision`; `None` when a number does not parse (stand-ins might send anything).
fn number_type(numbers: &[String]) -> Option<ColumnType> {
    let parsed: Vec<Number> = numbers.iter().map(|text| Number::parse(text).ok()).collect::<Option<_>>()?;
    if parsed.iter().all(|number| number.to_i64().is_some()) {
        return Some(ColumnType::BigInt);
    }
    let scale = parsed.iter().map(Number::fraction_digits).max().unwrap_or(0);
    let integer_digits = parsed.iter().map(Number::integer_digits).max().unwrap_or(0);
    if scale < MAX_PRECISION && integer_digits + scale <= MAX_PRECISION {
        return Some(ColumnType::Decimal { precision: MAX_PRECISION as u8, scale: scale as u8 });
    }
    Some(ColumnType::Double)
}

/// A varchar twice the longest sampled text (rounded up to a power of two, at least `floor`),
/// `varchar(max)` when that is too long, `None` when even that cannot hold the sample.
fn varchar(longest: usize, floor: usize) -> Option<ColumnType> {
    let wanted = (longest * 2).next_power_of_two().max(floor);
    if wanted <= VARCHAR_MAX as usize {
        Some(ColumnType::Varchar(wanted as u32))
    } else if longest <= VARCHAR_MAX as usize {
        Some(ColumnType::Varchar(VARCHAR_MAX))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(values: &[(&str, Sampled)]) -> SampledItem {
        values.iter().map(|(name, value)| (name.to_string(), value.clone())).collect()
    }

    fn s(text: &str) -> Sampled {
        Sampled::S(text.into())
    }

    fn n(text: &str) -> Sampled {
        Sampled::N(text.into())
    }

    fn key(name: &str, scalar: KeyScalar) -> KeyAttribute {
        KeyAttribute { name: name.into(), scalar: Some(scalar) }
    }

    fn types(proposals: &[Proposal]) -> Vec<(&str, String)> {
        proposals.iter().map(|p| (p.column.as_str(), p.ty.to_string())).collect()
    }

    #[test]
    fn each_scalar_gets_the_type_that_loads_it() {
        let items = vec![
            item(&[
                ("pk", s("c#1")),
                ("sk", n("7")),
                ("total", n("12.5")),
                ("visits", n("3")),
                ("ratio", n("1E+100")),
                ("active", Sampled::Bool),
                ("day", s("2024-05-01")),
                ("at", s("2024-05-01T12:00:00Z")),
                ("local", s("2024-05-01T12:00:00.25")),
                ("sig", Sampled::B(10)),
                ("lines", Sampled::Nested("L")),
                ("Note", s("hello")),
            ]),
            item(&[("pk", s("c#22")), ("sk", n("8")), ("total", n("100.25")), ("visits", n("-4"))]),
        ];
        let keys = [key("pk", KeyScalar::String), key("sk", KeyScalar::Number)];
        let proposals = propose(&keys, &items, &mut ColumnNames::default());
        assert_eq!(
            types(&proposals),
            [
                ("pk", "varchar(64)".to_owned()),
                ("sk", "bigint".into()),
                ("total", "decimal(38,2)".into()),
                ("visits", "bigint".into()),
                ("note", "varchar(32)".into()),
                ("active", "boolean".into()),
                ("at", "timestamptz".into()),
                ("day", "date".into()),
                ("lines", "super".into()),
                ("local", "timestamp".into()),
                ("ratio", "double precision".into()),
                ("sig", "varchar(32)".into()),
            ]
        );
        assert!(proposals[0].note.starts_with("key, S (DescribeTable); guess"), "{}", proposals[0].note);
        assert!(proposals[2].note.contains("in 2 of 2 sampled items"), "{}", proposals[2].note);
        assert!(proposals[4].note.contains("in 1 of 2"), "{}", proposals[4].note);
        assert_eq!(proposals[4].attribute, "Note");
    }

    #[test]
    fn mixed_or_null_only_attributes_are_kept_as_json_and_say_why() {
        let items = vec![
            item(&[("id", s("a")), ("v", s("x")), ("gone", Sampled::Null)]),
            item(&[("id", s("b")), ("v", n("1"))]),
        ];
        let proposals = propose(&[key("id", KeyScalar::String)], &items, &mut ColumnNames::default());
        let v = proposals.iter().find(|p| p.column == "v").unwrap();
        assert_eq!(v.ty, ColumnType::Super);
        assert!(v.note.contains("mixed types (N ×1, S ×1)"), "{}", v.note);
        let gone = proposals.iter().find(|p| p.column == "gone").unwrap();
        assert!(gone.ty == ColumnType::Super && gone.note.contains("only NULL"), "{}", gone.note);
    }

    #[test]
    fn an_empty_sample_still_gives_the_key_columns() {
        let keys = [key("id", KeyScalar::Number), key("blob", KeyScalar::Binary)];
        let proposals = propose(&keys, &[], &mut ColumnNames::default());
        assert_eq!(types(&proposals), [("id", "bigint".to_owned()), ("blob", "varchar(64)".into())]);
        assert!(proposals[0].note.contains("0 of 0 sampled items"), "{}", proposals[0].note);
    }

    #[test]
    fn key_numbers_never_become_double_precision() {
        let items = vec![item(&[("id", n("1E+100"))])];
        let proposals = propose(&[key("id", KeyScalar::Number)], &items, &mut ColumnNames::default());
        assert_eq!(proposals[0].ty, ColumnType::Varchar(128));
    }

    #[test]
    fn varchar_sizes_leave_room_and_stop_at_the_maximum() {
        assert_eq!(varchar(5, 32), Some(ColumnType::Varchar(32)));
        assert_eq!(varchar(100, 32), Some(ColumnType::Varchar(256)));
        assert_eq!(varchar(40_000, 32), Some(ColumnType::Varchar(VARCHAR_MAX)));
        assert_eq!(varchar(70_000, 32), None);
    }
}

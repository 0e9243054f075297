//! Reads typed values out of the span-carrying TOML tree, reporting every problem it meets.
//!
//! Serde stops at the first error; this walker keeps going, so a config with five typos is
//! reported with five messages. A [`Section`] knows its allowed keys (with an example of each,
//! used in hints), reports unknown keys as soon as it is opened (with a "did you mean"), and hands
//! out values already checked for type and range. Cross-field rules live in the validators.

use std::ops::{Range, RangeInclusive};
use std::str::FromStr;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::duration::{DURATION_FORMAT, format_duration, parse_duration};
use super::issues::Issues;

/// An allowed key and how a correct line for it looks (shown in hints).
#[derive(Debug, Clone, Copy)]
pub(super) struct Key {
    pub name: &'static str,
    pub example: &'static str,
}

impl Key {
    pub(super) const fn new(name: &'static str, example: &'static str) -> Self {
        Key { name, example }
    }
}

/// One TOML table being read: the document root, `[demo]`, a `[[table]]` entry, a column.
pub(super) struct Section<'a, 'i> {
    table: &'a DeTable<'i>,
    /// The table header or inline table: where problems with the table as a whole point.
    span: Range<usize>,
    /// How messages name this table: `[demo]`, `table "orders"`, `column "total" of table "orders"`.
    label: String,
    keys: &'static [Key],
    issues: &'a Issues,
}

/// Why `name` is a key of `[[table]]` that `[defaults]` (`label`) may not set, if it is one.
fn per_table_only(label: &str, name: &str) -> Option<&'static str> {
    let reason = match name {
        "history_target" => "a history table holds one table's key columns and changes",
        _ => return None,
    };
    (label == "[defaults]").then_some(reason)
}

impl<'a, 'i> Section<'a, 'i> {
    /// Opens a table and reports any key not in `keys`.
    pub(super) fn open(
        table: &'a DeTable<'i>,
        span: Range<usize>,
        label: String,
        keys: &'static [Key],
        issues: &'a Issues,
    ) -> Self {
        let section = Section { table, span, label, keys, issues };
        section.report_unknown_keys();
        section
    }

    pub(super) fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    pub(super) fn label(&self) -> &str {
        &self.label
    }

    pub(super) fn issues(&self) -> &'a Issues {
        self.issues
    }

    /// The key's example line (`seed = 42`), for hints.
    pub(super) fn example(&self, name: &str) -> &'static str {
        self.keys.iter().find(|k| k.name == name).map_or("", |k| k.example)
    }

    fn report_unknown_keys(&self) {
        for (key, value) in self.table.iter() {
            let name = key.get_ref().as_ref();
            if self.keys.iter().any(|k| k.name == name) {
                continue;
            }
            let message = format!("unknown key `{name}` in {}", self.label);
            let hint = self.unknown_key_hint(name, value);
            self.issues.report(key.span(), message, hint);
        }
    }

    fn unknown_key_hint(&self, name: &str, value: &Spanned<DeValue<'_>>) -> String {
        if let Some(reason) = per_table_only(&self.label, name) {
            return format!("`{name}` is set per table ({reason}): move it into that table's [[table]]");
        }
        let known: Vec<&str> = self.keys.iter().map(|k| k.name).collect();
        let listing = format!("the keys allowed here are: {}", known.join(", "));
        match closest(name, &known) {
            Some(guess) => format!("did you mean `{guess}`? {listing}"),
            None if value.get_ref().is_table() => format!("{listing} (a nested table is not expected here)"),
            None => listing,
        }
    }

    /// The raw value of `name`, when present.
    pub(super) fn value(&self, name: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        debug_assert!(self.keys.iter().any(|k| k.name == name), "`{name}` is not declared in {}", self.label);
        self.table.get(name)
    }

    /// Reports that `name`'s value has the wrong type.
    pub(super) fn wrong_type(&self, name: &str, value: &Spanned<DeValue<'_>>, expected: &str) {
        let found = value.get_ref().type_str();
        let message = format!("`{name}` in {} must be {expected}, not {}", self.label, with_article(found));
        let hint = format!("write it like `{}`", self.example(name));
        self.issues.report(value.span(), message, hint);
    }

    /// A string value.
    pub(super) fn string(&self, name: &str) -> Option<Spanned<String>> {
        let value = self.value(name)?;
        match value.get_ref() {
            DeValue::String(text) => Some(Spanned::new(value.span(), text.to_string())),
            _ => {
                self.wrong_type(name, value, "a string (in quotes)");
                None
            }
        }
    }

    /// A string parsed by `T::from_str`, whose error message becomes the hint.
    pub(super) fn parsed<T: FromStr<Err = String>>(&self, name: &str, what: &str) -> Option<Spanned<T>> {
        let text = self.string(name)?;
        match text.get_ref().parse::<T>() {
            Ok(parsed) => Some(Spanned::new(text.span(), parsed)),
            Err(reason) => {
                let message = format!("invalid {what} `{}` in {}", text.get_ref(), self.label);
                self.issues.report(text.span(), message, reason);
                None
            }
        }
    }

    /// An integer within `range`.
    pub(super) fn integer(&self, name: &str, range: RangeInclusive<i64>) -> Option<Spanned<i64>> {
        let value = self.value(name)?;
        let DeValue::Integer(integer) = value.get_ref() else {
            self.wrong_type(name, value, "an integer (no quotes)");
            return None;
        };
        let parsed = i64::from_str_radix(integer.as_str(), integer.radix()).ok();
        match parsed.filter(|n| range.contains(n)) {
            Some(n) => Some(Spanned::new(value.span(), n)),
            None => {
                self.out_of_range(name, value.span(), &integer.to_string(), &bounds_text(&range));
                None
            }
        }
    }

    /// A number (integer or float) within `range`.
    pub(super) fn number(&self, name: &str, range: RangeInclusive<f64>) -> Option<Spanned<f64>> {
        let value = self.value(name)?;
        let (text, parsed) = match value.get_ref() {
            DeValue::Integer(n) => {
                (n.to_string(), i64::from_str_radix(n.as_str(), n.radix()).ok().map(|n| n as f64))
            }
            DeValue::Float(f) => (f.to_string(), f.as_str().replace('_', "").parse::<f64>().ok()),
            _ => {
                self.wrong_type(name, value, "a number (no quotes)");
                return None;
            }
        };
        match parsed.filter(|n| range.contains(n)) {
            Some(n) => Some(Spanned::new(value.span(), n)),
            None => {
                self.out_of_range(name, value.span(), &text, &bounds_text(&range));
                None
            }
        }
    }

    /// A duration string within `range`.
    pub(super) fn duration(&self, name: &str, range: RangeInclusive<Duration>) -> Option<Spanned<Duration>> {
        let text = self.string(name)?;
        let duration = match parse_duration(text.get_ref()) {
            Ok(duration) => duration,
            Err(reason) => {
                let message = format!("`{name}` in {} is not a duration: {reason}", self.label);
                let hint = format!("write a duration as {DURATION_FORMAT}, like `{}`", self.example(name));
                self.issues.report(text.span(), message, hint);
                return None;
            }
        };
        if range.contains(&duration) {
            return Some(Spanned::new(text.span(), duration));
        }
        let bounds =
            format!("between {} and {}", format_duration(*range.start()), format_duration(*range.end()));
        self.out_of_range(name, text.span(), text.get_ref(), &bounds);
        None
    }

    fn out_of_range(&self, name: &str, span: Range<usize>, shown: &str, bounds: &str) {
        let message = format!("`{name}` in {} is {shown}, but it must be {bounds}", self.label);
        let hint = format!("pick a value {bounds}, like `{}`", self.example(name));
        self.issues.report(span, message, hint);
    }

    /// A string that must be one of `options` (matched exactly).
    pub(super) fn choice<T: Copy>(&self, name: &str, options: &[(&'static str, T)]) -> Option<Spanned<T>> {
        let text = self.string(name)?;
        if let Some((_, choice)) = options.iter().find(|(word, _)| *word == text.get_ref()) {
            return Some(Spanned::new(text.span(), *choice));
        }
        let accepted: Vec<String> = options.iter().map(|(word, _)| format!("\"{word}\"")).collect();
        let message =
            format!("`{name}` in {} is \"{}\", which is not an accepted value", self.label, text.get_ref());
        let hint = format!("write one of: {}", accepted.join(", "));
        self.issues.report(text.span(), message, hint);
        None
    }

    /// An array of strings; its elements keep their own spans.
    pub(super) fn strings(&self, name: &str) -> Option<Spanned<Vec<Spanned<String>>>> {
        let value = self.value(name)?;
        let DeValue::Array(array) = value.get_ref() else {
            self.wrong_type(name, value, "an array of strings");
            return None;
        };
        let mut strings = Vec::with_capacity(array.len());
        for element in array.iter() {
            match element.get_ref() {
                DeValue::String(text) => strings.push(Spanned::new(element.span(), text.to_string())),
                _ => {
                    self.wrong_type(name, element, "an array of strings");
                    return None;
                }
            }
        }
        Some(Spanned::new(value.span(), strings))
    }

    /// A nested table (`[warehouse]`).
    pub(super) fn table(&self, name: &str, keys: &'static [Key]) -> Option<Section<'a, 'i>> {
        let value = self.value(name)?;
        let DeValue::Table(table) = value.get_ref() else {
            self.wrong_type(name, value, &format!("a table (a [{name}] section)"));
            return None;
        };
        Some(Section::open(table, value.span(), format!("[{name}]"), keys, self.issues))
    }

    /// An array of tables (`[[table]]` or `columns = [{…}, …]`); `label` names entry `i` (0-based).
    pub(super) fn tables(
        &self,
        name: &str,
        keys: &'static [Key],
        label: impl Fn(usize, &DeTable<'_>) -> String,
    ) -> Option<Spanned<Vec<Section<'a, 'i>>>> {
        let value = self.value(name)?;
        let DeValue::Array(array) = value.get_ref() else {
            self.wrong_type(name, value, "an array of tables");
            return None;
        };
        let mut sections = Vec::with_capacity(array.len());
        for (i, element) in array.iter().enumerate() {
            let DeValue::Table(table) = element.get_ref() else {
                self.wrong_type(name, element, "an array of tables");
                continue;
            };
            sections.push(Section::open(table, element.span(), label(i, table), keys, self.issues));
        }
        Some(Spanned::new(value.span(), sections))
    }
}

/// `between 1 and 32`, or `at least 0` when the range is open-ended.
fn bounds_text<T: std::fmt::Display + PartialEq + Bounded>(range: &RangeInclusive<T>) -> String {
    if *range.end() == T::MAX {
        format!("at least {}", range.start())
    } else {
        format!("between {} and {}", range.start(), range.end())
    }
}

/// The largest value of a number type (what an open-ended range ends at).
trait Bounded {
    const MAX: Self;
}

impl Bounded for i64 {
    const MAX: Self = i64::MAX;
}

impl Bounded for f64 {
    const MAX: Self = f64::MAX;
}

/// The allowed key closest to a misspelt one (at most 2 edits away, or a case/`-` slip).
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let normalized = name.to_ascii_lowercase().replace('-', "_");
    if let Some(exact) = known.iter().find(|k| **k == normalized) {
        return Some(exact);
    }
    known
        .iter()
        .map(|k| (strsim::levenshtein(&normalized, k), *k))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

fn with_article(type_name: &str) -> String {
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {type_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[Key] = &[
        Key::new("seed", "seed = 42"),
        Key::new("speed", "speed = 120.0"),
        Key::new("lag", "lag = \"2h\""),
        Key::new("mode", "mode = \"full\""),
        Key::new("key", "key = [\"pk\"]"),
        Key::new("name", "name = \"x\""),
        Key::new("columns", "columns = [{ name = \"x\" }]"),
    ];

    /// Opens `text` as a section and runs `read` on it; returns the problem messages and hints.
    fn read<T>(text: &str, read: impl Fn(&Section<'_, '_>) -> T) -> (T, Vec<(String, String)>) {
        let table = DeTable::parse(text).expect("test TOML parses");
        let issues = Issues::default();
        let section = Section::open(table.get_ref(), 0..0, "[demo]".into(), KEYS, &issues);
        let value = read(&section);
        let problems = issues.into_sorted().into_iter().map(|i| (i.message, i.hint)).collect();
        (value, problems)
    }

    #[test]
    fn unknown_keys_are_reported_with_a_guess() {
        let (_, problems) = read("sede = 1\nzzz = 2\n", |_| ());
        assert_eq!(problems[0].0, "unknown key `sede` in [demo]");
        assert!(problems[0].1.starts_with("did you mean `seed`?"), "{}", problems[0].1);
        assert!(problems[1].1.starts_with("the keys allowed here are: seed, speed"), "{}", problems[1].1);
    }

    #[test]
    fn wrong_types_name_both_types_and_show_an_example() {
        let (value, problems) = read("seed = \"42\"\n", |s| s.integer("seed", 0..=10));
        assert_eq!(value, None);
        assert_eq!(problems[0].0, "`seed` in [demo] must be an integer (no quotes), not a string");
        assert_eq!(problems[0].1, "write it like `seed = 42`");
    }

    #[test]
    fn integers_and_numbers_are_range_checked() {
        let (value, _) = read("seed = 0x10\n", |s| s.integer("seed", 0..=100).map(|v| v.into_inner()));
        assert_eq!(value, Some(16));
        let (_, problems) = read("seed = 101\n", |s| s.integer("seed", 0..=100));
        assert_eq!(problems[0].0, "`seed` in [demo] is 101, but it must be between 0 and 100");
        assert_eq!(problems[0].1, "pick a value between 0 and 100, like `seed = 42`");
        let (_, problems) = read("seed = -1\n", |s| s.integer("seed", 0..=i64::MAX));
        assert_eq!(problems[0].0, "`seed` in [demo] is -1, but it must be at least 0");
        let (value, _) = read("speed = 1_2.5\n", |s| s.number("speed", 0.0..=100.0).map(|v| v.into_inner()));
        assert_eq!(value, Some(12.5));
        let (value, _) = read("speed = 7\n", |s| s.number("speed", 0.0..=100.0).map(|v| v.into_inner()));
        assert_eq!(value, Some(7.0));
        let (_, problems) = read("speed = nan\n", |s| s.number("speed", 0.0..=100.0));
        assert!(problems[0].0.contains("is nan, but it must be between 0 and 100"), "{problems:?}");
    }

    #[test]
    fn durations_are_parsed_and_range_checked() {
        let range = Duration::from_secs(60)..=Duration::from_secs(3600);
        let (value, _) =
            read("lag = \"15m\"\n", |s| s.duration("lag", range.clone()).map(|v| v.into_inner()));
        assert_eq!(value, Some(Duration::from_secs(900)));
        let (_, problems) = read("lag = \"2h\"\n", |s| s.duration("lag", range.clone()));
        assert_eq!(problems[0].0, "`lag` in [demo] is 2h, but it must be between 1m and 1h");
        let (_, problems) = read("lag = \"15\"\n", |s| s.duration("lag", range.clone()));
        assert!(problems[0].0.contains("without a unit"), "{problems:?}");
        assert!(problems[0].1.contains("\"1h30m\""), "{problems:?}");
    }

    #[test]
    fn choices_list_the_accepted_values() {
        let options = [("full", 1), ("incremental", 2)];
        let (value, _) = read("mode = \"full\"\n", |s| s.choice("mode", &options).map(|v| v.into_inner()));
        assert_eq!(value, Some(1));
        let (_, problems) = read("mode = \"Full\"\n", |s| s.choice("mode", &options));
        assert_eq!(problems[0].1, "write one of: \"full\", \"incremental\"");
    }

    #[test]
    fn string_arrays_keep_element_spans_and_reject_other_elements() {
        let text = "key = [\"pk\", \"sk\"]\n";
        let (value, _) = read(text, |s| s.strings("key"));
        let value = value.unwrap();
        assert_eq!(&text[value.get_ref()[1].span()], "\"sk\"");
        let (_, problems) = read("key = [\"pk\", 3]\n", |s| s.strings("key"));
        assert!(problems[0].0.contains("must be an array of strings, not an integer"), "{problems:?}");
    }

    #[test]
    fn parsed_values_use_the_parser_message_as_hint() {
        let (_, problems) =
            read("name = \"jsonb\"\n", |s| s.parsed::<crate::config::ColumnType>("name", "type"));
        assert_eq!(problems[0].0, "invalid type `jsonb` in [demo]");
        assert!(problems[0].1.contains("use one of"), "{problems:?}");
    }

    #[test]
    fn arrays_of_tables_open_each_entry() {
        let text = "columns = [{ name = \"a\" }, { nme = \"b\" }, 3]\n";
        let (count, problems) = read(text, |s| {
            s.tables("columns", KEYS, |i, _| format!("column #{}", i + 1)).map(|t| t.get_ref().len())
        });
        assert_eq!(count, Some(2));
        assert_eq!(problems[0].0, "unknown key `nme` in column #2");
        assert!(problems[1].0.contains("must be an array of tables, not an integer"), "{problems:?}");
    }

    #[test]
    fn edit_distance_finds_near_misses_only() {
        assert_eq!(closest("safetylag", &["safety_lag", "max_window"]), Some("safety_lag"));
        assert_eq!(closest("Max-Window", &["safety_lag", "max_window"]), Some("max_window"));
        assert_eq!(closest("bucket_name", &["safety_lag", "max_window"]), None);
        assert_eq!(closest("sede", &["seed", "speed"]), Some("seed"), "the nearest of two near misses");
    }
}

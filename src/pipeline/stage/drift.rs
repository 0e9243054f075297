//! Counting schema drift while staging: every item image is walked against the tree of paths the
//! columns read, in one merge of two sorted lists per map (the image's names and the tree's), so
//! an item whose attributes are all mapped costs a few string comparisons. What is not in the
//! tree is an unmapped path; what is, and holds a type its column does not expect, is type drift.
//! Each worker keeps its own [`DriftTally`]; they are merged once the stage is done
//! ([`super::drift_report`] turns the merged tally into the run's report).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::config::{ColumnType, PathSegment, TableConfig};
use crate::contract::drift::MAX_LISTED_PATHS;
use crate::init::infer::{Observed, Sampled};

use super::fold::KeyHasher;
use super::image::{Map, Value, by_name, same_name};

/// The DynamoDB type tags, in the order of [`tag_index`].
pub(super) const TAGS: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];
const NULL_BIT: u16 = 1 << 4;

/// Joins the segments of a nested path in a tally's keys (a character attribute names
/// practically never hold).
pub(super) const SEPARATOR: char = '\u{1f}';

/// Values of one path kept to guess its column type; further ones are only counted.
const MAX_SAMPLES: usize = 32;
/// Longest string kept as a sample (dates and timestamps are far shorter; longer ones only
/// count their length).
const MAX_SAMPLED_TEXT: usize = 64;
/// Longest path listed; longer ones (DynamoDB allows 64 KB names) are only counted.
const MAX_LISTED_PATH_BYTES: usize = 1024;
/// Distinct unlisted paths counted exactly (by hash); beyond, the count is a lower bound.
const MAX_UNTRACKED: usize = 100_000;

/// Which paths the table's columns read, as a tree of names, with each column's type check.
#[derive(Debug, Default)]
pub(super) struct MappedTree {
    root: Node,
    checks: Vec<Check>,
}

#[derive(Debug, Default)]
struct Node {
    /// Sorted by name, as images are.
    children: Vec<(Box<str>, Child)>,
}

#[derive(Debug, Default)]
struct Child {
    /// Indexes in [`MappedTree::checks`] of the columns reading exactly this attribute.
    checks: Vec<usize>,
    /// A column reads the attribute whole (or into a list of it): nothing below is drift.
    whole: bool,
    /// Columns read names below it.
    below: Node,
}

/// A mapped column's expectation of the value at its path.
#[derive(Debug)]
pub(super) struct Check {
    pub column: String,
    pub path: String,
    pub ty: ColumnType,
    /// Bit [`tag_index`] set for each type the column expects.
    pub accepts: u16,
}

impl MappedTree {
    pub(super) fn new(table: &TableConfig) -> MappedTree {
        let mut tree = MappedTree::default();
        for column in &table.columns {
            let segments = column.path.segments();
            let names: Vec<&str> = segments
                .iter()
                .map_while(|segment| match segment {
                    PathSegment::Name(name) => Some(name.as_str()),
                    PathSegment::Index(_) => None,
                })
                .collect();
            let Some((last, parents)) = names.split_last() else { continue };
            let mut node = &mut tree.root;
            for name in parents {
                node = &mut node.child(name).below;
            }
            let child = node.child(last);
            child.whole = true;
            // A column reading into a list (`lines[0].sku`) expects a list there.
            let accepts = if names.len() == segments.len() { accepted(column.ty) } else { bit("L") };
            child.checks.push(tree.checks.len());
            let path = column.path.to_string();
            tree.checks.push(Check { column: column.name.clone(), path, ty: column.ty, accepts });
        }
        tree
    }

    pub(super) fn checks(&self) -> &[Check] {
        &self.checks
    }

    /// Counts `image`'s drift into `tally`.
    pub(super) fn observe(&self, image: &Map<'_>, tally: &mut DriftTally) {
        tally.items += 1;
        let mut prefix = String::new();
        self.walk(&self.root, image, &mut prefix, tally);
    }

    fn walk(&self, node: &Node, map: &Map<'_>, prefix: &mut String, tally: &mut DriftTally) {
        let children = &node.children;
        let mut next = 0;
        for (name, value) in map.entries() {
            while next < children.len() && by_name(&children[next].0, name).is_lt() {
                next += 1;
            }
            let Some((_, child)) = children.get(next).filter(|(mapped, _)| same_name(mapped, name)) else {
                tally.unmapped(prefix, name, value);
                continue;
            };
            let tag = tag_index(value);
            for &check in &child.checks {
                if self.checks[check].accepts & (1 << tag) == 0 {
                    tally.type_drift[check][tag] += 1;
                }
            }
            if let (false, Value::M(inner)) = (child.whole, value) {
                let length = prefix.len();
                if !prefix.is_empty() {
                    prefix.push(SEPARATOR);
                }
                prefix.push_str(name);
                self.walk(&child.below, inner, prefix, tally);
                prefix.truncate(length);
            }
        }
    }
}

impl Node {
    fn child(&mut self, name: &str) -> &mut Child {
        let index = match self.children.binary_search_by(|(mapped, _)| (**mapped).cmp(name)) {
            Ok(index) => index,
            Err(index) => {
                self.children.insert(index, (name.into(), Child::default()));
                index
            }
        };
        &mut self.children[index].1
    }
}

/// The types a column of type `ty` takes as they are (NULL fits every column). Other types may
/// still convert (an integer column takes the S `"42"`), but they are drift all the same.
fn accepted(ty: ColumnType) -> u16 {
    let tags: &[&str] = match ty {
        ColumnType::Varchar(_) => &["S", "N", "B", "BOOL"],
        ColumnType::SmallInt
        | ColumnType::Integer
        | ColumnType::BigInt
        | ColumnType::Decimal { .. }
        | ColumnType::Double => &["N"],
        ColumnType::Boolean => &["BOOL"],
        ColumnType::Timestamp | ColumnType::TimestampTz => &["S", "N"],
        ColumnType::Date => &["S"],
        ColumnType::Super => &TAGS,
    };
    tags.iter().fold(NULL_BIT, |mask, tag| mask | bit(tag))
}

fn bit(tag: &str) -> u16 {
    TAGS.iter().position(|t| *t == tag).map_or(0, |index| 1 << index) | NULL_BIT
}

/// The tags in `mask`, NULL left out (it always fits).
pub(super) fn tags_of(mask: u16) -> Vec<String> {
    TAGS.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0 && 1 << i != NULL_BIT)
        .map(|(_, t)| (*t).into())
        .collect()
}

fn tag_index(value: &Value<'_>) -> usize {
    match value {
        Value::S(_) => 0,
        Value::N(_) => 1,
        Value::B(_) => 2,
        Value::Bool(_) => 3,
        Value::Null(_) => 4,
        Value::M(_) => 5,
        Value::L(_) => 6,
        Value::Ss(_) => 7,
        Value::Ns(_) => 8,
        Value::Bs(_) => 9,
    }
}

/// One worker's drift counts.
#[derive(Debug)]
pub(super) struct DriftTally {
    pub items: u64,
    /// Unmapped paths (segments joined by [`SEPARATOR`]) and what was seen of them.
    /// Hashed fast (the stage looks a path up for each unmapped attribute of each item).
    pub paths: HashMap<Box<str>, Observed, BuildHasherDefault<KeyHasher>>,
    /// Per check of the tree, items per type tag that the column does not expect.
    pub type_drift: Vec<[u64; TAGS.len()]>,
    /// Hashes of the unmapped paths not listed.
    untracked: HashSet<u64>,
    pub untracked_at_least: bool,
    scratch: String,
}

impl DriftTally {
    pub(super) fn new(tree: &MappedTree) -> DriftTally {
        DriftTally {
            items: 0,
            paths: HashMap::default(),
            type_drift: vec![[0; TAGS.len()]; tree.checks.len()],
            untracked: HashSet::new(),
            untracked_at_least: false,
            scratch: String::new(),
        }
    }

    fn unmapped(&mut self, prefix: &str, name: &str, value: &Value<'_>) {
        let key = if prefix.is_empty() {
            name
        } else {
            self.scratch.clear();
            self.scratch.push_str(prefix);
            self.scratch.push(SEPARATOR);
            self.scratch.push_str(name);
            self.scratch.as_str()
        };
        if let Some(observed) = self.paths.get_mut(key) {
            sample(observed, value);
        } else if self.paths.len() < MAX_LISTED_PATHS && key.len() <= MAX_LISTED_PATH_BYTES {
            let mut observed = Observed::default();
            sample(&mut observed, value);
            self.paths.insert(key.into(), observed);
        } else {
            let hash = path_hash(key);
            self.untrack(hash);
        }
    }

    fn untrack(&mut self, hash: u64) {
        if self.untracked.len() < MAX_UNTRACKED {
            self.untracked.insert(hash);
        } else if !self.untracked.contains(&hash) {
            self.untracked_at_least = true;
        }
    }

    /// Folds another worker's tally into this one.
    pub(super) fn merge(&mut self, other: DriftTally) {
        self.items += other.items;
        for (key, observed) in other.paths {
            if let Some(mine) = self.paths.get_mut(&key) {
                mine.merge(observed);
            } else if self.paths.len() < MAX_LISTED_PATHS {
                self.paths.insert(key, observed);
            } else {
                self.untrack(path_hash(&key));
            }
        }
        for (mine, theirs) in self.type_drift.iter_mut().zip(other.type_drift) {
            for (count, more) in mine.iter_mut().zip(theirs) {
                *count += more;
            }
        }
        self.untracked_at_least |= other.untracked_at_least;
        for hash in other.untracked {
            self.untrack(hash);
        }
    }

    /// Distinct unmapped paths not listed: a path one worker listed and another could not is
    /// listed.
    pub(super) fn untracked_paths(&self) -> u64 {
        let listed: HashSet<u64> = self.paths.keys().map(|key| path_hash(key)).collect();
        self.untracked.iter().filter(|hash| !listed.contains(hash)).count() as u64
    }
}

fn path_hash(key: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// Records `value` in `observed`: as a sample while there are few, else only its type.
fn sample(observed: &mut Observed, value: &Value<'_>) {
    let tag = value.type_tag();
    let sampled = match value {
        _ if observed.sampled() >= MAX_SAMPLES => return observed.count(tag),
        Value::S(text) if text.len() > MAX_SAMPLED_TEXT => return observed.add_long_text(text.len()),
        Value::S(text) => Sampled::S(text.to_string()),
        Value::N(text) => Sampled::N(text.to_string()),
        // Base64: four characters per three bytes.
        Value::B(text) => Sampled::B(text.len() / 4 * 3),
        Value::Bool(_) => Sampled::Bool,
        Value::Null(_) => Sampled::Null,
        Value::M(_) | Value::L(_) | Value::Ss(_) | Value::Ns(_) | Value::Bs(_) => Sampled::Nested(tag),
    };
    observed.add(sampled);
}

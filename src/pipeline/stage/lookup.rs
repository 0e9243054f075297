//! Resolving a column's attribute path inside an item.

use crate::config::{AttrPath, PathSegment};

use super::image::{Map, Value};

/// The value at `path`, or `None` when the path does not resolve: a missing attribute or map key,
/// a list index past the end, or a step into a value that is not a map / list. DynamoDB treats all
/// of those as "attribute not present", and so do we (the column is NULL).
pub(super) fn lookup<'m, 'a>(item: &'m Map<'a>, path: &AttrPath) -> Option<&'m Value<'a>> {
    let mut segments = path.segments().iter();
    let mut current = match segments.next()? {
        PathSegment::Name(name) => item.get(name)?,
        PathSegment::Index(_) => return None,
    };
    for segment in segments {
        current = match (segment, current) {
            (PathSegment::Name(name), Value::M(map)) => map.get(name)?,
            (PathSegment::Index(index), Value::L(list)) => list.get(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEM: &str = r#"{"pk":{"S":"p"},
                "detail":{"M":{"total":{"N":"12.5"},"ship.to":{"S":"dock"},"tags":{"L":[{"S":"a"},{"M":{"x":{"N":"1"}}}]}}},
                "a.b":{"S":"dotted"},"gift-note":{"S":"dashed"},"gift note":{"S":"spaced"},
                "lines":{"L":[{"M":{"sku":{"S":"s0"}}},{"M":{"sku":{"S":"s1"}}}]}}"#;

    fn item() -> Map<'static> {
        serde_json::from_str(ITEM).unwrap()
    }

    fn at(path: &str) -> Option<Value<'static>> {
        lookup(&item(), &AttrPath::parse(path).unwrap()).cloned()
    }

    fn s(text: &'static str) -> Option<Value<'static>> {
        Some(Value::S(text.into()))
    }

    #[test]
    fn resolves_top_level_and_nested_names() {
        assert_eq!(at("pk"), s("p"));
        assert_eq!(at("detail.total"), Some(Value::N("12.5".into())));
        assert_eq!(at(r#"detail."ship.to""#), s("dock"));
    }

    #[test]
    fn names_with_dots_dashes_and_spaces_are_single_attributes() {
        assert_eq!(at(r#""a.b""#), s("dotted"));
        assert_eq!(at("gift-note"), s("dashed"));
        assert_eq!(at("gift note"), s("spaced"));
        let from_names = AttrPath::from_names(["a.b".to_owned()]).unwrap();
        assert_eq!(lookup(&item(), &from_names).cloned(), s("dotted"));
    }

    #[test]
    fn resolves_list_indexes() {
        assert_eq!(at("lines[1].sku"), s("s1"));
        assert_eq!(at("detail.tags[0]"), s("a"));
        assert_eq!(at("detail.tags[1].x"), Some(Value::N("1".into())));
    }

    #[test]
    fn unresolvable_paths_are_absent() {
        for path in ["missing", "detail.missing", "lines[2].sku", "pk.x", "pk[0]", "detail[0]", "lines.sku"] {
            assert_eq!(at(path), None, "{path}");
        }
    }
}

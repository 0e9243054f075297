//! Which attribute paths a pushdown COPY cannot read. Config validation asks it of every column
//! of a `full_load = "pushdown"` table, and `ddb::item_paths` before it writes a jsonpath; it
//! sits in config, next to [`AttrPath`], so that config depends on no DynamoDB format module.

use super::path::{AttrPath, PathSegment};

/// Why `path` cannot be written as a pushdown jsonpath; `None` when it can.
pub fn path_problem(path: &AttrPath) -> Option<String> {
    path.segments().iter().find_map(|segment| match segment {
        PathSegment::Index(index) => Some(format!(
            "it indexes a list ([{index}]), and Redshift's COPY fails the whole load on any item \
             whose list is shorter"
        )),
        PathSegment::Name(name) if name.contains('\'') => {
            Some(format!("the name `{name}` holds a ' (quote), which jsonpaths cannot escape"))
        }
        PathSegment::Name(name) if name.contains('\\') => {
            Some(format!("the name `{name}` holds a backslash, which jsonpaths parsers read differently"))
        }
        PathSegment::Name(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{names, path};

    #[test]
    fn quotes_backslashes_and_list_indexes_are_refused() {
        let quote = path_problem(&names(&["it's"])).unwrap();
        assert!(quote.contains("`it's` holds a ' (quote)"), "{quote}");
        let backslash = path_problem(&names(&["a\\b"])).unwrap();
        assert!(backslash.contains("backslash"), "{backslash}");
        let index = path_problem(&path("detail.items[0].sku")).unwrap();
        assert!(index.contains("indexes a list ([0])"), "{index}");
        assert_eq!(path_problem(&path("detail.total")), None);
    }
}

//! Which attribute paths a pushdown COPY cannot read. Config validation asks it of every column
//! of a `full_load = "pushdown"` table, and `ddb::item_paths` before it writes a jsonpath; it
//! sits in config, next to [`AttrPath`], so that config depends on no DynamoDB format module.

use super::drafts::KeyScalar;
use super::path::{AttrPath, PathSegment};
use super::types::ColumnType;

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

/// Why a pushdown COPY cannot read a key attribute DynamoDB declares `scalar` into a key column
/// of type `ty`; `None` when it can. COPY reads a varchar (or date and time) column from the
/// attribute's `S` and a numeric one from its `N` (`ddb::item_paths`): any other declared type
/// resolves to nothing, the NOT NULL key column fails the COPY, and every load of the table
/// fails. The staged strategy converts such keys (binary keys load as base64 text).
pub(super) fn pushdown_key_problem(scalar: KeyScalar, ty: ColumnType) -> Option<String> {
    let reads_number = matches!(
        ty,
        ColumnType::SmallInt
            | ColumnType::Integer
            | ColumnType::BigInt
            | ColumnType::Decimal { .. }
            | ColumnType::Double
    );
    let reads = if reads_number { "N" } else { "S" };
    let unreadable = match scalar {
        KeyScalar::Binary => true,
        KeyScalar::Number => !reads_number,
        KeyScalar::String => reads_number,
    };
    (unreadable && ty != ColumnType::Super).then(|| {
        format!(
            "DynamoDB declares it {}, but a pushdown COPY reads a {ty} key column from `{reads}`, \
             so every row would have a NULL key",
            scalar.describe()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{names, path};

    #[test]
    fn binary_keys_and_keys_of_another_type_than_the_column_reads_are_refused() {
        let varchar = ColumnType::Varchar(64);
        let binary = pushdown_key_problem(KeyScalar::Binary, varchar).unwrap();
        assert_eq!(
            binary,
            "DynamoDB declares it a binary (B), but a pushdown COPY reads a varchar(64) key column from `S`, \
             so every row would have a NULL key"
        );
        assert!(pushdown_key_problem(KeyScalar::Number, varchar).is_some());
        assert!(pushdown_key_problem(KeyScalar::String, ColumnType::BigInt).unwrap().contains("from `N`"));
        assert_eq!(pushdown_key_problem(KeyScalar::Number, ColumnType::BigInt), None);
        assert_eq!(pushdown_key_problem(KeyScalar::String, varchar), None);
    }

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

//! Words a warehouse will not accept as an unquoted identifier.
//!
//! dynashift always quotes identifiers in the SQL it writes, but people query the loaded tables by
//! hand, and a column called `order` or `timestamp` makes every one of those queries need quotes.
//! So such names are refused up front. The list is Amazon Redshift's reserved words plus the words
//! PostgreSQL reserves that Redshift does not.

/// Redshift's reserved words (docs: "Reserved words"), then PostgreSQL's extra reserved words,
/// each list sorted (lowercase, since identifiers are lowercase by then).
const RESERVED: &[&str] = &[
    // Amazon Redshift
    "aes128",
    "aes256",
    "all",
    "allowoverwrite",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "authorization",
    "az64",
    "backup",
    "between",
    "binary",
    "blanksasnull",
    "both",
    "bytedict",
    "bzip2",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "credentials",
    "cross",
    "current_date",
    "current_time",
    "current_timestamp",
    "current_user",
    "current_user_id",
    "datetime",
    "default",
    "deferrable",
    "deflate",
    "defrag",
    "delta",
    "delta32k",
    "desc",
    "disable",
    "distinct",
    "do",
    "else",
    "emptyasnull",
    "enable",
    "encode",
    "encrypt",
    "encryption",
    "end",
    "except",
    "explicit",
    "false",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "globaldict256",
    "globaldict64k",
    "grant",
    "group",
    "gzip",
    "having",
    "identity",
    "ignore",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "language",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "lun",
    "luns",
    "lzo",
    "lzop",
    "minus",
    "mostly16",
    "mostly32",
    "mostly8",
    "natural",
    "new",
    "not",
    "notnull",
    "null",
    "nulls",
    "off",
    "offline",
    "offset",
    "oid",
    "old",
    "on",
    "only",
    "open",
    "or",
    "order",
    "outer",
    "overlaps",
    "parallel",
    "partition",
    "percent",
    "permissions",
    "pivot",
    "placing",
    "primary",
    "raw",
    "readratio",
    "recover",
    "references",
    "rejectlog",
    "resort",
    "respect",
    "restore",
    "right",
    "select",
    "session_user",
    "similar",
    "snapshot",
    "some",
    "sysdate",
    "system",
    "table",
    "tag",
    "tdes",
    "text255",
    "text32k",
    "then",
    "timestamp",
    "to",
    "top",
    "trailing",
    "true",
    "truncatecolumns",
    "union",
    "unique",
    "unnest",
    "unpivot",
    "user",
    "using",
    "verbose",
    "wallet",
    "when",
    "where",
    "with",
    "without",
    // PostgreSQL (reserved there, not in Redshift's list)
    "asymmetric",
    "collation",
    "concurrently",
    "current_catalog",
    "current_role",
    "current_schema",
    "fetch",
    "lateral",
    "returning",
    "symmetric",
    "system_user",
    "tablesample",
    "variadic",
    "window",
];

/// Whether `word` (any case) is reserved in Redshift or PostgreSQL.
pub(super) fn is_reserved(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    RESERVED.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_words_the_schema_names() {
        for word in ["all", "analyse", "current_timestamp", "order", "select", "timestamp", "window", "user"]
        {
            assert!(is_reserved(word), "{word}");
        }
        assert!(is_reserved("ORDER"));
    }

    #[test]
    fn ordinary_column_names_are_free() {
        for word in ["orders", "status", "name", "total", "item", "customer_id", "placed_at", "score"] {
            assert!(!is_reserved(word), "{word}");
        }
    }

    #[test]
    fn each_word_is_listed_once_in_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for word in RESERVED {
            assert_eq!(*word, word.to_ascii_lowercase());
            assert!(seen.insert(word), "{word} listed twice");
        }
    }
}

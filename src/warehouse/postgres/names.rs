//! How a configured target and the helper objects of a load are named in PostgreSQL.
//!
//! PostgreSQL silently truncates identifiers to 63 bytes. A configured name may be longer (the
//! config allows Redshift's 127), which is harmless for the target itself — every statement
//! truncates it the same way — but names built from it by appending a suffix (the replacement
//! table, the primary-key constraint) must fit, or two of them could truncate to the same name.
//! [`fitted`] shortens the base so base + suffix fit.

use crate::config::{TargetTable, quote_identifier};

/// PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes.
pub(super) const MAX_NAME_BYTES: usize = 63;

/// Suffix of the table a full load fills before it replaces the target.
const REPLACEMENT_SUFFIX: &str = "__dynashift_new";

/// Suffix of a table's primary-key constraint (PostgreSQL's own convention).
const PRIMARY_KEY_SUFFIX: &str = "_pkey";

/// The stage table of the load in progress (a TEMP table: private to the load's session).
pub(super) const STAGE_TABLE: &str = "dynashift_stage";

/// `base` + `suffix`, with `base` cut at a character boundary so the result fits
/// [`MAX_NAME_BYTES`].
pub(super) fn fitted(base: &str, suffix: &str) -> String {
    let room = MAX_NAME_BYTES.saturating_sub(suffix.len());
    let mut end = base.len().min(room);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &base[..end])
}

/// `"schema"."table"`, or `"table"` (resolved through the session's search_path) when the
/// target has no schema.
pub(super) fn quoted_target(target: &TargetTable) -> String {
    in_schema(target, &target.table)
}

/// The table a full load builds beside the target (same schema), unquoted.
pub(super) fn replacement_name(target: &TargetTable) -> String {
    fitted(&target.table, REPLACEMENT_SUFFIX)
}

/// The replacement table, quoted and schema-qualified like the target.
pub(super) fn quoted_replacement(target: &TargetTable) -> String {
    in_schema(target, &replacement_name(target))
}

/// The name dynashift gives a table's primary-key constraint (and so its index).
pub(super) fn primary_key_name(table: &str) -> String {
    fitted(table, PRIMARY_KEY_SUFFIX)
}

/// The stage table, qualified with the session's temporary schema so a permanent table of the
/// same name can never be meant.
pub(super) fn qualified_stage() -> String {
    format!("pg_temp.{}", quote_identifier(STAGE_TABLE))
}

fn in_schema(target: &TargetTable, table: &str) -> String {
    match &target.schema {
        Some(schema) => format!("{}.{}", quote_identifier(schema), quote_identifier(table)),
        None => quote_identifier(table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(schema: Option<&str>, table: &str) -> TargetTable {
        TargetTable { schema: schema.map(str::to_owned), table: table.to_owned() }
    }

    #[test]
    fn targets_are_quoted_and_qualified_when_they_have_a_schema() {
        assert_eq!(quoted_target(&target(None, "orders")), "\"orders\"");
        let odd = target(Some("my \"s\""), "a b");
        assert_eq!(quoted_target(&odd), "\"my \"\"s\"\"\".\"a b\"");
        assert_eq!(quoted_replacement(&odd), "\"my \"\"s\"\"\".\"a b__dynashift_new\"");
    }

    #[test]
    fn built_names_fit_postgres_limit_without_splitting_characters() {
        let long = "é".repeat(40);
        let name = replacement_name(&target(None, &long));
        assert!(name.len() <= MAX_NAME_BYTES, "{}", name.len());
        assert!(name.ends_with("__dynashift_new") && name.starts_with("éé"), "{name}");
        assert_eq!(primary_key_name("orders"), "orders_pkey");
        assert_eq!(primary_key_name(&"x".repeat(70)).len(), MAX_NAME_BYTES);
    }

    #[test]
    fn the_stage_is_always_the_session_temporary_one() {
        assert_eq!(qualified_stage(), "pg_temp.\"dynashift_stage\"");
    }
}

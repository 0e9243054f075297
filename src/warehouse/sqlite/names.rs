//! How a configured target (`table` or `schema.table`) becomes a SQLite table name.
//!
//! SQLite has no schemas inside one database file. ATTACHed files would look like schemas, but a
//! transaction spanning several WAL-mode files is atomic per file only, which would break the one
//! promise a load makes: data and watermark commit together. So every table lives in the main
//! file and the target maps to a name there:
//! - `table` and `main.table` → the table `table` (`main` is SQLite's own name for the file, so
//!   `main.table` already means exactly that);
//! - `schema.table` → one table literally named `schema.table`, always quoted
//!   (`SELECT * FROM "analytics.orders"`).
//!
//! Configured identifiers never contain a dot, so two targets never share a name, and `.tables`
//! in `sqlite3` lists each target exactly as `tables.toml` spells it.

use crate::config::{TargetTable, quote_identifier};

/// SQLite's name for the main database file; a target in this schema is a plain table.
const MAIN_SCHEMA: &str = "main";

/// Suffix of the table a full load fills before it replaces the target.
const REPLACEMENT_SUFFIX: &str = "__dynashift_new";

/// The stage table of the load in progress (a TEMP table: private to the connection).
pub const STAGE_TABLE: &str = "dynashift_stage";

/// The SQLite table name of a target, unquoted (see the module docs for the mapping).
pub fn table_name(target: &TargetTable) -> String {
    match target.schema.as_deref() {
        None | Some(MAIN_SCHEMA) => target.table.clone(),
        Some(schema) => format!("{schema}.{}", target.table),
    }
}

/// The target, quoted for SQL text.
pub fn quoted_target(target: &TargetTable) -> String {
    quote_identifier(&table_name(target))
}

/// The table a full load builds beside the target, quoted for SQL text.
pub fn quoted_replacement(target: &TargetTable) -> String {
    quote_identifier(&format!("{}{REPLACEMENT_SUFFIX}", table_name(target)))
}

/// The stage table, schema-qualified so a main table of the same name can never be meant.
pub fn qualified_stage() -> String {
    format!("temp.{}", quote_identifier(STAGE_TABLE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(schema: Option<&str>, table: &str) -> TargetTable {
        TargetTable { schema: schema.map(str::to_owned), table: table.to_owned() }
    }

    #[test]
    fn a_bare_or_main_target_is_a_plain_table() {
        assert_eq!(table_name(&target(None, "orders")), "orders");
        assert_eq!(table_name(&target(Some("main"), "orders")), "orders");
    }

    #[test]
    fn another_schema_becomes_part_of_one_quoted_name() {
        let t = target(Some("analytics"), "orders");
        assert_eq!(table_name(&t), "analytics.orders");
        assert_eq!(quoted_target(&t), "\"analytics.orders\"");
        assert_eq!(quoted_replacement(&t), "\"analytics.orders__dynashift_new\"");
    }

    #[test]
    fn the_stage_is_always_the_temp_one() {
        assert_eq!(qualified_stage(), "temp.\"dynashift_stage\"");
    }
}

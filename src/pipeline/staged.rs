//! The contract between the stage step and the load step: what was staged, and where.

use serde::{Deserialize, Serialize};

use crate::config::{FullLoad, Mode, TableConfig};

/// Name of the staged column that says whether a row is an upsert (`U`) or a delete (`D`).
pub const OP_COLUMN: &str = "dynashift_op";
/// Name of the staged column with the change's `WriteTimestampMicros` (null in full loads).
pub const TS_COLUMN: &str = "dynashift_ts";

/// One staged data file (gzip JSON Lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Store key.
    pub key: String,
    pub rows: u64,
    /// Compressed size.
    pub bytes: u64,
}

/// What the files of a [`StagedSet`] hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StagedFormat {
    /// Files dynashift wrote: one plain-JSON line per folded change, op and timestamp first.
    #[default]
    Folded,
    /// The export's own data files, untouched (a pushdown full load): DynamoDB JSON lines
    /// `{"Item": {…}}`, read by the warehouse through jsonpaths over `$.Item`. Only Redshift
    /// can load them; dynashift never reads them.
    ExportItems,
}

impl StagedFormat {
    /// The format a run of `table` in `mode` stages: export items for a full sync of a
    /// `full_load = "pushdown"` table, folded files otherwise (an incremental sync's fold by
    /// key needs dynashift).
    pub fn for_run(table: &TableConfig, mode: Mode) -> StagedFormat {
        match (mode, table.full_load) {
            (Mode::Full, FullLoad::Pushdown) => StagedFormat::ExportItems,
            _ => StagedFormat::Folded,
        }
    }
}

/// The load-ready output of one run's stage step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedSet {
    /// Store key of the Redshift COPY manifest listing `files`.
    pub manifest_key: String,
    /// Store key of the jsonpaths file, one path per staged column.
    pub jsonpaths_key: String,
    /// The staged columns in file order: [`OP_COLUMN`], [`TS_COLUMN`], then the table's columns
    /// ([`staged_columns`]); for export items, the table's columns only ([`target_columns`]).
    pub columns: Vec<String>,
    pub files: Vec<StagedFile>,
    pub upserts: u64,
    pub deletes: u64,
    /// Journals written before pushdown existed hold folded files.
    #[serde(default)]
    pub format: StagedFormat,
}

impl StagedSet {
    /// The store keys this run wrote, which are removed once it committed: never the export's
    /// own data files that an export-items set lists.
    pub fn written_keys(&self) -> Vec<&str> {
        let files = match self.format {
            StagedFormat::Folded => self.files.iter().map(|f| f.key.as_str()).collect(),
            StagedFormat::ExportItems => Vec::new(),
        };
        [files, vec![self.manifest_key.as_str(), self.jsonpaths_key.as_str()]].concat()
    }

    /// Refuses a set that `warehouse`, which reads staged files through dynashift, cannot load.
    /// Config validation allows pushdown only with Redshift, so this guards the trait itself:
    /// an export-items set must never be misread as folded lines.
    pub fn require_folded(&self, warehouse: &str) -> Result<(), String> {
        match self.format {
            StagedFormat::Folded => Ok(()),
            StagedFormat::ExportItems => Err(format!(
                "{warehouse} cannot load a pushdown staged set (the export's own data files, read by \
                 Redshift's COPY): set full_load = \"staged\" for this table"
            )),
        }
    }
}

/// A fingerprint of everything in a table's config that shapes its staged files: key, columns
/// (names, paths, types), unmapped attributes, type-error policy, view type and the staged
/// format the mode implies. A resumed run reuses staged files only when it matches, so a
/// `tables.toml` edited between a crash and the resume never loads files staged under the old
/// mapping. It hashes the settings' debug form: a dynashift that adds a setting computes another
/// fingerprint, which restages once (the safe side).
pub fn config_fingerprint(table: &TableConfig, mode: Mode) -> String {
    use md5::{Digest as _, Md5};
    let shaping = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        table.key,
        table.columns,
        table.unmapped,
        table.on_type_error,
        table.view_type,
        StagedFormat::for_run(table, mode)
    );
    Md5::digest(shaping.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The staged column names for a table, in jsonpaths / COPY column order: the op and timestamp
/// columns, each configured column, then the whole-item column when unmapped attributes are kept.
pub fn staged_columns(table: &TableConfig) -> Vec<String> {
    let mut columns = vec![OP_COLUMN.to_owned(), TS_COLUMN.to_owned()];
    columns.extend(target_columns(table));
    columns
}

/// The target's column names: each configured column, then the whole-item column when
/// unmapped attributes are kept.
pub fn target_columns(table: &TableConfig) -> Vec<String> {
    let mut columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    if let crate::config::UnmappedPolicy::KeepItem { column } = &table.unmapped {
        columns.push(column.clone());
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stage::testing::{orders_table, table_with};

    fn staged_set(format: StagedFormat) -> StagedSet {
        StagedSet {
            manifest_key: "t/staged/r/copy.manifest".into(),
            jsonpaths_key: "t/staged/r/jsonpaths.json".into(),
            columns: Vec::new(),
            files: vec![StagedFile {
                key: "t/exports/AWSDynamoDB/e/data/a.json.gz".into(),
                rows: 1,
                bytes: 9,
            }],
            upserts: 1,
            deletes: 0,
            format,
        }
    }

    #[test]
    fn only_full_syncs_of_pushdown_tables_stage_export_items() {
        let pushdown = table_with(|t| t.full_load = FullLoad::Pushdown);
        assert_eq!(StagedFormat::for_run(&pushdown, Mode::Full), StagedFormat::ExportItems);
        assert_eq!(StagedFormat::for_run(&pushdown, Mode::Incremental), StagedFormat::Folded);
        assert_eq!(StagedFormat::for_run(&orders_table(), Mode::Full), StagedFormat::Folded);
    }

    #[test]
    fn the_export_files_of_a_pushdown_set_are_never_removed() {
        let folded = staged_set(StagedFormat::Folded);
        assert_eq!(folded.written_keys().len(), 3);
        let items = staged_set(StagedFormat::ExportItems);
        assert_eq!(items.written_keys(), ["t/staged/r/copy.manifest", "t/staged/r/jsonpaths.json"]);
    }

    #[test]
    fn readers_of_folded_files_refuse_export_items() {
        assert_eq!(staged_set(StagedFormat::Folded).require_folded("SQLite"), Ok(()));
        let problem = staged_set(StagedFormat::ExportItems).require_folded("SQLite").unwrap_err();
        assert!(problem.starts_with("SQLite cannot load a pushdown staged set"), "{problem}");
    }

    #[test]
    fn journals_without_a_format_read_as_folded() {
        let mut json = serde_json::to_value(staged_set(StagedFormat::ExportItems)).unwrap();
        assert_eq!(json["format"], "export_items");
        json.as_object_mut().unwrap().remove("format");
        let old: StagedSet = serde_json::from_value(json).unwrap();
        assert_eq!(old.format, StagedFormat::Folded);
    }

    #[test]
    fn the_fingerprint_changes_with_what_shapes_the_staged_files_only() {
        let table = orders_table();
        let fingerprint = config_fingerprint(&table, Mode::Incremental);
        assert_eq!(fingerprint, config_fingerprint(&table.clone(), Mode::Incremental));
        let renamed = table_with(|t| t.columns[1].name = "renamed".into());
        assert_ne!(config_fingerprint(&renamed, Mode::Incremental), fingerprint);
        let retyped = table_with(|t| t.columns[1].ty = crate::config::ColumnType::Varchar(7));
        assert_ne!(config_fingerprint(&retyped, Mode::Incremental), fingerprint);
        let resized = table_with(|t| t.staged_file_bytes += 1);
        assert_eq!(config_fingerprint(&resized, Mode::Incremental), fingerprint, "part size: same rows");
        let pushdown = table_with(|t| t.full_load = FullLoad::Pushdown);
        assert_ne!(config_fingerprint(&pushdown, Mode::Full), config_fingerprint(&table, Mode::Full));
    }

    #[test]
    fn staged_columns_are_the_op_and_timestamp_then_the_target_columns() {
        let table = orders_table();
        let staged = staged_columns(&table);
        assert_eq!(staged[..2], [OP_COLUMN, TS_COLUMN]);
        assert_eq!(staged[2..], target_columns(&table)[..]);
        assert_eq!(target_columns(&table).last().map(String::as_str), Some("item"));
    }
}

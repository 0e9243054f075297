//! The staged-file contract as the pipeline uses it: the types live in [`crate::contract::staged`]
//! (re-exported here, where the integration tests name them), the column lists in
//! [`crate::config`]; what stays here is what only the pipeline decides: which format a run
//! stages, and when staged files may be reused.

use crate::config::{FullLoad, IncrementalLoad, Mode, TableConfig};
pub use crate::config::{change_columns, staged_columns, target_columns};
use crate::contract::StageRules;
pub use crate::contract::staged::{StagedFile, StagedFormat, StagedSet};

/// The staged format a run picks. A trait because [`StagedFormat`] lives in the contract, which
/// knows nothing of [`TableConfig`].
pub trait FormatForRun {
    /// The format a run of `table` in `mode` stages: export items for a full sync of a
    /// `full_load = "pushdown"` table, folded files otherwise (an incremental sync's fold by
    /// key needs dynashift).
    fn for_run(table: &TableConfig, mode: Mode) -> Self;
}

impl FormatForRun for StagedFormat {
    fn for_run(table: &TableConfig, mode: Mode) -> StagedFormat {
        match (mode, table.full_load) {
            (Mode::Full, FullLoad::Pushdown) => StagedFormat::ExportItems,
            (Mode::Incremental, _) if table.incremental_load == IncrementalLoad::Pushdown => {
                StagedFormat::ExportChanges
            }
            _ => StagedFormat::Folded,
        }
    }
}

/// A fingerprint of everything that shapes a table's staged files: in its config the key, columns
/// (names, paths, types), unmapped attributes, type-error policy, view type and the staged
/// format the mode implies; and the warehouse's [`StageRules`] (which keys and values it
/// refuses, how the files are compressed). A resumed run reuses staged files only when it
/// matches, so a `tables.toml` edited (or a warehouse swapped) between a crash and the resume
/// never loads files staged under the old rules. It hashes the settings' debug form: a dynashift
/// that adds a setting computes another fingerprint, which restages once (the safe side).
pub fn config_fingerprint(table: &TableConfig, mode: Mode, rules: StageRules) -> String {
    use md5::{Digest as _, Md5};
    let shaping = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{rules:?}",
        table.key,
        table.columns,
        table.unmapped,
        table.on_type_error,
        table.view_type,
        StagedFormat::for_run(table, mode)
    );
    Md5::digest(shaping.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stage::testing::{orders_table, table_with};

    #[test]
    fn only_full_syncs_of_pushdown_tables_stage_export_items() {
        let pushdown = table_with(|t| t.full_load = FullLoad::Pushdown);
        assert_eq!(StagedFormat::for_run(&pushdown, Mode::Full), StagedFormat::ExportItems);
        assert_eq!(StagedFormat::for_run(&pushdown, Mode::Incremental), StagedFormat::Folded);
        assert_eq!(StagedFormat::for_run(&orders_table(), Mode::Full), StagedFormat::Folded);
    }

    #[test]
    fn only_incremental_syncs_of_incremental_pushdown_tables_stage_export_changes() {
        let pushdown = table_with(|t| t.incremental_load = IncrementalLoad::Pushdown);
        assert_eq!(StagedFormat::for_run(&pushdown, Mode::Incremental), StagedFormat::ExportChanges);
        assert_eq!(StagedFormat::for_run(&pushdown, Mode::Full), StagedFormat::Folded);
        let both = table_with(|t| {
            t.incremental_load = IncrementalLoad::Pushdown;
            t.full_load = FullLoad::Pushdown;
        });
        assert_eq!(StagedFormat::for_run(&both, Mode::Full), StagedFormat::ExportItems);
        let fingerprint = config_fingerprint(&orders_table(), Mode::Incremental, StageRules::EXACT);
        assert_ne!(
            config_fingerprint(&pushdown, Mode::Incremental, StageRules::EXACT),
            fingerprint,
            "a resume restages"
        );
    }

    #[test]
    fn the_fingerprint_changes_with_what_shapes_the_staged_files_only() {
        let table = orders_table();
        let fingerprint = config_fingerprint(&table, Mode::Incremental, StageRules::EXACT);
        assert_eq!(fingerprint, config_fingerprint(&table.clone(), Mode::Incremental, StageRules::EXACT));
        let renamed = table_with(|t| t.columns[1].name = "renamed".into());
        assert_ne!(config_fingerprint(&renamed, Mode::Incremental, StageRules::EXACT), fingerprint);
        let retyped = table_with(|t| t.columns[1].ty = crate::config::ColumnType::Varchar(7));
        assert_ne!(config_fingerprint(&retyped, Mode::Incremental, StageRules::EXACT), fingerprint);
        let resized = table_with(|t| t.staged_file_bytes += 1);
        assert_eq!(
            config_fingerprint(&resized, Mode::Incremental, StageRules::EXACT),
            fingerprint,
            "part size: same rows"
        );
        let pushdown = table_with(|t| t.full_load = FullLoad::Pushdown);
        assert_ne!(
            config_fingerprint(&pushdown, Mode::Full, StageRules::EXACT),
            config_fingerprint(&table, Mode::Full, StageRules::EXACT)
        );
        // Another warehouse refuses other keys and reads other files (Redshift: gzip only).
        let redshift = config_fingerprint(&table, Mode::Incremental, StageRules::REDSHIFT);
        assert_ne!(redshift, fingerprint, "a resume into another warehouse restages");
    }
}

//! The contract between the stage step and the load step: what was staged, and where. The
//! column lists a table's config implies are `config::staged_columns` and
//! `config::target_columns`.

use std::io::{BufRead, Read};

use serde::{Deserialize, Serialize};

/// Name of the staged column that says whether a row is an upsert (`U`) or a delete (`D`).
pub const OP_COLUMN: &str = "dynashift_op";
/// Name of the staged column with the change's `WriteTimestampMicros` (null in full loads).
pub const TS_COLUMN: &str = "dynashift_ts";
/// Name of the column of an incremental pushdown stage that holds the first key attribute as
/// read from the change's new image: NULL exactly when the change has no new image (a delete).
pub const NEW_KEY_COLUMN: &str = "dynashift_new_key";

/// How the stage compresses the files it writes: what the warehouse's loader reads best.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StagedCompression {
    /// gzip (`.json.gz`): what Redshift's COPY reads with its `GZIP` option. Every loader reads
    /// it, so it is also how sets staged before LZ4 existed are read on a resume.
    #[default]
    Gzip,
    /// LZ4 frames with a content checksum (`.json.lz4`), for the warehouses dynashift loads
    /// itself (SQLite, PostgreSQL): it costs about half the CPU of gzip level 1 to write and a
    /// small fraction to read, for files about 10 % larger — a whole SQLite sync about 4 % less
    /// CPU (measured in `docs/performance.md`). Redshift's COPY cannot read LZ4 frames: its
    /// options are GZIP, LZOP, BZIP2 and ZSTD (RS-DG "File compression parameters").
    Lz4,
}

impl StagedCompression {
    /// The ending of a staged file's key.
    pub fn extension(self) -> &'static str {
        match self {
            StagedCompression::Gzip => "json.gz",
            StagedCompression::Lz4 => "json.lz4",
        }
    }

    /// How the staged file `key` is compressed, from its ending: the journal of a staged set
    /// keeps only the keys, and a key never changes ending once written.
    pub fn of_key(key: &str) -> StagedCompression {
        if key.ends_with(".lz4") { StagedCompression::Lz4 } else { StagedCompression::Gzip }
    }

    /// The decompressed content of a file compressed this way, read from `compressed`. A damaged
    /// file (a gzip CRC or an LZ4 checksum that does not match) is a read error.
    pub fn decompress<'r>(self, compressed: impl BufRead + Send + 'r) -> Box<dyn Read + Send + 'r> {
        match self {
            StagedCompression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(compressed)),
            StagedCompression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(compressed)),
        }
    }
}

/// One staged data file (JSON Lines, compressed as its key's ending says: [`StagedCompression`]).
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
    /// The incremental exports' own data files, untouched (an incremental pushdown load): one
    /// DynamoDB JSON change line per changed item and window, read by the warehouse through
    /// jsonpaths into [`TS_COLUMN`], [`NEW_KEY_COLUMN`] and the target's columns, and folded by
    /// key in SQL. Only Redshift can load them; dynashift never reads them.
    ExportChanges,
}

/// The load-ready output of one run's stage step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedSet {
    /// Store key of the Redshift COPY manifest listing `files`.
    pub manifest_key: String,
    /// Store key of the jsonpaths file, one path per staged column.
    pub jsonpaths_key: String,
    /// The staged columns in file order: [`OP_COLUMN`], [`TS_COLUMN`], then the table's columns
    /// (`config::staged_columns`); for export items, the table's columns only
    /// (`config::target_columns`); for export changes, `config::change_columns`.
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
            StagedFormat::ExportItems | StagedFormat::ExportChanges => Vec::new(),
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
            StagedFormat::ExportChanges => Err(format!(
                "{warehouse} cannot load a pushdown staged set (the incremental exports' own data files, \
                 read by Redshift's COPY): set incremental_load = \"staged\" for this table"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_export_files_of_a_pushdown_set_are_never_removed() {
        let folded = staged_set(StagedFormat::Folded);
        assert_eq!(folded.written_keys().len(), 3);
        let items = staged_set(StagedFormat::ExportItems);
        assert_eq!(items.written_keys(), ["t/staged/r/copy.manifest", "t/staged/r/jsonpaths.json"]);
        let changes = staged_set(StagedFormat::ExportChanges);
        assert_eq!(changes.written_keys(), ["t/staged/r/copy.manifest", "t/staged/r/jsonpaths.json"]);
    }

    #[test]
    fn a_staged_file_is_read_as_its_key_ends() {
        for compression in [StagedCompression::Gzip, StagedCompression::Lz4] {
            let key = format!("t/staged/r/part-00003.{}", compression.extension());
            assert_eq!(StagedCompression::of_key(&key), compression);
        }
        // Sets journaled before LZ4 existed, and the export's own files, are gzip.
        assert_eq!(
            StagedCompression::of_key("t/exports/AWSDynamoDB/e/data/a.json.gz"),
            StagedCompression::Gzip
        );
    }

    #[test]
    fn readers_of_folded_files_refuse_export_items() {
        assert_eq!(staged_set(StagedFormat::Folded).require_folded("SQLite"), Ok(()));
        let problem = staged_set(StagedFormat::ExportItems).require_folded("SQLite").unwrap_err();
        assert!(problem.starts_with("SQLite cannot load a pushdown staged set"), "{problem}");
        let problem = staged_set(StagedFormat::ExportChanges).require_folded("SQLite").unwrap_err();
        assert!(problem.contains("set incremental_load = \"staged\""), "{problem}");
    }

    #[test]
    fn journals_without_a_format_read_as_folded() {
        let mut json = serde_json::to_value(staged_set(StagedFormat::ExportItems)).unwrap();
        assert_eq!(json["format"], "export_items");
        json.as_object_mut().unwrap().remove("format");
        let old: StagedSet = serde_json::from_value(json).unwrap();
        assert_eq!(old.format, StagedFormat::Folded);
    }
}

//! The text of a drafted `tables.toml` for real DynamoDB tables: commented like the demo, with
//! every guessed type marked, and loading into the embedded SQLite warehouse so that the draft
//! passes `--check` and syncs before a warehouse is set up (Redshift and PostgreSQL are shown,
//! commented out).

use std::fmt::Write;

use super::infer::Proposal;

/// The column that keeps each whole item as JSON (the config's default name).
pub(super) const ITEM_COLUMN: &str = "item";

/// What `[defaults]` gets.
#[derive(Debug, Clone)]
pub(super) struct AwsDefaults {
    pub region: String,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub bucket: String,
    /// Items asked for per table.
    pub sample_limit: u16,
}

/// One drafted `[[table]]`.
#[derive(Debug, Clone)]
pub(super) struct DraftTable {
    pub name: String,
    /// Written when the user named the table by its ARN.
    pub arn: Option<String>,
    pub target: String,
    /// The key attribute names, partition key first.
    pub key: Vec<String>,
    pub sampled: usize,
    pub columns: Vec<Proposal>,
}

/// The whole file.
pub(super) fn aws_config(defaults: &AwsDefaults, tables: &[DraftTable]) -> String {
    let mut out = String::new();
    header(&mut out, defaults);
    defaults_section(&mut out, defaults);
    warehouse_section(&mut out);
    for table in tables {
        table_section(&mut out, table);
    }
    out
}

/// A TOML basic string. JSON's string escapes (`\"`, `\\`, `\n`, `\uXXXX`…) are all valid in
/// TOML basic strings, so serde_json's quoting is TOML's.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn header(out: &mut String, defaults: &AwsDefaults) {
    let _ = write!(
        out,
        "\
# dynashift configuration, drafted by `dynashift init --aws`: DynamoDB point-in-time exports into
# {bucket}, loaded into an embedded SQLite database until you choose a warehouse below.
#
# Each table's key comes from DynamoDB (DescribeTable). Its columns were GUESSED from a sample of at
# most {limit} items (one Scan page): every line marked \"guess\" says what it was guessed from. Review
# them: a value that does not fit its column fails the run (on_type_error = \"fail\") naming the key
# and the attribute, and attributes the sample missed are still kept, in the `{ITEM_COLUMN}` column as JSON.
#
# Before the first sync: point-in-time recovery (PITR) must be on for each table, and the bucket
# must exist and be writable by you and by DynamoDB's export. Then:
#   dynashift --check                          validate this file (again after each edit)
#   dynashift --headless --all --mode full     the first sync of every table
#   dynashift --headless --all                 each incremental sync after it (cron, systemd)
# Column types: varchar(n), varchar(max), smallint, integer, bigint, decimal(p,s),
# double precision, boolean, timestamp, timestamptz, date, super (any value, as JSON).

",
        bucket = defaults.bucket,
        limit = defaults.sample_limit,
    );
}

/// Where trailing comments start, so they line up.
const COMMENT_COLUMN: usize = 34;

/// `line`, then `# comment` at [`COMMENT_COLUMN`] (or after one space when the line is longer).
fn commented(out: &mut String, line: &str, comment: &str) {
    let _ = writeln!(out, "{line:<width$} # {comment}", width = COMMENT_COLUMN - 1);
}

fn defaults_section(out: &mut String, defaults: &AwsDefaults) {
    out.push_str("[defaults]\n");
    commented(out, "source = \"aws\"", "request exports from DynamoDB");
    commented(out, &format!("region = {}", quoted(&defaults.region)), "the tables' region");
    match &defaults.profile {
        Some(profile) => {
            commented(out, &format!("profile = {}", quoted(profile)), "a profile of ~/.aws/config")
        }
        None => commented(out, "# profile = \"analytics\"", "a profile of ~/.aws/config (else AWS_PROFILE)"),
    }
    if let Some(endpoint) = &defaults.endpoint_url {
        commented(out, &format!("endpoint_url = {}", quoted(endpoint)), "an AWS stand-in instead of AWS");
    }
    commented(out, &format!("bucket = {}", quoted(&defaults.bucket)), "exports, staged files and sync state");
    commented(out, "safety_lag = \"5m\"", "PITR trails real time by about 5 minutes");
    commented(out, "max_window = \"24h\"", "longer gaps become several exports");
    commented(out, "view_type = \"NEW_AND_OLD_IMAGES\"", "or \"NEW_IMAGE\" (smaller incremental exports)");
    commented(
        out,
        "on_type_error = \"fail\"",
        "or \"null\": load NULL for a value that does not fit, and count it",
    );
    out.push('\n');
}

fn warehouse_section(out: &mut String) {
    out.push_str(
        "\
# The warehouse. To load into Amazon Redshift instead (the README's \"Redshift\" section has the
# IAM policies), replace these two lines with:
#   kind = \"redshift\"
#   workgroup = \"analytics\"            # or cluster_id + db_user, or secret_arn
#   database = \"dev\"
#   iam_role = \"default\"               # the role COPY reads the bucket with
# or, for PostgreSQL 15+: kind = \"postgres\", url = \"postgres://user@host:5432/db\", password_env = \"PGPASSWORD\"
[warehouse]
kind = \"sqlite\"
path = \".dynashift/warehouse.sqlite\"

[console]
log_file = \".dynashift/dynashift.log\"
",
    );
}

fn table_section(out: &mut String, table: &DraftTable) {
    let items = if table.sampled == 1 { "item" } else { "items" };
    let _ = writeln!(out, "\n# {} {items} sampled.\n[[table]]", table.sampled);
    let _ = writeln!(out, "name = {}", quoted(&table.name));
    if let Some(arn) = &table.arn {
        let _ = writeln!(out, "arn = {}", quoted(arn));
    }
    let _ = writeln!(out, "target = {}", quoted(&table.target));
    commented(out, "mode = \"incremental\"", "the first sync must be --mode full");
    let key: Vec<String> = table.key.iter().map(|name| quoted(name)).collect();
    commented(out, &format!("key = [{}]", key.join(", ")), "from DescribeTable");
    commented(
        out,
        "unmapped = \"keep\"",
        &format!("attributes no column maps: the whole item as JSON in `{ITEM_COLUMN}`"),
    );
    out.push_str("columns = [\n");
    for column in &table.columns {
        commented(out, &format!("  {},", column_entry(column)), &column.note);
    }
    out.push_str("]\n");
}

/// `{ name = "…", path = …, type = "…" }`; the path is left out when it is the column's name,
/// and written as a one-element array when the attribute's name holds characters the dotted
/// form would read as syntax (`.`, `"`, `[`, `]`) or spaces at its ends.
fn column_entry(column: &Proposal) -> String {
    let path = if column.attribute == column.column {
        String::new()
    } else if column.attribute.contains(['.', '"', '[', ']']) || column.attribute.trim() != column.attribute {
        format!(", path = [{}]", quoted(&column.attribute))
    } else {
        format!(", path = {}", quoted(&column.attribute))
    };
    format!("{{ name = {}{path}, type = {} }}", quoted(&column.column), quoted(&column.ty.to_string()))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{AttrPath, ColumnType};

    fn proposal(column: &str, attribute: &str, ty: ColumnType) -> Proposal {
        Proposal { column: column.into(), attribute: attribute.into(), ty, note: "guess: test".into() }
    }

    fn draft() -> (AwsDefaults, Vec<DraftTable>) {
        let defaults = AwsDefaults {
            region: "eu-north-1".into(),
            profile: None,
            endpoint_url: None,
            bucket: "s3://acme-exports/dynashift/".into(),
            sample_limit: 100,
        };
        let table = DraftTable {
            name: "Orders-Prod".into(),
            arn: Some("arn:aws:dynamodb:eu-north-1:123456789012:table/Orders-Prod".into()),
            target: "orders_prod".into(),
            key: vec!["PK".into(), "sk".into()],
            sampled: 2,
            columns: vec![
                proposal("pk", "PK", ColumnType::Varchar(64)),
                proposal("sk", "sk", ColumnType::BigInt),
                proposal("ship_city", "shipping.city", ColumnType::Varchar(32)),
                proposal("quote", "say \"hi\"", ColumnType::Super),
                proposal("gift_note", "gift-note", ColumnType::Varchar(32)),
            ],
        };
        (defaults, vec![table])
    }

    #[test]
    fn the_draft_is_a_valid_tables_toml_with_the_paths_it_names() {
        let (defaults, tables) = draft();
        let text = aws_config(&defaults, &tables);
        let config = crate::config::load_str(&text, Path::new("/srv/tables.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let table = &config.tables[0];
        assert_eq!(table.name, "Orders-Prod");
        let paths: Vec<(&str, AttrPath)> =
            table.columns.iter().map(|c| (c.name.as_str(), c.path.clone())).collect();
        assert_eq!(paths[2], ("ship_city", AttrPath::from_names(["shipping.city".to_owned()]).unwrap()));
        assert_eq!(paths[3], ("quote", AttrPath::from_names(["say \"hi\"".to_owned()]).unwrap()));
        assert_eq!(paths[4], ("gift_note", AttrPath::from_names(["gift-note".to_owned()]).unwrap()));
        assert_eq!(text.matches("# guess: test").count(), 5, "{text}");
    }
}

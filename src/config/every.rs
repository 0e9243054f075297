//! `every`: how often `--watch` and the console sync a table. Its floor is what the table's
//! source allows, so a schedule never asks for runs that can only come back "up to date".

use std::time::Duration;

use toml::Spanned;

use super::duration::format_duration;
use super::issues::Issues;
use super::raw::{RawTable, SourceKind};

/// The shortest `every` a table of this source may have.
///
/// - `aws`: 15 minutes. An incremental export's window is 15 minutes to 24 hours ("Pick an
///   export period … from 15 minutes up to 24 hours", AWS Database Blog, *Introducing incremental
///   export from Amazon DynamoDB to Amazon S3*; DynamoDB Developer Guide, *Service quotas*, table
///   export to Amazon S3), so a shorter schedule could only plan nothing; a full-mode aws table
///   keeps the same floor, since even a tiny export takes minutes and each is billed.
/// - `exports`: 1 minute. Each run lists the store for new exports; nothing is requested.
/// - `demo`: 1 second. Its clock is simulated (`[demo] speed`, 600× by default), so 15 simulated
///   minutes pass in 1.5 real seconds.
pub(super) fn minimum_every(source: SourceKind) -> Duration {
    match source {
        SourceKind::Aws => Duration::from_secs(15 * 60),
        SourceKind::Exports => Duration::from_secs(60),
        SourceKind::Demo => Duration::from_secs(1),
    }
}

/// The table's `every` (its own, else `[defaults]`'), checked against its source's floor. A too
/// short value is reported where it is written: at the table, or at `[defaults]` naming the table.
pub(super) fn table_every(
    raw: &RawTable,
    source: SourceKind,
    inherited: Option<&Spanned<Duration>>,
    issues: &Issues,
) -> Option<Duration> {
    let (every, written_at) = match (&raw.overrides.every, inherited) {
        (Some(own), _) => (own, raw.label.clone()),
        (None, Some(default)) => (default, format!("[defaults] (inherited by {})", raw.label)),
        (None, None) => return None,
    };
    let floor = minimum_every(source);
    if *every.get_ref() < floor {
        let source_name = match source {
            SourceKind::Aws => "aws",
            SourceKind::Exports => "exports",
            SourceKind::Demo => "demo",
        };
        let message = format!(
            "`every` in {written_at} is {}, but a table with source = \"{source_name}\" can be synced at \
             most every {}",
            format_duration(*every.get_ref()),
            format_duration(floor)
        );
        let hint = match source {
            SourceKind::Aws => {
                "an incremental export covers at least 15 minutes: write every = \"15m\" or longer"
            }
            _ => "write a longer `every`, like every = \"1h\"",
        };
        issues.report(every.span(), message, hint);
        return None;
    }
    Some(*every.get_ref())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::load_str;

    const AWS: &str =
        "[defaults]\nsource = \"aws\"\nregion = \"us-east-1\"\nbucket = \"s3://acme-exports/p/\"\n";
    const DEMO_TABLE: &str = "[[table]]\nname = \"orders\"\nkey = [\"pk\", \"sk\"]\n";

    fn problems(text: &str) -> String {
        load_str(text, Path::new("/c/tables.toml")).expect_err("refused").to_string()
    }

    #[test]
    fn a_table_and_defaults_set_every() {
        let text = format!(
            "[defaults]\nevery = \"2h\"\n{DEMO_TABLE}every = \"90s\"\n[[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n"
        );
        let config = load_str(&text, Path::new("/c/tables.toml")).unwrap();
        assert_eq!(config.table("orders").unwrap().every, Some(Duration::from_secs(90)));
        assert_eq!(config.table("customers").unwrap().every, Some(Duration::from_secs(7200)));
        let config = load_str(DEMO_TABLE, Path::new("/c/tables.toml")).unwrap();
        assert_eq!(config.table("orders").unwrap().every, None);
    }

    #[test]
    fn an_aws_table_is_synced_at_most_every_15_minutes() {
        let text = format!("{AWS}[[table]]\nname = \"orders\"\nevery = \"10m\"\n");
        let message = problems(&text);
        assert!(message.contains("tables.toml:7:9"), "{message}");
        assert!(
            message.contains("`every` in table \"orders\" is 10m, but a table with source = \"aws\" can be synced at most every 15m"),
            "{message}"
        );
        assert!(message.contains("at least 15 minutes"), "{message}");
        let text = format!("{AWS}[[table]]\nname = \"orders\"\nevery = \"15m\"\n");
        let config = load_str(&text, Path::new("/c/tables.toml")).unwrap();
        assert_eq!(config.table("orders").unwrap().every, Some(Duration::from_secs(900)));
    }

    #[test]
    fn a_too_short_default_names_the_table_that_inherits_it() {
        let text = format!("{AWS}every = \"5m\"\n[[table]]\nname = \"orders\"\n");
        let message = problems(&text);
        assert!(message.contains("tables.toml:5:9"), "{message}");
        assert!(message.contains("`every` in [defaults] (inherited by table \"orders\") is 5m"), "{message}");
    }

    #[test]
    fn every_is_a_duration_within_bounds() {
        let message = problems(&format!("{DEMO_TABLE}every = \"1h5\"\n"));
        assert!(message.contains("`every` in table \"orders\" is not a duration"), "{message}");
        let message = problems(&format!("{DEMO_TABLE}every = \"0s\"\n"));
        assert!(message.contains("must be between 1s and 30d"), "{message}");
        let message = problems(&format!("{DEMO_TABLE}every = \"31d\"\n"));
        assert!(message.contains("must be between 1s and 30d"), "{message}");
        let message = problems(
            "[defaults]\nsource = \"exports\"\n[[table]]\nname = \"e\"\nkey = [\"pk\"]\nevery = \"30s\"\n",
        );
        assert!(message.contains("source = \"exports\" can be synced at most every 1m"), "{message}");
    }
}

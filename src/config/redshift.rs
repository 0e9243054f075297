//! `[warehouse]` with `kind = "redshift"`: who the Data API connects as, the database, and the
//! role COPY reads S3 with.
//!
//! The Data API authenticates in three ways, and each needs its own pair of keys: a Serverless
//! `workgroup`; a provisioned `cluster_id` (with `db_user` for temporary credentials as that
//! user, or without for the IAM identity); or a Secrets Manager `secret_arn` beside either. A
//! mix the API would refuse is refused here, before anything connects. Credentials themselves
//! are never configured: COPY uses `iam_role`, so no key can end up inside SQL.

use std::ops::Range;

use toml::Spanned;

use super::issues::Issues;
use super::model::{
    AwsSettings, RedshiftConfig, RedshiftConnection, SourceConfig, StoreLocation, TableConfig,
    WarehouseConfig,
};
use super::raw::{RawRedshift, RawWarehouse};
use super::types::ColumnType;

const ROLE_EXAMPLE: &str = "iam_role = \"arn:aws:iam::123456789012:role/redshift-copy\"";

/// The validated Redshift warehouse; `None` when a problem was reported.
pub(super) fn redshift(raw: &RawWarehouse, issues: &Issues) -> Option<WarehouseConfig> {
    let r = &raw.redshift;
    let kind_span = raw.kind.as_ref().map(Spanned::span);
    let connection = connection(r, kind_span.clone(), issues);
    let database = required(&r.database, "database", "database = \"dev\"", kind_span.clone(), issues);
    let iam_role = iam_role(r, kind_span, issues);
    let copy_region = optional(&r.copy_region, |text| region(text, "copy_region"), issues);
    let client_region = optional(&r.region, |text| region(text, "region"), issues);
    let endpoint_url = optional(&r.endpoint_url, endpoint, issues);
    Some(WarehouseConfig::Redshift(RedshiftConfig {
        connection: connection?,
        database: database?,
        iam_role: iam_role?,
        copy_region: copy_region?,
        client: AwsSettings {
            region: client_region?,
            profile: r.profile.as_ref().map(|p| p.get_ref().clone()),
            endpoint_url: endpoint_url?,
        },
    }))
}

/// `copy_region` gives every COPY one Region. dynashift now gives each table's COPY the
/// Region of its own bucket, so the key is only an override, and one that is wrong for any
/// table whose bucket is configured in another Region: that is reported here (at `--check`),
/// naming the table, rather than failing that table's COPY at run time.
pub(super) fn report_copy_region_conflicts(
    raw: &RawWarehouse,
    defaults: &AwsSettings,
    tables: &[TableConfig],
    issues: &Issues,
) {
    let Some(copy_region) = &raw.redshift.copy_region else { return };
    let conflict = tables.iter().filter(|t| matches!(t.store, StoreLocation::S3 { .. })).find_map(|table| {
        let (region, whose) = match &table.source {
            SourceConfig::Aws(aws) => (aws.client.region.as_ref(), "its `region`"),
            _ => (defaults.region.as_ref(), "`region` in [defaults]"),
        };
        region.filter(|r| *r != copy_region.get_ref()).map(|r| (table, r, whose))
    });
    if let Some((table, region, whose)) = conflict {
        let message = format!(
            "`copy_region` in [warehouse] is \"{}\", but table \"{}\" keeps its bucket in \"{region}\" ({whose}); \
             one Region cannot serve every COPY",
            copy_region.get_ref(),
            table.name
        );
        let hint = "remove copy_region: dynashift gives each table's COPY the Region of its own bucket (the \
                    table's `region`, else [defaults]'), and adds REGION only when it is not the warehouse's";
        issues.report(copy_region.span(), message, hint);
    }
}

/// Whether a pushdown COPY would load a column of type `ty` differently from a staged load.
/// Redshift ignores the time zone in a TIMESTAMP input string ("Datetime types", Redshift
/// Database Developer Guide; aws-facts §9), so `2024-05-01T12:00:00+02:00` would load as 12:00,
/// while the staged path converts it to 10:00 UTC. TIMESTAMPTZ converts offsets to UTC in both.
pub(super) fn pushdown_misreads(ty: ColumnType) -> bool {
    ty == ColumnType::Timestamp
}

/// The problem and hint for a `timestamp` column of a pushdown table.
pub(super) fn pushdown_timestamp_problem(column: &str, table_label: &str, key: &str) -> (String, String) {
    (
        format!(
            "column \"{column}\" of {table_label} is `timestamp`, which {key} = \"pushdown\" would load \
             differently from a staged load: Redshift ignores the offset in a TIMESTAMP input \
             (2024-05-01T12:00:00+02:00 loads as 12:00), while staged loads convert it to UTC"
        ),
        format!(
            "make the column type = \"timestamptz\" (offsets are converted to UTC), or set {key} = \"staged\" \
             for this table"
        ),
    )
}

/// Reports `message` at `span`, or unplaced when the key is not written.
fn report_at(
    span: Option<Range<usize>>,
    message: impl Into<String>,
    hint: impl Into<String>,
    issues: &Issues,
) {
    match span {
        Some(span) => issues.report(span, message, hint),
        None => issues.report_unplaced(message, hint),
    }
}

fn required(
    value: &Option<Spanned<String>>,
    name: &str,
    example: &str,
    kind_span: Option<Range<usize>>,
    issues: &Issues,
) -> Option<String> {
    match value {
        Some(value) if !value.get_ref().trim().is_empty() => Some(value.get_ref().clone()),
        Some(value) => {
            issues.report(
                value.span(),
                format!("`{name}` in [warehouse] is empty"),
                format!("write {example}"),
            );
            None
        }
        None => {
            let message = format!("[warehouse] with kind = \"redshift\" needs `{name}`");
            report_at(kind_span, message, format!("add {example}"), issues);
            None
        }
    }
}

/// An optional key checked by `check` (`Err((message, hint))`); `Some(None)` when absent.
fn optional(
    value: &Option<Spanned<String>>,
    check: impl Fn(&str) -> Result<(), (String, String)>,
    issues: &Issues,
) -> Option<Option<String>> {
    let Some(value) = value else { return Some(None) };
    match check(value.get_ref()) {
        Ok(()) => Some(Some(value.get_ref().clone())),
        Err((message, hint)) => {
            issues.report(value.span(), message, hint);
            None
        }
    }
}

fn connection(
    r: &RawRedshift,
    kind_span: Option<Range<usize>>,
    issues: &Issues,
) -> Option<RedshiftConnection> {
    let text = |v: &Option<Spanned<String>>| v.as_ref().map(|v| v.get_ref().clone());
    match (&r.workgroup, &r.cluster_id) {
        (Some(_), Some(cluster)) => {
            let message = "[warehouse] names both a workgroup (Serverless) and a cluster_id (provisioned)";
            issues.report(cluster.span(), message, "keep the one dynashift loads into");
            return None;
        }
        (None, None) => {
            let message = "[warehouse] with kind = \"redshift\" needs `workgroup` (Serverless) or `cluster_id` \
                           (a provisioned cluster)";
            let hint = "add workgroup = \"analytics\", or cluster_id = \"…\" with db_user = \"…\" or secret_arn = \"…\"";
            report_at(kind_span, message, hint, issues);
            return None;
        }
        _ => {}
    }
    if let Some(user) = &r.db_user {
        let problem = if r.workgroup.is_some() {
            Some("`db_user` in [warehouse] applies to a provisioned cluster, not a Serverless workgroup")
        } else if r.secret_arn.is_some() {
            Some("`db_user` and `secret_arn` in [warehouse] are two ways to log in; the Data API takes one")
        } else {
            None
        };
        if let Some(message) = problem {
            issues.report(user.span(), message, "remove db_user (a workgroup or the secret names the user)");
            return None;
        }
    }
    if let Some(arn) = &r.secret_arn {
        if !arn.get_ref().starts_with("arn:") || !arn.get_ref().contains(":secretsmanager:") {
            // The value may be a pasted secret: point at the line but never quote it.
            let message = "`secret_arn` in [warehouse] is not a Secrets Manager ARN (the value is not shown)";
            let hint = "write the secret's ARN, like secret_arn = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:loader-AbCdEf\"";
            issues.report_unplaced(message, hint);
            return None;
        }
        return Some(RedshiftConnection::Secret {
            arn: arn.get_ref().clone(),
            cluster_id: text(&r.cluster_id),
            workgroup: text(&r.workgroup),
        });
    }
    Some(match (text(&r.workgroup), text(&r.cluster_id)) {
        (Some(name), _) => RedshiftConnection::Workgroup { name },
        (None, Some(id)) => RedshiftConnection::Cluster { id, db_user: text(&r.db_user) },
        (None, None) => return None,
    })
}

fn iam_role(r: &RawRedshift, kind_span: Option<Range<usize>>, issues: &Issues) -> Option<String> {
    let role = required(&r.iam_role, "iam_role", ROLE_EXAMPLE, kind_span, issues)?;
    let span = r.iam_role.as_ref().map(Spanned::span)?;
    if role == "default" || is_role_arn(&role) {
        return Some(role);
    }
    let looks_like_key =
        role.starts_with("AKIA") || role.starts_with("ASIA") || role.contains("aws_access_key");
    let message = if looks_like_key {
        "`iam_role` in [warehouse] looks like an access key, not a role (the value is not shown)".to_owned()
    } else {
        format!("`iam_role` in [warehouse] is \"{role}\", which is not an IAM role ARN")
    };
    let hint = format!(
        "COPY reads S3 as a role attached to the warehouse: write {ROLE_EXAMPLE}, or iam_role = \"default\" \
         for its default role"
    );
    if looks_like_key {
        issues.report_unplaced(message, hint);
    } else {
        issues.report(span, message, hint);
    }
    None
}

/// `arn:<partition>:iam::<12-digit account>:role/<path/name>`.
fn is_role_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "iam", "", account, resource]
            if partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty())
    )
}

/// A Region name such as `eu-north-1`.
fn region(text: &str, key: &str) -> Result<(), (String, String)> {
    let valid = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && text.contains('-')
        && text.bytes().last().is_some_and(|b| b.is_ascii_digit());
    if valid {
        return Ok(());
    }
    Err((
        format!("`{key}` in [warehouse] is \"{text}\", which is not an AWS Region name"),
        format!("write a Region like {key} = \"eu-north-1\""),
    ))
}

fn endpoint(text: &str) -> Result<(), (String, String)> {
    if text.starts_with("https://") || text.starts_with("http://") {
        return Ok(());
    }
    Err((
        format!("`endpoint_url` in [warehouse] is \"{text}\", which is not an http(s) URL"),
        "write endpoint_url = \"http://127.0.0.1:9000\" (a Data API stand-in), or remove it for AWS"
            .to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{RedshiftConfig, RedshiftConnection, WarehouseConfig, load_str};

    const TABLE: &str = "[[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n";
    const S3: &str = "[defaults]\nbucket = \"s3://acme-exports/dynashift/\"\n";
    const ROLE: &str = "iam_role = \"arn:aws:iam::123456789012:role/redshift-copy\"";

    fn warehouse(section: &str) -> Result<RedshiftConfig, Vec<(String, Option<usize>)>> {
        load_str(
            &format!("{S3}[warehouse]\nkind = \"redshift\"\n{section}\n{TABLE}"),
            Path::new("/c/tables.toml"),
        )
        .map(|config| match config.warehouse {
            WarehouseConfig::Redshift(redshift) => redshift,
            other => panic!("expected redshift, got {other:?}"),
        })
        .map_err(|error| error.problems.into_iter().map(|p| (p.message, p.line)).collect())
    }

    fn messages(section: &str) -> Vec<String> {
        warehouse(section).expect_err("refused").into_iter().map(|(message, _)| message).collect()
    }

    #[test]
    fn a_serverless_workgroup() {
        let config = warehouse(&format!(
            "workgroup = \"analytics\"\ndatabase = \"dev\"\n{ROLE}\ncopy_region = \"eu-west-1\"\n\
             region = \"us-east-1\"\nendpoint_url = \"http://127.0.0.1:9000\""
        ))
        .unwrap();
        assert_eq!(config.connection, RedshiftConnection::Workgroup { name: "analytics".into() });
        assert_eq!(config.database, "dev");
        assert_eq!(config.copy_region.as_deref(), Some("eu-west-1"));
        assert_eq!(config.client.region.as_deref(), Some("us-east-1"));
        assert_eq!(config.client.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
    }

    #[test]
    fn a_cluster_as_a_database_user_or_through_a_secret() {
        let config =
            warehouse(&format!("cluster_id = \"main\"\ndb_user = \"loader\"\ndatabase = \"dev\"\n{ROLE}"))
                .unwrap();
        assert_eq!(
            config.connection,
            RedshiftConnection::Cluster { id: "main".into(), db_user: Some("loader".into()) }
        );
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:loader-AbCdEf";
        let config = warehouse(&format!(
            "cluster_id = \"main\"\nsecret_arn = \"{arn}\"\ndatabase = \"dev\"\niam_role = \"default\""
        ))
        .unwrap();
        assert_eq!(
            config.connection,
            RedshiftConnection::Secret { arn: arn.into(), cluster_id: Some("main".into()), workgroup: None }
        );
        assert_eq!(config.iam_role, "default");
    }

    #[test]
    fn a_connection_the_data_api_would_refuse_is_refused() {
        assert_eq!(
            messages(&format!("database = \"dev\"\n{ROLE}")),
            [
                "[warehouse] with kind = \"redshift\" needs `workgroup` (Serverless) or `cluster_id` (a provisioned cluster)"
            ]
        );
        let both = messages(&format!("workgroup = \"w\"\ncluster_id = \"c\"\ndatabase = \"dev\"\n{ROLE}"));
        assert_eq!(both.len(), 1, "{both:?}");
        assert!(both[0].contains("both a workgroup"), "{both:?}");
        let user_on_workgroup =
            messages(&format!("workgroup = \"w\"\ndb_user = \"u\"\ndatabase = \"dev\"\n{ROLE}"));
        assert!(user_on_workgroup[0].contains("not a Serverless workgroup"), "{user_on_workgroup:?}");
    }

    #[test]
    fn database_and_role_are_required_and_a_key_in_the_role_is_never_shown() {
        let missing = warehouse("workgroup = \"w\"").expect_err("refused");
        assert_eq!(missing.len(), 2, "{missing:?}");
        assert!(missing.iter().all(|(_, line)| *line == Some(4)), "reported at the kind: {missing:?}");
        let key = messages("workgroup = \"w\"\ndatabase = \"d\"\niam_role = \"AKIAIOSFODNN7EXAMPLE\"");
        assert_eq!(key.len(), 1);
        assert!(key[0].contains("looks like an access key") && !key[0].contains("AKIAIOSFODNN7"), "{key:?}");
        let bad = messages("workgroup = \"w\"\ndatabase = \"d\"\niam_role = \"arn:aws:iam::12:role/x\"");
        assert!(bad[0].contains("not an IAM role ARN"), "{bad:?}");
    }

    #[test]
    fn a_secret_that_is_not_an_arn_is_never_quoted() {
        let problems =
            messages(&format!("workgroup = \"w\"\nsecret_arn = \"hunter2\"\ndatabase = \"d\"\n{ROLE}"));
        assert_eq!(problems.len(), 1);
        assert!(!problems[0].contains("hunter2"), "{problems:?}");
    }

    #[test]
    fn every_store_must_be_a_bucket_copy_can_read() {
        let local_table =
            format!("[warehouse]\nkind = \"redshift\"\nworkgroup = \"w\"\ndatabase = \"d\"\n{ROLE}\n{TABLE}");
        let problems = load_str(&local_table, Path::new("/c/tables.toml")).unwrap_err().problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("uses the built-in local store"), "{problems:?}");
        assert_eq!(problems[0].line, Some(2), "reported at the kind");
        let written = format!("{S3}{}bucket = \"file://elsewhere\"\n", local_table);
        let problems = load_str(&written, Path::new("/c/tables.toml")).unwrap_err().problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .message
                .starts_with("`bucket` in table \"customers\" is \"file://elsewhere\", a local folder"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_copy_region_that_is_wrong_for_some_tables_bucket_is_refused_naming_the_table() {
        let config = |defaults_region: &str, table_region: &str| {
            format!(
                "[defaults]\nbucket = \"s3://acme/dynashift/\"\nregion = \"{defaults_region}\"\n\
                 [warehouse]\nkind = \"redshift\"\nworkgroup = \"w\"\ndatabase = \"d\"\n{ROLE}\n\
                 copy_region = \"eu-north-1\"\n{TABLE}\
                 [[table]]\nsource = \"aws\"\narn = \"arn:aws:dynamodb:{table_region}:123456789012:table/orders\"\n\
                 region = \"{table_region}\"\nkey = [\"pk\"]\n"
            )
        };
        let fine = load_str(&config("eu-north-1", "eu-north-1"), Path::new("/c/tables.toml"));
        assert!(fine.is_ok(), "one Region everywhere still passes: {fine:?}");
        let problems =
            load_str(&config("eu-north-1", "eu-west-1"), Path::new("/c/tables.toml")).unwrap_err().problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].message,
            "`copy_region` in [warehouse] is \"eu-north-1\", but table \"orders\" keeps its bucket in \
             \"eu-west-1\" (its `region`); one Region cannot serve every COPY"
        );
        assert_eq!(problems[0].line, Some(9), "reported at copy_region");
        assert!(problems[0].hint.starts_with("remove copy_region"), "{problems:?}");
        let problems =
            load_str(&config("us-east-1", "eu-north-1"), Path::new("/c/tables.toml")).unwrap_err().problems;
        assert!(
            problems[0]
                .message
                .contains("table \"customers\" keeps its bucket in \"us-east-1\" (`region` in [defaults])"),
            "{problems:?}"
        );
    }

    #[test]
    fn keys_of_other_kinds_and_bad_regions_are_reported() {
        let problems = messages(&format!("workgroup = \"w\"\ndatabase = \"d\"\n{ROLE}\npath = \"w.sqlite\""));
        assert_eq!(problems, ["`path` in [warehouse] is a sqlite setting, but kind is \"redshift\""]);
        let problems =
            messages(&format!("workgroup = \"w\"\ndatabase = \"d\"\n{ROLE}\ncopy_region = \"Europe\""));
        assert_eq!(problems, ["`copy_region` in [warehouse] is \"Europe\", which is not an AWS Region name"]);
    }
}

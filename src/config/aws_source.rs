//! AWS settings in tables.toml. `region`, `profile` and `endpoint_url` are the client settings:
//! `[defaults]` gives them to every S3 bucket and every `source = "aws"` table, and an aws table
//! may override them. `bucket_owner`, `sse` and `sse_kms_key_id` shape the export request. A
//! table of another source may not set any of them: it would be silently ignored.

use toml::Spanned;

use super::issues::Issues;
use super::model::{AwsExportSettings, AwsSettings, ExportEncryption, SourceConfig, StoreLocation};
use super::raw::{RawAws, RawTable, SseKind, written};

/// `[defaults]`' AWS settings, checked once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct AwsDefaults {
    pub client: AwsSettings,
    pub bucket_owner: Option<String>,
    pub sse: Option<ExportEncryption>,
}

/// Checks `[defaults]`' AWS settings; values that fail are reported and left out.
pub(super) fn resolve_aws_defaults(raw: &RawAws, issues: &Issues) -> AwsDefaults {
    let sse = written(&raw.sse);
    AwsDefaults {
        client: client_settings(raw, &AwsSettings::default(), issues),
        bucket_owner: checked_owner(raw, issues),
        sse: encryption(sse, raw.sse_kms_key_id.as_ref(), None, "[defaults]", issues),
    }
}

/// The source of a `source = "aws"` table: its own AWS settings over `[defaults]`'. DynamoDB
/// exports only to S3, so the table's bucket must be an `s3://` one.
pub(super) fn aws_source(
    table: &RawTable,
    defaults: &AwsDefaults,
    store: Option<&StoreLocation>,
    issues: &Issues,
) -> Option<SourceConfig> {
    let problems_before = issues.count();
    if let Some(StoreLocation::Local { root }) = store {
        let message = format!(
            "{} reads source = \"aws\", but its bucket is a local folder (file://{}); DynamoDB exports only to S3",
            table.label,
            root.display()
        );
        let span = match (&table.overrides.bucket, &table.overrides.source) {
            (Some(bucket), _) => bucket.span(),
            (None, Some(source)) => source.span(),
            (None, None) => table.span.clone(),
        };
        issues.report(
            span,
            message,
            "set bucket = \"s3://your-bucket/dynashift/\" for this table or in [defaults]",
        );
    }
    let raw = &table.overrides.aws;
    let client = client_settings(raw, &defaults.client, issues);
    let bucket_owner = checked_owner(raw, issues).or_else(|| defaults.bucket_owner.clone());
    let sse = table_encryption(raw, defaults, &table.label, issues);
    (issues.count() == problems_before).then_some(SourceConfig::Aws(AwsExportSettings {
        client,
        bucket_owner,
        sse,
        key_from_table: None,
    }))
}

/// The table's `sse` and `sse_kms_key_id`, each falling back to `[defaults]`' (a KMS key only
/// while the encryption stays KMS).
fn table_encryption(
    raw: &RawAws,
    defaults: &AwsDefaults,
    label: &str,
    issues: &Issues,
) -> Option<ExportEncryption> {
    let (inherited_kind, inherited_key) = match &defaults.sse {
        Some(ExportEncryption::Aes256) => (Some(SseKind::Aes256), None),
        Some(ExportEncryption::Kms { key_id }) => (Some(SseKind::Kms), key_id.clone()),
        None => (None, None),
    };
    let kind = written(&raw.sse).or(inherited_kind);
    encryption(kind, raw.sse_kms_key_id.as_ref(), inherited_key, label, issues)
}

/// A table of another source must not set AWS settings of its own; `false` when one was reported.
pub(super) fn reject_table_aws_settings(table: &RawTable, source: &str, issues: &Issues) -> bool {
    let raw = &table.overrides.aws;
    let set: [(&str, Option<std::ops::Range<usize>>); 6] = [
        ("region", raw.region.as_ref().map(Spanned::span)),
        ("profile", raw.profile.as_ref().map(Spanned::span)),
        ("endpoint_url", raw.endpoint_url.as_ref().map(Spanned::span)),
        ("bucket_owner", raw.bucket_owner.as_ref().map(Spanned::span)),
        ("sse", raw.sse.as_ref().map(Spanned::span)),
        ("sse_kms_key_id", raw.sse_kms_key_id.as_ref().map(Spanned::span)),
    ];
    let mut clean = true;
    for (key, span) in set {
        let Some(span) = span else { continue };
        clean = false;
        let message = format!(
            "`{key}` of {} only applies to tables with source = \"aws\" (this one reads \"{source}\")",
            table.label
        );
        let hint = if matches!(key, "region" | "profile" | "endpoint_url") {
            "move it to [defaults], where it also configures the S3 bucket of every table"
        } else {
            "remove it: only the exports dynashift requests from DynamoDB use it"
        };
        issues.report(span, message, hint);
    }
    clean
}

/// `region`, `profile` and `endpoint_url` over `inherited`, each checked.
fn client_settings(raw: &RawAws, inherited: &AwsSettings, issues: &Issues) -> AwsSettings {
    let region = raw.region.as_ref().filter(|region| check_region(region, issues));
    let profile = raw.profile.as_ref().filter(|profile| check_not_blank(profile, "profile", issues));
    let endpoint_url = raw.endpoint_url.as_ref().filter(|url| check_endpoint_url(url, issues));
    let text = |value: Option<&Spanned<String>>, inherited: &Option<String>| {
        value.map(|v| v.get_ref().clone()).or_else(|| inherited.clone())
    };
    AwsSettings {
        region: text(region, &inherited.region),
        profile: text(profile, &inherited.profile),
        endpoint_url: text(endpoint_url, &inherited.endpoint_url),
    }
}

/// Region codes are lowercase words and digits joined by dashes (`eu-north-1`, `us-gov-west-1`).
fn check_region(region: &Spanned<String>, issues: &Issues) -> bool {
    let text = region.get_ref();
    let valid = !text.is_empty()
        && text.split('-').count() >= 2
        && text.split('-').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if !valid {
        let message = format!("`region` \"{}\" is not an AWS region code", text.escape_debug());
        issues.report(region.span(), message, "write the region's code, like region = \"eu-north-1\"");
    }
    valid
}

fn check_not_blank(value: &Spanned<String>, key: &str, issues: &Issues) -> bool {
    let blank = value.get_ref().trim().is_empty();
    if blank {
        issues.report(value.span(), format!("`{key}` is empty"), format!("remove {key}, or name one"));
    }
    !blank
}

fn check_endpoint_url(url: &Spanned<String>, issues: &Issues) -> bool {
    let valid = url.get_ref().starts_with("http://") || url.get_ref().starts_with("https://");
    if !valid {
        let message = format!("`endpoint_url` \"{}\" is not an http:// or https:// URL", url.get_ref());
        issues.report(
            url.span(),
            message,
            "write the full URL, like endpoint_url = \"http://127.0.0.1:5000\"",
        );
    }
    valid
}

/// `bucket_owner` is an account id: exactly 12 digits.
fn checked_owner(raw: &RawAws, issues: &Issues) -> Option<String> {
    let owner = raw.bucket_owner.as_ref()?;
    let text = owner.get_ref();
    if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(text.clone());
    }
    let message = format!("`bucket_owner` \"{}\" is not a 12-digit AWS account id", text.escape_debug());
    issues.report(
        owner.span(),
        message,
        "write the account id of the bucket's owner, like bucket_owner = \"123456789012\"",
    );
    None
}

/// `sse` with its KMS key; a key without `sse = "KMS"` is refused.
fn encryption(
    sse: Option<SseKind>,
    key: Option<&Spanned<String>>,
    inherited_key: Option<String>,
    label: &str,
    issues: &Issues,
) -> Option<ExportEncryption> {
    match (sse, key) {
        (Some(SseKind::Kms), key) => {
            Some(ExportEncryption::Kms { key_id: key.map(|k| k.get_ref().clone()).or(inherited_key) })
        }
        (Some(SseKind::Aes256), None) => Some(ExportEncryption::Aes256),
        (sse, Some(key)) => {
            let what = if sse.is_some() { "sse = \"AES256\"" } else { "no `sse`" };
            let message = format!("`sse_kms_key_id` in {label} is set, but {label} has {what}");
            issues.report(key.span(), message, "add sse = \"KMS\" beside it, or remove sse_kms_key_id");
            None
        }
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::refusals as messages;
    use std::path::Path;

    use crate::config::{AwsExportSettings, ExportEncryption, SourceConfig, load_str};

    const DEFAULTS: &str =
        "[defaults]\nregion = \"us-east-1\"\nprofile = \"analytics\"\nbucket = \"s3://acme/dynashift/\"\n";

    fn aws_settings(text: &str) -> AwsExportSettings {
        let config = load_str(text, Path::new("/c/tables.toml")).unwrap_or_else(|e| panic!("{e}"));
        match config.tables.into_iter().next().expect("one table").source {
            SourceConfig::Aws(settings) => settings,
            other => panic!("not an aws source: {other:?}"),
        }
    }

    fn table(extra: &str) -> String {
        format!("{DEFAULTS}[[table]]\nname = \"orders\"\nsource = \"aws\"\nkey = [\"pk\"]\n{extra}")
    }

    #[test]
    fn an_aws_table_merges_its_settings_over_the_defaults() {
        let settings = aws_settings(&table(
            "region = \"eu-north-1\"\nendpoint_url = \"http://127.0.0.1:5000\"\nbucket_owner = \"123456789012\"\n\
             sse = \"KMS\"\nsse_kms_key_id = \"alias/exports\"\n",
        ));
        assert_eq!(settings.client.region.as_deref(), Some("eu-north-1"));
        assert_eq!(settings.client.profile.as_deref(), Some("analytics"));
        assert_eq!(settings.client.endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(settings.bucket_owner.as_deref(), Some("123456789012"));
        assert_eq!(settings.sse, Some(ExportEncryption::Kms { key_id: Some("alias/exports".into()) }));
    }

    #[test]
    fn export_settings_are_inherited_from_the_defaults() {
        let text = table("").replace(
            "[defaults]\n",
            "[defaults]\nsse = \"KMS\"\nsse_kms_key_id = \"alias/d\"\nbucket_owner = \"000000000000\"\n",
        );
        let settings = aws_settings(&text);
        assert_eq!(settings.sse, Some(ExportEncryption::Kms { key_id: Some("alias/d".into()) }));
        assert_eq!(settings.bucket_owner.as_deref(), Some("000000000000"));
        let overridden =
            aws_settings(&text.replace("key = [\"pk\"]\n", "key = [\"pk\"]\nsse = \"AES256\"\n"));
        assert_eq!(overridden.sse, Some(ExportEncryption::Aes256));
        let own_key =
            aws_settings(&text.replace("key = [\"pk\"]\n", "key = [\"pk\"]\nsse_kms_key_id = \"alias/t\"\n"));
        assert_eq!(own_key.sse, Some(ExportEncryption::Kms { key_id: Some("alias/t".into()) }));
    }

    #[test]
    fn an_aws_table_needs_an_s3_bucket() {
        let text = table("bucket = \"file://.dynashift/bucket\"\n");
        let messages = messages(&text);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0]
                .starts_with("table \"orders\" reads source = \"aws\", but its bucket is a local folder")
        );
        assert!(messages[0].ends_with("DynamoDB exports only to S3"), "{messages:?}");
    }

    #[test]
    fn other_sources_may_not_set_aws_settings_of_their_own() {
        let text = format!(
            "{DEFAULTS}[[table]]\nname = \"events\"\nsource = \"exports\"\nprefix = \"in/events\"\nkey = [\"id\"]\n\
             region = \"eu-north-1\"\nsse = \"AES256\"\n"
        );
        assert_eq!(
            messages(&text),
            [
                "`region` of table \"events\" only applies to tables with source = \"aws\" (this one reads \"exports\")",
                "`sse` of table \"events\" only applies to tables with source = \"aws\" (this one reads \"exports\")",
            ]
        );
    }

    #[test]
    fn bad_values_are_explained() {
        let text = table(
            "region = \"EU North\"\nbucket_owner = \"12-34\"\nsse = \"AES256\"\nsse_kms_key_id = \"alias/x\"\n\
             endpoint_url = \"localhost:4566\"\nprefix = \"in/orders\"\n",
        );
        let messages = messages(&text);
        assert_eq!(
            messages,
            [
                "`region` \"EU North\" is not an AWS region code",
                "`bucket_owner` \"12-34\" is not a 12-digit AWS account id",
                "`sse_kms_key_id` in table \"orders\" is set, but table \"orders\" has sse = \"AES256\"",
                "`endpoint_url` \"localhost:4566\" is not an http:// or https:// URL",
                "table \"orders\" has a `prefix`, which only tables with source = \"exports\" use",
            ]
        );
    }

    #[test]
    fn a_kms_key_in_the_defaults_needs_kms() {
        let text = table("").replace("[defaults]\n", "[defaults]\nsse_kms_key_id = \"alias/x\"\n");
        assert_eq!(messages(&text), ["`sse_kms_key_id` in [defaults] is set, but [defaults] has no `sse`"]);
    }
}

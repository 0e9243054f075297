//! `dynashift init --aws TABLE…`: what DynamoDB says about each table, turned into a draft.
//!
//! Two reads per table, both bounded:
//! - DescribeTable, for the key schema (KeySchema: HASH is the partition key, RANGE the sort key;
//!   AttributeDefinitions: their S/N/B types). It accepts a table name or its ARN.
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeTable.html>
//! - ONE Scan request with `Limit`: DynamoDB stops after evaluating `Limit` items or 1 MB of data,
//!   whichever comes first, and returns a LastEvaluatedKey that is deliberately never followed:
//!   this is a sample, never a full scan (a full scan of a big table costs real read capacity).
//!   Without a filter, Count equals ScannedCount, so the page holds up to `Limit` items. Its
//!   TableName takes an ARN too, like DescribeTable's.
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html>, and the SDK
//!   reference of ScanRequest's `limit` and `tableName`
//!   (<https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/dynamodb/aws.sdk.kotlin.services.dynamodb.model/-scan-request/limit.html>).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::InitError;
use super::infer::{Sampled, SampledItem, propose};
use super::naming::ColumnNames;
use super::render::{AwsDefaults, DraftTable, ITEM_COLUMN, aws_config};
use crate::aws::{AwsConnection, AwsFailure, AwsSetupError, FailureKind};
use crate::cli::InitArgs;
use crate::config::{AwsSettings, check_bucket_name};
use crate::source::aws::key_schema;

/// The draft for the tables `args` names.
pub(super) async fn draft(args: &InitArgs) -> Result<String, InitError> {
    let bucket = checked_bucket(args.bucket.as_deref())?;
    check_distinct(&args.aws)?;
    let settings = AwsSettings {
        region: args.region.clone(),
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
    };
    let connection = AwsConnection::connect(&settings).await.map_err(setup_failed)?;
    let client = connection.dynamodb();
    let mut tables = Vec::with_capacity(args.aws.len());
    let mut targets = ColumnNames::default();
    for reference in &args.aws {
        tables.push(draft_table(&client, &connection, reference, args.sample, &mut targets).await?);
    }
    let defaults = AwsDefaults {
        region: connection.region().to_owned(),
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
        bucket,
        sample_limit: args.sample,
    };
    Ok(aws_config(&defaults, &tables))
}

/// `--bucket` must name an S3 location: exports of real tables cannot go to a local folder.
fn checked_bucket(bucket: Option<&str>) -> Result<String, InitError> {
    match bucket.map(|url| (url, url.strip_prefix("s3://"))) {
        Some((url, Some(rest))) => {
            let name = rest.split('/').next().unwrap_or_default();
            check_bucket_name(name).map_err(|reason| {
                InitError::Usage(format!("--bucket {url}: the bucket name \"{name}\" {reason}"))
            })?;
            Ok(url.to_owned())
        }
        Some((url, None)) => Err(InitError::Usage(format!(
            "--bucket {url}: DynamoDB exports to S3, so it must be s3://BUCKET/PREFIX/ (an existing bucket)"
        ))),
        None => {
            Err(InitError::Usage("--aws needs --bucket s3://BUCKET/PREFIX/: where the exports go".into()))
        }
    }
}

/// AWS cannot be asked at all. A missing region is fixed on init's own command line.
fn setup_failed(error: AwsSetupError) -> InitError {
    match error {
        AwsSetupError::NoRegion { .. } => InitError::Usage(format!(
            "{error}: pass --region with the tables' region (it is written to the file), or export AWS_REGION"
        )),
        other => InitError::Aws(format!("cannot reach AWS: {other}; {}", other.hint())),
    }
}

fn check_distinct(tables: &[String]) -> Result<(), InitError> {
    for (index, table) in tables.iter().enumerate() {
        if tables[..index].contains(table) {
            return Err(InitError::Usage(format!("--aws names `{table}` twice; name each table once")));
        }
    }
    Ok(())
}

async fn draft_table(
    client: &aws_sdk_dynamodb::Client,
    connection: &AwsConnection,
    reference: &str,
    limit: u16,
    targets: &mut ColumnNames,
) -> Result<DraftTable, InitError> {
    let described = client
        .describe_table()
        .table_name(reference)
        .send()
        .await
        .map_err(|e| failed("DescribeTable", reference, connection, AwsFailure::from_sdk(&e)))?;
    let description = described.table.ok_or_else(|| {
        InitError::Aws(format!("DescribeTable of `{reference}` answered without a table description"))
    })?;
    let name = description.table_name().unwrap_or(reference).to_owned();
    let key = key_schema(&description);
    let page = client
        .scan()
        .table_name(reference)
        .limit(i32::from(limit))
        .send()
        .await
        .map_err(|e| failed("Scan", reference, connection, AwsFailure::from_sdk(&e)))?;
    let items: Vec<SampledItem> = page.items().iter().map(sampled_item).collect();
    let columns = propose(&key, &items, &mut ColumnNames::with_taken([ITEM_COLUMN]));
    Ok(DraftTable {
        target: targets.name_for(&name),
        arn: reference.starts_with("arn:").then(|| reference.to_owned()),
        name,
        key: key.into_iter().map(|attribute| attribute.name).collect(),
        sampled: items.len(),
        columns,
    })
}

/// A failed call, worded for the person running init: a missing table is their input (2), the
/// rest is AWS's answer with its remedy (1).
fn failed(call: &str, table: &str, connection: &AwsConnection, failure: AwsFailure) -> InitError {
    if failure.kind == FailureKind::NotFound {
        return InitError::Usage(format!(
            "DynamoDB has no table `{table}` ({}): check the name, --region and --profile",
            connection.describe()
        ));
    }
    let hint = failure.general_hint().map(|hint| format!("; {hint}")).unwrap_or_default();
    InitError::Aws(format!(
        "{call} of `{table}` ({}) failed: {}{hint}",
        connection.describe(),
        failure.message
    ))
}

fn sampled_item(item: &HashMap<String, AttributeValue>) -> SampledItem {
    item.iter().map(|(name, value)| (name.clone(), sampled(value))).collect()
}

fn sampled(value: &AttributeValue) -> Sampled {
    match value {
        AttributeValue::S(text) => Sampled::S(text.clone()),
        AttributeValue::N(text) => Sampled::N(text.clone()),
        AttributeValue::B(blob) => Sampled::B(blob.as_ref().len()),
        AttributeValue::Bool(_) => Sampled::Bool,
        AttributeValue::Null(_) => Sampled::Null,
        AttributeValue::M(_) => Sampled::Nested("M"),
        AttributeValue::L(_) => Sampled::Nested("L"),
        AttributeValue::Ss(_) => Sampled::Nested("SS"),
        AttributeValue::Ns(_) => Sampled::Nested("NS"),
        AttributeValue::Bs(_) => Sampled::Nested("BS"),
        _ => Sampled::Nested("an unknown type"),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::primitives::Blob;

    use super::*;

    #[test]
    fn bad_options_are_refused_before_any_call() {
        assert!(matches!(checked_bucket(None), Err(InitError::Usage(m)) if m.contains("--bucket")));
        assert!(matches!(checked_bucket(Some("file://x")), Err(InitError::Usage(m)) if m.contains("s3://")));
        assert!(
            matches!(checked_bucket(Some("s3://x/p/")), Err(InitError::Usage(m)) if m.contains("\"x\" is 1 char"))
        );
        assert_eq!(checked_bucket(Some("s3://exports/p/")).unwrap(), "s3://exports/p/");
        let twice = ["a".to_owned(), "b".to_owned(), "a".to_owned()];
        assert!(matches!(check_distinct(&twice), Err(InitError::Usage(m)) if m.contains("`a` twice")));
    }

    #[test]
    fn a_missing_region_asks_for_region_on_the_command_line() {
        let error = setup_failed(AwsSetupError::NoRegion { profile: None });
        assert!(matches!(&error, InitError::Usage(m) if m.contains("pass --region")), "{error}");
        assert_eq!(error.exit_code(), crate::contract::exit::EXIT_USAGE);
    }

    #[test]
    fn sdk_values_are_reduced_to_their_type_and_size() {
        assert_eq!(sampled(&AttributeValue::B(Blob::new(vec![0; 7]))), Sampled::B(7));
        assert_eq!(sampled(&AttributeValue::Ss(vec!["a".into()])), Sampled::Nested("SS"));
        assert_eq!(sampled(&AttributeValue::N("1.5".into())), Sampled::N("1.5".into()));
        assert_eq!(sampled(&AttributeValue::Null(true)), Sampled::Null);
    }
}

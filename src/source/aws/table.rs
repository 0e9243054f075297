//! Which DynamoDB table a `[[table]]` is: DescribeTable gives its ARN (exports are requested by
//! ARN) and its key schema, which must be the `key` tables.toml names — the warehouse matches
//! rows by it, so a mismatch would merge the wrong rows.

use aws_sdk_dynamodb::types::{KeyType, TableDescription};

use super::errors::{Call, TableContext, call_failed};
use crate::aws::{AwsFailure, Backoff, retry_throttled};
use crate::config::TableConfig;
use crate::source::SourceError;

/// A table as DynamoDB knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTable {
    pub arn: String,
    /// Partition key, then sort key.
    pub key: Vec<String>,
}

/// What DescribeTable and DescribeContinuousBackups are asked about: the ARN when tables.toml
/// gives one (needed for a table in another account), else the name.
pub fn table_reference(table: &TableConfig) -> &str {
    table.arn.as_deref().unwrap_or(&table.name)
}

/// Describes the table and checks its key against the configured one.
pub async fn resolve(
    client: &aws_sdk_dynamodb::Client,
    table: &TableConfig,
    context: &TableContext,
    backoff: Backoff,
) -> Result<ResolvedTable, SourceError> {
    let output = retry_throttled(backoff, "DescribeTable", || async {
        client
            .describe_table()
            .table_name(table_reference(table))
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk(&e))
    })
    .await
    .map_err(|failure| call_failed(Call::DescribeTable, context, failure))?;
    let description = output.table.ok_or_else(|| {
        SourceError::Other(format!(
            "DescribeTable of `{}` answered without a table description",
            context.table
        ))
    })?;
    let resolved = resolved_table(&description, context)?;
    check_key(table, &resolved.key)?;
    Ok(resolved)
}

fn resolved_table(
    description: &TableDescription,
    context: &TableContext,
) -> Result<ResolvedTable, SourceError> {
    let arn = description.table_arn().ok_or_else(|| {
        SourceError::Other(format!("DescribeTable of `{}` answered without the table's ARN", context.table))
    })?;
    Ok(ResolvedTable { arn: arn.to_owned(), key: key_schema(description) })
}

/// The key attributes, partition key first, whatever order DynamoDB lists them in.
fn key_schema(description: &TableDescription) -> Vec<String> {
    let named = |kind: KeyType| {
        description
            .key_schema()
            .iter()
            .filter(move |element| *element.key_type() == kind)
            .map(|element| element.attribute_name().to_owned())
    };
    named(KeyType::Hash).chain(named(KeyType::Range)).collect()
}

fn check_key(table: &TableConfig, actual: &[String]) -> Result<(), SourceError> {
    if table.key == actual {
        return Ok(());
    }
    Err(SourceError::Invalid(format!(
        "`key` of table `{}` in tables.toml is {}, but DynamoDB's key schema is {}; write key = {}",
        table.name,
        quoted(&table.key),
        quoted(actual),
        quoted(actual)
    )))
}

fn quoted(names: &[String]) -> String {
    let names: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
    format!("[{}]", names.join(", "))
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::KeySchemaElement;

    use super::*;
    use crate::source::aws::fixtures::aws_table as testing_table;

    fn element(name: &str, kind: KeyType) -> KeySchemaElement {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap()
    }

    fn description(arn: Option<&str>, elements: Vec<KeySchemaElement>) -> TableDescription {
        TableDescription::builder()
            .set_table_arn(arn.map(str::to_owned))
            .set_key_schema(Some(elements))
            .build()
    }

    fn context() -> TableContext {
        TableContext { table: "orders".into(), region: "us-east-1".into(), profile: None }
    }

    #[test]
    fn the_partition_key_comes_first_whatever_the_order() {
        let described = description(
            Some("arn:aws:dynamodb:us-east-1:123456789012:table/orders"),
            vec![element("sk", KeyType::Range), element("pk", KeyType::Hash)],
        );
        let resolved = resolved_table(&described, &context()).unwrap();
        assert_eq!(resolved.arn, "arn:aws:dynamodb:us-east-1:123456789012:table/orders");
        assert_eq!(resolved.key, ["pk", "sk"]);
    }

    #[test]
    fn a_description_without_an_arn_is_an_error() {
        let error = resolved_table(&description(None, vec![]), &context()).unwrap_err();
        assert!(error.to_string().contains("without the table's ARN"), "{error}");
    }

    #[test]
    fn a_key_that_differs_from_dynamodb_is_refused_with_the_right_one() {
        let table = testing_table();
        check_key(&table, &["pk".to_owned(), "sk".to_owned()]).unwrap();
        let error = check_key(&table, &["id".to_owned()]).unwrap_err().to_string();
        assert_eq!(
            error,
            "`key` of table `orders` in tables.toml is [\"pk\", \"sk\"], but DynamoDB's key schema is [\"id\"]; \
             write key = [\"id\"]"
        );
    }

    #[test]
    fn the_arn_is_preferred_as_the_reference() {
        let mut table = testing_table();
        assert_eq!(table_reference(&table), "orders");
        table.arn = Some("arn:aws:dynamodb:us-east-1:1:table/orders".into());
        assert_eq!(table_reference(&table), "arn:aws:dynamodb:us-east-1:1:table/orders");
    }
}

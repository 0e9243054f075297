//! Which DynamoDB table a `[[table]]` is: DescribeTable gives its ARN (exports are requested by
//! ARN) and its key schema, with the attribute types. The key either completes a table that
//! leaves `key` out of tables.toml or must be the one it writes (see
//! [`TableConfig::with_described_key`]): the warehouse matches rows by it, so a wrong key would
//! merge the wrong rows.

use aws_sdk_dynamodb::types::{KeyType, ScalarAttributeType, TableDescription};

use super::errors::{Call, TableContext, call_failed};
use crate::aws::{AwsFailure, RetryPolicy, retry_transient};
use crate::config::{KeyAttribute, KeyScalar, TableConfig};
use crate::source::SourceError;

/// A table as DynamoDB knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTable {
    pub arn: String,
    /// Partition key, then sort key.
    pub key: Vec<KeyAttribute>,
}

impl ResolvedTable {
    /// The key attribute names, partition key first.
    pub fn key_names(&self) -> Vec<&str> {
        self.key.iter().map(|attribute| attribute.name.as_str()).collect()
    }
}

/// What DescribeTable and DescribeContinuousBackups are asked about: the ARN when tables.toml
/// gives one (needed for a table in another account), else the name.
pub(super) fn table_reference(table: &TableConfig) -> &str {
    table.arn.as_deref().unwrap_or(&table.name)
}

/// Describes the table.
pub(super) async fn resolve(
    client: &aws_sdk_dynamodb::Client,
    table: &TableConfig,
    context: &TableContext,
    policy: RetryPolicy,
) -> Result<ResolvedTable, SourceError> {
    resolved_table(&describe(client, table, context, policy).await?, context)
}

/// The table's `ItemCount`, for `item_count_check`: approximate, "DynamoDB updates this value
/// approximately every six hours" (DynamoDB API Reference, TableDescription,
/// <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html>).
pub(super) async fn item_count(
    client: &aws_sdk_dynamodb::Client,
    table: &TableConfig,
    context: &TableContext,
    policy: RetryPolicy,
) -> Result<Option<u64>, SourceError> {
    Ok(item_count_of(&describe(client, table, context, policy).await?))
}

fn item_count_of(description: &TableDescription) -> Option<u64> {
    description.item_count().map(|count| count.max(0) as u64)
}

/// DescribeTable, retried while transient.
async fn describe(
    client: &aws_sdk_dynamodb::Client,
    table: &TableConfig,
    context: &TableContext,
    policy: RetryPolicy,
) -> Result<TableDescription, SourceError> {
    let output = retry_transient(policy, "DescribeTable", || async {
        client
            .describe_table()
            .table_name(table_reference(table))
            .send()
            .await
            .map_err(|e| AwsFailure::from_sdk(&e))
    })
    .await
    .map_err(|failure| call_failed(Call::DescribeTable, context, failure))?;
    output.table.ok_or_else(|| {
        SourceError::Other(format!(
            "DescribeTable of `{}` answered without a table description",
            context.table
        ))
    })
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

/// The key attributes, partition key first whatever order DynamoDB lists them in, each with the
/// type AttributeDefinitions declares.
pub fn key_schema(description: &TableDescription) -> Vec<KeyAttribute> {
    let named = |kind: KeyType| {
        description
            .key_schema()
            .iter()
            .filter(move |element| *element.key_type() == kind)
            .map(|element| element.attribute_name().to_owned())
    };
    named(KeyType::Hash)
        .chain(named(KeyType::Range))
        .map(|name| KeyAttribute { scalar: declared_scalar(description, &name), name })
        .collect()
}

fn declared_scalar(description: &TableDescription, attribute: &str) -> Option<KeyScalar> {
    let definition = description
        .attribute_definitions()
        .iter()
        .find(|definition| definition.attribute_name() == attribute)?;
    match definition.attribute_type() {
        ScalarAttributeType::S => Some(KeyScalar::String),
        ScalarAttributeType::N => Some(KeyScalar::Number),
        ScalarAttributeType::B => Some(KeyScalar::Binary),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::{AttributeDefinition, KeySchemaElement};

    use super::*;
    use crate::source::aws::fixtures::aws_table as testing_table;

    const ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/orders";

    fn element(name: &str, kind: KeyType) -> KeySchemaElement {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap()
    }

    fn definition(name: &str, ty: ScalarAttributeType) -> AttributeDefinition {
        AttributeDefinition::builder().attribute_name(name).attribute_type(ty).build().unwrap()
    }

    fn description(
        arn: Option<&str>,
        elements: Vec<KeySchemaElement>,
        definitions: Vec<AttributeDefinition>,
    ) -> TableDescription {
        TableDescription::builder()
            .set_table_arn(arn.map(str::to_owned))
            .set_key_schema(Some(elements))
            .set_attribute_definitions(Some(definitions))
            .build()
    }

    fn context() -> TableContext {
        TableContext { table: "orders".into(), region: "us-east-1".into(), profile: None }
    }

    #[test]
    fn the_partition_key_comes_first_whatever_the_order() {
        let described = description(
            Some(ARN),
            vec![element("sk", KeyType::Range), element("pk", KeyType::Hash)],
            vec![definition("sk", ScalarAttributeType::N), definition("pk", ScalarAttributeType::S)],
        );
        let resolved = resolved_table(&described, &context()).unwrap();
        assert_eq!(resolved.arn, ARN);
        assert_eq!(resolved.key_names(), ["pk", "sk"]);
        assert_eq!(
            resolved.key,
            [
                KeyAttribute { name: "pk".into(), scalar: Some(KeyScalar::String) },
                KeyAttribute { name: "sk".into(), scalar: Some(KeyScalar::Number) },
            ]
        );
    }

    #[test]
    fn binary_keys_and_undeclared_attributes_are_told_apart() {
        let described = description(
            Some(ARN),
            vec![element("id", KeyType::Hash), element("at", KeyType::Range)],
            vec![definition("id", ScalarAttributeType::B)],
        );
        let key = resolved_table(&described, &context()).unwrap().key;
        assert_eq!(key[0].scalar, Some(KeyScalar::Binary));
        assert_eq!(key[1], KeyAttribute { name: "at".into(), scalar: None });
    }

    #[test]
    fn a_description_without_an_arn_is_an_error() {
        let error = resolved_table(&description(None, vec![], vec![]), &context()).unwrap_err();
        assert!(error.to_string().contains("without the table's ARN"), "{error}");
    }

    #[test]
    fn the_item_count_is_read_when_described() {
        let described = description(Some(ARN), vec![], vec![]);
        assert_eq!(item_count_of(&described), None);
        let counted = TableDescription::builder().item_count(2_000).build();
        assert_eq!(item_count_of(&counted), Some(2_000));
    }

    #[test]
    fn the_arn_is_preferred_as_the_reference() {
        let mut table = testing_table();
        assert_eq!(table_reference(&table), "orders");
        table.arn = Some("arn:aws:dynamodb:us-east-1:1:table/orders".into());
        assert_eq!(table_reference(&table), "arn:aws:dynamodb:us-east-1:1:table/orders");
    }
}

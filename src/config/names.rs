//! Names the user chooses, checked and reported with a hint: DynamoDB table names and ARNs, and
//! warehouse names (target tables, columns, the item column).

use toml::Spanned;

use super::ident::{describe_char, identifier_problem};
use super::issues::Issues;
use super::model::TargetTable;

/// Prefix of the columns and tables dynashift creates itself (`dynashift_op`, `dynashift_ts`,
/// `dynashift_runs`); user names with it could collide with them.
pub(super) const RESERVED_PREFIX: &str = "dynashift_";

/// Checks a warehouse identifier (`what` names it: `column name`, `target table`…); reports and
/// returns false when it is not usable.
pub(super) fn check_warehouse_name(name: &Spanned<String>, what: &str, issues: &Issues) -> bool {
    let Some((reason, hint)) = warehouse_name_problem(name.get_ref()) else {
        return true;
    };
    issues.report(name.span(), format!("{what} \"{}\" {reason}", name.get_ref().escape_debug()), hint);
    false
}

/// Why `name` cannot name a warehouse table or column, and what to do: identifier rules plus the
/// [`RESERVED_PREFIX`].
pub(super) fn warehouse_name_problem(name: &str) -> Option<(String, String)> {
    if let Some(problem) = identifier_problem(name) {
        return Some((problem.reason(), problem.hint(name)));
    }
    let rest = name.strip_prefix(RESERVED_PREFIX)?;
    let reason = format!(
        "starts with {RESERVED_PREFIX}, which is reserved for the columns and tables dynashift creates itself"
    );
    let hint = match rest {
        "" => "pick another name".to_owned(),
        rest => format!("rename it, e.g. \"{rest}\""),
    };
    Some((reason, hint))
}

/// The reason a DynamoDB table name is invalid (3 to 255 characters of `A-Z a-z 0-9 _ . -`).
pub(super) fn table_name_problem(name: &str) -> Option<String> {
    let length = name.chars().count();
    if !(3..=255).contains(&length) {
        return Some(format!("is {length} characters long; DynamoDB table names have 3 to 255"));
    }
    let bad = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))?;
    Some(format!(
        "contains {}; DynamoDB table names use only A-Z, a-z, 0-9, '_', '.' and '-'",
        describe_char(bad)
    ))
}

/// Checks a table name; reports and returns false when it is invalid.
pub(super) fn check_table_name(name: &Spanned<String>, issues: &Issues) -> bool {
    let Some(reason) = table_name_problem(name.get_ref()) else {
        return true;
    };
    let message = format!("table name \"{}\" {reason}", name.get_ref().escape_debug());
    issues.report(name.span(), message, "write the DynamoDB table's name exactly as AWS shows it");
    false
}

/// The table name an ARN points at (`arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`).
pub(super) fn table_name_in_arn(arn: &str) -> Result<&str, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, _partition, service, _region, _account, resource] = parts.as_slice() else {
        return Err("does not have the six ':'-separated parts of an ARN".into());
    };
    if *prefix != "arn" || *service != "dynamodb" {
        return Err("is not a DynamoDB ARN (arn:aws:dynamodb:…)".into());
    }
    let name = resource.strip_prefix("table/").ok_or("does not end with table/NAME")?;
    if name.contains('/') {
        return Err("points inside a table (…/stream/…, …/export/…), not at the table itself".into());
    }
    Ok(name)
}

/// A `key = "table"` or `"schema.table"` value as a warehouse table, or `None` (reported).
pub(super) fn target_table(written: &Spanned<String>, key: &str, issues: &Issues) -> Option<TargetTable> {
    let parts: Vec<&str> = written.get_ref().split('.').collect();
    let part = |text: &str| Spanned::new(written.span(), text.to_owned());
    match parts.as_slice() {
        [table] => check_warehouse_name(&part(table), &format!("{key} table"), issues)
            .then(|| TargetTable { schema: None, table: table.to_string() }),
        [schema, table] => {
            let schema_ok = check_warehouse_name(&part(schema), &format!("{key} schema"), issues);
            let table_ok = check_warehouse_name(&part(table), &format!("{key} table"), issues);
            (schema_ok && table_ok)
                .then(|| TargetTable { schema: Some(schema.to_string()), table: table.to_string() })
        }
        _ => {
            let message =
                format!("`{key}` \"{}\" has {} dot-separated parts", written.get_ref(), parts.len());
            issues.report(written.span(), message, "write \"table\" or \"schema.table\"");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Spanned<String> {
        Spanned::new(0..1, text.to_owned())
    }

    fn problems(issues: Issues) -> Vec<(String, String)> {
        issues.into_sorted().into_iter().map(|i| (i.message, i.hint)).collect()
    }

    #[test]
    fn warehouse_names_report_the_identifier_rule_they_break() {
        let issues = Issues::default();
        assert!(check_warehouse_name(&at("total"), "column name", &issues));
        assert!(!check_warehouse_name(&at("Order ID"), "column name", &issues));
        assert!(!check_warehouse_name(&at("x\u{200B}"), "column name", &issues));
        let problems = problems(issues);
        assert!(problems[0].0.starts_with("column name \"Order ID\" contains uppercase 'O'"), "{problems:?}");
        assert!(
            problems[1].0.starts_with("column name \"x\\u{200b}\" contains an invisible"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_dynashift_prefix_is_reserved() {
        let issues = Issues::default();
        assert!(!check_warehouse_name(&at("dynashift_op"), "column name", &issues));
        assert!(!check_warehouse_name(&at("dynashift_"), "column name", &issues));
        let problems = problems(issues);
        assert!(problems[0].0.contains("starts with dynashift_, which is reserved"), "{problems:?}");
        assert_eq!(problems[0].1, "rename it, e.g. \"op\"");
        assert_eq!(problems[1].1, "pick another name");
    }

    #[test]
    fn dynamodb_table_names() {
        assert_eq!(table_name_problem("orders"), None);
        assert_eq!(table_name_problem("Orders.v2-test_1"), None);
        assert!(table_name_problem("ab").unwrap().contains("2 characters"));
        assert!(table_name_problem("my orders").unwrap().contains("a space"));
        assert!(table_name_problem("ordérs").unwrap().contains("U+00E9"));
        let issues = Issues::default();
        assert!(!check_table_name(&at("a/b"), &issues));
        assert!(problems(issues)[0].0.starts_with("table name \"a/b\" contains '/'"));
    }

    #[test]
    fn arns_name_their_table() {
        assert_eq!(table_name_in_arn("arn:aws:dynamodb:us-east-1:123456789012:table/orders"), Ok("orders"));
        assert_eq!(table_name_in_arn("arn:aws-cn:dynamodb:cn-north-1:1:table/a.b"), Ok("a.b"));
        assert!(table_name_in_arn("orders").is_err());
        assert!(table_name_in_arn("arn:aws:s3:::bucket:x").unwrap_err().contains("not a DynamoDB ARN"));
        assert!(table_name_in_arn("arn:aws:dynamodb:r:1:index/x").unwrap_err().contains("table/NAME"));
        assert!(table_name_in_arn("arn:aws:dynamodb:r:1:table/t/stream/x").unwrap_err().contains("inside"));
    }
}

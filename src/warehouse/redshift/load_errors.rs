//! After a failed COPY, the rows that broke it: SYS_LOAD_ERROR_DETAIL (provisioned and
//! Serverless alike) joined by the COPY's Redshift query id, shown as file, line, column and
//! reason, so the on-call engineer sees which staged line to open without a SQL client.

use super::data_api::{DataApi, Rows};

/// How many error rows are shown; Redshift reports at most 20 per slice anyway.
const SHOWN: usize = 10;

pub(super) fn query(query_id: i64) -> String {
    format!(
        "SELECT TRIM(\"file_name\"), \"line_number\", TRIM(\"column_name\"), \"error_code\", TRIM(\"error_message\")\n\
         FROM sys_load_error_detail\nWHERE \"query_id\" = {query_id}\nORDER BY \"line_number\"\nLIMIT {SHOWN}"
    )
}

/// One line per error row: `s3://…/part-00000.json.gz line 3, column total: <reason> (code 1207)`.
pub(super) fn describe(rows: &Rows) -> String {
    let value = |row: &[Option<String>], i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    rows.iter()
        .map(|row| {
            let column = value(row, 2);
            let column = if column.is_empty() { String::new() } else { format!(", column {column}") };
            format!(
                "{} line {}{column}: {} (code {})",
                value(row, 0),
                value(row, 1),
                value(row, 4),
                value(row, 3)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Redshift's COPY error, followed by the rows that broke it (or why they could not be read).
pub(super) async fn explain(api: &DataApi, copy_error: &str, query_id: Option<i64>) -> String {
    let Some(query_id) = query_id else {
        return format!(
            "{copy_error}\n(no Redshift query id was reported, so the load errors cannot be looked up)"
        );
    };
    match api.query(&query(query_id), "dynashift load errors").await {
        Ok(rows) if rows.is_empty() => {
            format!("{copy_error}\n(SYS_LOAD_ERROR_DETAIL has no rows for query {query_id})")
        }
        Ok(rows) => format!("{copy_error}\nrows that broke it (query {query_id}):\n{}", describe(&rows)),
        Err(error) => {
            format!("{copy_error}\n(reading SYS_LOAD_ERROR_DETAIL for query {query_id} failed: {error})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_row_names_file_line_column_and_reason() {
        let rows = vec![vec![
            Some("s3://b/orders/staged/r/part-00001.json.gz".to_owned()),
            Some("3".to_owned()),
            Some("total".to_owned()),
            Some("1207".to_owned()),
            Some("Invalid digit, Value 'x', Pos 0".to_owned()),
        ]];
        assert_eq!(
            describe(&rows),
            "s3://b/orders/staged/r/part-00001.json.gz line 3, column total: Invalid digit, Value 'x', Pos 0 (code 1207)"
        );
    }

    #[test]
    fn the_query_joins_on_the_copy_query_id() {
        let sql = query(4242);
        assert!(sql.contains("FROM sys_load_error_detail\nWHERE \"query_id\" = 4242"), "{sql}");
    }
}

//! The values a PostgreSQL target holds, as [`PostgresWarehouse::query_rows`] reads them back,
//! and [`expected_value`]: the value a correct load stores for a staged value. Comparing the
//! two is how tests check a load, column by column and type by type:
//!
//! | column type      | [`PgValue`]                                                      |
//! |------------------|------------------------------------------------------------------|
//! | varchar          | `Text`                                                           |
//! | smallint…bigint  | `Integer`                                                        |
//! | numeric(p,s)     | `Numeric`: PostgreSQL's text, exactly `s` fractional digits      |
//! | double precision | `Double`                                                         |
//! | boolean          | `Boolean`                                                        |
//! | timestamp        | `Timestamp` (microseconds)                                       |
//! | timestamptz      | `TimestampTz` (the instant, in UTC)                              |
//! | date             | `Date`                                                           |
//! | jsonb (super)    | `Json`: canonical JSON, numbers compared exactly                 |
//!
//! [`PostgresWarehouse::query_rows`]: super::PostgresWarehouse::query_rows

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::value::RawValue;

use crate::config::ColumnType;
use crate::warehouse::staged_value::{JsonText, StagedValue, ValueError, staged_value};

use super::canonical_json::CanonicalJson;

/// One value of a PostgreSQL target (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum PgValue {
    Null,
    Text(String),
    Integer(i64),
    Numeric(String),
    Double(f64),
    Boolean(bool),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Date(NaiveDate),
    Json(CanonicalJson),
}

/// How the staged format writes timestamps (`2024-05-01 10:00:00.000001`).
const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";
/// … and timestamps with a zone (`2024-05-01 10:00:00.000001+00`).
const TIMESTAMPTZ_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f%#z";
const DATE_FORMAT: &str = "%Y-%m-%d";

/// The value a load stores in a PostgreSQL column of type `ty` for one staged JSON value.
pub fn expected_value(ty: ColumnType, raw: &RawValue) -> Result<PgValue, ValueError> {
    let mismatch = |expected: &'static str| ValueError::new(ty, expected, raw.get());
    let value = match staged_value(ty, JsonText::of(raw))? {
        StagedValue::Null => PgValue::Null,
        StagedValue::Text(text) => match ty {
            ColumnType::Timestamp => NaiveDateTime::parse_from_str(&text, TIMESTAMP_FORMAT)
                .map(PgValue::Timestamp)
                .map_err(|_| mismatch("a timestamp like \"2024-05-01 10:00:00.000001\""))?,
            ColumnType::TimestampTz => DateTime::parse_from_str(&text, TIMESTAMPTZ_FORMAT)
                .map(|t| PgValue::TimestampTz(t.with_timezone(&Utc)))
                .map_err(|_| mismatch("a timestamp like \"2024-05-01 10:00:00.000001+00\""))?,
            ColumnType::Date => NaiveDate::parse_from_str(&text, DATE_FORMAT)
                .map(PgValue::Date)
                .map_err(|_| mismatch("a date like \"2024-05-01\""))?,
            _ => PgValue::Text(text.into_owned()),
        },
        StagedValue::Decimal(digits) => {
            let ColumnType::Decimal { scale, .. } = ty else {
                unreachable!("decimals come from decimal columns")
            };
            PgValue::Numeric(with_scale(&digits, scale))
        }
        StagedValue::Integer(n) => PgValue::Integer(n),
        StagedValue::Double(x) => PgValue::Double(x),
        StagedValue::Boolean(b) => PgValue::Boolean(b),
        StagedValue::Json(raw) => {
            PgValue::Json(CanonicalJson::parse(raw.get()).map_err(|_| mismatch("a JSON value"))?)
        }
    };
    Ok(value)
}

/// A plain decimal as PostgreSQL prints a `numeric(p, scale)`: exactly `scale` fractional
/// digits (the staged value never has more, it fits the column).
fn with_scale(digits: &str, scale: u8) -> String {
    let scale = usize::from(scale);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if scale == 0 {
        return whole.to_owned();
    }
    format!("{whole}.{fraction:0<scale$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(ty: &str, json: &str) -> Result<PgValue, ValueError> {
        let raw = RawValue::from_string(json.to_owned()).unwrap();
        expected_value(ty.parse().unwrap(), &raw)
    }

    #[test]
    fn decimals_are_printed_with_the_column_scale() {
        assert_eq!(expect("decimal(12,2)", r#""12.5""#), Ok(PgValue::Numeric("12.50".into())));
        assert_eq!(expect("decimal(12,2)", r#""-7""#), Ok(PgValue::Numeric("-7.00".into())));
        assert_eq!(expect("decimal(5,0)", r#""100""#), Ok(PgValue::Numeric("100".into())));
        let wide = "12345678901234567890123456789012345.678";
        assert_eq!(expect("decimal(38,3)", &format!("\"{wide}\"")), Ok(PgValue::Numeric(wide.into())));
    }

    #[test]
    fn timestamps_and_dates_are_parsed() {
        let Ok(PgValue::Timestamp(t)) = expect("timestamp", r#""2024-05-01 10:00:00.000001""#) else {
            panic!()
        };
        assert_eq!(t.to_string(), "2024-05-01 10:00:00.000001");
        let Ok(PgValue::TimestampTz(t)) = expect("timestamptz", r#""2024-05-01 10:00:00.500000+00""#) else {
            panic!()
        };
        assert_eq!(t.to_rfc3339(), "2024-05-01T10:00:00.500+00:00");
        assert_eq!(
            expect("date", r#""2024-02-29""#),
            Ok(PgValue::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()))
        );
        let err = expect("date", r#""yesterday""#).unwrap_err();
        assert_eq!(err.expected, "a date like \"2024-05-01\"");
    }

    #[test]
    fn super_values_are_canonical_json() {
        let Ok(PgValue::Json(json)) = expect("super", r#"{"b":1E+2,"a":[0.10]}"#) else { panic!() };
        assert_eq!(json, CanonicalJson::parse(r#"{"a": [0.1], "b": 100}"#).unwrap());
    }

    #[test]
    fn plain_values() {
        assert_eq!(expect("varchar(8)", r#""Zoë""#), Ok(PgValue::Text("Zoë".into())));
        assert_eq!(expect("smallint", "-3"), Ok(PgValue::Integer(-3)));
        assert_eq!(expect("double precision", "0.25"), Ok(PgValue::Double(0.25)));
        assert_eq!(expect("boolean", "true"), Ok(PgValue::Boolean(true)));
        assert_eq!(expect("bigint", "null"), Ok(PgValue::Null));
        assert!(expect("bigint", r#""1""#).is_err());
    }
}

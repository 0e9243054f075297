//! Target column types, written in `tables.toml` the way Redshift spells them.

use std::fmt;
use std::str::FromStr;

/// A column type. Each warehouse maps it to its own DDL (see `warehouse::dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `varchar(n)`: text of at most `n` UTF-8 bytes (Redshift counts bytes).
    Varchar(u32),
    SmallInt,
    Integer,
    BigInt,
    /// `decimal(p,s)`: exact, 1 ≤ p ≤ 38, 0 ≤ s ≤ p.
    Decimal {
        precision: u8,
        scale: u8,
    },
    /// `double precision`: the only type that may round a DynamoDB number.
    Double,
    Boolean,
    /// `timestamp` (UTC, microseconds).
    Timestamp,
    /// `timestamptz`.
    TimestampTz,
    Date,
    /// `super`: any value, kept as JSON (maps, lists, sets…).
    Super,
}

/// Redshift's widest varchar.
pub const VARCHAR_MAX: u32 = 65535;

impl ColumnType {
    /// The spellings accepted in `tables.toml`, for hints.
    pub const ACCEPTED: &'static str = "varchar(n), varchar(max), smallint, integer, bigint, \
        decimal(p,s), double precision, boolean, timestamp, timestamptz, date, super";
}

impl FromStr for ColumnType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let norm = text.trim().to_ascii_lowercase();
        let compact: String = norm.chars().filter(|c| !c.is_whitespace()).collect();
        let simple = match compact.as_str() {
            "smallint" | "int2" => Some(ColumnType::SmallInt),
            "integer" | "int" | "int4" => Some(ColumnType::Integer),
            "bigint" | "int8" => Some(ColumnType::BigInt),
            "doubleprecision" | "double" | "float8" | "float" => Some(ColumnType::Double),
            "boolean" | "bool" => Some(ColumnType::Boolean),
            "timestamp" | "timestampwithouttimezone" => Some(ColumnType::Timestamp),
            "timestamptz" | "timestampwithtimezone" => Some(ColumnType::TimestampTz),
            "date" => Some(ColumnType::Date),
            "super" => Some(ColumnType::Super),
            "varchar" | "text" => Some(ColumnType::Varchar(256)),
            "varchar(max)" => Some(ColumnType::Varchar(VARCHAR_MAX)),
            _ => None,
        };
        if let Some(ty) = simple {
            return Ok(ty);
        }
        let args = |prefix: &str| -> Option<Vec<String>> {
            let inner = compact.strip_prefix(prefix)?.strip_prefix('(')?.strip_suffix(')')?;
            Some(inner.split(',').map(str::to_owned).collect())
        };
        if let Some(args) = args("varchar").or_else(|| args("charactervarying")) {
            let [n] = args.as_slice() else {
                return Err(format!("`{text}`: varchar takes one length, like varchar(64)"));
            };
            let n: u32 = n.parse().map_err(|_| format!("`{text}`: the length must be a number"))?;
            if n == 0 || n > VARCHAR_MAX {
                return Err(format!("`{text}`: the length must be between 1 and {VARCHAR_MAX}"));
            }
            return Ok(ColumnType::Varchar(n));
        }
        if let Some(args) = args("decimal").or_else(|| args("numeric")) {
            let (p, s) = match args.as_slice() {
                [p] => (p.as_str(), "0"),
                [p, s] => (p.as_str(), s.as_str()),
                _ => return Err(format!("`{text}`: decimal takes precision and scale, like decimal(12,2)")),
            };
            let precision: u8 = p.parse().map_err(|_| format!("`{text}`: the precision must be a number"))?;
            let scale: u8 = s.parse().map_err(|_| format!("`{text}`: the scale must be a number"))?;
            if !(1..=38).contains(&precision) || scale > precision || scale > 37 {
                return Err(format!("`{text}`: precision must be 1..=38 and scale 0..=min(precision, 37)"));
            }
            return Ok(ColumnType::Decimal { precision, scale });
        }
        Err(format!("`{text}` is not a supported column type; use one of: {}", Self::ACCEPTED))
    }
}

impl fmt::Display for ColumnType {
    /// The canonical (Redshift) spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Varchar(n) => write!(f, "varchar({n})"),
            ColumnType::SmallInt => f.write_str("smallint"),
            ColumnType::Integer => f.write_str("integer"),
            ColumnType::BigInt => f.write_str("bigint"),
            ColumnType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ColumnType::Double => f.write_str("double precision"),
            ColumnType::Boolean => f.write_str("boolean"),
            ColumnType::Timestamp => f.write_str("timestamp"),
            ColumnType::TimestampTz => f.write_str("timestamptz"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Super => f.write_str("super"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_spellings() {
        assert_eq!("VARCHAR( 64 )".parse(), Ok(ColumnType::Varchar(64)));
        assert_eq!("varchar(max)".parse(), Ok(ColumnType::Varchar(VARCHAR_MAX)));
        assert_eq!("numeric(12, 2)".parse(), Ok(ColumnType::Decimal { precision: 12, scale: 2 }));
        assert_eq!("double precision".parse(), Ok(ColumnType::Double));
        assert_eq!("super".parse(), Ok(ColumnType::Super));
    }

    #[test]
    fn rejects_out_of_range_and_unknown_types() {
        assert!("decimal(39,2)".parse::<ColumnType>().is_err());
        assert!("decimal(5,6)".parse::<ColumnType>().is_err());
        assert!("varchar(0)".parse::<ColumnType>().is_err());
        assert!("varchar(65536)".parse::<ColumnType>().is_err());
        let err = "jsonb".parse::<ColumnType>().unwrap_err();
        assert!(err.contains("use one of"), "{err}");
    }

    #[test]
    fn display_round_trips() {
        for text in ["varchar(10)", "decimal(38,10)", "double precision", "timestamptz", "super"] {
            let ty: ColumnType = text.parse().unwrap();
            assert_eq!(ty.to_string(), text);
        }
    }
}

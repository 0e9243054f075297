//! The watermark as every warehouse writes it into `dynashift_runs`, and the guard that refuses
//! an incremental load whose starting point is no longer the committed watermark.

use chrono::{DateTime, SecondsFormat, Utc};

use super::{LoadRequest, RUNS_TABLE};
use crate::config::quote_identifier;
use crate::contract::AcceptedGap;

/// Fixed-width RFC 3339 with microseconds and `Z` (every warehouse's precision), so that text
/// order is time order.
pub fn watermark_text(watermark: DateTime<Utc>) -> String {
    watermark.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Why a load continuing from `expected` must not commit when `dynashift_runs` holds
/// `committed`: another run committed in between. `None` when they agree.
pub fn stale_watermark(
    table: &str,
    committed: Option<DateTime<Utc>>,
    expected: Option<DateTime<Utc>>,
) -> Option<String> {
    if committed == expected {
        return None;
    }
    let show = |w: Option<DateTime<Utc>>| w.map_or("nothing".to_owned(), watermark_text);
    Some(format!(
        "{RUNS_TABLE} says {table} is committed up to {} but this load continues from {}; another run \
         committed in between: start a new run, which continues from the committed watermark",
        show(committed),
        show(expected)
    ))
}

/// `accepted_gaps` as every warehouse stores it: a JSON array of `{"from", "to"}`, or `None`
/// (SQL NULL) when the commit applied an unbroken chain.
pub fn accepted_gaps_text(gaps: &[AcceptedGap]) -> Option<String> {
    (!gaps.is_empty()).then(|| serde_json::to_string(gaps).expect("gaps always serialize"))
}

/// Reads `accepted_gaps` back; NULL (an unbroken chain, or a row from before the column) is none.
pub fn parse_accepted_gaps(text: Option<&str>) -> Result<Vec<AcceptedGap>, String> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| format!("accepted_gaps `{text}` is not a JSON list of gaps ({e})")),
    }
}

/// What a load records in `dynashift_runs`, rendered as SQL literals by one dialect's quoting,
/// so the warehouses' INSERTs differ only in their SQL frame, never in what they record.
pub struct RunLiterals {
    pub run_id: String,
    pub mode: String,
    pub watermark: String,
    pub upserts: u64,
    pub deletes: u64,
    /// `NULL` on a first full sync.
    pub from_watermark: String,
    /// `NULL` for an unbroken chain.
    pub accepted_gaps: String,
}

impl RunLiterals {
    pub fn of(request: &LoadRequest, literal: fn(&str) -> String) -> RunLiterals {
        let optional = |text: Option<String>| text.map_or("NULL".to_owned(), |t| literal(&t));
        RunLiterals {
            run_id: literal(&request.run_id),
            mode: literal(request.mode.as_str()),
            watermark: literal(&watermark_text(request.watermark)),
            upserts: request.staged.upserts,
            deletes: request.staged.deletes,
            from_watermark: optional(request.previous_watermark.map(watermark_text)),
            accepted_gaps: optional(accepted_gaps_text(&request.accepted_gaps)),
        }
    }
}

/// The committed watermark of a table (no row when it never committed), newest by `order`.
pub fn latest_watermark(table_name: &str, order: &str, literal: fn(&str) -> String) -> String {
    format!(
        "SELECT \"watermark\" FROM {} WHERE \"table_name\" = {} {order} LIMIT 1",
        quote_identifier(RUNS_TABLE),
        literal(table_name)
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn watermarks_are_fixed_width_microseconds() {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        assert_eq!(watermark_text(t), "2026-11-24T10:00:00.000000Z");
    }

    #[test]
    fn a_moved_watermark_is_named_both_ways() {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        assert_eq!(stale_watermark("orders", Some(t), Some(t)), None);
        let message = stale_watermark("orders", Some(t), None).unwrap();
        assert!(message.contains("committed up to 2026-11-24T10:00:00.000000Z"), "{message}");
        assert!(message.contains("continues from nothing"), "{message}");
    }

    #[test]
    fn accepted_gaps_round_trip_and_an_unbroken_chain_is_null() {
        assert_eq!(accepted_gaps_text(&[]), None);
        let from = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let gaps = vec![AcceptedGap { from, to: from + chrono::Duration::minutes(5) }];
        let text = accepted_gaps_text(&gaps).unwrap();
        assert_eq!(parse_accepted_gaps(Some(&text)).unwrap(), gaps);
        assert_eq!(parse_accepted_gaps(None).unwrap(), Vec::new());
        assert!(parse_accepted_gaps(Some("nope")).unwrap_err().contains("accepted_gaps `nope`"));
    }
}

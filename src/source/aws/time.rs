//! Timestamps between the SDK's type and chrono's, which the rest of dynashift uses.

use aws_sdk_dynamodb::primitives::DateTime as AwsDateTime;
use chrono::{DateTime, Utc};

/// An SDK timestamp as a chrono one (`None` when out of chrono's range).
pub(super) fn to_chrono(value: &AwsDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(value.secs(), value.subsec_nanos())
}

/// A chrono timestamp as an SDK one, to the millisecond (plans are in whole seconds, so nothing
/// a plan says is lost).
pub(super) fn to_aws(value: DateTime<Utc>) -> AwsDateTime {
    AwsDateTime::from_millis(value.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn timestamps_convert_both_ways() {
        let t = Utc.with_ymd_and_hms(2026, 1, 14, 10, 35, 24).unwrap() + chrono::Duration::milliseconds(622);
        assert_eq!(to_aws(t).secs(), 1_768_386_924);
        assert_eq!(to_chrono(&to_aws(t)), Some(t));
        assert_eq!(to_chrono(&AwsDateTime::from_secs(i64::MAX)), None);
    }
}

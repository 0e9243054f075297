//! Patience with throttling. The SDK already retries a throttled call a few times within
//! seconds; some limits last longer (`LimitExceededException` while 300 exports are in flight,
//! DescribeExport polled by many tables at once), so the calls dynashift cannot do without are
//! retried here with exponential backoff over minutes before the run gives up.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use super::failure::{AwsFailure, FailureKind};

/// How often and how patiently a throttled call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Calls in all, the first included.
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Backoff {
    /// For the export API: 8 attempts, 2 s doubling to 60 s (about 4 minutes in all).
    pub const EXPORT_API: Backoff =
        Backoff { attempts: 8, first_delay: Duration::from_secs(2), max_delay: Duration::from_secs(60) };

    /// The delay before retry number `retry` (1-based), before jitter.
    fn delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Calls `call` until it succeeds, fails with anything but throttling, or `backoff.attempts`
/// calls were throttled; the last failure then says how many attempts were made.
pub async fn retry_throttled<T, F, Fut>(
    backoff: Backoff,
    operation: &str,
    mut call: F,
) -> Result<T, AwsFailure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsFailure>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(failure) if failure.kind == FailureKind::Throttled && attempt < backoff.attempts => {
                let delay = jittered(backoff.delay(attempt));
                tracing::warn!(operation, attempt, ?delay, %failure, "throttled; retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(mut failure) if failure.kind == FailureKind::Throttled => {
                failure.message = format!("{} (still throttled after {attempt} attempts)", failure.message);
                return Err(failure);
            }
            other => return other,
        }
    }
}

/// 75–125 % of `delay`, so tables throttled together do not retry in lockstep.
fn jittered(delay: Duration) -> Duration {
    delay.mul_f64(rand::rng().random_range(0.75..=1.25))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const FAST: Backoff =
        Backoff { attempts: 4, first_delay: Duration::from_millis(1), max_delay: Duration::from_millis(3) };

    fn failure(kind: FailureKind) -> AwsFailure {
        AwsFailure {
            kind,
            code: Some("LimitExceededException".into()),
            message: "too many".into(),
            status: Some(400),
        }
    }

    #[tokio::test]
    async fn throttled_calls_are_retried_until_they_succeed() {
        let calls = AtomicU32::new(0);
        let result = retry_throttled(FAST, "test", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(failure(FailureKind::Throttled))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn throttling_gives_up_after_the_last_attempt_and_says_so() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry_throttled(FAST, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(failure(FailureKind::Throttled))
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(result.unwrap_err().message, "too many (still throttled after 4 attempts)");
    }

    #[tokio::test]
    async fn other_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retry_throttled(FAST, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(failure(FailureKind::AccessDenied))
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(result.unwrap_err().kind, FailureKind::AccessDenied);
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let backoff = Backoff::EXPORT_API;
        let delays: Vec<u64> = (1..=7).map(|retry| backoff.delay(retry).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60]);
        let jittered = jittered(Duration::from_secs(100));
        assert!((75..=125).contains(&jittered.as_secs()), "{jittered:?}");
    }
}

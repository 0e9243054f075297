//! Patience with AWS. The SDK already retries a failed call a few times within seconds; some
//! conditions last longer (`LimitExceededException` while 300 exports are in flight, DescribeExport
//! throttled while many tables poll at once, S3 asking to slow down while it scales a prefix, a
//! network outage), so every call dynashift cannot do without goes through [`retry_transient`]:
//! throttled, unreachable, server-side (5xx) and conditional-write-race failures are retried with
//! backoff and jitter until the policy's deadline (see [`crate::retry`]); the rest fail at once.
//!
//! Only calls that are safe to repeat may be wrapped: reads (GET, LIST, HEAD, Describe*),
//! unconditional writes of the same bytes, and requests made idempotent by a token
//! (ExportTableToPointInTime carries a ClientToken). A conditional create whose answer was lost
//! is ambiguous — it may have been applied — so its caller must settle that itself (the S3
//! store's `create_new` reads the object back).

use std::future::Future;

use super::failure::{AwsFailure, FailureKind};
use crate::retry::{RetryAccount, RetryPolicy, Retryable, retry};

/// Calls `call` until it succeeds, fails permanently, or `policy`'s deadline leaves no room for
/// another retry; the error then ends with what was retried and for how long, e.g.
/// `… (retried 6 times over 2m 10s: throttled, then unreachable; giving up at the 5m deadline)`.
/// `operation` names the call in the log (`"DescribeExport"`).
///
/// ```ignore
/// let output = retry_transient(RetryPolicy::CONTROL_PLANE, "DescribeStatement", || async {
///     client.describe_statement().id(id).send().await.map_err(|e| AwsFailure::from_sdk(&e))
/// })
/// .await?;
/// ```
pub async fn retry_transient<T, F, Fut>(
    policy: RetryPolicy,
    operation: &str,
    call: F,
) -> Result<T, AwsFailure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsFailure>>,
{
    retry(policy, operation, call).await
}

impl Retryable for AwsFailure {
    fn transient_cause(&self) -> Option<String> {
        self.kind.is_transient().then(|| self.cause())
    }

    fn with_retry_account(mut self, account: &RetryAccount) -> AwsFailure {
        self.message = format!("{} ({account})", self.message);
        self
    }
}

impl AwsFailure {
    /// The failure in a few words, for the list of causes a retry account gives.
    fn cause(&self) -> String {
        match (self.kind, self.status) {
            (FailureKind::Throttled, _) => "throttled".into(),
            (FailureKind::Unreachable, _) => "unreachable".into(),
            (FailureKind::ServerError, Some(status)) => format!("server error (HTTP {status})"),
            (FailureKind::Conflict, _) => "a concurrent conditional write (HTTP 409)".into(),
            _ => self.code.clone().unwrap_or_else(|| "server error".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const FAST: RetryPolicy = RetryPolicy {
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(3),
        jitter: 0.25,
        deadline: Duration::from_millis(40),
    };

    fn failure(kind: FailureKind, code: &str, status: u16) -> AwsFailure {
        AwsFailure { kind, code: Some(code.into()), message: "it failed".into(), status: Some(status) }
    }

    /// Fails with `failures` in turn, then answers 7.
    async fn answer_after(failures: &[AwsFailure], calls: &AtomicU32) -> Result<u32, AwsFailure> {
        retry_transient(FAST, "test", || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) as usize;
            failures.get(n).cloned().map_or(Ok(7), Err)
        })
        .await
    }

    #[tokio::test]
    async fn throttling_network_and_server_failures_are_retried() {
        let calls = AtomicU32::new(0);
        let failures = [
            failure(FailureKind::Throttled, "LimitExceededException", 400),
            AwsFailure {
                kind: FailureKind::Unreachable,
                code: None,
                message: "refused".into(),
                status: None,
            },
            failure(FailureKind::ServerError, "InternalServerError", 500),
            failure(FailureKind::Conflict, "ConditionalRequestConflict", 409),
        ];
        assert_eq!(answer_after(&failures, &calls).await, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let denied = failure(FailureKind::AccessDenied, "AccessDeniedException", 400);
        assert_eq!(answer_after(std::slice::from_ref(&denied), &calls).await, Err(denied));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_final_failure_says_what_was_retried_and_for_how_long() {
        let calls = AtomicU32::new(0);
        let mut failures = vec![failure(FailureKind::Throttled, "ThrottlingException", 400); 3];
        failures.extend(vec![failure(FailureKind::ServerError, "InternalServerError", 500); 1000]);
        let error = answer_after(&failures, &calls).await.unwrap_err();
        let message = &error.message;
        assert!(message.starts_with("it failed (retried "), "{message}");
        assert!(
            message.ends_with(": throttled, then server error (HTTP 500); giving up at the 40ms deadline)"),
            "{message}"
        );
        assert_eq!(error.kind, FailureKind::ServerError, "the last failure is returned");
    }
}

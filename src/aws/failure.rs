//! One AWS call that failed, reduced to what the user and the caller need: the service's error
//! code and message, the HTTP status, and a kind the callers branch on (retry when throttled,
//! `NotFound` for a missing key, a permissions hint for access denied…). Keeping the SDK's error
//! types out of every other module is what lets errors read as sentences instead of type dumps.
//!
//! Transient kinds ([`FailureKind::is_transient`]: throttled, unreachable, a server-side error, a
//! conditional-write race) are retried by [`super::retry_transient`]; the others are permanent.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// What kind of failure it is, as far as the caller's next step goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The service asked us to slow down (throttling, too many requests or exports at once).
    Throttled,
    /// The identity is known but not allowed to do this.
    AccessDenied,
    /// The credentials were refused: unknown key, bad signature, expired session.
    CredentialsRejected,
    /// The bucket, key, table or export does not exist.
    NotFound,
    /// A conditional request's condition did not hold (HTTP 412).
    PreconditionFailed,
    /// A conditional request raced another one (HTTP 409); retrying settles it.
    Conflict,
    /// No answer: connection refused, DNS, TLS, timeout.
    Unreachable,
    /// The service failed on its side (HTTP 500/502/504, `InternalServerError`…); the same
    /// request usually succeeds a moment later.
    ServerError,
    /// Anything else the service or the SDK reported.
    Other,
}

/// A failed AWS call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFailure {
    pub kind: FailureKind,
    /// The service's error code (`NoSuchKey`, `ThrottlingException`…), when it answered.
    pub code: Option<String>,
    /// The service's message, or the SDK's account of a failure that got no answer.
    pub message: String,
    pub status: Option<u16>,
}

impl FailureKind {
    /// Whether another attempt of the same call may succeed. A request refused for what it is
    /// (denied, not found, invalid) fails the same way every time.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            FailureKind::Throttled
                | FailureKind::Unreachable
                | FailureKind::ServerError
                | FailureKind::Conflict
        )
    }
}

impl AwsFailure {
    /// Classifies an SDK error of any operation of any service.
    pub fn from_sdk<E>(err: &SdkError<E>) -> AwsFailure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|response| response.status().as_u16());
        if let Some(cause) = credentials_cause(err) {
            tracing::debug!(error = %DisplayErrorContext(err), "an AWS call found no usable credentials");
            return AwsFailure { kind: FailureKind::CredentialsRejected, code: None, message: cause, status };
        }
        match err {
            SdkError::ServiceError(context) => {
                let code = context.err().code().map(str::to_owned);
                let message = context
                    .err()
                    .message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| DisplayErrorContext(err).to_string());
                AwsFailure { kind: classify(code.as_deref(), status), code, message, status }
            }
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => AwsFailure {
                kind: FailureKind::Unreachable,
                code: None,
                message: DisplayErrorContext(err).to_string(),
                status,
            },
            _ => AwsFailure {
                kind: status.map_or(FailureKind::Other, |s| classify(None, Some(s))),
                code: None,
                message: DisplayErrorContext(err).to_string(),
                status,
            },
        }
    }

    /// A sentence-ending hint for the kinds that have a general remedy; `None` for the kinds
    /// whose remedy depends on the call (the caller words those).
    pub fn general_hint(&self) -> Option<&'static str> {
        match self.kind {
            FailureKind::AccessDenied => Some(
                "the identity dynashift runs as lacks this permission: attach the policy in docs/aws.md \
                 (\"Prerequisites\") to it",
            ),
            FailureKind::CredentialsRejected => Some(
                "the credentials are missing, were refused or have expired: for an SSO profile run \
                 `aws sso login --profile <profile>` (the `profile` in tables.toml, else AWS_PROFILE), \
                 otherwise refresh the access keys, then run again",
            ),
            FailureKind::Unreachable => {
                Some("check the network, the region and any endpoint_url in tables.toml, then run again")
            }
            FailureKind::Throttled => Some("AWS is throttling these calls; wait a few minutes and run again"),
            FailureKind::ServerError => {
                Some("AWS failed on its side; check the AWS Health Dashboard and run again")
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, self.status) {
            (Some(code), Some(status)) => write!(f, "{code} (HTTP {status}): {}", self.message),
            (Some(code), None) => write!(f, "{code}: {}", self.message),
            (None, Some(status)) => write!(f, "HTTP {status}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// The credentials problem behind a failed call, when there is one: the Rust SDK reports
/// credentials that cannot be loaded mid-run (an SSO session that expired, a profile gone) as a
/// dispatch failure whose source chain holds a `CredentialsError` (aws-facts §9), which would
/// otherwise read as a network problem. The cause is the credentials error and what it wraps,
/// without the SDK's dispatch wrapping (that goes to the log).
fn credentials_cause(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(error) = next {
        if let Some(credentials) = error.downcast_ref::<CredentialsError>() {
            return Some(DisplayErrorContext(credentials).to_string());
        }
        next = error.source();
    }
    None
}

/// Error codes that mean "slow down"; the SDK retries them a few times, callers retry longer.
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    // The Redshift Data API's "too many statements/sessions at once": load, not a bug
    // (RedshiftDataAPIService exceptions, botocore reference; aws-facts §9).
    "ActiveStatementsExceededException",
    "ActiveSessionsExceededException",
];

/// Error codes that mean the credentials themselves were refused.
const CREDENTIALS_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "TokenRefreshRequired",
];

const ACCESS_DENIED_CODES: &[&str] =
    &["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AllAccessDisabled"];

/// Error codes of failures on the service's side.
const SERVER_ERROR_CODES: &[&str] = &[
    "InternalServerError",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

const NOT_FOUND_CODES: &[&str] = &[
    "NoSuchKey",
    "NoSuchBucket",
    "NotFound",
    "ResourceNotFoundException",
    "TableNotFoundException",
    "ExportNotFoundException",
];

/// The kind of a service error, from its code first and its HTTP status second.
fn classify(code: Option<&str>, status: Option<u16>) -> FailureKind {
    let is = |codes: &[&str]| code.is_some_and(|code| codes.contains(&code));
    if is(THROTTLING_CODES) {
        FailureKind::Throttled
    } else if is(CREDENTIALS_CODES) {
        FailureKind::CredentialsRejected
    } else if is(ACCESS_DENIED_CODES) {
        FailureKind::AccessDenied
    } else if is(NOT_FOUND_CODES) {
        FailureKind::NotFound
    } else if is(SERVER_ERROR_CODES) {
        FailureKind::ServerError
    } else if code == Some("PreconditionFailed") {
        FailureKind::PreconditionFailed
    } else if code == Some("ConditionalRequestConflict") {
        FailureKind::Conflict
    } else {
        match status {
            Some(429) | Some(503) => FailureKind::Throttled,
            Some(403) => FailureKind::AccessDenied,
            Some(404) => FailureKind::NotFound,
            Some(412) => FailureKind::PreconditionFailed,
            Some(409) if code.is_none() => FailureKind::Conflict,
            Some(500..=599) => FailureKind::ServerError,
            _ => FailureKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decide_before_statuses() {
        assert_eq!(classify(Some("ThrottlingException"), Some(400)), FailureKind::Throttled);
        assert_eq!(classify(Some("LimitExceededException"), Some(400)), FailureKind::Throttled);
        assert_eq!(classify(Some("ActiveStatementsExceededException"), Some(400)), FailureKind::Throttled);
        assert_eq!(classify(Some("ActiveSessionsExceededException"), Some(400)), FailureKind::Throttled);
        assert_eq!(classify(Some("ExpiredTokenException"), Some(400)), FailureKind::CredentialsRejected);
        assert_eq!(classify(Some("SignatureDoesNotMatch"), Some(403)), FailureKind::CredentialsRejected);
        assert_eq!(classify(Some("AccessDeniedException"), Some(400)), FailureKind::AccessDenied);
        assert_eq!(classify(Some("NoSuchBucket"), Some(404)), FailureKind::NotFound);
        assert_eq!(classify(Some("PreconditionFailed"), Some(412)), FailureKind::PreconditionFailed);
        assert_eq!(classify(Some("ConditionalRequestConflict"), Some(409)), FailureKind::Conflict);
        assert_eq!(classify(Some("ValidationException"), Some(400)), FailureKind::Other);
        assert_eq!(classify(Some("InternalServerError"), Some(500)), FailureKind::ServerError);
        assert_eq!(classify(Some("ServiceUnavailable"), Some(503)), FailureKind::ServerError);
        assert_eq!(classify(Some("InternalError"), Some(500)), FailureKind::ServerError);
    }

    #[test]
    fn statuses_decide_when_the_code_is_unknown() {
        assert_eq!(classify(None, Some(503)), FailureKind::Throttled);
        assert_eq!(classify(None, Some(429)), FailureKind::Throttled);
        assert_eq!(classify(None, Some(403)), FailureKind::AccessDenied);
        assert_eq!(classify(None, Some(404)), FailureKind::NotFound);
        assert_eq!(classify(None, Some(412)), FailureKind::PreconditionFailed);
        assert_eq!(classify(None, Some(409)), FailureKind::Conflict);
        assert_eq!(classify(None, Some(500)), FailureKind::ServerError);
        assert_eq!(classify(None, Some(504)), FailureKind::ServerError);
        assert_eq!(classify(Some("BucketAlreadyOwnedByYou"), Some(409)), FailureKind::Other);
        assert_eq!(classify(None, None), FailureKind::Other);
    }

    #[test]
    fn only_failures_another_attempt_may_fix_are_transient() {
        let transient = [
            FailureKind::Throttled,
            FailureKind::Unreachable,
            FailureKind::ServerError,
            FailureKind::Conflict,
        ];
        let permanent = [
            FailureKind::AccessDenied,
            FailureKind::CredentialsRejected,
            FailureKind::NotFound,
            FailureKind::PreconditionFailed,
            FailureKind::Other,
        ];
        assert!(transient.iter().all(|kind| kind.is_transient()));
        assert!(permanent.iter().all(|kind| !kind.is_transient()));
    }

    #[test]
    fn display_names_code_status_and_message() {
        let failure = AwsFailure {
            kind: FailureKind::NotFound,
            code: Some("NoSuchKey".into()),
            message: "The specified key does not exist.".into(),
            status: Some(404),
        };
        assert_eq!(failure.to_string(), "NoSuchKey (HTTP 404): The specified key does not exist.");
        let bare = AwsFailure { code: None, status: None, message: "connection refused".into(), ..failure };
        assert_eq!(bare.to_string(), "connection refused");
    }

    #[test]
    fn only_general_kinds_carry_a_general_hint() {
        let failure = |kind| AwsFailure { kind, code: None, message: String::new(), status: None };
        assert!(failure(FailureKind::CredentialsRejected).general_hint().unwrap().contains("aws sso login"));
        assert!(failure(FailureKind::AccessDenied).general_hint().unwrap().contains("docs/aws.md"));
        assert!(failure(FailureKind::NotFound).general_hint().is_none());
    }
}

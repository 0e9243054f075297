//! One AWS SDK configuration per set of settings, checked before any run starts: the region and
//! credentials are resolved up front, so a missing SSO login is reported when dynashift starts,
//! not minutes into a run after the export was planned.

use std::time::{Duration, SystemTime};

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::error::DisplayErrorContext;

use super::setup_error::AwsSetupError;
use crate::config::AwsSettings;

/// Env variable naming an S3-only endpoint (honoured by the SDK; read here for path-style).
const S3_ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_S3";

/// How long one AWS call may take. The SDK's defaults bound only the connect, so a server that
/// accepts a connection and never answers would hold a run forever (aws-facts §9): each
/// attempt, and each operation with the SDK's own retries, is bounded too, and a call that runs
/// out of time fails as unreachable, which [`super::retry_transient`] retries.
/// See `aws_smithy_types::timeout::TimeoutConfig` (docs.rs) for what each limit covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// Opening the socket (and TLS).
    pub connect: Duration,
    /// One attempt, from sending the request to the response's headers.
    pub attempt: Duration,
    /// One operation: every attempt the SDK makes, with its backoff.
    pub operation: Duration,
}

impl AwsTimeouts {
    /// DynamoDB and the Data API answer small requests in well under a second.
    pub const API: AwsTimeouts = AwsTimeouts {
        connect: Duration::from_secs(10),
        attempt: Duration::from_secs(30),
        operation: Duration::from_secs(100),
    };
    /// S3 attempts carry bodies (a part or a file of up to 16 MiB goes up in one request), so
    /// they get minutes. A download's body is streamed after the call returns, so a long
    /// download is not cut short by these limits.
    pub const S3: AwsTimeouts = AwsTimeouts {
        connect: Duration::from_secs(10),
        attempt: Duration::from_secs(300),
        operation: Duration::from_secs(1000),
    };

    fn config(self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// A checked SDK configuration and the settings it came from.
#[derive(Debug, Clone)]
pub struct AwsConnection {
    sdk: SdkConfig,
    settings: AwsSettings,
    /// DynamoDB's and the Data API's limits.
    api_timeouts: AwsTimeouts,
    s3_timeouts: AwsTimeouts,
}

impl AwsConnection {
    /// Resolves `settings` over the SDK's default chain (environment, shared config and
    /// credentials files, SSO, container and instance roles; `AWS_ENDPOINT_URL` and the
    /// per-service endpoint variables are honoured) and checks that a region and unexpired
    /// credentials come out of it.
    pub async fn connect(settings: &AwsSettings) -> Result<AwsConnection, AwsSetupError> {
        let sdk = loader(settings).load().await;
        check_region(&sdk, settings)?;
        check_credentials(&sdk, settings).await?;
        Ok(AwsConnection::of(sdk, settings))
    }

    /// Like [`connect`](Self::connect), with fixed credentials instead of the chain: for AWS
    /// stand-ins (moto, LocalStack) that accept any key, and for tests, which must not make the
    /// chain probe the instance metadata service.
    pub async fn with_static_credentials(
        settings: &AwsSettings,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Result<AwsConnection, AwsSetupError> {
        let credentials = Credentials::new(access_key_id, secret_access_key, None, None, "dynashift-static");
        let sdk = loader(settings).credentials_provider(credentials).load().await;
        check_region(&sdk, settings)?;
        Ok(AwsConnection::of(sdk, settings))
    }

    fn of(sdk: SdkConfig, settings: &AwsSettings) -> AwsConnection {
        AwsConnection {
            sdk,
            settings: settings.clone(),
            api_timeouts: AwsTimeouts::API,
            s3_timeouts: AwsTimeouts::S3,
        }
    }

    /// The same connection with other time limits for every client it makes (tests use
    /// short ones).
    pub fn with_timeouts(mut self, api: AwsTimeouts, s3: AwsTimeouts) -> AwsConnection {
        self.api_timeouts = api;
        self.s3_timeouts = s3;
        self
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.settings
    }

    /// The resolved region (checked to exist when connecting).
    pub fn region(&self) -> &str {
        self.sdk.region().map_or("", |region| region.as_ref())
    }

    /// The endpoint every service is sent to instead of AWS, when one is configured.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.sdk.endpoint_url()
    }

    /// "region eu-north-1, profile analytics, endpoint http://127.0.0.1:5000", for messages.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("region {}", self.region())];
        if let Some(profile) = &self.settings.profile {
            parts.push(format!("profile {profile}"));
        }
        if let Some(endpoint) = self.endpoint_url() {
            parts.push(format!("endpoint {endpoint}"));
        }
        parts.join(", ")
    }

    /// A DynamoDB client, with [`AwsTimeouts::API`] (or the limits set).
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .timeout_config(self.api_timeouts.config())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// A Redshift Data API client (the Redshift warehouse), with [`AwsTimeouts::API`].
    pub fn redshift_data(&self) -> aws_sdk_redshiftdata::Client {
        let config = aws_sdk_redshiftdata::config::Builder::from(&self.sdk)
            .timeout_config(self.api_timeouts.config())
            .build();
        aws_sdk_redshiftdata::Client::from_conf(config)
    }

    /// An S3 client with [`AwsTimeouts::S3`]; path-style addressing when an endpoint is
    /// configured, since stand-ins on `127.0.0.1` cannot serve `bucket.127.0.0.1` virtual hosts.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let path_style = self.endpoint_url().is_some() || std::env::var_os(S3_ENDPOINT_ENV).is_some();
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(path_style)
            .timeout_config(self.s3_timeouts.config())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

/// The SDK's default loader with whatever tables.toml sets on top.
fn loader(settings: &AwsSettings) -> ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint_url) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint_url);
    }
    loader
}

fn check_region(sdk: &SdkConfig, settings: &AwsSettings) -> Result<(), AwsSetupError> {
    match sdk.region() {
        Some(_) => Ok(()),
        None => Err(AwsSetupError::NoRegion { profile: settings.profile.clone() }),
    }
}

/// Asks the credential chain for credentials once, so its failure is reported now.
async fn check_credentials(sdk: &SdkConfig, settings: &AwsSettings) -> Result<(), AwsSetupError> {
    let profile = settings.profile.clone();
    let Some(provider) = sdk.credentials_provider() else {
        return Err(AwsSetupError::NoCredentials {
            profile,
            cause: "no credential provider is configured".into(),
        });
    };
    check_provider(&provider, profile).await
}

async fn check_provider(
    provider: &SharedCredentialsProvider,
    profile: Option<String>,
) -> Result<(), AwsSetupError> {
    match provider.provide_credentials().await {
        Ok(credentials) => match credentials.expiry() {
            Some(expiry) if expiry <= SystemTime::now() => {
                Err(AwsSetupError::Expired { profile, expired_at: expiry.into() })
            }
            _ => Ok(()),
        },
        Err(err) => {
            Err(AwsSetupError::NoCredentials { profile, cause: DisplayErrorContext(&err).to_string() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AwsFailure, FailureKind};

    fn settings(region: Option<&str>, endpoint: Option<&str>) -> AwsSettings {
        AwsSettings {
            region: region.map(str::to_owned),
            profile: None,
            endpoint_url: endpoint.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn static_credentials_connect_with_the_settings_given() {
        let settings = settings(Some("eu-north-1"), Some("http://127.0.0.1:5000"));
        let connection = AwsConnection::with_static_credentials(&settings, "test", "test").await.unwrap();
        assert_eq!(connection.region(), "eu-north-1");
        assert_eq!(connection.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert_eq!(connection.describe(), "region eu-north-1, endpoint http://127.0.0.1:5000");
    }

    #[tokio::test]
    async fn expired_credentials_are_refused_before_any_call() {
        let expired_at = SystemTime::now() - Duration::from_secs(60);
        let credentials = Credentials::new("a", "b", Some("token".into()), Some(expired_at), "sso");
        let error = check_provider(&SharedCredentialsProvider::new(credentials), Some("analytics".into()))
            .await
            .unwrap_err();
        assert!(matches!(error, AwsSetupError::Expired { .. }), "{error:?}");
        assert!(error.hint().contains("aws sso login --profile analytics"));
    }

    #[tokio::test]
    async fn a_config_without_a_provider_names_the_chain() {
        let sdk = SdkConfig::builder().region(Region::new("us-east-1")).build();
        let error = check_credentials(&sdk, &settings(Some("us-east-1"), None)).await.unwrap_err();
        assert!(error.to_string().contains("no credential provider is configured"), "{error}");
        assert!(error.to_string().contains("Tried, in order: environment variables"), "{error}");
    }

    /// A loopback server that accepts every connection and never answers; counts them.
    async fn silent_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(socket);
            }
        });
        (endpoint, accepted)
    }

    const SHORT: AwsTimeouts = AwsTimeouts {
        connect: Duration::from_millis(500),
        attempt: Duration::from_millis(300),
        operation: Duration::from_millis(800),
    };

    #[tokio::test]
    async fn a_server_that_never_answers_fails_the_call_in_bounded_time_and_is_retried() {
        let (endpoint, accepted) = silent_server().await;
        let connection =
            AwsConnection::with_static_credentials(&settings(Some("eu-north-1"), Some(&endpoint)), "t", "t")
                .await
                .unwrap()
                .with_timeouts(SHORT, SHORT);
        let policy = crate::retry::RetryPolicy {
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            jitter: 0.0,
            deadline: Duration::from_millis(1500),
        };
        let (dynamodb, s3, data_api) = (connection.dynamodb(), connection.s3(), connection.redshift_data());
        let calls = async {
            let dynamodb = super::super::retry_transient(policy, "ListTables", || async {
                dynamodb.list_tables().send().await.map_err(|e| AwsFailure::from_sdk(&e))
            })
            .await
            .unwrap_err();
            let s3 = s3.list_buckets().send().await.map_err(|e| AwsFailure::from_sdk(&e)).unwrap_err();
            let data_api =
                data_api.list_databases().database("d").send().await.map_err(|e| AwsFailure::from_sdk(&e));
            (dynamodb, s3, data_api.unwrap_err())
        };
        let (dynamodb, s3, data_api) =
            tokio::time::timeout(Duration::from_secs(15), calls).await.expect("no call may hang");
        for failure in [&dynamodb, &s3, &data_api] {
            assert_eq!(failure.kind, FailureKind::Unreachable, "{failure}");
            assert!(failure.kind.is_transient());
        }
        assert!(dynamodb.message.contains("retried"), "retry_transient retried the timeout: {dynamodb}");
        assert!(accepted.load(std::sync::atomic::Ordering::SeqCst) >= 4, "several attempts were made");
    }

    /// A credentials provider whose SSO session has run out, as the chain reports it.
    #[derive(Debug)]
    struct ExpiredSso;

    impl ProvideCredentials for ExpiredSso {
        fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            aws_credential_types::provider::future::ProvideCredentials::ready(Err(
                aws_credential_types::provider::error::CredentialsError::provider_error(
                    "the SSO session associated with this profile has expired",
                ),
            ))
        }
    }

    #[tokio::test]
    async fn credentials_that_fail_mid_run_are_reported_as_credentials_with_the_sso_hint() {
        let (endpoint, accepted) = silent_server().await;
        let sdk = SdkConfig::builder()
            .region(Region::new("eu-north-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(SharedCredentialsProvider::new(ExpiredSso))
            .behavior_version(BehaviorVersion::latest())
            .build();
        let connection = AwsConnection::of(sdk, &settings(Some("eu-north-1"), Some(&endpoint)))
            .with_timeouts(SHORT, SHORT);
        let failure = tokio::time::timeout(Duration::from_secs(10), connection.s3().list_buckets().send())
            .await
            .expect("no hang")
            .map_err(|e| AwsFailure::from_sdk(&e))
            .unwrap_err();
        assert_eq!(failure.kind, FailureKind::CredentialsRejected, "{failure}");
        assert!(!failure.kind.is_transient());
        assert!(
            failure.message.starts_with("an error occurred while loading credentials"),
            "the resolved cause comes first: {failure}"
        );
        assert!(
            failure.message.contains("SSO session associated with this profile has expired"),
            "{failure}"
        );
        assert!(!failure.message.contains("dispatch failure"), "{failure}");
        let hint = failure.general_hint().unwrap();
        assert!(hint.contains("aws sso login --profile") && hint.contains("AWS_PROFILE"), "{hint}");
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was sent unsigned");
    }

    #[test]
    fn a_missing_region_is_reported() {
        let sdk = SdkConfig::builder().build();
        let error = check_region(&sdk, &settings(None, None)).unwrap_err();
        assert_eq!(error, AwsSetupError::NoRegion { profile: None });
    }
}

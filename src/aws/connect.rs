//! One AWS SDK configuration per set of settings, checked before any run starts: the region and
//! credentials are resolved up front, so a missing SSO login is reported when dynashift starts,
//! not minutes into a run after the export was planned.

use std::time::SystemTime;

use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::error::DisplayErrorContext;

use super::setup_error::AwsSetupError;
use crate::config::AwsSettings;

/// Env variable naming an S3-only endpoint (honoured by the SDK; read here for path-style).
const S3_ENDPOINT_ENV: &str = "AWS_ENDPOINT_URL_S3";

/// A checked SDK configuration and the settings it came from.
#[derive(Debug, Clone)]
pub struct AwsConnection {
    sdk: SdkConfig,
    settings: AwsSettings,
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
        Ok(AwsConnection { sdk, settings: settings.clone() })
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
        Ok(AwsConnection { sdk, settings: settings.clone() })
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

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    /// An S3 client; path-style addressing when an endpoint is configured, since stand-ins on
    /// `127.0.0.1` cannot serve `bucket.127.0.0.1` virtual hosts.
    /// A Redshift Data API client (the Redshift warehouse).
    pub fn redshift_data(&self) -> aws_sdk_redshiftdata::Client {
        aws_sdk_redshiftdata::Client::new(&self.sdk)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let path_style = self.endpoint_url().is_some() || std::env::var_os(S3_ENDPOINT_ENV).is_some();
        let config = aws_sdk_s3::config::Builder::from(&self.sdk).force_path_style(path_style).build();
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
    use std::time::Duration;

    use super::*;

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

    #[test]
    fn a_missing_region_is_reported() {
        let sdk = SdkConfig::builder().build();
        let error = check_region(&sdk, &settings(None, None)).unwrap_err();
        assert_eq!(error, AwsSetupError::NoRegion { profile: None });
    }
}

//! Why dynashift cannot talk to AWS at all: no region, no credentials, expired credentials.
//! These are found before any run starts, and each says what was tried and what to run.

use chrono::{DateTime, Utc};

/// Where the SDK's default chain looks for credentials, in its order.
const CREDENTIAL_CHAIN: &str = "environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
     AWS_SESSION_TOKEN); the shared files ~/.aws/config and ~/.aws/credentials (static keys, SSO, \
     credential_process, assumed roles); a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE); the ECS \
     container endpoint; the EC2 instance metadata service";

/// AWS cannot be reached with the settings given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsSetupError {
    /// No region in tables.toml, the environment or the profile.
    #[error(
        "no AWS region is set{}: tables.toml, AWS_REGION and the profile name none",
        for_profile(profile)
    )]
    NoRegion { profile: Option<String> },
    /// The credential chain found nothing usable.
    #[error("no AWS credentials found{}: {cause}. Tried, in order: {CREDENTIAL_CHAIN}", for_profile(profile))]
    NoCredentials { profile: Option<String>, cause: String },
    /// Credentials were found but have already expired (typically an SSO session).
    #[error("the AWS credentials{} expired at {expired_at}", for_profile(profile))]
    Expired { profile: Option<String>, expired_at: DateTime<Utc> },
}

impl AwsSetupError {
    /// What to run or write to fix it.
    pub fn hint(&self) -> String {
        match self {
            AwsSetupError::NoRegion { .. } => {
                "add region = \"us-east-1\" (your table's region) to [defaults] in tables.toml, or export AWS_REGION"
                    .into()
            }
            AwsSetupError::NoCredentials { profile: Some(profile), .. } => format!(
                "run `aws sso login --profile {profile}` if it is an SSO profile; otherwise check that \
                 [profile {profile}] exists in ~/.aws/config (`aws configure list-profiles`) and has credentials"
            ),
            AwsSetupError::NoCredentials { profile: None, .. } => {
                "run `aws sso login` (SSO) or `aws configure` (access keys), or name a profile: \
                 AWS_PROFILE=… or profile = \"…\" in [defaults] of tables.toml"
                    .into()
            }
            AwsSetupError::Expired { profile, .. } => match profile {
                Some(profile) => format!("run `aws sso login --profile {profile}`, or refresh the keys, then run again"),
                None => "run `aws sso login`, or refresh the keys, then run again".into(),
            },
        }
    }
}

fn for_profile(profile: &Option<String>) -> String {
    profile.as_ref().map(|p| format!(" for profile `{p}`")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn missing_credentials_name_the_chain_and_the_profile() {
        let error = AwsSetupError::NoCredentials {
            profile: Some("analytics".into()),
            cause: "profile `analytics` was not defined".into(),
        };
        let text = error.to_string();
        assert!(text.starts_with("no AWS credentials found for profile `analytics`: profile"), "{text}");
        assert!(text.contains("environment variables (AWS_ACCESS_KEY_ID"), "{text}");
        assert!(text.contains("EC2 instance metadata service"), "{text}");
        assert!(error.hint().contains("aws sso login --profile analytics"));
    }

    #[test]
    fn without_a_profile_the_hint_offers_every_way_in() {
        let error = AwsSetupError::NoCredentials { profile: None, cause: "nothing".into() };
        assert!(error.to_string().starts_with("no AWS credentials found: nothing"));
        let hint = error.hint();
        assert!(
            hint.contains("aws sso login") && hint.contains("aws configure") && hint.contains("AWS_PROFILE")
        );
    }

    #[test]
    fn expired_and_region_errors_say_what_to_do() {
        let at = Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0).unwrap();
        let expired = AwsSetupError::Expired { profile: None, expired_at: at };
        assert_eq!(expired.to_string(), "the AWS credentials expired at 2026-01-14 10:00:00 UTC");
        assert!(expired.hint().starts_with("run `aws sso login`"));
        let region = AwsSetupError::NoRegion { profile: Some("p".into()) };
        assert!(region.to_string().starts_with("no AWS region is set for profile `p`"));
        assert!(region.hint().contains("AWS_REGION"));
    }
}

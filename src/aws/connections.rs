//! One connection per distinct set of AWS settings: tables that share `[defaults]` share one SDK
//! configuration, so the credential chain (an SSO token refresh, an assumed role) is resolved and
//! checked once at start-up, not once per table and bucket.

use super::connect::AwsConnection;
use super::setup_error::AwsSetupError;
use crate::config::AwsSettings;

/// The connections made so far, by settings (a config has a handful at most).
#[derive(Debug, Default)]
pub struct AwsConnections {
    made: Vec<AwsConnection>,
}

impl AwsConnections {
    /// The connection for `settings`, made and checked on first use.
    pub async fn connect(&mut self, settings: &AwsSettings) -> Result<AwsConnection, AwsSetupError> {
        if let Some(made) = self.made.iter().find(|c| c.settings() == settings) {
            return Ok(made.clone());
        }
        let connection = AwsConnection::connect(settings).await?;
        self.made.push(connection.clone());
        Ok(connection)
    }

    /// Adds a connection made another way (fixed credentials for a stand-in), so later
    /// [`connect`](Self::connect) calls with its settings reuse it.
    pub fn insert(&mut self, connection: AwsConnection) {
        self.made.retain(|c| c.settings() != connection.settings());
        self.made.push(connection);
    }

    pub fn len(&self) -> usize {
        self.made.len()
    }

    pub fn is_empty(&self) -> bool {
        self.made.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(region: &str) -> AwsSettings {
        AwsSettings {
            region: Some(region.into()),
            profile: None,
            endpoint_url: Some("http://127.0.0.1:9".into()),
        }
    }

    #[tokio::test]
    async fn connections_are_reused_by_settings() {
        let mut connections = AwsConnections::default();
        let made = AwsConnection::with_static_credentials(&settings("eu-north-1"), "a", "b").await.unwrap();
        connections.insert(made.clone());
        connections.insert(made);
        assert_eq!(connections.len(), 1);
        let reused = connections.connect(&settings("eu-north-1")).await.unwrap();
        assert_eq!(reused.region(), "eu-north-1");
        assert_eq!(connections.len(), 1);
    }
}

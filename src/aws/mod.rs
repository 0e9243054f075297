//! What the S3 store and the DynamoDB source share: a checked SDK configuration
//! ([`AwsConnection`], one per distinct settings through [`AwsConnections`]), AWS failures
//! reduced to a kind and a sentence ([`AwsFailure`]), patience with transient failures
//! ([`retry_transient`]), and the errors that stop dynashift before any run ([`AwsSetupError`]).
//! Nothing outside the AWS adapters sees an SDK type.

mod connect;
mod connections;
mod failure;
mod retry;
mod settings;
mod setup_error;

pub use crate::retry::RetryPolicy;
pub use connect::{AwsConnection, AwsTimeouts};
pub use connections::AwsConnections;
pub use failure::{AwsFailure, FailureKind};
pub use retry::retry_transient;
pub use settings::settings_for;
pub use setup_error::AwsSetupError;

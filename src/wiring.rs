//! Picks and connects the concrete adapters the configuration names. The only module that knows
//! every adapter; the pipeline and the front ends see traits.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::aws::{AwsConnections, AwsSetupError, settings_for};
use crate::config::{
    AwsSettings, Config, KeyError, PostgresTls, SourceConfig, StoreLocation, TableConfig, WarehouseConfig,
};
use crate::contract::exit::{EXIT_RUN_FAILED, EXIT_USAGE};
use crate::pipeline::{Adapters, TableAdapters};
use crate::source::ExportSource;
use crate::source::aws::{AwsConnectError, AwsSource};
use crate::source::demo::DemoSource;
use crate::source::exports::ExistingExports;
use crate::store::{LocalStore, ObjectStore, S3Store};
use crate::warehouse::Warehouse;
use crate::warehouse::postgres::{ConnectSettings, PostgresWarehouse, TlsMode};
use crate::warehouse::redshift::RedshiftWarehouse;
use crate::warehouse::sqlite::SqliteWarehouse;

/// libpq's password variable, used when `password_env` is not set.
const PGPASSWORD: &str = "PGPASSWORD";

/// Why the adapters could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The configuration asks for something this build cannot do.
    #[error("{config}: table `{table}`: {message}")]
    Unsupported { config: String, table: String, message: String },
    /// An adapter could not be opened (I/O, a corrupt state file…).
    #[error("{what}: {message}")]
    Failed { what: String, message: String },
    /// DynamoDB's key and a table's entry in tables.toml do not fit together.
    #[error("{config}: {error}")]
    Key { config: String, error: KeyError },
    /// `password_env` in `[warehouse]` names a variable this process does not have.
    #[error(
        "the warehouse password variable {variable} (password_env in [warehouse]) is not set or empty: \
         export {variable} with the database password before starting dynashift"
    )]
    PasswordVariableUnset { variable: String },
}

impl ConnectError {
    /// Unsupported settings and keys are configuration errors (2); failures to open are run
    /// failures (1).
    pub fn exit_code(&self) -> u8 {
        match self {
            ConnectError::Unsupported { .. }
            | ConnectError::Key { .. }
            | ConnectError::PasswordVariableUnset { .. } => EXIT_USAGE,
            ConnectError::Failed { .. } => EXIT_RUN_FAILED,
        }
    }
}

/// Builds every adapter of `config`, and completes its tables with what connecting learns (the
/// key DynamoDB names for an aws table that leaves `key` out): from then on `config` is the one
/// the engine and the front ends must use.
pub async fn connect(config: &mut Config) -> Result<Adapters, ConnectError> {
    connect_with(config, AwsConnections::default()).await
}

/// [`connect`], reusing the AWS connections already in `aws` (made with fixed credentials for a
/// stand-in, say) and making the others through the default credential chain.
pub async fn connect_with(config: &mut Config, mut aws: AwsConnections) -> Result<Adapters, ConnectError> {
    let warehouse = open_warehouse(config, &mut aws).await?;
    let mut stores: HashMap<StoreLocation, Arc<dyn ObjectStore>> = HashMap::new();
    let mut tables = HashMap::new();
    let mut connected_tables = Vec::with_capacity(config.tables.len());
    for table in &config.tables {
        let store = match stores.get(&table.store) {
            Some(store) => store.clone(),
            None => {
                let store = open_store(config, table, &mut aws).await?;
                stores.insert(table.store.clone(), store.clone());
                store
            }
        };
        let OpenedSource { source, table } = open_source(config, table, store.clone(), &mut aws).await?;
        tables.insert(table.name.clone(), TableAdapters { source, store });
        connected_tables.push(table);
    }
    config.tables = connected_tables;
    Ok(Adapters { warehouse, tables })
}

async fn open_warehouse(
    config: &Config,
    aws: &mut AwsConnections,
) -> Result<Arc<dyn Warehouse>, ConnectError> {
    match &config.warehouse {
        WarehouseConfig::Sqlite { path } => SqliteWarehouse::open(path)
            .map(|w| Arc::new(w) as Arc<dyn Warehouse>)
            .map_err(|e| ConnectError::Failed {
                what: format!("sqlite warehouse {}", path.display()),
                message: e.to_string(),
            }),
        WarehouseConfig::Postgres { url, password_env, tls, ca_file } => {
            let tls = tls_mode(*tls, ca_file.as_deref());
            let settings =
                postgres_settings(url, password_env.as_deref(), tls, |name| std::env::var(name).ok())?;
            let what = settings.describe();
            PostgresWarehouse::connect_with(settings)
                .await
                .map(|w| Arc::new(w) as Arc<dyn Warehouse>)
                .map_err(|e| ConnectError::Failed { what, message: e.to_string() })
        }
        WarehouseConfig::Redshift(redshift) => {
            let settings = redshift_client_settings(&config.aws, &redshift.client);
            let connection = aws.connect(&settings).await.map_err(|e| ConnectError::Failed {
                what: "redshift warehouse (Data API)".into(),
                message: format!("{e} ({})", e.hint()),
            })?;
            let bucket_regions = bucket_regions(config, aws).await?;
            Ok(Arc::new(RedshiftWarehouse::new(&connection, redshift).with_bucket_regions(bucket_regions)))
        }
    }
}

/// The Region of each table's S3 bucket (its store connection's, resolved), for COPY's REGION.
async fn bucket_regions(
    config: &Config,
    aws: &mut AwsConnections,
) -> Result<HashMap<String, String>, ConnectError> {
    let mut regions = HashMap::new();
    for table in config.tables.iter().filter(|t| matches!(t.store, StoreLocation::S3 { .. })) {
        let connection = aws.connect(settings_for(config, table)).await.map_err(|e| aws_failed(table, e))?;
        regions.insert(table.name.clone(), connection.region().to_owned());
    }
    Ok(regions)
}

/// The Data API client's settings: `[warehouse]`'s own, then `[defaults]`' region and profile.
/// The endpoint never falls back: a stand-in for S3 and DynamoDB is not one for Redshift.
fn redshift_client_settings(defaults: &AwsSettings, warehouse: &AwsSettings) -> AwsSettings {
    AwsSettings {
        region: warehouse.region.clone().or_else(|| defaults.region.clone()),
        profile: warehouse.profile.clone().or_else(|| defaults.profile.clone()),
        endpoint_url: warehouse.endpoint_url.clone(),
    }
}

/// The connection settings of a PostgreSQL warehouse, its password read from the environment
/// (through `env`) now rather than at config loading: loading does no I/O, and `--check` must
/// work without the secret.
fn postgres_settings(
    url: &str,
    password_env: Option<&str>,
    tls: TlsMode,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ConnectSettings, ConnectError> {
    let failed = |message: String| ConnectError::Failed { what: "postgres warehouse".into(), message };
    // Validated when the config was loaded; the parse error is never quoted with the URL.
    let mut pg_config: tokio_postgres::Config =
        url.parse().map_err(|e| failed(format!("`url` in [warehouse] does not parse ({e})")))?;
    if let Some(password) = postgres_password(password_env, env)? {
        pg_config.password(password);
    }
    ConnectSettings::from_config(pg_config, tls).map_err(|e| failed(e.to_string()))
}

fn tls_mode(tls: PostgresTls, ca_file: Option<&Path>) -> TlsMode {
    match tls {
        PostgresTls::Disable => TlsMode::Disable,
        PostgresTls::Require => TlsMode::Require { ca_file: ca_file.map(Path::to_path_buf) },
    }
}

/// The named variable's value (it must be set), else `PGPASSWORD`'s, else no password (trust,
/// certificate or IAM-proxy authentication).
fn postgres_password(
    password_env: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConnectError> {
    let non_empty = |name: &str| env(name).filter(|value| !value.is_empty());
    match password_env {
        Some(variable) => non_empty(variable)
            .map(Some)
            .ok_or_else(|| ConnectError::PasswordVariableUnset { variable: variable.to_owned() }),
        None => Ok(non_empty(PGPASSWORD)),
    }
}

async fn open_store(
    config: &Config,
    table: &TableConfig,
    aws: &mut AwsConnections,
) -> Result<Arc<dyn ObjectStore>, ConnectError> {
    Ok(match &table.store {
        StoreLocation::Local { root } => Arc::new(LocalStore::new(root)),
        StoreLocation::S3 { bucket, prefix } => {
            let connection =
                aws.connect(settings_for(config, table)).await.map_err(|e| aws_failed(table, e))?;
            Arc::new(S3Store::new(&connection, bucket, prefix))
        }
    })
}

fn aws_failed(table: &TableConfig, error: AwsSetupError) -> ConnectError {
    ConnectError::Failed {
        what: format!("AWS access of table `{}`", table.name),
        message: format!("{error} ({})", error.hint()),
    }
}

/// A table's source, and the table as the source completed it.
struct OpenedSource {
    source: Arc<dyn ExportSource>,
    table: TableConfig,
}

async fn open_source(
    config: &Config,
    table: &TableConfig,
    store: Arc<dyn ObjectStore>,
    aws: &mut AwsConnections,
) -> Result<OpenedSource, ConnectError> {
    let table_config = Arc::new(table.clone());
    let failed = |e: crate::source::SourceError| ConnectError::Failed {
        what: format!("source of table `{}`", table.name),
        message: format!("{e} ({})", e.hint()),
    };
    let source: Arc<dyn ExportSource> = match &table.source {
        SourceConfig::Demo => Arc::new(DemoSource::open(&config.demo, table_config, store).map_err(failed)?),
        SourceConfig::Exports { .. } => Arc::new(ExistingExports::new(table, store).map_err(failed)?),
        SourceConfig::Aws(_) => {
            let connection =
                aws.connect(settings_for(config, table)).await.map_err(|e| aws_failed(table, e))?;
            let source = AwsSource::connect(&connection, table_config).await.map_err(|e| match e {
                AwsConnectError::Source(e) => failed(e),
                AwsConnectError::Key(error) => {
                    ConnectError::Key { config: config.path.display().to_string(), error }
                }
            })?;
            let table = TableConfig::clone(source.table());
            return Ok(OpenedSource { source: Arc::new(source), table });
        }
    };
    Ok(OpenedSource { source, table: table.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-pa55";
    const URL: &str = "postgres://loader@db.example.com:5432/analytics";

    fn env_with(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, value)| value.to_string())
    }

    #[test]
    fn the_password_comes_from_the_named_variable_then_pgpassword() {
        let env = env_with(&[("LOADER_PW", "from-named"), (PGPASSWORD, "from-pg")]);
        assert_eq!(postgres_password(Some("LOADER_PW"), &env).unwrap().as_deref(), Some("from-named"));
        assert_eq!(postgres_password(None, &env).unwrap().as_deref(), Some("from-pg"));
        assert_eq!(postgres_password(None, env_with(&[(PGPASSWORD, "")])).unwrap(), None);
        assert_eq!(postgres_password(None, env_with(&[])).unwrap(), None);
    }

    #[test]
    fn a_missing_named_variable_is_a_usage_error_naming_it() {
        let err = postgres_password(Some("LOADER_PW"), env_with(&[(PGPASSWORD, "ignored")])).unwrap_err();
        assert!(matches!(&err, ConnectError::PasswordVariableUnset { variable } if variable == "LOADER_PW"));
        assert_eq!(err.exit_code(), EXIT_USAGE);
        assert!(err.to_string().contains("export LOADER_PW"), "{err}");
        let empty = postgres_password(Some("LOADER_PW"), env_with(&[("LOADER_PW", "")])).unwrap_err();
        assert!(matches!(empty, ConnectError::PasswordVariableUnset { .. }));
    }

    #[test]
    fn settings_carry_the_password_but_never_show_it() {
        let tls = tls_mode(PostgresTls::Require, None);
        let settings =
            postgres_settings(URL, Some("LOADER_PW"), tls, env_with(&[("LOADER_PW", SECRET)])).unwrap();
        assert_eq!(settings.describe(), "postgres loader@db.example.com:5432/analytics (TLS)");
        assert!(!format!("{settings:?}").contains(SECRET));
        let unset = postgres_settings(URL, Some("LOADER_PW"), TlsMode::Disable, env_with(&[])).unwrap_err();
        assert!(matches!(unset, ConnectError::PasswordVariableUnset { .. }));
    }

    #[test]
    fn a_key_that_does_not_fit_is_a_usage_error_naming_the_config_file() {
        let error = KeyError::Mismatch {
            table: "orders".into(),
            written: vec!["id".into()],
            described: vec!["pk".into(), "sk".into()],
        };
        let error = ConnectError::Key { config: "/etc/dynashift/tables.toml".into(), error };
        assert_eq!(error.exit_code(), EXIT_USAGE);
        assert!(
            error.to_string().starts_with("/etc/dynashift/tables.toml: `key` of table `orders` is [\"id\"]"),
            "{error}"
        );
    }

    #[test]
    fn tls_and_the_ca_file_reach_the_settings() {
        assert_eq!(tls_mode(PostgresTls::Disable, None), TlsMode::Disable);
        let ca_file = Path::new("/etc/dynashift/rds.pem");
        assert_eq!(
            tls_mode(PostgresTls::Require, Some(ca_file)),
            TlsMode::Require { ca_file: Some(ca_file.to_path_buf()) }
        );
        let settings = postgres_settings(URL, None, TlsMode::Disable, env_with(&[])).unwrap();
        assert!(settings.describe().ends_with("(no TLS)"), "{}", settings.describe());
    }
}

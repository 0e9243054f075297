//! Picks and connects the concrete adapters the configuration names. The only module that knows
//! every adapter; the pipeline and the front ends see traits.

use std::collections::HashMap;
use std::sync::Arc;

use crate::aws::{AwsConnections, AwsSetupError, settings_for};
use crate::config::{Config, SourceConfig, StoreLocation, TableConfig, WarehouseConfig};
use crate::headless::{EXIT_RUN_FAILED, EXIT_USAGE};
use crate::pipeline::{Adapters, TableAdapters};
use crate::source::ExportSource;
use crate::source::aws::AwsSource;
use crate::source::demo::DemoSource;
use crate::source::exports::ExistingExports;
use crate::store::{LocalStore, ObjectStore, S3Store};
use crate::warehouse::Warehouse;
use crate::warehouse::sqlite::SqliteWarehouse;

/// Why the adapters could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The configuration asks for something this build cannot do.
    #[error("{config}: table `{table}`: {message}")]
    Unsupported { config: String, table: String, message: String },
    /// An adapter could not be opened (I/O, a corrupt state file…).
    #[error("{what}: {message}")]
    Failed { what: String, message: String },
}

impl ConnectError {
    /// Unsupported settings are configuration errors (2); failures to open are run failures (1).
    pub fn exit_code(&self) -> u8 {
        match self {
            ConnectError::Unsupported { .. } => EXIT_USAGE,
            ConnectError::Failed { .. } => EXIT_RUN_FAILED,
        }
    }
}

/// Builds every adapter of `config`.
pub async fn connect(config: &Config) -> Result<Adapters, ConnectError> {
    let warehouse = open_warehouse(&config.warehouse)?;
    let mut aws = AwsConnections::default();
    let mut stores: HashMap<StoreLocation, Arc<dyn ObjectStore>> = HashMap::new();
    let mut tables = HashMap::new();
    for table in &config.tables {
        let store = match stores.get(&table.store) {
            Some(store) => store.clone(),
            None => {
                let store = open_store(config, table, &mut aws).await?;
                stores.insert(table.store.clone(), store.clone());
                store
            }
        };
        let source = open_source(config, table, store.clone(), &mut aws).await?;
        tables.insert(table.name.clone(), TableAdapters { source, store });
    }
    Ok(Adapters { warehouse, tables })
}

fn open_warehouse(config: &WarehouseConfig) -> Result<Arc<dyn Warehouse>, ConnectError> {
    match config {
        WarehouseConfig::Sqlite { path } => SqliteWarehouse::open(path)
            .map(|w| Arc::new(w) as Arc<dyn Warehouse>)
            .map_err(|e| ConnectError::Failed {
                what: format!("sqlite warehouse {}", path.display()),
                message: e.to_string(),
            }),
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

async fn open_source(
    config: &Config,
    table: &TableConfig,
    store: Arc<dyn ObjectStore>,
    aws: &mut AwsConnections,
) -> Result<Arc<dyn ExportSource>, ConnectError> {
    let table_config = Arc::new(table.clone());
    let failed = |e: crate::source::SourceError| ConnectError::Failed {
        what: format!("source of table `{}`", table.name),
        message: format!("{e} ({})", e.hint()),
    };
    Ok(match &table.source {
        SourceConfig::Demo => Arc::new(DemoSource::open(&config.demo, table_config, store).map_err(failed)?),
        SourceConfig::Exports { .. } => Arc::new(ExistingExports::new(table, store).map_err(failed)?),
        SourceConfig::Aws(_) => {
            let connection =
                aws.connect(settings_for(config, table)).await.map_err(|e| aws_failed(table, e))?;
            Arc::new(AwsSource::connect(&connection, table_config).await.map_err(failed)?)
        }
    })
}

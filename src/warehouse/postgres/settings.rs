//! Where the warehouse is and how to reach it: a libpq-style URL or key=value string (parsed by
//! tokio-postgres), the TLS mode, and how patiently transient failures are retried.
//!
//! The URL may carry a password. It is kept inside the tokio-postgres config (whose Debug
//! output redacts it) and never shown: [`ConnectSettings::describe`] names host, port,
//! database and user only, and errors never quote the URL.

use std::time::Duration;

use tokio_postgres::Config;
use tokio_postgres::config::{Host, SslMode};

use crate::retry::RetryPolicy;
use crate::warehouse::WarehouseError;

use super::tls::TlsMode;

/// How long connecting may take when the URL does not say (`connect_timeout`).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the sessions show as `application_name` in `pg_stat_activity` unless the URL says.
const APPLICATION_NAME: &str = "dynashift";

/// A validated connection target.
#[derive(Clone)]
pub struct ConnectSettings {
    pub(super) config: Config,
    pub(super) tls: TlsMode,
    /// Connecting and reading commit records.
    pub(super) session_retry: RetryPolicy,
    /// Re-running a load that failed transiently before its COMMIT.
    pub(super) load_retry: RetryPolicy,
}

impl ConnectSettings {
    /// Parses `url` (`postgresql://user:password@host:port/db?…` or `host=… user=…`). An
    /// `sslmode` in it must agree with `tls`.
    pub fn from_url(url: &str, tls: TlsMode) -> Result<ConnectSettings, WarehouseError> {
        let config: Config = url.parse().map_err(|e| {
            settings_error(format!(
                "the connection URL does not parse ({e}); expected postgresql://user@host:port/database"
            ))
        })?;
        ConnectSettings::from_config(config, tls)
    }

    /// Uses a prepared tokio-postgres config (e.g. one whose password came from elsewhere).
    pub fn from_config(mut config: Config, tls: TlsMode) -> Result<ConnectSettings, WarehouseError> {
        if config.get_hosts().is_empty() {
            return Err(settings_error("the connection URL names no host".into()));
        }
        if config.get_user().is_none() {
            return Err(settings_error("the connection URL names no user".into()));
        }
        check_ssl_mode(config.get_ssl_mode(), &tls)?;
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Require { .. } => SslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        Ok(ConnectSettings {
            config,
            tls,
            session_retry: RetryPolicy::WAREHOUSE_SESSION,
            load_retry: RetryPolicy::WAREHOUSE_LOAD,
        })
    }

    /// How transient failures are retried: `session` for connecting and reading commit
    /// records ([`RetryPolicy::WAREHOUSE_SESSION`] unless set), `load` for re-running a load
    /// ([`RetryPolicy::WAREHOUSE_LOAD`] unless set).
    pub fn with_retry_policies(mut self, session: RetryPolicy, load: RetryPolicy) -> ConnectSettings {
        self.session_retry = session;
        self.load_retry = load;
        self
    }

    /// `postgres user@host:port/database (TLS)`: everything but the password.
    pub fn describe(&self) -> String {
        let ports = self.config.get_ports();
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let host = match host {
                    Host::Tcp(name) => name.clone(),
                    Host::Unix(path) => path.display().to_string(),
                };
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                format!("{host}:{port}")
            })
            .collect();
        let user = self.config.get_user().unwrap_or_default();
        let database = self.config.get_dbname().unwrap_or(user);
        format!("postgres {user}@{}/{database} ({})", hosts.join(","), self.tls.describe())
    }
}

impl std::fmt::Debug for ConnectSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// `sslmode=prefer` is tokio-postgres's default, so it cannot be told from "not set" and
/// yields to `tls`; `disable` and `require` must agree with it.
fn check_ssl_mode(url_mode: SslMode, tls: &TlsMode) -> Result<(), WarehouseError> {
    match (url_mode, tls) {
        (SslMode::Disable, TlsMode::Require { .. }) => Err(settings_error(
            "the connection URL says sslmode=disable but TLS is required; drop one of the two".into(),
        )),
        (SslMode::Require, TlsMode::Disable) => Err(settings_error(
            "the connection URL says sslmode=require but TLS is disabled; enable TLS for the warehouse"
                .into(),
        )),
        _ => Ok(()),
    }
}

fn settings_error(message: String) -> WarehouseError {
    WarehouseError::Connection(format!("postgres warehouse: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-pa55";

    #[test]
    fn describes_everything_but_the_password() {
        let url = format!("postgresql://loader:{SECRET}@db.example.com:6543/warehouse");
        let settings = ConnectSettings::from_url(&url, TlsMode::Require { ca_file: None }).unwrap();
        assert_eq!(settings.describe(), "postgres loader@db.example.com:6543/warehouse (TLS)");
        assert!(!format!("{settings:?}").contains(SECRET));
        assert_eq!(settings.config.get_password(), Some(SECRET.as_bytes()));
    }

    #[test]
    fn defaults_the_database_to_the_user_and_fills_timeouts() {
        let settings = ConnectSettings::from_url("host=localhost user=me", TlsMode::Disable).unwrap();
        assert_eq!(settings.describe(), "postgres me@localhost:5432/me (no TLS)");
        assert_eq!(settings.config.get_connect_timeout(), Some(&DEFAULT_CONNECT_TIMEOUT));
        assert_eq!(settings.config.get_application_name(), Some(APPLICATION_NAME));
        assert_eq!(settings.config.get_ssl_mode(), SslMode::Disable);
        assert_eq!(settings.session_retry, RetryPolicy::WAREHOUSE_SESSION);
        assert_eq!(settings.load_retry, RetryPolicy::WAREHOUSE_LOAD);
        let patient = settings.with_retry_policies(RetryPolicy::CONTROL_PLANE, RetryPolicy::EXPORT_API);
        assert_eq!(
            (patient.session_retry, patient.load_retry),
            (RetryPolicy::CONTROL_PLANE, RetryPolicy::EXPORT_API)
        );
    }

    #[test]
    fn a_contradicting_sslmode_is_refused() {
        let err =
            ConnectSettings::from_url("postgresql://u@h/d?sslmode=require", TlsMode::Disable).unwrap_err();
        assert!(err.to_string().contains("sslmode=require but TLS is disabled"), "{err}");
        let tls = TlsMode::Require { ca_file: None };
        let err = ConnectSettings::from_url("postgresql://u@h/d?sslmode=disable", tls.clone()).unwrap_err();
        assert!(err.to_string().contains("sslmode=disable but TLS is required"), "{err}");
        let prefer = ConnectSettings::from_url("postgresql://u@h/d?sslmode=prefer", tls).unwrap();
        assert_eq!(prefer.config.get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn parse_errors_never_quote_the_url() {
        let url = format!("postgresql://u:{SECRET}@h:notaport/d");
        let err = ConnectSettings::from_url(&url, TlsMode::Disable).unwrap_err().to_string();
        assert!(err.contains("does not parse") && !err.contains(SECRET), "{err}");
        let err = ConnectSettings::from_url("postgresql:///d", TlsMode::Disable).unwrap_err().to_string();
        assert!(err.contains("names no host"), "{err}");
    }
}

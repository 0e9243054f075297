//! The rules for `url` in a PostgreSQL `[warehouse]`: a `postgres://` URL tokio-postgres can
//! parse, naming host and user, with no password in it and no `sslmode` contradicting `tls`.
//!
//! Config files get committed, shared and pasted into tickets, so the password comes from the
//! environment at connect time (`password_env` or `PGPASSWORD`). A URL that carries one is
//! refused without quoting its line: the message must not put the password into a CI log.

use std::ops::Range;

use tokio_postgres::config::SslMode;

use super::issues::Issues;
use super::model::PostgresTls;

const SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

const URL_HINT: &str = "write url = \"postgres://USER@HOST:PORT/DATABASE\", e.g. \
                        \"postgres://loader@db.example.com:5432/analytics\"";

const PASSWORD_HINT: &str = "remove the password from the URL and keep it in an environment variable: \
                             password_env = \"DYNASHIFT_PG_PASSWORD\" names the variable, or leave \
                             password_env out and set PGPASSWORD";

/// Checks `url` (at `span`), reporting every problem into `issues`; true when it is usable.
pub(super) fn check_postgres_url(url: &str, span: Range<usize>, tls: PostgresTls, issues: &Issues) -> bool {
    if carries_password(url) {
        report_password(issues);
        return false;
    }
    match url_problem(url, tls) {
        Ok(()) => true,
        Err(UrlProblem::Password) => {
            report_password(issues);
            false
        }
        Err(UrlProblem::Placed { message, hint }) => {
            issues.report(span, message, hint);
            false
        }
    }
}

/// Why a URL is refused.
enum UrlProblem {
    /// Reported without its line (see the module documentation).
    Password,
    Placed {
        message: String,
        hint: String,
    },
}

fn placed(message: impl Into<String>, hint: impl Into<String>) -> UrlProblem {
    UrlProblem::Placed { message: message.into(), hint: hint.into() }
}

fn url_problem(url: &str, tls: PostgresTls) -> Result<(), UrlProblem> {
    if !SCHEMES.iter().any(|scheme| url.starts_with(scheme)) {
        return Err(placed("`url` in [warehouse] is not a postgres:// URL", URL_HINT));
    }
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| placed(format!("`url` in [warehouse] is not a valid PostgreSQL URL: {e}"), URL_HINT))?;
    if config.get_password().is_some() {
        return Err(UrlProblem::Password);
    }
    if config.get_hosts().is_empty() {
        return Err(placed("`url` in [warehouse] names no host", URL_HINT));
    }
    if config.get_user().is_none() {
        return Err(placed("`url` in [warehouse] names no user", URL_HINT));
    }
    check_ssl_mode(config.get_ssl_mode(), tls)
}

/// `sslmode=prefer` is the parser's default, so it cannot be told from "not written" and
/// yields to `tls`; `disable` and `require` must agree with it.
fn check_ssl_mode(ssl_mode: SslMode, tls: PostgresTls) -> Result<(), UrlProblem> {
    match (ssl_mode, tls) {
        (SslMode::Disable, PostgresTls::Require) => Err(placed(
            "`url` in [warehouse] says sslmode=disable, but `tls` is \"require\" (the default)",
            "drop sslmode from the URL and set tls = \"disable\" or \"require\" instead",
        )),
        (SslMode::Require, PostgresTls::Disable) => Err(placed(
            "`url` in [warehouse] says sslmode=require, but `tls` is \"disable\"",
            "drop sslmode from the URL and set tls = \"require\"",
        )),
        _ => Ok(()),
    }
}

/// A password in the URL's user info (`user:secret@`) or in a `password=` option — checked
/// before parsing, so that even a URL that does not parse is never quoted with its password.
fn carries_password(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
    let user_info = authority.rsplit_once('@').map(|(user_info, _)| user_info);
    user_info.is_some_and(|info| info.contains(':')) || url.contains("password=")
}

fn report_password(issues: &Issues) {
    let message = "`url` in [warehouse] contains a password; passwords do not belong in the config \
                   (the line is not shown, to keep the password out of logs)";
    issues.report_unplaced(message, PASSWORD_HINT);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (message, hint, placed) of each problem.
    fn problems(url: &str, tls: PostgresTls) -> Vec<(String, String, bool)> {
        let issues = Issues::default();
        let usable = check_postgres_url(url, 3..9, tls, &issues);
        let problems: Vec<_> =
            issues.into_sorted().into_iter().map(|i| (i.message, i.hint, i.span.is_some())).collect();
        assert_eq!(usable, problems.is_empty(), "{problems:?}");
        problems
    }

    #[test]
    fn accepts_urls_with_user_host_port_database_and_options() {
        for url in [
            "postgres://loader@db.example.com:5432/analytics",
            "postgresql://loader@10.0.0.7/analytics?connect_timeout=10&sslmode=prefer",
            "postgres://loader@[::1]:6543/analytics",
        ] {
            assert!(problems(url, PostgresTls::Require).is_empty(), "{url}");
        }
    }

    #[test]
    fn a_password_is_refused_without_quoting_the_line() {
        for url in [
            "postgres://loader:hunter2@db.example.com/analytics",
            "postgres://loader:@db/analytics",
            "postgres://loader@db/analytics?password=hunter2",
            "postgres://loader:hunter2@db:notaport/analytics",
        ] {
            let problems = problems(url, PostgresTls::Require);
            assert_eq!(problems.len(), 1, "{url}: {problems:?}");
            let (message, hint, placed) = &problems[0];
            assert!(message.contains("contains a password"), "{message}");
            assert!(hint.contains("password_env") && hint.contains("PGPASSWORD"), "{hint}");
            assert!(!placed, "{url}: the line holding the password must not be shown");
        }
    }

    #[test]
    fn other_shapes_are_explained_at_the_url() {
        let cases = [
            ("db.example.com:5432/analytics", "is not a postgres:// URL"),
            ("mysql://loader@db/analytics", "is not a postgres:// URL"),
            ("postgres://loader@db:port/analytics", "is not a valid PostgreSQL URL"),
            ("postgres:///analytics", "names no host"),
            ("postgres://db.example.com/analytics", "names no user"),
        ];
        for (url, expected) in cases {
            let problems = problems(url, PostgresTls::Require);
            assert_eq!(problems.len(), 1, "{url}: {problems:?}");
            assert!(problems[0].0.contains(expected) && problems[0].2, "{url}: {problems:?}");
        }
    }

    #[test]
    fn an_sslmode_contradicting_tls_is_refused() {
        let disabled = problems("postgres://u@h/d?sslmode=disable", PostgresTls::Require);
        assert!(disabled[0].0.contains("says sslmode=disable"), "{disabled:?}");
        let required = problems("postgres://u@h/d?sslmode=require", PostgresTls::Disable);
        assert!(required[0].0.contains("says sslmode=require"), "{required:?}");
        assert!(problems("postgres://u@h/d?sslmode=disable", PostgresTls::Disable).is_empty());
    }
}

//! `[warehouse]`: which warehouse tables are loaded into, and how to reach it.
//!
//! Each kind has its own keys; a key of the other kind is reported rather than ignored, so a
//! `url` left behind under `kind = "sqlite"` does not silently load into the wrong place.
//! Nothing here reads the environment: the PostgreSQL password variable is looked up when
//! dynashift connects (validation does no I/O, and `--check` must not need the secret).

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::defaults;
use super::issues::Issues;
use super::location::resolve_path;
use super::model::{PostgresTls, WarehouseConfig};
use super::postgres_url::check_postgres_url;
use super::raw::{RawWarehouse, WarehouseKind, written};
use super::redshift::redshift;

const URL_EXAMPLE: &str = "url = \"postgres://loader@db.example.com:5432/analytics\"";

/// The validated `[warehouse]`; `None` when a problem was reported.
pub(super) fn validate_warehouse(
    raw: &RawWarehouse,
    base_dir: &Path,
    issues: &Issues,
) -> Option<WarehouseConfig> {
    if raw.kind_unknown {
        return None;
    }
    let kind = written(&raw.kind).unwrap_or(WarehouseKind::Sqlite);
    let foreign_keys = report_keys_of_other_kinds(raw, kind, issues);
    let config = match kind {
        WarehouseKind::Sqlite => sqlite(raw, base_dir, issues),
        WarehouseKind::Postgres => postgres(raw, base_dir, issues),
        WarehouseKind::Redshift => redshift(raw, issues),
    };
    if foreign_keys { None } else { config }
}

fn sqlite(raw: &RawWarehouse, base_dir: &Path, issues: &Issues) -> Option<WarehouseConfig> {
    let path = match &raw.path {
        Some(path) => resolve_path(base_dir, path, "`path` in [warehouse]", issues),
        None => Some(base_dir.join(defaults::WAREHOUSE_PATH)),
    };
    Some(WarehouseConfig::Sqlite { path: path? })
}

fn postgres(raw: &RawWarehouse, base_dir: &Path, issues: &Issues) -> Option<WarehouseConfig> {
    let tls = written(&raw.tls).unwrap_or(PostgresTls::Require);
    let url = match &raw.url {
        Some(url) => {
            check_postgres_url(url.get_ref(), url.span(), tls, issues).then(|| url.get_ref().clone())
        }
        None => {
            report_missing_url(raw, issues);
            None
        }
    };
    let password_env = raw.password_env.as_ref().map(|name| check_variable_name(name, issues));
    let ca_file = raw.ca_file.as_ref().map(|path| ca_file(path, tls, base_dir, issues));
    Some(WarehouseConfig::Postgres {
        url: url?,
        password_env: password_env.map_or(Some(None), |name| name.map(Some))?,
        tls,
        ca_file: ca_file.map_or(Some(None), |path| path.map(Some))?,
    })
}

fn span_of<T>(value: &Option<Spanned<T>>) -> Option<Range<usize>> {
    value.as_ref().map(Spanned::span)
}

/// Reports each written key that belongs to another kind than `kind`; true when any was written.
fn report_keys_of_other_kinds(raw: &RawWarehouse, kind: WarehouseKind, issues: &Issues) -> bool {
    let mut any = false;
    for (name, owner, span) in raw.written_keys() {
        if owner == kind {
            continue;
        }
        any = true;
        let (kind, owner) = (kind.name(), owner.name());
        let message = format!("`{name}` in [warehouse] is a {owner} setting, but kind is \"{kind}\"");
        let hint = format!("remove `{name}`, or set kind = \"{owner}\" to load into {owner}");
        issues.report(span, message, hint);
    }
    any
}

fn report_missing_url(raw: &RawWarehouse, issues: &Issues) {
    let message = "[warehouse] with kind = \"postgres\" needs `url`, the database to load into";
    let hint = format!("add {URL_EXAMPLE} (without the password: see password_env)");
    match span_of(&raw.kind) {
        Some(span) => issues.report(span, message, hint),
        None => issues.report_unplaced(message, hint),
    }
}

/// A POSIX environment variable name. A value that is not one may be the password itself
/// pasted in the wrong key, so it is neither quoted nor shown with its line.
fn check_variable_name(name: &Spanned<String>, issues: &Issues) -> Option<String> {
    let text = name.get_ref();
    let mut chars = text.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        return Some(text.clone());
    }
    let message = "`password_env` in [warehouse] is not an environment variable name \
                   (the line is not shown, in case it holds the password itself)";
    let hint = "password_env names the variable that holds the password, like \
                password_env = \"DYNASHIFT_PG_PASSWORD\" (letters, digits and _, not starting with a digit)";
    issues.report_unplaced(message, hint);
    None
}

fn ca_file(path: &Spanned<String>, tls: PostgresTls, base_dir: &Path, issues: &Issues) -> Option<PathBuf> {
    if tls == PostgresTls::Disable {
        let message = "`ca_file` in [warehouse] verifies TLS certificates, but tls is \"disable\"";
        issues.report(path.span(), message, "remove ca_file, or set tls = \"require\"");
        return None;
    }
    resolve_path(base_dir, path, "`ca_file` in [warehouse]", issues)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{PostgresTls, WarehouseConfig, load_str};

    const TABLE: &str = "[[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n";

    fn warehouse(section: &str) -> Result<WarehouseConfig, Vec<(String, Option<usize>)>> {
        load_str(&format!("[warehouse]\n{section}\n{TABLE}"), Path::new("/c/tables.toml"))
            .map(|config| config.warehouse)
            .map_err(|error| error.problems.into_iter().map(|p| (p.message, p.line)).collect())
    }

    fn messages(section: &str) -> Vec<String> {
        warehouse(section).expect_err("refused").into_iter().map(|(message, _)| message).collect()
    }

    #[test]
    fn a_postgres_warehouse_with_every_key() {
        let config = warehouse(
            "kind = \"postgres\"\nurl = \"postgres://loader@db.example.com:5432/analytics\"\n\
             password_env = \"PG_LOADER_PASSWORD\"\ntls = \"require\"\nca_file = \"certs/rds.pem\"",
        );
        assert_eq!(
            config,
            Ok(WarehouseConfig::Postgres {
                url: "postgres://loader@db.example.com:5432/analytics".into(),
                password_env: Some("PG_LOADER_PASSWORD".into()),
                tls: PostgresTls::Require,
                ca_file: Some("/c/certs/rds.pem".into()),
            })
        );
    }

    #[test]
    fn tls_is_required_unless_disabled() {
        let url = "url = \"postgres://loader@db/analytics\"";
        let Ok(WarehouseConfig::Postgres { tls, password_env, ca_file, .. }) =
            warehouse(&format!("kind = \"postgres\"\n{url}"))
        else {
            panic!("a minimal postgres warehouse loads")
        };
        assert_eq!((tls, password_env, ca_file), (PostgresTls::Require, None, None));
        let disabled = warehouse(&format!("kind = \"postgres\"\n{url}\ntls = \"disable\""));
        assert!(matches!(disabled, Ok(WarehouseConfig::Postgres { tls: PostgresTls::Disable, .. })));
    }

    #[test]
    fn a_password_in_the_url_is_refused_and_never_shown() {
        let problems = warehouse("kind = \"postgres\"\nurl = \"postgres://loader:hunter2@db/analytics\"")
            .expect_err("refused");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].0.contains("contains a password"), "{problems:?}");
        let error = load_str(
            &format!("[warehouse]\nkind = \"postgres\"\nurl = \"postgres://loader:hunter2@db/a\"\n{TABLE}"),
            Path::new("/c/tables.toml"),
        )
        .unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(error.to_string().contains("password_env"), "{error}");
    }

    #[test]
    fn a_missing_url_is_reported_at_the_kind() {
        let problems = warehouse("kind = \"postgres\"").expect_err("refused");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].0.contains("needs `url`"), "{problems:?}");
        assert_eq!(problems[0].1, Some(2));
    }

    #[test]
    fn an_unknown_tls_value_lists_the_accepted_ones() {
        let problems = messages("kind = \"postgres\"\nurl = \"postgres://u@h/d\"\ntls = \"verify-full\"");
        assert_eq!(problems, ["`tls` in [warehouse] is \"verify-full\", which is not an accepted value"]);
    }

    #[test]
    fn keys_of_the_other_kind_are_reported() {
        let problems = messages("url = \"postgres://u@h/d\"\ntls = \"disable\"");
        assert_eq!(
            problems,
            [
                "`url` in [warehouse] is a postgres setting, but kind is \"sqlite\"",
                "`tls` in [warehouse] is a postgres setting, but kind is \"sqlite\"",
            ]
        );
        let problems = messages("kind = \"postgres\"\nurl = \"postgres://u@h/d\"\npath = \"w.sqlite\"");
        assert_eq!(problems, ["`path` in [warehouse] is a sqlite setting, but kind is \"postgres\""]);
    }

    #[test]
    fn password_env_must_name_a_variable_and_is_never_quoted() {
        let problems =
            messages("kind = \"postgres\"\nurl = \"postgres://u@h/d\"\npassword_env = \"s3cr3t!\"");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("`password_env` in [warehouse] is not an environment variable name"));
        assert!(!problems[0].contains("s3cr3t"));
        for name in ["", "1PASSWORD", "PG-PASSWORD"] {
            let section =
                format!("kind = \"postgres\"\nurl = \"postgres://u@h/d\"\npassword_env = \"{name}\"");
            assert_eq!(messages(&section).len(), 1, "{name:?}");
        }
    }

    #[test]
    fn a_ca_file_needs_tls() {
        let problems = messages(
            "kind = \"postgres\"\nurl = \"postgres://u@h/d\"\ntls = \"disable\"\nca_file = \"ca.pem\"",
        );
        assert_eq!(problems, ["`ca_file` in [warehouse] verifies TLS certificates, but tls is \"disable\""]);
    }

    #[test]
    fn unknown_kinds_get_a_hint_and_no_follow_up_problems() {
        let error = load_str(
            &format!("[warehouse]\nkind = \"postgresql\"\nurl = \"postgres://u@h/d\"\n{TABLE}"),
            Path::new("/c/tables.toml"),
        )
        .unwrap_err();
        assert_eq!(error.problems.len(), 1, "{error}");
        assert!(error.problems[0].hint.contains("kind = \"postgres\""), "{error}");
    }
}

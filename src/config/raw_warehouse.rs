//! The `[warehouse]` section of the `tables.toml` schema, read into span-carrying shapes (the
//! rest of the schema is in `raw.rs`). Which keys suit which `kind` is the validators' job
//! (`warehouse.rs`, `redshift.rs`).

use toml::Spanned;

use super::model::PostgresTls;
use super::reader::{Key, Section};

pub(super) const WAREHOUSE_KEYS: &[Key] = &[
    Key::new("kind", "kind = \"sqlite\""),
    Key::new("path", "path = \".dynashift/warehouse.sqlite\""),
    Key::new("url", "url = \"postgres://loader@db.example.com:5432/analytics\""),
    Key::new("password_env", "password_env = \"DYNASHIFT_PG_PASSWORD\""),
    Key::new("tls", "tls = \"require\""),
    Key::new("ca_file", "ca_file = \"rds-global-bundle.pem\""),
    Key::new("workgroup", "workgroup = \"analytics\""),
    Key::new("cluster_id", "cluster_id = \"analytics-cluster\""),
    Key::new("db_user", "db_user = \"loader\""),
    Key::new(
        "secret_arn",
        "secret_arn = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:loader-AbCdEf\"",
    ),
    Key::new("database", "database = \"dev\""),
    Key::new("iam_role", "iam_role = \"arn:aws:iam::123456789012:role/redshift-copy\""),
    Key::new("copy_region", "copy_region = \"eu-west-1\""),
    Key::new("region", "region = \"us-east-1\""),
    Key::new("profile", "profile = \"analytics\""),
    Key::new("endpoint_url", "endpoint_url = \"http://127.0.0.1:9000\""),
];

/// `kind = "sqlite" | "postgres" | "redshift"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WarehouseKind {
    Sqlite,
    Postgres,
    Redshift,
}

impl WarehouseKind {
    pub(super) fn name(self) -> &'static str {
        match self {
            WarehouseKind::Sqlite => "sqlite",
            WarehouseKind::Postgres => "postgres",
            WarehouseKind::Redshift => "redshift",
        }
    }
}

/// `[warehouse]`; which keys suit which `kind` is the validator's job.
#[derive(Debug, Default)]
pub(super) struct RawWarehouse {
    pub kind: Option<Spanned<WarehouseKind>>,
    /// `kind` was written but names no warehouse (already reported): the other keys cannot be
    /// checked against it.
    pub kind_unknown: bool,
    pub path: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub tls: Option<Spanned<PostgresTls>>,
    pub ca_file: Option<Spanned<String>>,
    pub redshift: RawRedshift,
}

/// The `[warehouse]` keys of `kind = "redshift"`.
#[derive(Debug, Default)]
pub(super) struct RawRedshift {
    pub workgroup: Option<Spanned<String>>,
    pub cluster_id: Option<Spanned<String>>,
    pub db_user: Option<Spanned<String>>,
    pub secret_arn: Option<Spanned<String>>,
    pub database: Option<Spanned<String>>,
    pub iam_role: Option<Spanned<String>>,
    pub copy_region: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub profile: Option<Spanned<String>>,
    pub endpoint_url: Option<Spanned<String>>,
}

impl RawWarehouse {
    /// Every written key but `kind`, with the warehouse kind it belongs to and its span.
    pub(super) fn written_keys(&self) -> Vec<(&'static str, WarehouseKind, std::ops::Range<usize>)> {
        use WarehouseKind::{Postgres, Redshift, Sqlite};
        let r = &self.redshift;
        let keys: [(&'static str, WarehouseKind, Option<std::ops::Range<usize>>); 15] = [
            ("path", Sqlite, self.path.as_ref().map(Spanned::span)),
            ("url", Postgres, self.url.as_ref().map(Spanned::span)),
            ("password_env", Postgres, self.password_env.as_ref().map(Spanned::span)),
            ("tls", Postgres, self.tls.as_ref().map(Spanned::span)),
            ("ca_file", Postgres, self.ca_file.as_ref().map(Spanned::span)),
            ("workgroup", Redshift, r.workgroup.as_ref().map(Spanned::span)),
            ("cluster_id", Redshift, r.cluster_id.as_ref().map(Spanned::span)),
            ("db_user", Redshift, r.db_user.as_ref().map(Spanned::span)),
            ("secret_arn", Redshift, r.secret_arn.as_ref().map(Spanned::span)),
            ("database", Redshift, r.database.as_ref().map(Spanned::span)),
            ("iam_role", Redshift, r.iam_role.as_ref().map(Spanned::span)),
            ("copy_region", Redshift, r.copy_region.as_ref().map(Spanned::span)),
            ("region", Redshift, r.region.as_ref().map(Spanned::span)),
            ("profile", Redshift, r.profile.as_ref().map(Spanned::span)),
            ("endpoint_url", Redshift, r.endpoint_url.as_ref().map(Spanned::span)),
        ];
        keys.into_iter().filter_map(|(name, kind, span)| Some((name, kind, span?))).collect()
    }
}

pub(super) fn read_warehouse(section: &Section<'_, '_>) -> RawWarehouse {
    let kind = read_warehouse_kind(section);
    RawWarehouse {
        kind_unknown: kind.is_none() && section.value("kind").is_some(),
        kind,
        path: section.string("path"),
        url: section.string("url"),
        password_env: section.string("password_env"),
        tls: section.choice("tls", &[("disable", PostgresTls::Disable), ("require", PostgresTls::Require)]),
        ca_file: section.string("ca_file"),
        redshift: RawRedshift {
            workgroup: section.string("workgroup"),
            cluster_id: section.string("cluster_id"),
            db_user: section.string("db_user"),
            secret_arn: section.string("secret_arn"),
            database: section.string("database"),
            iam_role: section.string("iam_role"),
            copy_region: section.string("copy_region"),
            region: section.string("region"),
            profile: section.string("profile"),
            endpoint_url: section.string("endpoint_url"),
        },
    }
}

/// The warehouses dynashift loads into; near misses and the ones still to come get a hint
/// instead of a bare "no".
fn read_warehouse_kind(section: &Section<'_, '_>) -> Option<Spanned<WarehouseKind>> {
    let kind = section.string("kind")?;
    let hint = match kind.get_ref().as_str() {
        "sqlite" => return Some(Spanned::new(kind.span(), WarehouseKind::Sqlite)),
        "postgres" => return Some(Spanned::new(kind.span(), WarehouseKind::Postgres)),
        "redshift" => return Some(Spanned::new(kind.span(), WarehouseKind::Redshift)),
        "postgresql" | "aurora" | "rds" => {
            "write kind = \"postgres\" for PostgreSQL, RDS and Aurora".to_owned()
        }
        "redshift-serverless" | "serverless" => {
            "write kind = \"redshift\" with workgroup = \"…\" for Redshift Serverless".to_owned()
        }
        _ => "write kind = \"sqlite\" (the embedded default), \"postgres\" or \"redshift\"".to_owned(),
    };
    let message =
        format!("`kind` in [warehouse] is \"{}\", which dynashift cannot load into", kind.get_ref());
    section.issues().report(kind.span(), message, hint);
    None
}

//! `[defaults]`: settings every table inherits unless it overrides them. They are validated once
//! here (so a bad default is reported once, not once per table) and merged with the built-in
//! defaults.

use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::defaults;
use super::issues::Issues;
use super::location::parse_bucket;
use super::model::{
    Deletes, DriftPolicy, ExportAccounting, FullLoad, IncrementalLoad, PriceOverrides, StoreLocation,
    TypeErrorPolicy, ViewType,
};
use super::names::check_warehouse_name;
use super::raw::{RawOverrides, SourceKind, Unmapped, written};

/// Bytes per MiB (`staged_file_mb` is in MiB).
pub(super) const MIB: u64 = 1024 * 1024;

/// What a table gets for each overridable key it does not set.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Inherited {
    pub source: SourceKind,
    pub store: StoreLocation,
    pub safety_lag: Duration,
    pub max_window: Duration,
    pub view_type: ViewType,
    pub on_type_error: TypeErrorPolicy,
    pub on_drift: DriftPolicy,
    /// `None` when `[defaults]` does not say: then it depends on whether the table lists columns.
    pub unmapped: Option<Unmapped>,
    pub item_column: String,
    pub staged_file_bytes: u64,
    pub stage_memory_bytes: u64,
    pub full_load: FullLoad,
    pub incremental_load: IncrementalLoad,
    /// `[defaults]`' `every`, with its span: its floor depends on each table's source.
    pub every: Option<Spanned<Duration>>,
    pub accounting: ExportAccounting,
    pub deletes: Deletes,
}

impl Inherited {
    /// `[defaults]` over the built-in defaults. A default that fails validation is reported and
    /// replaced by the built-in one, so tables are still checked against something sensible.
    pub(super) fn resolve(defaults: &RawOverrides, base_dir: &Path, issues: &Issues) -> Inherited {
        let store = defaults
            .bucket
            .as_ref()
            .and_then(|b| parse_bucket(base_dir, b, "`bucket` in [defaults]", issues));
        let item_column = defaults
            .item_column
            .as_ref()
            .filter(|name| check_warehouse_name(name, "item_column", issues))
            .map_or_else(|| defaults::ITEM_COLUMN.to_owned(), |name| name.get_ref().clone());
        Inherited {
            source: written(&defaults.source).unwrap_or(SourceKind::Demo),
            store: store.unwrap_or_else(|| builtin_store(base_dir)),
            safety_lag: written(&defaults.safety_lag).unwrap_or(defaults::SAFETY_LAG),
            max_window: written(&defaults.max_window).unwrap_or(defaults::MAX_WINDOW),
            view_type: written(&defaults.view_type).unwrap_or(defaults::VIEW_TYPE),
            on_type_error: written(&defaults.on_type_error).unwrap_or(defaults::ON_TYPE_ERROR),
            on_drift: written(&defaults.on_drift).unwrap_or_default(),
            unmapped: written(&defaults.unmapped),
            item_column,
            staged_file_bytes: written(&defaults.staged_file_mb).unwrap_or(defaults::STAGED_FILE_MB) * MIB,
            stage_memory_bytes: written(&defaults.stage_memory_mb).unwrap_or(defaults::STAGE_MEMORY_MB) * MIB,
            full_load: written(&defaults.full_load).unwrap_or_default(),
            incremental_load: written(&defaults.incremental_load).unwrap_or_default(),
            every: defaults.every.clone(),
            accounting: accounting(defaults, ExportAccounting::default()),
            deletes: written(&defaults.deletes).unwrap_or_default(),
        }
    }
}

/// The prices and the item count check `overrides` sets, over `inherited`.
pub(super) fn accounting(overrides: &RawOverrides, inherited: ExportAccounting) -> ExportAccounting {
    ExportAccounting {
        prices: PriceOverrides {
            full_per_gb: written(&overrides.export_price_full_per_gb).or(inherited.prices.full_per_gb),
            incremental_per_gb: written(&overrides.export_price_incremental_per_gb)
                .or(inherited.prices.incremental_per_gb),
        },
        item_count_check: overrides.item_count_check.unwrap_or(inherited.item_count_check),
    }
}

/// The built-in bucket: a folder beside the config file.
fn builtin_store(base_dir: &Path) -> StoreLocation {
    let path = defaults::BUCKET.strip_prefix("file://").unwrap_or(defaults::BUCKET);
    StoreLocation::Local { root: base_dir.join(path) }
}

#[cfg(test)]
mod tests {
    use toml::Spanned;

    use super::*;

    #[test]
    fn built_in_defaults_apply_when_nothing_is_set() {
        let issues = Issues::default();
        let inherited = Inherited::resolve(&RawOverrides::default(), Path::new("/conf"), &issues);
        assert!(issues.is_empty());
        assert_eq!(inherited.source, SourceKind::Demo);
        assert_eq!(inherited.store, StoreLocation::Local { root: "/conf/.dynashift/bucket".into() });
        assert_eq!(inherited.safety_lag, Duration::from_secs(300));
        assert_eq!(inherited.max_window, Duration::from_secs(86_400));
        assert_eq!(inherited.view_type, ViewType::NewAndOldImages);
        assert_eq!(inherited.on_type_error, TypeErrorPolicy::Fail);
        assert_eq!(inherited.on_drift, DriftPolicy::Warn);
        assert_eq!(inherited.unmapped, None);
        assert_eq!(inherited.item_column, "item");
        assert_eq!(inherited.staged_file_bytes, 64 * MIB);
        assert_eq!(inherited.stage_memory_bytes, 256 * MIB);
        assert_eq!(inherited.full_load, FullLoad::Staged);
    }

    #[test]
    fn defaults_override_the_built_ins() {
        let raw = RawOverrides {
            source: Some(Spanned::new(0..1, SourceKind::Exports)),
            bucket: Some(Spanned::new(0..1, "s3://acme/x/".into())),
            unmapped: Some(Spanned::new(0..1, Unmapped::Keep)),
            item_column: Some(Spanned::new(0..1, "raw_item".into())),
            staged_file_mb: Some(Spanned::new(0..1, 8)),
            stage_memory_mb: Some(Spanned::new(0..1, 32)),
            full_load: Some(Spanned::new(0..1, FullLoad::Pushdown)),
            ..RawOverrides::default()
        };
        let issues = Issues::default();
        let inherited = Inherited::resolve(&raw, Path::new("/conf"), &issues);
        assert!(issues.is_empty());
        assert_eq!(inherited.source, SourceKind::Exports);
        assert_eq!(inherited.store, StoreLocation::S3 { bucket: "acme".into(), prefix: "x/".into() });
        assert_eq!(inherited.unmapped, Some(Unmapped::Keep));
        assert_eq!(inherited.item_column, "raw_item");
        assert_eq!(inherited.staged_file_bytes, 8 * MIB);
        assert_eq!(inherited.stage_memory_bytes, 32 * MIB);
        assert_eq!(inherited.full_load, FullLoad::Pushdown);
    }

    #[test]
    fn bad_defaults_are_reported_once_and_replaced() {
        let raw = RawOverrides {
            bucket: Some(Spanned::new(0..1, "ftp://x".into())),
            item_column: Some(Spanned::new(2..3, "Item".into())),
            ..RawOverrides::default()
        };
        let issues = Issues::default();
        let inherited = Inherited::resolve(&raw, Path::new("/conf"), &issues);
        assert_eq!(inherited.item_column, "item");
        assert!(matches!(inherited.store, StoreLocation::Local { .. }));
        let messages: Vec<String> = issues.into_sorted().into_iter().map(|i| i.message).collect();
        assert_eq!(messages.len(), 2);
        assert!(messages[1].starts_with("item_column \"Item\" contains uppercase"), "{messages:?}");
    }

    #[test]
    fn export_prices_and_the_item_count_check_inherit_and_override() {
        use crate::config::testing::{config_from, refusals};
        let config = config_from(
            "[defaults]\nexport_price_full_per_gb = 0.12\nitem_count_check = true\n\
             [[table]]\nname = \"orders\"\nkey = [\"pk\", \"sk\"]\nexport_price_incremental_per_gb = 0.2\n\
             [[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\nitem_count_check = false\n\
             export_price_full_per_gb = 1\n",
        );
        let orders = config.tables[0].accounting;
        assert_eq!(orders.prices, PriceOverrides { full_per_gb: Some(0.12), incremental_per_gb: Some(0.2) });
        assert!(orders.item_count_check);
        let customers = config.tables[1].accounting;
        assert_eq!(customers.prices, PriceOverrides { full_per_gb: Some(1.0), incremental_per_gb: None });
        assert!(!customers.item_count_check);
        let plain =
            config_from("[[table]]\nname = \"orders\"\nkey = [\"pk\", \"sk\"]\n").tables[0].accounting;
        assert_eq!(plain, ExportAccounting::default(), "off and list prices unless asked");

        let refused = refusals(
            "[defaults]\nexport_price_full_per_gb = \"0.10\"\nitem_count_check = \"yes\"\n\
             [[table]]\nname = \"orders\"\nkey = [\"pk\", \"sk\"]\nexport_price_incremental_per_gb = 25\n",
        );
        assert_eq!(refused.len(), 3, "{refused:#?}");
        assert!(
            refused.iter().any(|m| m.contains("`export_price_full_per_gb` in [defaults] must be a number"))
        );
        assert!(refused.iter().any(|m| m.contains("`item_count_check` in [defaults] must be true or false")));
        assert!(
            refused.iter().any(|m| m.contains("`export_price_incremental_per_gb` in table \"orders\" is 25"))
        );
    }
}

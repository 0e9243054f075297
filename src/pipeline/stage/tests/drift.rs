//! The stage counts schema drift: unmapped paths (top level, and below a map the columns read
//! into) with their types and item counts, type drift of mapped attributes, the same whether the
//! fold stays in memory or spills, and bounded however many new names an export invents.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::contract::drift::MAX_LISTED_PATHS;

/// An order with extra attributes merged in at the top level and into `detail`.
fn order_with(pk: &str, sk: u32, top: serde_json::Value, detail: serde_json::Value) -> String {
    let mut item: serde_json::Value = serde_json::from_str(&order(pk, sk, "1")).unwrap();
    for (name, value) in top.as_object().unwrap() {
        item[name] = value.clone();
    }
    for (name, value) in detail.as_object().unwrap() {
        item["detail"]["M"][name] = value.clone();
    }
    item.to_string()
}

fn paths(report: &DriftReport) -> Vec<(&str, u64)> {
    report.unmapped.iter().map(|a| (a.path.as_str(), a.items)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_export_reports_unmapped_paths_with_types_counts_and_a_columns_entry() {
    let (_dir, store) = store_in();
    let items = [
        order_with("a", 1, json!({"zip": {"S": "12345"}}), json!({"coupon": {"N": "5"}})),
        order_with("b", 2, json!({"zip": {"N": "12345"}, "a.b": {"BOOL": true}}), json!({})),
        order_with("c", 3, json!({"zip": {"NULL": true}}), json!({"total": {"S": "7"}})),
    ];
    let export = ExportFixture::full("full1")
        .file(&[full_line(&items[0]), full_line(&items[1])])
        .file(&[full_line(&items[2])])
        .write(&store)
        .await;
    let staged = run_stage(shared(&store), orders_table(), vec![export]).await.unwrap();
    let drift = &staged.drift;
    assert_eq!(drift.items_checked, 3);
    assert_eq!(paths(drift), [("status", 3), ("zip", 3), ("\"a.b\"", 1), ("detail.coupon", 1)]);
    let zip = &drift.unmapped[1];
    let types: Vec<(&str, u64)> = zip.types.iter().map(|(t, n)| (t.as_str(), *n)).collect();
    assert_eq!(types, [("N", 1), ("NULL", 1), ("S", 1)]);
    assert_eq!(zip.column_entry, r#"{ name = "zip", path = "zip", type = "super" }"#);
    assert_eq!(
        drift.unmapped[0].column_entry,
        r#"{ name = "status", path = "status", type = "varchar(32)" }"#
    );
    assert_eq!(drift.unmapped[2].column_entry, r#"{ name = "a_b", path = ["a.b"], type = "boolean" }"#);
    assert_eq!(
        drift.unmapped[3].column_entry,
        r#"{ name = "detail_coupon", path = "detail.coupon", type = "bigint" }"#
    );
    // `total` is decimal(12,2): the S "7" converts, but it is drift all the same.
    let [total] = drift.type_drift.as_slice() else { panic!("{:?}", drift.type_drift) };
    assert_eq!(
        (
            total.path.as_str(),
            total.column.as_str(),
            total.column_type.as_str(),
            total.seen.as_str(),
            total.items
        ),
        ("detail.total", "total", "decimal(12,2)", "S", 1)
    );
    assert_eq!(total.expected, ["N"]);
    assert_eq!(drift.untracked_paths, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_drifts_when_every_attribute_is_mapped() {
    let (_dir, store) = store_in();
    let table = table_with(|t| {
        let status = crate::config::ColumnSpec {
            name: "status".into(),
            path: crate::config::AttrPath::parse("status").unwrap(),
            ty: crate::config::ColumnType::Varchar(16),
            is_key: false,
        };
        t.columns.push(status);
    });
    let export = ExportFixture::full("clean").file(&[full_line(&order("a", 1, "2"))]).write(&store).await;
    let staged = run_stage(shared(&store), table, vec![export]).await.unwrap();
    assert!(staged.drift.is_empty(), "{:?}", staged.drift);
    assert_eq!(staged.drift.items_checked, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_drift_counts_every_new_image_in_memory_and_spilled_alike() {
    let (_dir, store) = store_in();
    let extra = |n: u32| order_with("a", n, json!({"channel": {"S": "web"}}), json!({}));
    let older = ExportFixture::incremental("i1")
        .file(&[upsert_line(1, "a", 1, &extra(1)), upsert_line(2, "a", 2, &extra(2))])
        .file(&[delete_line(3, "a", 3, true)])
        .write(&store)
        .await;
    let newer = ExportFixture::incremental("i2")
        .file(&[upsert_line(4, "a", 1, &order("a", 1, "3"))])
        .write(&store)
        .await;
    let exports = vec![older, newer];
    let in_memory = run_stage(shared(&store), orders_table(), exports.clone()).await.unwrap();
    let spilled_table = table_with(|t| t.stage_memory_bytes = 100);
    let spilled = run_stage(shared(&store), spilled_table, exports).await.unwrap();
    assert!(spilled.counts.spill_partitions > 0, "{:?}", spilled.counts);
    for staged in [&in_memory, &spilled] {
        assert_eq!(staged.drift.items_checked, 3, "deletes carry no image");
        assert_eq!(paths(&staged.drift), [("status", 3), ("channel", 2)]);
    }
    assert_eq!(in_memory.drift, spilled.drift);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_per_item_lists_a_bounded_number_of_paths_and_counts_the_rest() {
    let (_dir, store) = store_in();
    let total = MAX_LISTED_PATHS as u32 + 250;
    let lines: Vec<String> = (0..total)
        .map(|i| full_line(&order_with("k", i, json!({ format!("new_{i}"): {"S": "x"} }), json!({}))))
        .collect();
    let (first, second) = lines.split_at(lines.len() / 2);
    let export = ExportFixture::full("wide").file(first).file(second).write(&store).await;
    let staged = run_stage(shared(&store), orders_table(), vec![export]).await.unwrap();
    let drift = &staged.drift;
    assert_eq!(drift.unmapped.len(), MAX_LISTED_PATHS);
    // `status` is one of the listed paths, so one more `new_…` name is counted, not listed.
    assert_eq!(drift.untracked_paths, 251);
    assert_eq!(drift.unmapped_paths(), u64::from(total) + 1);
    assert!(!drift.untracked_at_least);
    assert!(drift.summary().contains("and 1248 more"), "{}", drift.summary());
}

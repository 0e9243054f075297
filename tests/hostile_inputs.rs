//! The hostile-input corpus (issue 6, item 5): each case starts from a committed full sync, adds
//! one damaged or hostile incremental export under the `exports` source's prefix, and runs an
//! incremental sync. A failing case must name the file, key or line (and the attribute path where
//! one is involved), give a hint, and leave the target table, `dynashift_runs` and the watermark
//! exactly as they were (`Hostile::fails` checks all of that). The few inputs that are legitimate
//! — an empty export, an item near DynamoDB's 400 KB limit, `on_type_error = "null"`, binary text
//! into a varchar — must commit and load exactly.

mod hostile_support;
mod people_exports;

use flate2::Compression;
use flate2::write::GzEncoder;
use rusqlite::types::Value;

use dynashift::config::Mode;
use dynashift::pipeline::events::{RunOutcome, Stage};
use dynashift::source::layout::gzip_lines;
use dynashift::store::ObjectStore;

use hostile_support::{
    Hostile, NEXT_ID, NEXT_TO, PREFIX, assert_mentions, change, export_dir, md5_base64, shared_data_key,
    staging_counts, text, upsert,
};

const DATA: &str = "inc1aaaaaaaaaaaaaaaaaaaaaa";

/// One incremental export holding one data file of `lines`; returns the data file's key.
async fn export_of(hostile: &Hostile, lines: &[&str]) -> String {
    let entry = hostile.shared_data_file(DATA, lines).await;
    hostile.incremental(std::slice::from_ref(&entry)).await;
    entry.key
}

/// An export whose only data file holds `bytes`, claiming `items` items.
async fn export_of_bytes(hostile: &Hostile, bytes: Vec<u8>, items: u64) -> String {
    let entry = hostile.raw_file(&shared_data_key(DATA), bytes, items).await;
    hostile.incremental(std::slice::from_ref(&entry)).await;
    entry.key
}

/// A case whose export holds one line that does not fit its column: fails at staging naming the
/// file, line, key and path.
async fn fails_on_value(attributes: &str, path: &str, reason: &[&str]) -> String {
    let mut hostile = Hostile::committed().await;
    let key = export_of(&hostile, &[&upsert("3", r#""name":{"S":"Cy"}"#), &upsert("k7", attributes)]).await;
    let failure = hostile.fails().await;
    assert_eq!(failure.stage, Stage::Staging);
    assert_mentions(&failure.cause, &[&key, "line 2", r#"{"S":"k7"}"#, &format!("`{path}`")]);
    assert_mentions(&failure.cause, reason);
    failure.hint
}

// ---- gzip -------------------------------------------------------------------------------------

#[tokio::test]
async fn a_truncated_gzip_file_is_named() {
    let mut hostile = Hostile::committed().await;
    let lines: Vec<String> = (0..50).map(|i| upsert(&format!("t{i}"), r#""age":{"N":"1"}"#)).collect();
    let whole = gzip_lines(&lines);
    let key = export_of_bytes(&hostile, whole[..whole.len() / 2].to_vec(), 50).await;
    let failure = hostile.fails().await;
    assert_eq!(failure.stage, Stage::Staging);
    assert_mentions(&failure.cause, &[&key, "not a readable gzip file"]);
    assert_mentions(&failure.hint, &["damaged"]);
}

#[tokio::test]
async fn a_gzip_file_with_a_wrong_crc_is_named() {
    let mut hostile = Hostile::committed().await;
    let mut bytes = gzip_lines(&[upsert("3", r#""name":{"S":"Cy"}"#)]);
    let crc = bytes.len() - 8;
    bytes[crc] ^= 0xff;
    let key = export_of_bytes(&hostile, bytes, 1).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "not a readable gzip file"]);
}

#[tokio::test]
async fn corrupt_bytes_inside_the_deflate_stream_are_named() {
    let mut hostile = Hostile::committed().await;
    let lines: Vec<String> = (0..200).map(|i| upsert(&format!("c{i}"), r#""name":{"S":"x"}"#)).collect();
    let mut bytes = gzip_lines(&lines);
    for at in (20..bytes.len() - 20).step_by(7) {
        bytes[at] = bytes[at].wrapping_mul(31).wrapping_add(0x5a);
    }
    let key = export_of_bytes(&hostile, bytes, 200).await;
    let failure = hostile.fails().await;
    assert_eq!(failure.stage, Stage::Staging);
    // Garbage out of a damaged stream may be caught by the decoder or as a broken line first:
    // either way the file is named and nothing loads.
    assert_mentions(&failure.cause, &[&key]);
    assert!(
        failure.cause.contains("not a readable gzip file") || failure.cause.contains("invalid JSON"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_data_file_that_is_not_gzip_is_named() {
    let mut hostile = Hostile::committed().await;
    let plain = upsert("3", r#""name":{"S":"Cy"}"#) + "\n";
    let key = export_of_bytes(&hostile, plain.into_bytes(), 1).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "not a readable gzip file"]);
}

// ---- lines ------------------------------------------------------------------------------------

#[tokio::test]
async fn an_invalid_json_line_is_named_with_its_line_number() {
    let mut hostile = Hostile::committed().await;
    let broken = r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"S":"4"}"#;
    let key = export_of(&hostile, &[&upsert("3", ""), &upsert("5", ""), broken]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 3", "invalid JSON"]);
}

#[tokio::test]
async fn an_unknown_type_tag_is_not_an_item() {
    let mut hostile = Hostile::committed().await;
    let key = export_of(&hostile, &[&upsert("3", r#""a":{"X":"1"}"#)]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", "not a DynamoDB export line", "X"]);
}

#[tokio::test]
async fn keys_without_metadata_are_not_an_item() {
    let mut hostile = Hostile::committed().await;
    let key = export_of(&hostile, &[r#"{"Keys":{"id":{"S":"3"}},"NewImage":{"id":{"S":"3"}}}"#]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", "not a DynamoDB export line", "Metadata"]);
}

#[tokio::test]
async fn a_json_array_is_not_an_item() {
    let mut hostile = Hostile::committed().await;
    let key = export_of(&hostile, &[&upsert("3", ""), r#"[{"S":"3"}]"#]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 2", "not a DynamoDB export line"]);
}

#[tokio::test]
async fn a_full_export_line_in_an_incremental_export_is_not_an_item() {
    let mut hostile = Hostile::committed().await;
    let key = export_of(&hostile, &[r#"{"Item":{"id":{"S":"3"}}}"#]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", "not a DynamoDB export line"]);
}

#[tokio::test]
async fn a_write_timestamp_that_is_not_a_number_is_not_an_item() {
    let mut hostile = Hostile::committed().await;
    let line = r#"{"Metadata":{"WriteTimestampMicros":{"S":"yesterday"}},"Keys":{"id":{"S":"3"}}}"#;
    let key = export_of(&hostile, &[line]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", "WriteTimestampMicros"]);
}

#[tokio::test]
async fn a_key_attribute_missing_from_keys_is_named() {
    let mut hostile = Hostile::committed().await;
    let line = r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"ident":{"S":"3"}},"NewImage":{"ident":{"S":"3"}}}"#;
    let key = export_of(&hostile, &[line]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", "Keys has no key attribute `id`"]);
}

#[tokio::test]
async fn the_same_key_twice_in_one_incremental_export_is_refused() {
    let mut hostile = Hostile::committed().await;
    let key =
        export_of(&hostile, &[&upsert("3", ""), &upsert("4", ""), &upsert("3", r#""age":{"N":"2"}"#)]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[NEXT_ID, "more than one line for key", r#"{"S":"3"}"#, &key]);
}

// ---- manifests ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_data_file_with_fewer_lines_than_its_manifest_entry_is_named() {
    let mut hostile = Hostile::committed().await;
    let mut entry = hostile.shared_data_file(DATA, &[&upsert("3", ""), &upsert("4", "")]).await;
    entry.items = 3;
    hostile.incremental(std::slice::from_ref(&entry)).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&entry.key, "the manifest says 3 items, the export has 2"]);
}

#[tokio::test]
async fn a_data_file_whose_md5_differs_from_the_manifest_is_named() {
    let mut hostile = Hostile::committed().await;
    let mut entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    let wrong = md5_base64(b"something else");
    entry.md5 = Some(wrong.clone());
    hostile.incremental(std::slice::from_ref(&entry)).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&entry.key, "MD5 is", &format!("the manifest says {wrong}")]);
}

#[tokio::test]
async fn a_summary_item_count_that_differs_from_the_files_is_named() {
    let mut hostile = Hostile::committed().await;
    let entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    hostile.incremental_with(&[entry], |summary| summary["itemCount"] = 99.into()).await;
    let failure = hostile.fails().await;
    assert_mentions(
        &failure.cause,
        &[&format!("{NEXT_ID}/manifest-summary.json"), "the manifest says 99 items"],
    );
}

#[tokio::test]
async fn a_missing_manifest_files_json_is_named() {
    let mut hostile = Hostile::committed().await;
    let entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    hostile.incremental(&[entry]).await;
    let files_key = format!("{}/manifest-files.json", export_dir(NEXT_ID));
    hostile.store.delete(&files_key).await.unwrap();
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&files_key, "is missing from the store"]);
}

#[tokio::test]
async fn a_manifest_files_md5_file_that_disagrees_is_named() {
    let mut hostile = Hostile::committed().await;
    let entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    hostile.incremental(&[entry]).await;
    hostile
        .put(&format!("{}/manifest-files.md5", export_dir(NEXT_ID)), md5_base64(b"another manifest"))
        .await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&format!("{NEXT_ID}/manifest-files.json"), "MD5 is"]);
}

#[tokio::test]
async fn a_manifest_files_line_that_is_not_json_is_named_with_its_line() {
    let mut hostile = Hostile::committed().await;
    let entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    hostile.incremental(std::slice::from_ref(&entry)).await;
    let files_key = format!("{}/manifest-files.json", export_dir(NEXT_ID));
    hostile.put(&files_key, format!("{}\n{{\"itemCount\":0,\n", entry.manifest_line())).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&files_key, "line 2", "not a valid export manifest"]);
}

#[tokio::test]
async fn a_missing_data_file_is_named() {
    let mut hostile = Hostile::committed().await;
    let mut entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    entry.key = shared_data_key("gonegonegonegonegonegonego");
    hostile.incremental(std::slice::from_ref(&entry)).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&entry.key, "missing from the store"]);
}

#[tokio::test]
async fn an_ion_export_is_not_supported() {
    let mut hostile = Hostile::committed().await;
    let entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    hostile.incremental_with(&[entry], |summary| summary["outputFormat"] = "ION".into()).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[NEXT_ID, "`outputFormat` is ION, which is not supported"]);
    assert_mentions(&format!("{}\n{}", failure.cause, failure.hint), &["DYNAMODB_JSON"]);
}

#[tokio::test]
async fn a_summary_that_is_not_json_is_named() {
    let mut hostile = Hostile::committed().await;
    let entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    hostile.incremental(&[entry]).await;
    let summary_key = format!("{}/manifest-summary.json", export_dir(NEXT_ID));
    hostile.put(&summary_key, "<html>Access Denied</html>").await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&summary_key, "is not a DynamoDB export summary"]);
}

#[tokio::test]
async fn a_summary_whose_window_ends_before_it_starts_is_named() {
    let mut hostile = Hostile::committed().await;
    let entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    hostile
        .incremental_with(&[entry], |summary| summary["exportToTime"] = "2026-01-14T09:00:00.000Z".into())
        .await;
    let failure = hostile.fails().await;
    assert_mentions(
        &failure.cause,
        &[&format!("{NEXT_ID}/manifest-summary.json"), "is not after `exportFromTime`"],
    );
}

#[tokio::test]
async fn a_gap_after_the_watermark_is_named() {
    let mut hostile = Hostile::committed().await;
    let entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    hostile
        .incremental_with(&[entry], |summary| {
            summary["exportFromTime"] = "2026-01-14T10:05:00.000Z".into();
            summary["exportToTime"] = "2026-01-14T10:20:00.000Z".into();
        })
        .await;
    let failure = hostile.fails().await;
    assert_eq!(failure.stage, Stage::Planned);
    assert_mentions(
        &failure.cause,
        &["gap from 2026-01-14 10:00:00.000Z to 2026-01-14 10:05:00.000Z", "the watermark is", NEXT_ID],
    );
}

#[tokio::test]
async fn a_data_file_key_with_dot_dot_is_refused() {
    let mut hostile = Hostile::committed().await;
    let mut entry = hostile.shared_data_file(DATA, &[&upsert("3", "")]).await;
    entry.key = format!("{PREFIX}/AWSDynamoDB/data/../../../people/_state/watermark.json");
    hostile.incremental(std::slice::from_ref(&entry)).await;
    let failure = hostile.fails().await;
    assert_mentions(
        &failure.cause,
        &["people/_state/watermark.json", "manifest-files.json, line 1", "outside the export's folder"],
    );
}

// ---- values against columns ---------------------------------------------------------------------

#[tokio::test]
async fn a_type_conflict_fails_naming_the_key_and_path() {
    let hint = fails_on_value(r#""age":{"S":"old"}"#, "age", &["does not fit column `age` (integer)"]).await;
    assert_mentions(&hint, &["on_type_error = \"null\""]);
}

#[tokio::test]
async fn a_type_conflict_under_the_null_policy_loads_null_and_counts_it() {
    let mut hostile = Hostile::committed_with("null").await;
    export_of(
        &hostile,
        &[&upsert("1", r#""name":{"S":"Ann"},"age":{"S":"old"}"#), &upsert("3", r#""age":{"N":"7"}"#)],
    )
    .await;
    let (outcome, events) = hostile.sync(Mode::Incremental).await;
    let Ok(RunOutcome::Committed { watermark, upserts: 2, target_rows: 3, .. }) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(watermark.to_rfc3339(), "2026-01-14T10:15:00+00:00");
    assert_eq!(staging_counts(&events).nulled_values, 1);
    let ann = hostile.row("1");
    assert_eq!((ann[1].clone(), ann[3].clone()), (text("Ann"), Value::Null));
    assert_eq!(hostile.row("3")[3], Value::Integer(7));
}

#[tokio::test]
async fn bool_into_an_integer_column_is_a_type_conflict() {
    fails_on_value(r#""age":{"BOOL":true}"#, "age", &["a BOOL value is not a number"]).await;
}

#[tokio::test]
async fn a_number_beyond_decimal_38_is_refused() {
    fails_on_value(r#""balance":{"N":"1E+40"}"#, "balance", &["41 integer digits", "at most 38"]).await;
}

#[tokio::test]
async fn a_number_with_too_many_decimals_is_refused() {
    fails_on_value(r#""price":{"N":"1.234"}"#, "price", &["3 fractional digits", "keeps 2"]).await;
}

#[tokio::test]
async fn a_string_wider_than_its_varchar_in_bytes_is_refused() {
    // Five characters, ten bytes: the width counts bytes, as Redshift does.
    fails_on_value(r#""nickname":{"S":"ééééé"}"#, "nickname", &["10 bytes long and the column holds 8"])
        .await;
}

#[tokio::test]
async fn a_number_with_39_digits_is_not_a_dynamodb_number() {
    let digits = "1".repeat(39);
    fails_on_value(&format!(r#""balance":{{"N":"{digits}"}}"#), "balance", &["39 significant digits"]).await;
}

#[tokio::test]
async fn an_exponent_beyond_e125_is_not_a_dynamodb_number() {
    fails_on_value(r#""balance":{"N":"1E+126"}"#, "balance", &["outside DynamoDB's number range"]).await;
}

#[tokio::test]
async fn binary_that_is_not_base64_is_kept_as_its_text() {
    // A varchar takes a B value as its base64 text, unchecked: invalid base64 is kept verbatim,
    // exactly as valid base64 is, so the column always holds what the export said.
    let mut hostile = Hostile::committed().await;
    export_of(
        &hostile,
        &[&upsert("3", r#""tag":{"B":"!!not base64!!"}"#), &upsert("4", r#""tag":{"B":"AAE="}"#)],
    )
    .await;
    let (outcome, _) = hostile.sync(Mode::Incremental).await;
    assert!(matches!(outcome, Ok(RunOutcome::Committed { upserts: 2, target_rows: 4, .. })), "{outcome:?}");
    assert_eq!(hostile.row("3")[6], text("!!not base64!!"));
    assert_eq!(hostile.row("4")[6], text("AAE="));
}

// ---- legitimate extremes --------------------------------------------------------------------------

#[tokio::test]
async fn an_item_near_the_400_kb_limit_loads_exactly() {
    let mut hostile = Hostile::committed().await;
    let parts: Vec<String> = (0..6).map(|i| format!("{i}{}", "é".repeat(33_000))).collect();
    let list: Vec<String> = parts.iter().map(|p| format!(r#"{{"S":"{p}"}}"#)).collect();
    let line = upsert("big", &format!(r#""payload":{{"L":[{}]}}"#, list.join(",")));
    assert!(line.len() > 390_000 && line.len() < 400 * 1024, "{} bytes", line.len());
    export_of(&hostile, &[&line]).await;
    let (outcome, _) = hostile.sync(Mode::Incremental).await;
    assert!(matches!(outcome, Ok(RunOutcome::Committed { upserts: 1, target_rows: 3, .. })), "{outcome:?}");
    let Value::Text(payload) = &hostile.row("big")[7] else { panic!("payload is JSON text") };
    let loaded: Vec<String> = serde_json::from_str(payload).unwrap();
    assert_eq!(loaded, parts);
}

#[tokio::test]
async fn an_empty_export_commits_and_moves_only_the_watermark() {
    let mut hostile = Hostile::committed().await;
    let empty = hostile.shared_data_file(DATA, &[]).await;
    let also_empty = hostile.raw_file(&shared_data_key("inc1bbbbbbbbbbbbbbbbbbbbbb"), Vec::new(), 0).await;
    hostile.incremental(&[empty, also_empty]).await;
    let before = hostile.snapshot().await;
    let (outcome, _) = hostile.sync(Mode::Incremental).await;
    let Ok(RunOutcome::Committed { watermark, upserts: 0, deletes: 0, target_rows: 2 }) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(watermark.to_rfc3339(), "2026-01-14T10:15:00+00:00");
    let after = hostile.snapshot().await;
    assert_eq!(after.rows, before.rows);
    assert_eq!(after.runs.len(), before.runs.len() + 1);
    assert_eq!(after.watermark, Some(watermark));
}

#[tokio::test]
async fn a_delete_of_a_key_never_loaded_is_harmless() {
    let mut hostile = Hostile::committed().await;
    export_of(&hostile, &[&change("nobody", None), &change("2", None)]).await;
    let (outcome, _) = hostile.sync(Mode::Incremental).await;
    assert!(matches!(outcome, Ok(RunOutcome::Committed { deletes: 2, target_rows: 1, .. })), "{outcome:?}");
    assert_eq!(hostile.row("1")[1], text("Ann"));
}

/// A hand-built multi-member gzip file: DynamoDB never writes one, but a
/// concatenation of members is still valid gzip and must read as one file.
#[tokio::test]
async fn a_multi_member_gzip_file_reads_as_one() {
    use std::io::Write as _;
    let mut hostile = Hostile::committed().await;
    let mut bytes = Vec::new();
    for line in [upsert("3", ""), upsert("4", "")] {
        let mut member = GzEncoder::new(Vec::new(), Compression::default());
        member.write_all((line + "\n").as_bytes()).unwrap();
        bytes.extend(member.finish().unwrap());
    }
    export_of_bytes(&hostile, bytes, 2).await;
    let (outcome, _) = hostile.sync(Mode::Incremental).await;
    assert!(matches!(outcome, Ok(RunOutcome::Committed { upserts: 2, target_rows: 4, .. })), "{outcome:?}");
}
#[tokio::test]
async fn a_key_attribute_missing_from_the_new_image_is_named() {
    let mut hostile = Hostile::committed().await;
    let line = r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"S":"3"}},"NewImage":{"name":{"S":"Cy"}}}"#;
    let key = export_of(&hostile, &[line]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", "id"]);
}

/// Manifest keys are bucket keys; only their part from `AWSDynamoDB/` on is used, below the
/// folder the export was found in, so a file under another prefix is never read.
#[tokio::test]
async fn a_data_file_outside_the_export_prefix_is_never_read() {
    let mut hostile = Hostile::committed().await;
    let entry = hostile
        .data_file("elsewhere/AWSDynamoDB/data/inc1aaaaaaaaaaaaaaaaaaaaaa.json.gz", &[&upsert("3", "")])
        .await;
    hostile.incremental(std::slice::from_ref(&entry)).await;
    let failure = hostile.fails().await;
    let inside = shared_data_key(DATA);
    assert_mentions(&failure.cause, &[&inside, "missing from the store"]);
}

#[tokio::test]
async fn a_map_as_a_key_attribute_is_refused() {
    let mut hostile = Hostile::committed().await;
    let line = r#"{"Metadata":{"WriteTimestampMicros":{"N":"1"}},"Keys":{"id":{"M":{"a":{"S":"b"}}}},"NewImage":{"id":{"M":{"a":{"S":"b"}}},"name":{"S":"x"}}}"#;
    let key = export_of(&hostile, &[line]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", "`id`", "of type M"]);
}

// ---- hostile lines (issue #11 point 4) ----------------------------------------------------------

/// A change line of key `id` with raw `Keys` and extra top-level members.
fn raw_change(keys: &str, rest: &str) -> String {
    format!(r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"1768385100000000"}}}},"Keys":{keys}{rest}}}"#)
}

#[tokio::test]
async fn a_value_with_two_type_tags_is_named_not_called_invalid_json() {
    let mut hostile = Hostile::committed().await;
    let key = export_of(&hostile, &[&upsert("3", ""), &upsert("k7", r#""age":{"N":"3","S":"3"}"#)]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 2", r#"{"S":"k7"}"#, "`NewImage.age"]);
    assert_mentions(&failure.cause, &["exactly one type tag", "`N` and `S`"]);
    assert!(!failure.cause.contains("invalid JSON"), "{failure}");
}

#[tokio::test]
async fn an_empty_attribute_value_is_named() {
    let mut hostile = Hostile::committed().await;
    let key = export_of(&hostile, &[&upsert("k7", r#""age":{}"#)]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", r#"{"S":"k7"}"#, "`NewImage.age", "this one is empty"]);
}

#[tokio::test]
async fn a_null_new_image_does_not_delete_the_row() {
    let mut hostile = Hostile::committed().await;
    let key = export_of(&hostile, &[&raw_change(r#"{"id":{"S":"1"}}"#, r#","NewImage":null"#)]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", r#"{"S":"1"}"#, "`NewImage`", "null"]);
    assert_eq!(hostile.rows().len(), 2, "row 1 is still there");
}

#[tokio::test]
async fn images_that_are_not_maps_are_named() {
    for (rest, path) in [(r#","NewImage":[1]"#, "`NewImage`"), (r#","OldImage":"gone""#, "`OldImage`")] {
        let mut hostile = Hostile::committed().await;
        let key = export_of(&hostile, &[&raw_change(r#"{"id":{"S":"1"}}"#, rest)]).await;
        let failure = hostile.fails().await;
        assert_mentions(&failure.cause, &[&key, "line 1", r#"{"S":"1"}"#, path]);
    }
}

#[tokio::test]
async fn keys_naming_another_item_than_the_new_image_are_refused() {
    let mut hostile = Hostile::committed().await;
    let line = raw_change(r#"{"id":{"S":"1"}}"#, r#","NewImage":{"id":{"S":"2"},"name":{"S":"Mallory"}}"#);
    let key = export_of(&hostile, &[&line]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", r#"item {"S":"1"}"#, "`NewImage.id`"]);
    assert_mentions(&failure.cause, &[r#"`Keys` has {"S":"1"} but `NewImage` has {"S":"2"}"#]);
}

/// The key column is a varchar, which holds S keys and B keys (as base64 text): one type
/// throughout, the first line's.
#[tokio::test]
async fn a_key_of_another_type_than_the_other_lines_is_refused() {
    let mut hostile = Hostile::committed().await;
    let binary_key =
        raw_change(r#"{"id":{"B":"AQ=="}}"#, r#","NewImage":{"id":{"B":"AQ=="},"name":{"S":"Eve"}}"#);
    let key = export_of(&hostile, &[&upsert("3", ""), &binary_key]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 2", r#"item {"B":"AQ=="}"#, "`Keys.id`"]);
    assert_mentions(&failure.cause, &["of type B here but of type S", "line 1"]);
}

/// An N key on a table whose key column is a varchar: no other line to disagree with, the
/// column's type refuses it (it would create an item `"1"` the table cannot hold).
#[tokio::test]
async fn a_key_of_another_type_than_the_tables_is_refused_on_its_only_line() {
    let mut hostile = Hostile::committed().await;
    let number_key = raw_change(r#"{"id":{"N":"1"}}"#, r#","NewImage":{"id":{"N":"1"},"name":{"S":"Eve"}}"#);
    let key = export_of(&hostile, &[&number_key]).await;
    let failure = hostile.fails().await;
    assert_eq!(failure.stage, Stage::Staging);
    assert_mentions(&failure.cause, &[&key, "line 1", r#"item {"N":"1"}"#, "`Keys.id`"]);
    assert_mentions(
        &failure.cause,
        &["of type N here", "of type S or B", "tables.toml, which types key column `id` as varchar(16)"],
    );
}

#[tokio::test]
async fn a_line_over_2_mib_is_refused_while_reading() {
    let mut hostile = Hostile::committed().await;
    let huge = upsert("k7", &format!(r#""name":{{"S":"{}"}}"#, "x".repeat(3 * 1024 * 1024)));
    let key = export_of(&hostile, &[&upsert("3", ""), &huge]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 2", "longer than 2 MiB", "400 KB"]);
}

#[tokio::test]
async fn a_ten_megabyte_name_yields_a_short_message() {
    let mut hostile = Hostile::committed().await;
    let name = "n".repeat(10 * 1024 * 1024);
    let hostile_line =
        raw_change(r#"{"id":{"S":"k7"}}"#, &format!(r#","NewImage":{{"id":{{"{name}":"1"}}}}"#));
    let entry = hostile.raw_file(&hostile_support::shared_data_key(DATA), gzip_raw(&hostile_line), 1).await;
    hostile.incremental(std::slice::from_ref(&entry)).await;
    let failure = hostile.fails().await;
    assert!(failure.cause.len() < 2_000, "{} bytes of cause", failure.cause.len());
    assert_mentions(&failure.cause, &[&entry.key, "line 1"]);
}

/// Gzip of one line, bypassing the 2 MiB line limit's test helper-independent path.
fn gzip_raw(line: &str) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(line.as_bytes()).unwrap();
    encoder.write_all(b"\n").unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn a_data_file_symlinked_out_of_the_bucket_is_not_read() {
    let mut hostile = Hostile::committed().await;
    let outside = hostile.dir.path().join("outside.json.gz");
    std::fs::write(&outside, gzip_lines(&[upsert("3", r#""name":{"S":"from outside"}"#)])).unwrap();
    let key = hostile_support::shared_data_key(DATA);
    let path = hostile.store.root().join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    let entry = hostile_support::DataEntry { key: key.clone(), items: 1, md5: None };
    hostile.incremental(std::slice::from_ref(&entry)).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "outside the store's folder"]);
}

#[tokio::test]
async fn a_fifo_in_the_bucket_does_not_hang_staging() {
    let mut hostile = Hostile::committed().await;
    let key = hostile_support::shared_data_key(DATA);
    let path = hostile.store.root().join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let fifo = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let entry = hostile_support::DataEntry { key: key.clone(), items: 1, md5: None };
    hostile.incremental(std::slice::from_ref(&entry)).await;
    let failure =
        tokio::time::timeout(std::time::Duration::from_secs(60), hostile.fails()).await.expect("no hang");
    assert_mentions(&failure.cause, &[&key, "not a regular file (a FIFO)"]);
}

#[tokio::test]
async fn a_key_twice_in_a_full_export_names_both_lines() {
    let mut hostile = Hostile::committed().await;
    let id = "01768386000000-cccccccc";
    let data = format!("{PREFIX}/AWSDynamoDB/{id}/data/full2aaaaaaaaaaaaaaaaaaaaa.json.gz");
    let lines = [
        r#"{"Item":{"id":{"S":"1"},"name":{"S":"Ann"}}}"#,
        r#"{"Item":{"id":{"S":"5"},"name":{"S":"Eve"}}}"#,
        r#"{"Item":{"id":{"S":"1"},"name":{"S":"Mallory"}}}"#,
    ];
    let entry = hostile.data_file(&data, &lines).await;
    let times = r#""exportTime":"2026-01-14T10:20:00.000Z""#;
    hostile.manifests(id, times, r#","exportType":"FULL_EXPORT""#, &[entry], |_| {}).await;
    let failure = hostile.fails_in(Mode::Full).await;
    assert_eq!(failure.stage, Stage::Staging);
    assert_mentions(
        &failure.cause,
        &[r#"key {"S":"1"} twice"#, &format!("`{data}`, line 1"), &format!("`{data}`, line 3")],
    );
}

// ---- Redshift's rules, checked while staging (issue #10 part 2) ---------------------------------

#[tokio::test]
async fn keys_differing_only_by_trailing_blanks_are_refused_for_redshift() {
    let mut hostile = Hostile::committed_for_redshift("null").await;
    let key = export_of(&hostile, &[&upsert("7", ""), &upsert("a", ""), &upsert("a  ", "")]).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 3", r#"key {"S":"a  "}"#, r#"key {"S":"a"}"#, "line 2"]);
    assert_mentions(&failure.cause, &["trailing blanks"]);
    assert_mentions(&failure.hint, &["Redshift"]);
}

#[tokio::test]
async fn trailing_blank_twins_across_windows_are_refused_for_redshift() {
    let mut hostile = Hostile::committed_for_redshift("fail").await;
    let first = hostile.shared_data_file(DATA, &[&upsert("b", "")]).await;
    hostile.incremental(std::slice::from_ref(&first)).await;
    let later = hostile.shared_data_file("inc2aaaaaaaaaaaaaaaaaaaaaa", &[&upsert("b ", "")]).await;
    let times = format!(r#""exportFromTime":"{NEXT_TO}","exportToTime":"2026-01-14T10:30:00.000Z""#);
    let extra = r#","outputView":"NEW_AND_OLD_IMAGES","exportType":"INCREMENTAL_EXPORT""#;
    hostile.manifests("01768386600000-cccccccc", &times, extra, &[later], |_| {}).await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[r#"{"S":"b "}"#, r#"{"S":"b"}"#, "trailing blanks"]);
}

#[tokio::test]
async fn trailing_blanks_are_two_keys_outside_redshift() {
    let mut hostile = Hostile::committed().await;
    export_of(&hostile, &[&upsert("a", ""), &upsert("a ", "")]).await;
    let (outcome, _) = hostile.sync(Mode::Incremental).await;
    assert!(matches!(outcome, Ok(RunOutcome::Committed { upserts: 2, target_rows: 4, .. })), "{outcome:?}");
}

#[tokio::test]
async fn a_super_string_over_65535_bytes_is_refused_for_redshift() {
    let mut hostile = Hostile::committed_for_redshift("fail").await;
    let long = "s".repeat(65_536);
    let key =
        export_of(&hostile, &[&upsert("k7", &format!(r#""payload":{{"M":{{"t":{{"S":"{long}"}}}}}}"#))])
            .await;
    let failure = hostile.fails().await;
    assert_mentions(&failure.cause, &[&key, "line 1", r#"{"S":"k7"}"#, "`payload`", "65536 bytes", "65535"]);
}

#[tokio::test]
async fn a_super_string_over_65535_bytes_loads_null_under_the_null_policy() {
    let mut hostile = Hostile::committed_for_redshift("null").await;
    let long = "s".repeat(65_536);
    export_of(&hostile, &[&upsert("k7", &format!(r#""payload":{{"L":[{{"S":"{long}"}}]}}"#))]).await;
    let (outcome, events) = hostile.sync(Mode::Incremental).await;
    assert!(matches!(outcome, Ok(RunOutcome::Committed { upserts: 1, .. })), "{outcome:?}");
    assert_eq!(staging_counts(&events).nulled_values, 1);
    assert_eq!(hostile.row("k7")[7], Value::Null);
}

//! The Redshift Data API stand-in (tests/dataapi_support), driven by the real
//! aws-sdk-redshiftdata client against a fresh PostgreSQL database each (`DYNASHIFT_PG_URL`)
//! and moto's S3 (`DYNASHIFT_MOTO_ENDPOINT`); scripts/test.sh starts both. These tests prove
//! that the stand-in answers what the SDK parses and runs Redshift's SQL the way Redshift
//! would, so the Redshift adapter's tests can trust it.

mod dataapi_support;
mod moto_support;
mod postgres_support;

use std::time::{Duration, Instant};

use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_redshiftdata::error::ProvideErrorMetadata;
use aws_sdk_redshiftdata::operation::batch_execute_statement::builders::BatchExecuteStatementFluentBuilder;
use aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput;
use aws_sdk_redshiftdata::types::{Field, StatusString};
use pretty_assertions::assert_eq;

use dataapi_support::dialect::{Translated, strip_table_attributes, translate};
use dataapi_support::{DataApiStandIn, Fault, S3Access};
use dynashift::testkit::gzip;
use postgres_support::{admin_client, fresh_database};

const ROLE: &str = "arn:aws:iam::123456789012:role/redshift-copy";

/// A stand-in on a fresh database, the SDK client pointed at it, and a session on the database.
struct Harness {
    standin: DataApiStandIn,
    client: Client,
    db: tokio_postgres::Client,
}

async fn harness(database: &str) -> Harness {
    let url = fresh_database(database).await;
    let s3 = S3Access { endpoint: moto_support::endpoint(), region: moto_support::REGION.into() };
    let standin = DataApiStandIn::start(&url, s3).await;
    let client = data_api_client(&standin.endpoint(), true);
    Harness { client, standin, db: admin_client(&url).await }
}

fn data_api_client(endpoint: &str, retries: bool) -> Client {
    let mut config = aws_sdk_redshiftdata::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"));
    if !retries {
        config = config.retry_config(aws_sdk_redshiftdata::config::retry::RetryConfig::disabled());
    }
    Client::from_conf(config.build())
}

impl Harness {
    async fn execute(&self, sql: &str) -> String {
        let sent = self.client.execute_statement().workgroup_name("wg").database("dev").sql(sql).send().await;
        sent.unwrap_or_else(|e| {
            panic!("ExecuteStatement: {}", aws_sdk_redshiftdata::error::DisplayErrorContext(&e))
        })
        .id
        .expect("an Id")
    }

    /// A BatchExecuteStatement of `sqls` on the workgroup `wg`, database `dev`, not yet sent.
    fn batch_request(&self, sqls: &[&str]) -> BatchExecuteStatementFluentBuilder {
        let request = self.client.batch_execute_statement().workgroup_name("wg").database("dev");
        sqls.iter().fold(request, |request, sql| request.sqls(*sql))
    }

    async fn batch(&self, sqls: &[&str]) -> String {
        let sent = self.batch_request(sqls).send().await;
        sent.unwrap_or_else(|e| {
            panic!("BatchExecuteStatement: {}", aws_sdk_redshiftdata::error::DisplayErrorContext(&e))
        })
        .id
        .expect("an Id")
    }

    async fn describe(&self, id: &str) -> DescribeStatementOutput {
        self.client.describe_statement().id(id).send().await.expect("DescribeStatement")
    }

    /// Polls until the statement ends.
    async fn wait(&self, id: &str) -> DescribeStatementOutput {
        self.wait_for(id, |d| {
            matches!(d.status(), Some(StatusString::Finished | StatusString::Failed | StatusString::Aborted))
        })
        .await
    }

    async fn wait_for(
        &self,
        id: &str,
        done: impl Fn(&DescribeStatementOutput) -> bool,
    ) -> DescribeStatementOutput {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let description = self.describe(id).await;
            if done(&description) {
                return description;
            }
            assert!(Instant::now() < deadline, "statement {id} still {:?} after 30 s", description.status());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn records(&self, id: &str) -> Vec<Vec<Field>> {
        self.client.get_statement_result().id(id).send().await.expect("GetStatementResult").records
    }

    async fn count(&self, table: &str) -> i64 {
        self.db.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.unwrap().get(0)
    }
}

fn status_names(description: &DescribeStatementOutput) -> Vec<String> {
    description.sub_statements().iter().map(|s| s.status().unwrap().as_str().to_owned()).collect()
}

/// A new bucket in moto.
struct Bucket {
    s3: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    async fn new() -> Bucket {
        let connection = moto_support::connection().await;
        let name = moto_support::new_bucket(&connection, "dataapi").await;
        Bucket { s3: connection.s3(), name }
    }

    /// Stores `bytes` at `key`; its s3:// URL.
    async fn put(&self, key: &str, bytes: Vec<u8>) -> String {
        self.s3.put_object().bucket(&self.name).key(key).body(bytes.into()).send().await.unwrap();
        format!("s3://{}/{key}", self.name)
    }

    /// A manifest listing `(url, mandatory)` entries; its URL.
    async fn put_manifest(&self, key: &str, entries: &[(&str, bool)]) -> String {
        let entries: Vec<_> = entries
            .iter()
            .map(|(url, mandatory)| serde_json::json!({"url": url, "mandatory": mandatory}))
            .collect();
        self.put(key, serde_json::json!({ "entries": entries }).to_string().into_bytes()).await
    }
}

/// Puts gzip JSON Lines files, a manifest listing them and a JSONPaths file into a new bucket;
/// returns the manifest's and the JSONPaths' URLs and each file's URL.
async fn stage_files(files: &[&str], jsonpaths: &[&str]) -> (String, String, Vec<String>) {
    let bucket = Bucket::new().await;
    let mut urls = Vec::new();
    for (index, text) in files.iter().enumerate() {
        urls.push(bucket.put(&format!("staged/part-{index:05}.json.gz"), gzip(text)).await);
    }
    let entries: Vec<(&str, bool)> = urls.iter().map(|url| (url.as_str(), true)).collect();
    let manifest = bucket.put_manifest("staged/copy.manifest", &entries).await;
    let paths = serde_json::json!({ "jsonpaths": jsonpaths }).to_string();
    let jsonpaths = bucket.put("staged/jsonpaths.json", paths.into_bytes()).await;
    (manifest, jsonpaths, urls)
}

fn copy_sql(table: &str, manifest: &str, jsonpaths: &str) -> String {
    format!(
        "COPY {table} FROM '{manifest}' IAM_ROLE '{ROLE}' MANIFEST \
         FORMAT AS JSON '{jsonpaths}' GZIP MAXERROR 0 TIMEFORMAT 'auto' DATEFORMAT 'auto' \
         TRUNCATECOLUMNS ACCEPTINVCHARS '?' STATUPDATE OFF COMPUPDATE OFF"
    )
}

#[tokio::test]
async fn a_select_round_trips_every_field_kind() {
    let h = harness("dataapi_fields").await;
    let sql = "SELECT NULL::int AS nothing, true AS yes, 7::int2 AS small, 70000::int4 AS mid, 9000000000::int8 AS big, \
               0.5::float8 AS ratio, 12345678901234567890.123456789::decimal(38,9) AS exact, 'héllo'::varchar(10) AS word, \
               '2024-05-01 12:00:00.123456'::timestamp AS at, '2024-05-01 14:00:00+02'::timestamptz AS at_tz, \
               '{\"n\": 1E-130, \"s\": \"x\"}'::super AS doc, getdate() AS now";
    let id = h.execute(sql).await;
    let description = h.wait(&id).await;
    assert_eq!(description.status(), Some(&StatusString::Finished), "{:?}", description.error());
    assert_eq!((description.has_result_set(), description.result_rows()), (Some(true), 1));
    assert_eq!(description.query_string(), Some(sql));
    assert!(description.redshift_query_id() > 0 && description.duration() > 0);
    assert!(description.created_at().unwrap() <= description.updated_at().unwrap());

    let result = h.client.get_statement_result().id(&id).send().await.unwrap();
    let types: Vec<&str> = result.column_metadata().iter().map(|c| c.type_name().unwrap()).collect();
    assert_eq!(
        types,
        [
            "int4",
            "bool",
            "int2",
            "int4",
            "int8",
            "float8",
            "numeric",
            "varchar",
            "timestamp",
            "timestamptz",
            "super",
            "timestamp"
        ]
    );
    assert_eq!(result.column_metadata()[1].name(), Some("yes"));
    assert_eq!(result.total_num_rows(), 1);
    let row = &result.records[0];
    let expected = [
        Field::IsNull(true),
        Field::BooleanValue(true),
        Field::LongValue(7),
        Field::LongValue(70000),
        Field::LongValue(9_000_000_000),
        Field::DoubleValue(0.5),
        Field::StringValue("12345678901234567890.123456789".into()),
        Field::StringValue("héllo".into()),
        Field::StringValue("2024-05-01 12:00:00.123456".into()),
        Field::StringValue("2024-05-01 12:00:00+00".into()),
    ];
    assert_eq!(&row[..10], &expected);
    let Field::StringValue(doc) = &row[10] else { panic!("super arrives as text: {:?}", row[10]) };
    let doc: serde_json::Value = serde_json::from_str(doc).unwrap();
    assert_eq!(doc["s"], "x");
    let Field::StringValue(now) = &row[11] else { panic!("getdate() arrives as text") };
    let now = chrono::NaiveDateTime::parse_from_str(now, "%Y-%m-%d %H:%M:%S%.f").unwrap();
    assert!((chrono::Utc::now().naive_utc() - now).num_seconds().abs() < 60, "getdate() is UTC now: {now}");
}

#[tokio::test]
async fn a_batch_creates_a_table_copies_a_gzip_manifest_and_counts() {
    let h = harness("dataapi_copy").await;
    let decimal = "1.2345678901234567890123456789012345678";
    let files = [
        format!(
            "{{\"id\":\"a\",\"amount\":{{\"total\":\"{decimal}\"}},\"m\":{{\"ratio\":0.25}},\"lines\":{{\"x\":1E-130,\"big\":123456789012345678901234567890}},\"tags\":[\"first\",\"second\"]}}\n\n\
             {{\"id\":\"b\",\"amount\":{{\"total\":{decimal}}},\"m\":{{}},\"lines\":\"just text\",\"tags\":[\"only\"]}}\n"
        ),
        "{\"id\":\"c\",\"amount\":null,\"m\":{\"ratio\":1},\"lines\":[1,2,{\"k\":null}],\"tags\":[\"x\"]}\n"
            .to_owned(),
    ];
    let paths = ["$['id']", "$['amount']['total']", "$.m.ratio", "$['lines']", "$.tags[0]"];
    let (manifest, jsonpaths, _) = stage_files(&[&files[0], &files[1]], &paths).await;
    let create = "CREATE TABLE \"orders\" (\"id\" varchar(16) NOT NULL, \"total\" decimal(38,37), \"ratio\" double precision, \
                  \"lines\" super, \"first tag\" varchar(8)) DISTSTYLE KEY DISTKEY (\"id\") COMPOUND SORTKEY (\"id\")";
    let copy = copy_sql("\"orders\"", &manifest, &jsonpaths);
    let id = h.batch(&[create, &copy, "SELECT count(*) FROM \"orders\""]).await;
    let description = h.wait(&id).await;

    assert_eq!(description.status(), Some(&StatusString::Finished), "{:?}", description.error());
    assert_eq!(status_names(&description), ["FINISHED"; 3]);
    let subs = description.sub_statements();
    assert_eq!(subs[1].id(), format!("{id}:2"));
    assert_eq!((subs[1].result_rows(), subs[1].has_result_set()), (3, Some(false)));
    assert_eq!((subs[0].result_rows(), subs[2].has_result_set()), (-1, Some(true)));
    assert_eq!(h.records(&format!("{id}:3")).await, [[Field::LongValue(3)]]);

    let rows = h
        .db
        .query(
            "SELECT id, total::text, ratio, lines = $1::text::jsonb, lines::text, \"first tag\" FROM orders ORDER BY id",
            &[&r#"{"x":1E-130,"big":123456789012345678901234567890}"#],
        )
        .await
        .unwrap();
    let a = &rows[0];
    assert_eq!(
        (a.get::<_, String>(0), a.get::<_, String>(1), a.get::<_, f64>(2)),
        ("a".into(), decimal.into(), 0.25)
    );
    assert!(
        a.get::<_, bool>(3),
        "the super value keeps 1E-130 and 30 digits exactly: {}",
        a.get::<_, String>(4)
    );
    assert_eq!(a.get::<_, String>(5), "first");
    let b = &rows[1];
    assert_eq!((b.get::<_, String>(1), b.get::<_, Option<f64>>(2)), (decimal.into(), None));
    assert_eq!(b.get::<_, String>(4), "\"just text\"", "a JSON string into super stays a JSON string");
    let c = &rows[2];
    assert_eq!(
        (c.get::<_, Option<String>>(1), c.get::<_, String>(4)),
        (None, r#"[1, 2, {"k": null}]"#.into())
    );
}

#[tokio::test]
async fn a_failing_batch_rolls_back_and_reports_every_sub_statement() {
    let h = harness("dataapi_rollback").await;
    h.db.batch_execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)").await.unwrap();
    let id = h
        .batch(&[
            "INSERT INTO kept VALUES (2)",
            "INSERT INTO missing VALUES (1)",
            "INSERT INTO kept VALUES (3)",
        ])
        .await;
    let description = h.wait(&id).await;

    assert_eq!(description.status(), Some(&StatusString::Failed));
    assert_eq!(status_names(&description), ["FINISHED", "FAILED", "ABORTED"]);
    let error = "ERROR: relation \"missing\" does not exist";
    assert_eq!(description.error(), Some(error));
    assert_eq!(description.sub_statements()[1].error(), Some(error));
    assert_eq!(description.sub_statements()[0].result_rows(), 1);
    assert_eq!(h.count("kept").await, 1, "the first INSERT was rolled back");
}

#[tokio::test]
async fn a_rejected_value_fills_sys_load_error_detail_and_loads_nothing() {
    let h = harness("dataapi_load_error").await;
    let good = "{\"id\":\"a\",\"visits\":1}\n{\"id\":\"b\",\"visits\":2}\n";
    let bad = "{\"id\":\"c\",\"visits\":3}\n\n{\"id\":\"d\",\"visits\":\"many\"}\n";
    let (manifest, jsonpaths, urls) = stage_files(&[good, bad], &["$['id']", "$['visits']"]).await;
    let copy = copy_sql("people", &manifest, &jsonpaths);
    let id = h.batch(&["CREATE TABLE people (id varchar(8), visits bigint)", &copy]).await;
    let description = h.wait(&id).await;

    assert_eq!(status_names(&description), ["FINISHED", "FAILED"]);
    assert_eq!(
        description.error(),
        Some(
            "ERROR: Load into table 'people' failed. Check 'sys_load_error_detail' system table for details."
        )
    );
    let query_id = description.sub_statements()[1].redshift_query_id();
    let row =
        h.db.query_one(
            "SELECT file_name, line_number, column_name, column_type, error_code, error_message, raw_line \
             FROM sys_load_error_detail WHERE query_id = $1",
            &[&query_id],
        )
        .await
        .expect("one load error for the COPY's query id");
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, i64>(1),
            row.get::<_, String>(2),
            row.get::<_, String>(3),
            row.get::<_, i32>(4)
        ),
        (urls[1].clone(), 3, "visits".into(), "bigint".into(), 1207)
    );
    assert!(
        row.get::<_, String>(5).contains("invalid input syntax for type bigint"),
        "{}",
        row.get::<_, String>(5)
    );
    assert_eq!(row.get::<_, String>(6), "{\"id\":\"d\",\"visits\":\"many\"}");
    let created: Option<String> =
        h.db.query_one("SELECT to_regclass('people')::text", &[]).await.unwrap().get(0);
    assert_eq!(created, None, "the whole batch rolled back");
}

#[tokio::test]
async fn broken_json_and_too_many_bytes_are_load_errors_too() {
    let h = harness("dataapi_line_errors").await;
    let (manifest, jsonpaths, urls) = stage_files(&["{\"w\":\"ok\"}\n{\"w\": oops}\n"], &["$.w"]).await;
    let (wide_manifest, wide_paths, wide_urls) = stage_files(&["{\"w\":\"ééé\"}\n"], &["$.w"]).await;
    h.db.batch_execute("CREATE TABLE words (w varchar(5))").await.unwrap();
    let plain_copy = |manifest: &str, paths: &str| {
        format!("COPY words FROM '{manifest}' IAM_ROLE default MANIFEST FORMAT JSON '{paths}' GZIP")
    };
    let broken = h.wait(&h.execute(&plain_copy(&manifest, &jsonpaths)).await).await;
    let wide = h.wait(&h.execute(&plain_copy(&wide_manifest, &wide_paths)).await).await;

    assert_eq!((broken.status(), wide.status()), (Some(&StatusString::Failed), Some(&StatusString::Failed)));
    let errors = h
        .db
        .query("SELECT query_id, file_name, line_number, column_name, error_code FROM sys_load_error_detail ORDER BY query_id", &[])
        .await
        .unwrap();
    let errors: Vec<(i64, String, i64, Option<String>, i32)> =
        errors.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect();
    assert_eq!(
        errors,
        [
            (broken.redshift_query_id(), urls[0].clone(), 2, None, 1224),
            (wide.redshift_query_id(), wide_urls[0].clone(), 1, Some("w".into()), 1204),
        ]
    );
    assert_eq!(h.count("words").await, 0);
}

#[tokio::test]
async fn more_than_forty_statements_are_refused() {
    let h = harness("dataapi_forty").await;
    let forty = vec!["SELECT 1"; 40];
    let id = h.batch(&forty).await;
    assert_eq!(status_names(&h.wait(&id).await).len(), 40);

    let error = h.batch_request(&["SELECT 1"; 41]).send().await.expect_err("41 statements are refused");
    assert!(error.as_service_error().is_some_and(|e| e.is_validation_exception()), "{error:?}");
}

#[tokio::test]
async fn copy_names_region_exactly_when_the_bucket_is_not_in_the_warehouses() {
    let h = harness("dataapi_region").await;
    h.db.batch_execute("CREATE TABLE r (id varchar(8))").await.unwrap();
    let (manifest, jsonpaths, _) = stage_files(&["{\"id\":\"a\"}\n"], &["$['id']"]).await;
    let copy = |region: &str| {
        format!(
            "COPY r FROM '{manifest}' IAM_ROLE '{ROLE}'{region} MANIFEST FORMAT AS JSON '{jsonpaths}' GZIP"
        )
    };
    let run = |sql: String| {
        let h = &h;
        async move { h.wait(&h.execute(&sql).await).await }
    };
    let same = run(copy("")).await;
    assert_eq!(same.status(), Some(&StatusString::Finished), "{:?}", same.error());
    let needless = run(copy(" REGION 'us-east-1'")).await;
    assert!(needless.error().unwrap_or_default().contains("leave REGION out"), "{:?}", needless.error());

    h.standin.set_warehouse_region("eu-north-1");
    let missing = run(copy("")).await;
    assert!(
        missing.error().unwrap_or_default().contains("needs REGION 'us-east-1'"),
        "{:?}",
        missing.error()
    );
    let wrong = run(copy(" REGION 'eu-west-1'")).await;
    assert_eq!(wrong.status(), Some(&StatusString::Failed));
    let named = run(copy(" REGION 'us-east-1'")).await;
    assert_eq!(named.status(), Some(&StatusString::Finished), "{:?}", named.error());
}

#[tokio::test]
async fn a_statement_over_100_kb_is_refused_like_the_data_api_does() {
    let h = harness("dataapi_100kb").await;
    let at_limit = format!("SELECT 1 -- {}", "x".repeat(100 * 1024 - 12));
    assert_eq!(at_limit.len(), 100 * 1024);
    let id = h.execute(&at_limit).await;
    assert_eq!(h.wait(&id).await.status(), Some(&StatusString::Finished));

    let over = format!("{at_limit}x");
    let single = h.client.execute_statement().workgroup_name("wg").database("dev").sql(&over).send().await;
    let error = single.expect_err("a statement over 100 KB is refused");
    let service = error.as_service_error().expect("a service error");
    assert!(service.is_validation_exception(), "{error:?}");
    assert!(format!("{service}").contains("larger than 100kB"), "{service}");
    let error =
        h.batch_request(&["SELECT 1", &over]).send().await.expect_err("a batch holding one is refused whole");
    assert!(error.as_service_error().is_some_and(|e| e.is_validation_exception()), "{error:?}");
}

#[tokio::test]
async fn credentials_inside_copy_are_refused() {
    let h = harness("dataapi_credentials").await;
    h.db.batch_execute("CREATE TABLE t (a int)").await.unwrap();
    for credentials in [
        "CREDENTIALS 'aws_access_key_id=AKIAEXAMPLE;aws_secret_access_key=SECRETVALUE'",
        "ACCESS_KEY_ID 'AKIAEXAMPLE' SECRET_ACCESS_KEY 'SECRETVALUE'",
    ] {
        let sql = format!("COPY t FROM 's3://b/m' {credentials} MANIFEST FORMAT JSON 'auto'");
        let description = h.wait(&h.execute(&sql).await).await;
        let error = description.error().unwrap_or_default();
        assert_eq!(description.status(), Some(&StatusString::Failed));
        assert!(error.contains("credentials in SQL are refused by the stand-in"), "{error}");
        assert!(!error.contains("SECRETVALUE") && !error.contains("AKIAEXAMPLE"), "{error}");
    }
    let without_role = h.wait(&h.execute("COPY t FROM 's3://b/m' MANIFEST FORMAT JSON 'auto'").await).await;
    assert!(without_role.error().unwrap().contains("requires IAM_ROLE"), "{:?}", without_role.error());
    let without_manifest =
        h.wait(&h.execute("COPY t FROM 's3://b/m' IAM_ROLE default FORMAT JSON 'auto'").await).await;
    assert_eq!(without_manifest.error(), Some("ERROR: the stand-in supports only MANIFEST COPY"));
}

#[tokio::test]
async fn copy_options_shape_the_loaded_values() {
    let h = harness("dataapi_copy_options").await;
    let bucket = Bucket::new().await;
    let mut line = br#"{"a":"caf"#.to_vec();
    line.push(0xFF);
    line.extend_from_slice(br#"","b":"","c":"  ","d":"\u00e9\u00e9\u00e9","n":"7"}"#);
    let file = bucket.put("plain.json", line).await;
    let missing = format!("s3://{}/missing.json", bucket.name);
    let optional = bucket.put_manifest("optional.manifest", &[(&file, true), (&missing, false)]).await;
    let mandatory = bucket.put_manifest("mandatory.manifest", &[(&file, true), (&missing, true)]).await;
    h.db.batch_execute("CREATE TABLE opts (a varchar(8), b varchar(8), c varchar(8), d varchar(4), n int)")
        .await
        .unwrap();
    let options = "IAM_ROLE default MANIFEST FORMAT JSON 'auto' ACCEPTINVCHARS AS '^' EMPTYASNULL BLANKSASNULL TRUNCATECOLUMNS";
    let loaded = h.wait(&h.execute(&format!("COPY opts FROM '{optional}' {options}")).await).await;
    let refused = h.wait(&h.execute(&format!("COPY opts FROM '{mandatory}' {options}")).await).await;

    assert_eq!(
        (loaded.status(), loaded.result_rows()),
        (Some(&StatusString::Finished), 1),
        "{:?}",
        loaded.error()
    );
    let row = h.db.query_one("SELECT a, b, c, d, n FROM opts", &[]).await.unwrap();
    let values: (String, Option<String>, Option<String>, String, i32) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(values, ("caf^".into(), None, None, "éé".into(), 7), "4 bytes hold two é");
    let error = format!("ERROR: the mandatory file {missing} listed in the manifest does not exist");
    assert_eq!(refused.error(), Some(error.as_str()));
}

#[tokio::test]
async fn a_scripted_failure_fails_its_statement_once() {
    let h = harness("dataapi_fail_fault").await;
    h.db.batch_execute("CREATE TABLE orders (n int)").await.unwrap();
    let denied = "ERROR: permission denied for relation orders";
    h.standin.inject(Fault::FailStatement { sql_contains: "orders".into(), error: denied.into() });
    let id = h.batch(&["CREATE TABLE other (n int)", "INSERT INTO orders VALUES (1)", "SELECT 1"]).await;
    let description = h.wait(&id).await;

    assert_eq!(status_names(&description), ["FINISHED", "FAILED", "ABORTED"]);
    assert_eq!(description.error(), Some(denied));
    let other: Option<String> =
        h.db.query_one("SELECT to_regclass('other')::text", &[]).await.unwrap().get(0);
    assert_eq!(other, None);
    let again = h.wait(&h.execute("INSERT INTO orders VALUES (1)").await).await;
    assert_eq!(
        (again.status(), again.result_rows()),
        (Some(&StatusString::Finished), 1),
        "the fault fired once"
    );
}

#[tokio::test]
async fn throttling_answers_throttling_exception_which_the_sdk_retries() {
    let h = harness("dataapi_throttle").await;
    let id = h.execute("SELECT 1").await;
    h.wait(&id).await;
    let no_retries = data_api_client(&h.standin.endpoint(), false);
    h.standin.inject(Fault::Throttle { operation: "DescribeStatement".into(), times: 1 });
    let error = no_retries.describe_statement().id(&id).send().await.expect_err("throttled");
    assert_eq!(error.code(), Some("ThrottlingException"));
    assert!(no_retries.describe_statement().id(&id).send().await.is_ok(), "one call only");

    h.standin.inject(Fault::Throttle { operation: "DescribeStatement".into(), times: 2 });
    let before = h.standin.calls().len();
    assert_eq!(h.describe(&id).await.status(), Some(&StatusString::Finished));
    let calls: Vec<String> = h.standin.calls()[before..].iter().map(|c| c.operation.clone()).collect();
    assert_eq!(calls, ["DescribeStatement"; 3], "two throttled attempts, then the answer");
}

#[tokio::test]
async fn a_slow_statement_shows_started_while_it_waits() {
    let h = harness("dataapi_slow").await;
    h.standin.inject(Fault::SlowStatement { sql_contains: "slow".into(), delay: Duration::from_millis(400) });
    let id = h.execute("SELECT 'slow' AS label").await;
    let running = h.wait_for(&id, |d| d.status() == Some(&StatusString::Started)).await;
    assert_eq!(running.status(), Some(&StatusString::Started));
    let done = h.wait(&id).await;
    assert_eq!(done.status(), Some(&StatusString::Finished));
    assert!(done.duration() >= 400_000_000, "Duration is in nanoseconds: {}", done.duration());
}

#[tokio::test]
async fn cancelling_a_slow_batch_aborts_it_and_rolls_it_back() {
    let h = harness("dataapi_cancel").await;
    h.standin.inject(Fault::SlowStatement { sql_contains: "waits".into(), delay: Duration::from_secs(60) });
    let id = h.batch(&["CREATE TABLE made (n int)", "INSERT INTO made VALUES (1)", "SELECT 'waits'"]).await;
    h.wait_for(&id, |d| {
        d.sub_statements().get(2).and_then(|s| s.status()).is_some_and(|s| s.as_str() == "STARTED")
    })
    .await;
    let cancelled = h.client.cancel_statement().id(&id).send().await.unwrap();
    assert_eq!(cancelled.status(), Some(true));
    let description = h.wait(&id).await;

    assert_eq!(description.status(), Some(&StatusString::Aborted));
    assert_eq!(status_names(&description), ["FINISHED", "FINISHED", "ABORTED"]);
    let made: Option<String> = h.db.query_one("SELECT to_regclass('made')::text", &[]).await.unwrap().get(0);
    assert_eq!(made, None, "the batch rolled back");
    let again = h.client.cancel_statement().id(&id).send().await.expect_err("already ended");
    assert!(again.as_service_error().is_some_and(|e| e.is_validation_exception()), "{again:?}");
}

#[tokio::test]
async fn cancelling_stops_a_query_running_in_postgresql() {
    let h = harness("dataapi_cancel_query").await;
    let id = h.batch(&["CREATE TABLE made (n int)", "SELECT pg_sleep(60)"]).await;
    h.wait_for(&id, |d| {
        d.sub_statements().get(1).and_then(|s| s.status()).is_some_and(|s| s.as_str() == "STARTED")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    h.client.cancel_statement().id(&id).send().await.unwrap();
    let description = h.wait(&id).await;

    assert_eq!(description.status(), Some(&StatusString::Aborted));
    assert!(started.elapsed() < Duration::from_secs(10), "the query was cancelled, not waited for");
    let sleeping = postgres_support::active_statements_like(&h.db, "SELECT pg_sleep(60)").await;
    assert_eq!(sleeping, 0, "the query stopped within 5 s of the cancel");
}

#[tokio::test]
async fn connection_fields_are_validated_and_recorded() {
    let h = harness("dataapi_connection").await;
    let select = || h.client.execute_statement().sql("SELECT 1");
    let refused = [
        select().database("dev"),
        select().database("dev").workgroup_name("wg").cluster_identifier("c"),
        select().database("dev").workgroup_name("wg").db_user("u"),
        select().database("dev").cluster_identifier("c").db_user("u").secret_arn("arn:s"),
        select().workgroup_name("wg"),
        select().database("dev").workgroup_name("wg").session_keep_alive_seconds(60),
    ];
    for (index, request) in refused.into_iter().enumerate() {
        let error = request.send().await.expect_err("refused");
        assert!(
            error.as_service_error().is_some_and(|e| e.is_validation_exception()),
            "case {index}: {error:?}"
        );
    }
    let provisioned = select().cluster_identifier("c").database("dev").db_user("loader");
    let answer = provisioned.statement_name("load orders").client_token("token-1").send().await.unwrap();
    assert_eq!((answer.cluster_identifier(), answer.db_user()), (Some("c"), Some("loader")));
    let repeated = select().cluster_identifier("c").database("dev");
    assert_eq!(
        repeated.client_token("token-1").send().await.unwrap().id(),
        answer.id(),
        "same ClientToken, same statement"
    );
    let secret = select().workgroup_name("wg").secret_arn("arn:secret").send().await;
    h.wait(secret.unwrap().id().unwrap()).await;

    let record =
        h.standin.calls().into_iter().find(|c| c.client_token.as_deref() == Some("token-1")).unwrap();
    assert_eq!(
        (
            record.operation.as_str(),
            record.sqls,
            record.cluster_identifier,
            record.database,
            record.db_user,
            record.statement_name
        ),
        (
            "ExecuteStatement",
            vec!["SELECT 1".to_owned()],
            Some("c".into()),
            Some("dev".into()),
            Some("loader".into()),
            Some("load orders".into())
        )
    );
}

#[tokio::test]
async fn unknown_ids_results_and_operations_are_errors() {
    let h = harness("dataapi_errors").await;
    let missing =
        h.client.describe_statement().id("00000000-0000-4000-8000-000000000000").send().await.unwrap_err();
    assert!(missing.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()), "{missing:?}");
    let ddl = h.execute("CREATE TABLE t (n int)").await;
    assert_eq!(h.wait(&ddl).await.result_rows(), -1);
    let no_result = h.client.get_statement_result().id(&ddl).send().await.unwrap_err();
    assert!(no_result.as_service_error().is_some_and(|e| e.is_validation_exception()), "{no_result:?}");
    let unknown = h.client.list_databases().workgroup_name("wg").database("dev").send().await.unwrap_err();
    assert_eq!(unknown.code(), Some("UnknownOperationException"));
}

#[tokio::test]
async fn temp_tables_live_as_long_as_their_call() {
    let h = harness("dataapi_temp").await;
    let same_batch = h
        .batch(&["CREATE TEMP TABLE stage (n int)", "INSERT INTO stage VALUES (1)", "SELECT n FROM stage"])
        .await;
    assert_eq!(h.wait(&same_batch).await.status(), Some(&StatusString::Finished));
    assert_eq!(h.records(&format!("{same_batch}:3")).await, [[Field::LongValue(1)]]);
    let later = h.wait(&h.execute("SELECT n FROM stage").await).await;
    assert_eq!(later.error(), Some("ERROR: relation \"stage\" does not exist"));
}

#[test]
fn redshift_table_attributes_are_stripped() {
    let cases = [
        (
            "CREATE TABLE t (a int, b varchar(10)) DISTSTYLE KEY DISTKEY (a) COMPOUND SORTKEY (a, b) BACKUP NO ENCODE AUTO",
            "CREATE TABLE t (a int, b varchar(10))",
        ),
        ("create temp table s (like t) diststyle even sortkey auto;", "create temp table s (like t);"),
        (
            "CREATE TABLE \"x DISTKEY (y)\" (\"SORTKEY (a)\" int) INTERLEAVED SORTKEY (\"SORTKEY (a)\")",
            "CREATE TABLE \"x DISTKEY (y)\" (\"SORTKEY (a)\" int)",
        ),
        ("CREATE TABLE c DISTKEY(a) AS SELECT 1 AS a", "CREATE TABLE c AS SELECT 1 AS a"),
        ("CREATE TABLE t (a int) -- keyed\nDISTKEY ( a )\n", "CREATE TABLE t (a int)\n"),
        (
            "CREATE FUNCTION f() RETURNS TABLE (a int) LANGUAGE sql AS 'SELECT 1' DISTKEY (a)",
            "CREATE FUNCTION f() RETURNS TABLE (a int) LANGUAGE sql AS 'SELECT 1' DISTKEY (a)",
        ),
        ("SELECT 'DISTKEY (a)' AS sortkey", "SELECT 'DISTKEY (a)' AS sortkey"),
        ("CREATE TABLE t (a int ENCODE az64)", "CREATE TABLE t (a int ENCODE az64)"),
    ];
    for (redshift, postgres) in cases {
        assert_eq!(strip_table_attributes(redshift), postgres, "{redshift}");
    }
}

#[test]
fn copy_statements_are_parsed_with_their_options() {
    let sql = "COPY \"sales\".\"Orders\" (\"Id\", total) FROM 's3://b/m.manifest' IAM_ROLE default REGION AS 'eu-west-1' \
               MANIFEST FORMAT AS JSON 's3://b/paths.json' GZIP ACCEPTINVCHARS AS '^' TRUNCATECOLUMNS EMPTYASNULL \
               BLANKSASNULL STATUPDATE OFF COMPUPDATE PRESET MAXERROR AS 1;";
    let Ok(Translated::Copy(copy)) = translate(sql) else { panic!("a COPY") };
    assert_eq!((copy.table_sql.as_str(), copy.table_name.as_str()), ("\"sales\".\"Orders\"", "Orders"));
    assert_eq!(copy.columns, Some(vec!["Id".to_owned(), "total".to_owned()]));
    assert_eq!(copy.manifest_url, "s3://b/m.manifest");
    let options = copy.options;
    assert_eq!(options.jsonpaths_url.as_deref(), Some("s3://b/paths.json"));
    assert!(options.gzip && options.truncate_columns && options.empty_as_null && options.blanks_as_null);
    assert_eq!(options.invalid_char_replacement, Some('^'));

    let refused = [
        ("COPY t FROM 's3://b/m' IAM_ROLE default MANIFEST FORMAT CSV", "only FORMAT JSON"),
        ("COPY t FROM 's3://b/m' IAM_ROLE default MANIFEST JSON 'auto' MAXERROR 10", "MAXERROR 0 or 1"),
        (
            "COPY t FROM 's3://b/m' IAM_ROLE default MANIFEST JSON 'auto' ZSTD",
            "does not support the COPY option ZSTD",
        ),
        ("COPY t FROM STDIN", "only COPY … FROM 's3://"),
        ("COPY t FROM 's3://b/m' SESSION_TOKEN 'tok' IAM_ROLE default", "SESSION_TOKEN in COPY"),
    ];
    for (sql, expected) in refused {
        let error = translate(sql).expect_err(sql);
        assert!(error.starts_with("ERROR: ") && error.contains(expected), "{sql}: {error}");
    }
}

#[test]
fn jsonpaths_resolve_on_exact_json_text() {
    use dataapi_support::jsonpath::JsonPath;
    let line: &serde_json::value::RawValue =
        serde_json::from_str(r#"{"a":{"b.c":[10, 1.50, {"d":1E-130}]},"n":null,"s":"t\"x"}"#).unwrap();
    let resolve =
        |path: &str| JsonPath::parse(path).unwrap().resolve(line).map(|v| v.map(|v| v.get().to_owned()));
    assert_eq!(resolve("$['a']['b.c'][1]"), Ok(Some("1.50".into())));
    assert_eq!(resolve("$.a[\"b.c\"][2].d"), Ok(Some("1E-130".into())));
    assert_eq!(resolve("$.s"), Ok(Some(r#""t\"x""#.into())));
    assert_eq!(
        (resolve("$.n"), resolve("$.missing.deeper"), resolve("$.s.x")),
        (Ok(None), Ok(None), Ok(None))
    );
    assert!(resolve("$['a']['b.c'][3]").unwrap_err().contains("index out of range"));
    assert!(
        JsonPath::parse("a.b").is_err()
            && JsonPath::parse("$['a'").is_err()
            && JsonPath::parse("$..a").is_err()
    );
}

#[test]
fn parameters_become_literals_outside_quotes_and_casts() {
    use dataapi_support::parameters::bind;
    use serde_json::json;
    let sql = "SELECT ':k0', x::text FROM t WHERE (a > :k0) OR (a = :k0 AND b > :k1)".to_owned();
    let bound =
        bind(vec![sql], Some(&json!([{"name": "k0", "value": "it's"}, {"name": "k1", "value": "7"}])));
    assert_eq!(
        bound.unwrap(),
        ["SELECT ':k0', x::text FROM t WHERE (a > 'it''s') OR (a = 'it''s' AND b > '7')"]
    );
}

#[test]
fn parameters_keep_the_data_api_rules() {
    use dataapi_support::parameters::bind;
    use serde_json::json;
    let sql = || vec!["SELECT :a".to_owned()];
    let refused = |parameters| bind(sql(), Some(&parameters)).is_err();
    assert!(refused(json!([{"name": "a", "value": ""}])), "an empty value");
    assert!(refused(json!([{"name": "a-b", "value": "1"}])), "a name outside [0-9a-zA-Z_]");
    assert!(
        refused(json!([{"name": "a", "value": "1"}, {"name": "b", "value": "2"}])),
        "a parameter not used"
    );
    assert!(refused(json!([])), "a placeholder without a value");
}

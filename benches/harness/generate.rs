//! The benchmark's data: a full DynamoDB export of orders-like items in AWS's exact layout (what
//! `source = "exports"` applies), and the same rows twice more for the command-line imports:
//! - as the stage writes them for a local warehouse (JSON Lines, uncompressed): what `sqlite3`
//!   imports as "the same staged rows";
//! - as the target holds them, as TSV: what `sqlite3 .import` and `psql \copy` read with no
//!   parsing at all, the strictest floor.
//!
//! Every value is written the way the stage writes it (decimals canonical, timestamps with six
//! fractional digits, booleans 0/1 in TSV and `true`/`false` in JSON, super values as compact JSON
//! with sorted keys), so a sync of the export and an import of either file must produce the same
//! rows; the harness checks that they do.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use chrono::DateTime;
use dynashift::testkit::TableBuilder;
use flate2::Compression;

use super::export::write_data_files;

/// The folder below the bucket holding `AWSDynamoDB/`.
pub const PREFIX: &str = "incoming/orders";
pub const TABLE_ARN: &str = "arn:aws:dynamodb:eu-north-1:123456789012:table/orders";
pub const EXPORT_ID: &str = "01714564800000-bench001";
/// The export's point in time (the summary's `exportTime`).
pub const EXPORT_TIME: &str = "2024-05-01T12:00:00.000Z";

/// The table's columns as `tables.toml` maps them: (name, attribute path, type), key first.
/// The TSV carries them in this order.
pub const COLUMNS: [(&str, &str, &str); 13] = [
    ("order_id", "pk", "varchar(64)"),
    ("sk", "sk", "varchar(16)"),
    ("status", "status", "varchar(16)"),
    ("total", "total", "decimal(12,2)"),
    ("currency", "currency", "varchar(3)"),
    ("created_at", "created_at", "timestamp"),
    ("updated_at", "updated_at", "timestamptz"),
    ("customer_id", "customer.id", "varchar(32)"),
    ("customer_tier", "customer.tier", "varchar(16)"),
    ("first_sku", "lines[0].sku", "varchar(32)"),
    ("quantity", "lines[0].qty", "integer"),
    ("express", "shipping.express", "boolean"),
    ("line_items", "lines", "super"),
];

/// The table named `orders` in schema `sales` mapping `columns` (name, attribute path, type),
/// the first two its key, as the stage and spill benches stage it.
pub fn orders_table(columns: &[(&str, &str, &str)]) -> TableBuilder {
    let (keys, columns) = columns.split_at(2);
    let table = TableBuilder::new("orders").in_schema("sales", "orders");
    let table = keys.iter().fold(table, |table, (name, path, ty)| table.key(name, path, ty));
    columns.iter().fold(table, |table, (name, path, ty)| table.column(name, path, ty))
}

/// What [`generate`] wrote.
pub struct Dataset {
    pub items: u64,
    /// The bucket folder (`file://` root of `tables.toml`).
    pub bucket: PathBuf,
    /// The gzip data files, as paths.
    pub data_files: Vec<PathBuf>,
    /// The export's `manifest-summary.json`, as a key of the bucket.
    pub summary_key: String,
    /// The target's rows as TSV (no header), in [`COLUMNS`] order.
    pub rows_tsv: PathBuf,
    /// The staged rows: one JSON object a line, as the stage writes them (uncompressed).
    pub rows_jsonl: PathBuf,
    pub uncompressed: u64,
    pub compressed: u64,
}

/// Data files of about 25,000 items each (at least 2, so two cores have work), like the many
/// files of a real export.
fn file_count(items: u64) -> u64 {
    (items / 25_000).clamp(2, 64)
}

/// Writes the export, the staged rows and the TSV of `items` orders under `dir`.
pub fn generate(dir: &Path, items: u64) -> Dataset {
    let bucket = dir.join("bucket");
    let export_dir = format!("{PREFIX}/AWSDynamoDB/{EXPORT_ID}");
    let rows_tsv = dir.join("rows.tsv");
    let mut tsv = BufWriter::new(File::create(&rows_tsv).expect("create rows.tsv"));
    let rows_jsonl = dir.join("rows.jsonl");
    let mut jsonl = BufWriter::new(File::create(&rows_jsonl).expect("create rows.jsonl"));
    let mut random = Random::new(0);
    let sizes = (items, file_count(items));
    let written = write_data_files(&bucket, &export_dir, "bench", sizes, Compression::default(), |id| {
        let order = Order::random(&mut random, id);
        writeln!(tsv, "{}", order.tsv()).unwrap();
        writeln!(jsonl, "{}", order.staged_json()).unwrap();
        format!(r#"{{"Item":{}}}"#, order.dynamodb_json(1))
    });
    tsv.flush().expect("write rows.tsv");
    jsonl.flush().expect("write rows.jsonl");
    std::fs::write(bucket.join(format!("{export_dir}/_started")), "").expect("write _started");
    let summary_key = format!("{export_dir}/manifest-summary.json");
    let summary = serde_json::json!({
        "version": "2020-06-30", "exportArn": format!("{TABLE_ARN}/export/{EXPORT_ID}"),
        "startTime": "2024-05-01T12:01:00.000Z", "endTime": "2024-05-01T12:06:00.000Z",
        "tableArn": TABLE_ARN, "tableId": "cf263806-6bf1-4e51-a242-7067dcdecc72",
        "exportTime": EXPORT_TIME, "s3Bucket": "bench-bucket", "s3Prefix": PREFIX,
        "s3SseAlgorithm": "AES256", "s3SseKmsKeyId": null, "manifestFilesS3Key": written.manifest_key,
        "billedSizeBytes": written.uncompressed, "itemCount": items, "outputFormat": "DYNAMODB_JSON",
    });
    std::fs::write(bucket.join(&summary_key), summary.to_string()).expect("write manifest-summary.json");
    let data_files = written.keys.iter().map(|key| bucket.join(key)).collect();
    let (uncompressed, compressed) = (written.uncompressed, written.compressed);
    Dataset { items, bucket, data_files, summary_key, rows_tsv, rows_jsonl, uncompressed, compressed }
}

/// An orders item of key `ORDER#<id>` at `version`, drawn from `random`, as DynamoDB JSON.
pub fn order_image(random: &mut Random, id: u64, version: u64) -> String {
    Order::random(random, id).dynamodb_json(version)
}

/// A small deterministic generator (xorshift64*), so every run writes the same export.
pub struct Random(u64);

impl Random {
    /// A generator whose sequence `salt` picks (0 for the default sequence).
    pub fn new(salt: u64) -> Random {
        Random(0x9e37_79b9_7f4a_7c15 ^ salt)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const STATUSES: [&str; 5] = ["PENDING", "PAID", "PACKED", "SHIPPED", "DELIVERED"];
const TIERS: [&str; 3] = ["bronze", "silver", "gold"];
const CITIES: [&str; 4] = ["Springfield", "Riverton", "Lakeside", "Hill Valley"];

struct Line {
    sku: String,
    qty: u64,
    price: String,
}

/// One item, from which both its DynamoDB JSON and its target row are written.
struct Order {
    id: u64,
    status: &'static str,
    /// A canonical decimal (no trailing zeros), as the stage writes it.
    total: String,
    /// `HH:MM:SS.mmm` on 2024-05-01.
    created: (u64, u64, u64, u64),
    updated_epoch: i64,
    customer: u64,
    tier: &'static str,
    lines: Vec<Line>,
    city: &'static str,
    zip: u64,
    express: bool,
}

/// `units.cents` without trailing zeros (`12.5`, `12`), the form the stage writes decimals in.
fn canonical_decimal(units: u64, cents: u64) -> String {
    match cents {
        0 => units.to_string(),
        c if c % 10 == 0 => format!("{units}.{}", c / 10),
        c => format!("{units}.{c:02}"),
    }
}

impl Order {
    fn random(random: &mut Random, id: u64) -> Order {
        let lines = (0..2)
            .map(|_| Line {
                sku: format!("SKU-{:05}", random.below(100_000)),
                qty: 1 + random.below(5),
                price: canonical_decimal(random.below(500), random.below(100)),
            })
            .collect();
        Order {
            id,
            status: STATUSES[random.below(5) as usize],
            total: canonical_decimal(random.below(5_000), random.below(100)),
            created: (random.below(24), random.below(60), random.below(60), random.below(1000)),
            updated_epoch: 1_714_564_800 + random.below(86_400) as i64,
            customer: random.below(50_000),
            tier: TIERS[random.below(3) as usize],
            lines,
            city: CITIES[random.below(4) as usize],
            zip: random.below(100_000),
            express: random.below(2) == 1,
        }
    }

    fn dynamodb_json(&self, version: u64) -> String {
        let (h, m, s, ms) = self.created;
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| {
                format!(
                    r#"{{"M":{{"sku":{{"S":"{}"}},"qty":{{"N":"{}"}},"price":{{"N":"{}"}}}}}}"#,
                    l.sku, l.qty, l.price
                )
            })
            .collect();
        format!(
            concat!(
                r#"{{"pk":{{"S":"ORDER#{id:08}"}},"sk":{{"S":"META"}},"status":{{"S":"{status}"}},"#,
                r#""total":{{"N":"{total}"}},"currency":{{"S":"EUR"}},"#,
                r#""created_at":{{"S":"2024-05-01T{h:02}:{m:02}:{s:02}.{ms:03}Z"}},"updated_at":{{"N":"{updated}"}},"#,
                r#""customer":{{"M":{{"id":{{"S":"CUST#{customer:06}"}},"tier":{{"S":"{tier}"}}}}}},"#,
                r#""lines":{{"L":[{lines}]}},"tags":{{"SS":["gift","priority"]}},"version":{{"N":"{version}"}},"#,
                r#""shipping":{{"M":{{"city":{{"S":"{city}"}},"#,
                r#""zip":{{"S":"{zip:05}"}},"express":{{"BOOL":{express}}}}}}},"notes":{{"NULL":true}}}}"#
            ),
            id = self.id,
            h = h,
            m = m,
            s = s,
            ms = ms,
            status = self.status,
            total = self.total,
            updated = self.updated_epoch,
            customer = self.customer,
            tier = self.tier,
            lines = lines.join(","),
            city = self.city,
            zip = self.zip,
            express = self.express,
            version = version,
        )
    }

    /// The target row in [`COLUMNS`] order, tab-separated.
    fn tsv(&self) -> String {
        let (text, quantity, express, line_items) = self.row();
        let mut cells = text.to_vec();
        cells.extend([quantity.to_string(), u8::from(express).to_string(), line_items]);
        cells.join("\t")
    }

    /// The row as the stage writes it for a local warehouse: its operation, no write time (a full
    /// export has none), then [`COLUMNS`] by name, text as JSON strings, `quantity` a number,
    /// `express` a boolean, `line_items` its JSON.
    fn staged_json(&self) -> String {
        let (text, quantity, express, line_items) = self.row();
        let mut fields = vec![r#""dynashift_op":"U","dynashift_ts":null"#.to_owned()];
        fields.extend(
            COLUMNS
                .iter()
                .zip(&text)
                .map(|((name, ..), value)| format!("\"{name}\":{}", serde_json::Value::from(value.as_str()))),
        );
        fields.extend([
            format!(r#""quantity":{quantity}"#),
            format!(r#""express":{express}"#),
            format!(r#""line_items":{line_items}"#),
        ]);
        format!("{{{}}}", fields.join(","))
    }

    /// The target row in [`COLUMNS`] order: ten texts, then `quantity`, `express` and the JSON of
    /// `line_items`.
    fn row(&self) -> ([String; 10], u64, bool, String) {
        let (h, m, s, ms) = self.created;
        let updated = DateTime::from_timestamp(self.updated_epoch, 0).expect("a valid epoch");
        let line_items: Vec<String> = self
            .lines
            .iter()
            // The stage writes a map's keys sorted.
            .map(|l| format!(r#"{{"price":{},"qty":{},"sku":"{}"}}"#, l.price, l.qty, l.sku))
            .collect();
        let text = [
            format!("ORDER#{:08}", self.id),
            "META".to_owned(),
            self.status.to_owned(),
            self.total.clone(),
            "EUR".to_owned(),
            format!("2024-05-01 {h:02}:{m:02}:{s:02}.{:06}", ms * 1000),
            format!("{}+00", updated.format("%Y-%m-%d %H:%M:%S%.6f")),
            format!("CUST#{:06}", self.customer),
            self.tier.to_owned(),
            self.lines[0].sku.clone(),
        ];
        (text, self.lines[0].qty, self.express, format!("[{}]", line_items.join(",")))
    }
}

//! Transient failures of the PostgreSQL warehouse against the throwaway server (its URL in
//! `DYNASHIFT_PG_URL`, exported by `scripts/test.sh`): a load whose session is terminated is run
//! again and commits once; a COMMIT whose answer is lost is settled from `dynashift_runs`
//! instead of being run again; a COMMIT that never reached the server is run again; a reader
//! whose connection drops reconnects; a server that is down is retried until the deadline, and
//! the error says so; a permanent failure is not retried.
//!
//! The failures are made deterministic: the load waits for the table's load lock, held by the
//! test, while its backend is terminated; connections lost at an exact message go through
//! [`interceptor::Interceptor`], a relay between the warehouse and the server.

mod postgres_support;

use std::time::Duration;

use dynashift::config::Mode;
use dynashift::pipeline::events::EventKind;
use dynashift::retry::RetryPolicy;
use dynashift::testkit::{WarehouseFixture, customers_table, line, warnings};
use dynashift::warehouse::postgres::{ConnectSettings, PostgresWarehouse, TlsMode};
use dynashift::warehouse::{Warehouse, WarehouseError};
use postgres_support::{Fixture, admin_client};

use interceptor::{Interceptor, Interference};

/// Retries a few tens of milliseconds apart, so the tests stay fast.
const FAST: RetryPolicy = RetryPolicy {
    first_delay: Duration::from_millis(50),
    max_delay: Duration::from_millis(200),
    jitter: 0.25,
    deadline: Duration::from_secs(10),
};

/// The simple-query message tokio-postgres sends for `batch_execute("COMMIT")`.
const COMMIT_MESSAGE: &[u8] = b"Q\x00\x00\x00\x0bCOMMIT\x00";

/// A piece of the query that reads one run's commit record.
const FIND_RUN_QUERY: &[u8] = b"\"run_id\" = $1";

fn customer(id: &str, visits: i64) -> String {
    line(&customers_table(), "U", &[("customer_id", &format!("\"{id}\"")), ("visits", &visits.to_string())])
}

/// A warehouse on `url` that retries with [`FAST`].
async fn patient_warehouse(url: &str) -> PostgresWarehouse {
    let settings = ConnectSettings::from_url(url, TlsMode::Disable).unwrap().with_retry_policies(FAST, FAST);
    PostgresWarehouse::connect_with(settings).await.expect("connect the warehouse")
}

/// A fixture on a fresh database whose warehouse retries fast, connected through `interceptor`
/// when one is given.
async fn fixture(database: &str, interceptor: Option<&Interceptor>) -> Fixture {
    let mut fixture = Fixture::new(database).await;
    let url = interceptor.map_or(fixture.url.clone(), |relay| relay.url_for(&fixture.url));
    fixture.warehouse = patient_warehouse(&url).await;
    fixture
}

/// How many attempts a load made: each begins its transaction.
fn attempts(events: &[EventKind]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, EventKind::StatementSubmitted { label, .. } if label == "begin transaction"))
        .count()
}

/// How many commit records the run has (0 or 1: `run_id` is the primary key).
async fn records_of(fixture: &Fixture, run_id: &str) -> i64 {
    let client = admin_client(&fixture.url).await;
    let row = client.query_one("SELECT count(*) FROM dynashift_runs WHERE run_id = $1", &[&run_id]).await;
    row.unwrap().get(0)
}

/// The backend of the session waiting for an advisory lock in `database`.
async fn backend_waiting_for_the_load_lock(admin: &tokio_postgres::Client, database: &str) -> i32 {
    for _ in 0..200 {
        let waiting = admin
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' \
                 AND wait_event = 'advisory'",
                &[&database],
            )
            .await
            .unwrap();
        if let Some(row) = waiting {
            return row.get(0);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no load came to wait for the load lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_whose_session_is_terminated_before_commit_runs_again_and_commits_once() {
    let fixture = fixture("pgr_terminated", None).await;
    let table = customers_table();
    let request =
        fixture.next_request(&table, Mode::Full, "r1", &[vec![customer("C1", 1), customer("C2", 2)]]).await;

    // Hold the table's load lock so the load waits at its second statement, then end its backend.
    let holder = admin_client(&fixture.url).await;
    holder.batch_execute("BEGIN").await.unwrap();
    holder.batch_execute(&dynashift::warehouse::postgres::sql::lock_table_loads("customers")).await.unwrap();
    let load = fixture.load(&request);
    let terminate = async {
        let admin = admin_client(&fixture.url).await;
        let pid = backend_waiting_for_the_load_lock(&admin, "pgr_terminated").await;
        admin.query_one("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
        holder.batch_execute("COMMIT").await.unwrap();
    };
    let (outcome, ()) = tokio::join!(load, terminate);

    let report = outcome.result.expect("the load is run again and commits");
    assert_eq!((report.target_rows, report.upserts), (2, 2));
    assert_eq!(attempts(&outcome.events), 2);
    let notices = warnings(&outcome.events);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].starts_with("retrying the load after "), "{}", notices[0]);
    assert!(notices[0].contains("57P01") || notices[0].contains("connection"), "{}", notices[0]);
    assert_eq!(records_of(&fixture, "r1").await, 1);
    assert_eq!(fixture.rows(&table).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_lost_is_settled_from_dynashift_runs_and_not_run_again() {
    let relay = Interceptor::start().await;
    let fixture = fixture("pgr_lost_answer", Some(&relay)).await;
    let table = customers_table();
    let request =
        fixture.next_request(&table, Mode::Full, "r1", &[vec![customer("C1", 1), customer("C2", 2)]]).await;

    relay.arm(COMMIT_MESSAGE, Interference::LoseAnswer);
    let outcome = fixture.load(&request).await;

    assert_eq!(relay.fired(), 1, "the COMMIT reached the server and its answer was dropped");
    let report = outcome.result.expect("the committed load is reported as committed");
    assert_eq!((report.target_rows, report.upserts, report.deletes), (2, 2, 0));
    assert_eq!(attempts(&outcome.events), 1, "a committed load is never run again");
    let notices = warnings(&outcome.events);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].starts_with("the answer to COMMIT was lost ("), "{}", notices[0]);
    assert!(notices[0].ends_with("dynashift_runs holds run r1, so the load committed"), "{}", notices[0]);
    assert_eq!(records_of(&fixture, "r1").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_never_reached_the_server_is_run_again() {
    let relay = Interceptor::start().await;
    let fixture = fixture("pgr_dropped_commit", Some(&relay)).await;
    let table = customers_table();
    let request = fixture.next_request(&table, Mode::Full, "r1", &[vec![customer("C1", 1)]]).await;

    relay.arm(COMMIT_MESSAGE, Interference::Drop);
    let outcome = fixture.load(&request).await;

    assert_eq!(relay.fired(), 1);
    assert_eq!(outcome.result.expect("committed on the second attempt").target_rows, 1);
    assert_eq!(attempts(&outcome.events), 2);
    let notices = warnings(&outcome.events);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].starts_with("retrying the load after connection"), "{}", notices[0]);
    assert!(notices[0].contains(" (commit) failed: "), "{}", notices[0]);
    assert_eq!(records_of(&fixture, "r1").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_connection_drops_reconnects() {
    let relay = Interceptor::start().await;
    let fixture = fixture("pgr_reader", Some(&relay)).await;
    let table = customers_table();
    fixture.sync(&table, Mode::Full, "r1", &[vec![customer("C1", 1)]]).await.result.unwrap();

    relay.arm(FIND_RUN_QUERY, Interference::Drop);
    let record = fixture.warehouse.find_run("r1").await.expect("read again on a new session");

    assert_eq!(relay.fired(), 1);
    assert_eq!(record.map(|r| r.target_rows), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_not_retried() {
    let fixture = fixture("pgr_permanent", None).await;
    let table = customers_table();
    fixture.sync(&table, Mode::Full, "seed", &[vec![customer("C1", 1)]]).await.result.unwrap();
    let mut request = fixture.next_request(&table, Mode::Incremental, "r2", &[vec![customer("C2", 2)]]).await;
    request.previous_watermark = request.previous_watermark.map(|w| w - chrono::Duration::hours(5));

    let outcome = fixture.load(&request).await;

    let error = outcome.result.expect_err("a stale watermark fails").to_string();
    assert!(error.contains("check the committed watermark") && !error.contains("retried"), "{error}");
    assert_eq!(attempts(&outcome.events), 1);
    assert!(warnings(&outcome.events).is_empty());
}

#[tokio::test]
async fn a_server_that_is_down_is_retried_until_the_deadline_and_the_error_says_so() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgresql://postgres@127.0.0.1:{closed_port}/postgres");
    let quick = RetryPolicy { deadline: Duration::from_millis(400), ..FAST };
    let settings =
        ConnectSettings::from_url(&url, TlsMode::Disable).unwrap().with_retry_policies(quick, FAST);

    let error = PostgresWarehouse::connect_with(settings).await.expect_err("nothing listens");

    let WarehouseError::Connection(message) = error else { panic!("a connection error: {error:?}") };
    assert!(
        message.starts_with(&format!("cannot connect to postgres postgres@127.0.0.1:{closed_port}/")),
        "{message}"
    );
    assert!(message.contains("(retried "), "{message}");
    assert!(message.ends_with(": connection refused; giving up at the 400ms deadline)"), "{message}");
}

/// A relay between the warehouse and the test server that loses a connection at a chosen
/// message, once: the way a network failure would, but at an exact point of the protocol.
mod interceptor {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
    use tokio::net::{TcpListener, TcpStream};

    /// What happens to the connection that sends the armed message.
    #[derive(Debug, Clone, Copy)]
    pub enum Interference {
        /// The message is forwarded, the server's answer dropped, and the connection closed.
        LoseAnswer,
        /// The connection is closed before the message reaches the server.
        Drop,
    }

    #[derive(Default)]
    struct Control {
        armed: Mutex<Option<(&'static [u8], Interference)>>,
        fired: AtomicU32,
    }

    impl Control {
        /// Disarms and returns the interference when `chunk` holds the armed message.
        fn trigger(&self, chunk: &[u8]) -> Option<Interference> {
            let mut armed = self.armed.lock().unwrap();
            let (pattern, interference) = (*armed)?;
            if !chunk.windows(pattern.len()).any(|window| window == pattern) {
                return None;
            }
            *armed = None;
            self.fired.fetch_add(1, Ordering::SeqCst);
            Some(interference)
        }
    }

    pub struct Interceptor {
        port: u16,
        control: Arc<Control>,
    }

    impl Interceptor {
        /// Relays every connection to the server of `DYNASHIFT_PG_URL`.
        pub async fn start() -> Interceptor {
            let server = server_address(&super::postgres_support::server_url());
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let control = Arc::new(Control::default());
            let shared = control.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let server = TcpStream::connect(&server).await.expect("reach the test server");
                    tokio::spawn(relay(client, server, shared.clone()));
                }
            });
            Interceptor { port, control }
        }

        /// `url` (a database on the test server) reached through this relay.
        pub fn url_for(&self, url: &str) -> String {
            url.replacen(&server_address(url), &format!("127.0.0.1:{}", self.port), 1)
        }

        /// Interferes with the next connection that sends `pattern`.
        pub fn arm(&self, pattern: &'static [u8], interference: Interference) {
            *self.control.armed.lock().unwrap() = Some((pattern, interference));
        }

        /// How many times an armed interference happened.
        pub fn fired(&self) -> u32 {
            self.control.fired.load(Ordering::SeqCst)
        }
    }

    /// `host:port` of a `postgresql://user@host:port/database` URL.
    fn server_address(url: &str) -> String {
        let authority = url.split_once('@').map_or(url, |(_, rest)| rest);
        authority.split('/').next().unwrap().to_owned()
    }

    /// Relays both ways until either side closes or an interference closes both.
    async fn relay(client: TcpStream, server: TcpStream, control: Arc<Control>) {
        let (client_reads, client_writes) = client.into_split();
        let (server_reads, server_writes) = server.into_split();
        let lose_answer = AtomicBool::new(false);
        tokio::select! {
            () = upstream(client_reads, server_writes, &control, &lose_answer) => {}
            () = downstream(server_reads, client_writes, &lose_answer) => {}
        }
    }

    async fn upstream(
        mut from: OwnedReadHalf,
        mut to: OwnedWriteHalf,
        control: &Control,
        lose_answer: &AtomicBool,
    ) {
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(read @ 1..) = from.read(&mut buffer).await {
            let chunk = &buffer[..read];
            match control.trigger(chunk) {
                Some(Interference::Drop) => return,
                // Set before the message leaves, so its answer cannot slip through.
                Some(Interference::LoseAnswer) => lose_answer.store(true, Ordering::SeqCst),
                None => {}
            }
            if to.write_all(chunk).await.is_err() {
                return;
            }
        }
    }

    async fn downstream(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, lose_answer: &AtomicBool) {
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(read @ 1..) = from.read(&mut buffer).await {
            if lose_answer.load(Ordering::SeqCst) || to.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    }
}

//! Patience with failures that pass: a throttled AWS call, a dropped connection, a warehouse
//! restarting, a deadlock. Each adapter says which of its errors are worth another attempt
//! ([`Retryable`]); this module owns what they all share — exponential backoff with jitter, a
//! total deadline, and the sentence telling the user what was retried and for how long — so AWS
//! and every warehouse wait the same way and say so in the same words.
//!
//! The deadline counts from the first failure, not from the first call: a load that worked for
//! twenty minutes before its connection dropped gets the whole deadline to get through, and a
//! call that fails at once gets no more than that. A retry is made only when it can start
//! before the deadline; otherwise the last error is returned, carrying the account
//! ("retried 6 times over 2m 10s: throttled, then unreachable; giving up at the 3m deadline").
//! Each wait is drawn around its backoff, so tables throttled together do not retry in lockstep.
//!
//! Callers: `aws::retry_transient` (every AWS call), and the PostgreSQL and SQLite warehouses
//! (connecting, reading commit records, and re-running a load that failed before its COMMIT).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use rand::Rng;
use std::sync::Arc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How patiently a call is retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// The backoff before the first retry; it doubles for each further retry.
    pub first_delay: Duration,
    /// The backoff stops growing here.
    pub max_delay: Duration,
    /// Each wait is drawn uniformly within ± this fraction of its backoff (0.25: 75–125 %).
    pub jitter: f64,
    /// How long after the first failure a retry may still start.
    pub deadline: Duration,
}

impl RetryPolicy {
    /// A backoff from `first_delay` doubling up to `max_delay`, jittered by ±25 %, for `deadline`.
    pub const fn doubling(first_delay: Duration, max_delay: Duration, deadline: Duration) -> RetryPolicy {
        RetryPolicy { first_delay, max_delay, jitter: 0.25, deadline }
    }

    /// The DynamoDB export API (ExportTableToPointInTime, DescribeExport, DescribeTable,
    /// DescribeContinuousBackups): its limits (300 exports in flight per account, throttled
    /// describes when many tables poll at once) last minutes, so 2 s doubling to 60 s for 5 min.
    pub const EXPORT_API: RetryPolicy =
        RetryPolicy::doubling(Duration::from_secs(2), Duration::from_secs(60), Duration::from_secs(5 * 60));

    /// Short control-plane calls whose caller waits for the answer (a Redshift Data API
    /// DescribeStatement or CancelStatement): 250 ms doubling to 5 s, for 30 s.
    pub const CONTROL_PLANE: RetryPolicy =
        RetryPolicy::doubling(Duration::from_millis(250), Duration::from_secs(5), Duration::from_secs(30));

    /// S3 object calls (GET, PUT, LIST, HEAD, DELETE): S3 asks to slow down (503 SlowDown)
    /// while it scales a prefix, which takes up to a minute: 250 ms doubling to 10 s, for 1 min.
    pub const OBJECT_STORE: RetryPolicy =
        RetryPolicy::doubling(Duration::from_millis(250), Duration::from_secs(10), Duration::from_secs(60));

    /// Connecting to a warehouse and reading its commit records: a restart, a failover or a
    /// full connection pool passes within a minute: 500 ms doubling to 10 s, for 1 min.
    pub const WAREHOUSE_SESSION: RetryPolicy =
        RetryPolicy::doubling(Duration::from_millis(500), Duration::from_secs(10), Duration::from_secs(60));

    /// Re-running a whole load that failed transiently before its COMMIT (a deadlock, a
    /// serialization failure, a dropped connection): 2 s doubling to 30 s, for 3 min.
    pub const WAREHOUSE_LOAD: RetryPolicy =
        RetryPolicy::doubling(Duration::from_secs(2), Duration::from_secs(30), Duration::from_secs(3 * 60));

    /// How many retries fit before the deadline when every call fails at once and no wait is
    /// jittered: the `m` of "retry n of about m" (jitter and slow calls move it by a few).
    pub fn planned_retries(&self) -> u32 {
        let mut waited = Duration::ZERO;
        let mut retries = 0;
        while retries < 1_000 {
            waited = waited.saturating_add(self.backoff(retries + 1));
            if waited > self.deadline {
                break;
            }
            retries += 1;
        }
        retries
    }

    /// The backoff before retry number `retry` (1-based), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The wait before retry number `retry`: its backoff, jittered.
    fn wait(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let jitter = self.jitter.clamp(0.0, 1.0);
        let backoff = self.backoff(retry);
        if jitter == 0.0 { backoff } else { backoff.mul_f64(rng.random_range(1.0 - jitter..=1.0 + jitter)) }
    }
}

/// An error the retry loop can judge and annotate.
pub trait Retryable: fmt::Display + Sized {
    /// Why another attempt may succeed, in a few words ("throttled", "connection lost",
    /// "deadlock (40P01)"); `None` when another attempt would fail the same way.
    fn transient_cause(&self) -> Option<String>;

    /// This error, with `account` (what was retried, for how long, why it stopped) added to its
    /// message.
    #[must_use]
    fn with_retry_account(self, account: &RetryAccount) -> Self;
}

/// What the loop did before it returned an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAccount {
    /// Retries made (attempts beyond the first).
    pub retries: u32,
    /// From the first failure to the last one.
    pub over: Duration,
    /// The transient causes met, each once, in the order first met.
    pub causes: Vec<String>,
    pub ending: Ending,
}

/// Why the loop stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The next retry could not have started before this deadline.
    Deadline(Duration),
    /// The last failure is not one a retry fixes.
    Permanent,
    /// The caller cancelled while the loop waited.
    Cancelled,
}

impl fmt::Display for RetryAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let causes = self.causes.join(", then ");
        let retried = format!("retried {} over {}", times(self.retries), spoken(self.over));
        match self.ending {
            Ending::Deadline(deadline) if self.retries == 0 => {
                write!(
                    f,
                    "{causes}; not retried: a retry would start after the {} deadline",
                    spoken(deadline)
                )
            }
            Ending::Deadline(deadline) => {
                write!(f, "{retried}: {causes}; giving up at the {} deadline", spoken(deadline))
            }
            Ending::Permanent => write!(f, "{retried}: {causes}; the last failure is not one a retry fixes"),
            Ending::Cancelled => write!(f, "{retried}: {causes}; stopped waiting: cancelled"),
        }
    }
}

/// A retry about to be made, for callers that report it (an event, a log line).
#[derive(Debug)]
pub struct Retrying<'a> {
    pub operation: &'a str,
    /// 1-based.
    pub retry: u32,
    /// About how many retries the policy makes in all ([`RetryPolicy::planned_retries`]).
    pub planned: u32,
    pub cause: &'a str,
    /// The error that is being retried, as its message reads.
    pub error: String,
    pub wait: Duration,
    /// Until the deadline, counted from this moment.
    pub left: Duration,
}

/// "retrying the load after deadlock (40P01): statement 9 … failed: …; retry 1 in 2.1s, 2m 58s
/// left before giving up".
impl fmt::Display for Retrying<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "retrying {} after {}: {}; retry {} in {}, {} left before giving up",
            self.operation,
            self.cause,
            self.error,
            self.retry,
            spoken(self.wait),
            spoken(self.left)
        )
    }
}

/// Calls `call` until it succeeds, fails permanently, or the policy's deadline leaves no room
/// for another retry; the error returned then carries the [`RetryAccount`]. Each retry is
/// logged (warn) with `operation` naming the call.
pub async fn retry<T, E, F, Fut>(policy: RetryPolicy, operation: &str, call: F) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    RetryLoop::new(policy, operation).run(call).await
}

/// What a [`RetryLoop`] tells of each retry.
type RetryReport<'a> = Box<dyn FnMut(&Retrying<'_>) + Send + 'a>;

/// [`retry`] with options: a cancellation token that ends the waits, and a callback told of
/// each retry before its wait.
pub struct RetryLoop<'a> {
    policy: RetryPolicy,
    operation: &'a str,
    cancel: Option<&'a CancellationToken>,
    on_retry: Option<RetryReport<'a>>,
}

impl<'a> RetryLoop<'a> {
    pub fn new(policy: RetryPolicy, operation: &'a str) -> RetryLoop<'a> {
        RetryLoop { policy, operation, cancel: None, on_retry: None }
    }

    /// Stops waiting when `cancel` is triggered; the last error is returned at once.
    pub fn cancelled_by(mut self, cancel: &'a CancellationToken) -> RetryLoop<'a> {
        self.cancel = Some(cancel);
        self
    }

    /// Tells `report` of each retry before waiting for it.
    pub fn on_retry(mut self, report: impl FnMut(&Retrying<'_>) + Send + 'a) -> RetryLoop<'a> {
        self.on_retry = Some(Box::new(report));
        self
    }

    /// Runs the loop (see [`retry`]).
    pub async fn run<T, E, F, Fut>(mut self, mut call: F) -> Result<T, E>
    where
        E: Retryable,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut schedule: Option<Schedule> = None;
        loop {
            let error = match call().await {
                Ok(value) => {
                    if let Some(schedule) = &schedule {
                        tracing::info!(
                            operation = self.operation,
                            retries = schedule.retries,
                            "succeeded after retrying"
                        );
                    }
                    return Ok(value);
                }
                Err(error) => error,
            };
            let now = Instant::now();
            let Some(cause) = error.transient_cause() else {
                return Err(match &schedule {
                    Some(schedule) => error.with_retry_account(&schedule.account(now, Ending::Permanent)),
                    None => error,
                });
            };
            let schedule = schedule.get_or_insert_with(|| Schedule::start(self.policy, now));
            schedule.met(cause.clone());
            let Some(wait) = schedule.next_wait(now, &mut rand::rng()) else {
                let deadline = Ending::Deadline(self.policy.deadline);
                return Err(error.with_retry_account(&schedule.account(now, deadline)));
            };
            self.announce(&Retrying {
                operation: self.operation,
                retry: schedule.retries,
                planned: self.policy.planned_retries(),
                cause: &cause,
                error: error.to_string(),
                wait,
                left: schedule.left(now),
            });
            if !pause(wait, self.cancel).await {
                return Err(error.with_retry_account(&schedule.account(Instant::now(), Ending::Cancelled)));
            }
        }
    }

    fn announce(&mut self, retrying: &Retrying<'_>) {
        tracing::warn!(
            operation = retrying.operation,
            retry = retrying.retry,
            cause = retrying.cause,
            wait = %spoken(retrying.wait),
            error = %retrying.error,
            "transient failure; retrying"
        );
        if let Some(report) = self.on_retry.as_mut() {
            report(retrying);
        }
        // Outside any `observed` scope there is no observer, which is fine.
        let _ = OBSERVER.try_with(|observer| observer(retrying));
    }
}

/// Told of every retry made inside an [`observed`] future.
pub type RetryObserver = Arc<dyn Fn(&Retrying<'_>) + Send + Sync>;

tokio::task_local! {
    static OBSERVER: RetryObserver;
}

/// Runs `future`, telling `observer` of every retry any retry loop inside it makes, however
/// deep: the console shows "retry 3 of about 9 after connection refused" while it connects,
/// without every adapter's connect function taking a callback.
pub async fn observed<F: Future>(observer: RetryObserver, future: F) -> F::Output {
    OBSERVER.scope(observer, future).await
}

/// Waits `wait`; false when `cancel` was triggered first. (A free function: a borrow of the
/// loop, whose callback need not be `Sync`, must not live across the wait.)
async fn pause(wait: Duration, cancel: Option<&CancellationToken>) -> bool {
    match cancel {
        None => {
            tokio::time::sleep(wait).await;
            true
        }
        Some(cancel) => tokio::select! {
            () = cancel.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        },
    }
}

/// The loop's bookkeeping from the first failure on, apart from any clock so it can be tested
/// with made-up instants.
#[derive(Debug)]
struct Schedule {
    policy: RetryPolicy,
    first_failure: Instant,
    retries: u32,
    causes: Vec<String>,
}

impl Schedule {
    fn start(policy: RetryPolicy, first_failure: Instant) -> Schedule {
        Schedule { policy, first_failure, retries: 0, causes: Vec::new() }
    }

    /// Records a transient cause (each distinct cause once).
    fn met(&mut self, cause: String) {
        if !self.causes.contains(&cause) {
            self.causes.push(cause);
        }
    }

    /// The wait before the next retry, counting it as made; `None` when it would start after
    /// the deadline.
    fn next_wait(&mut self, now: Instant, rng: &mut impl Rng) -> Option<Duration> {
        let wait = self.policy.wait(self.retries + 1, rng);
        let starts_at = now.saturating_duration_since(self.first_failure) + wait;
        if starts_at > self.policy.deadline {
            return None;
        }
        self.retries += 1;
        Some(wait)
    }

    fn left(&self, now: Instant) -> Duration {
        self.policy.deadline.saturating_sub(now.saturating_duration_since(self.first_failure))
    }

    fn account(&self, now: Instant, ending: Ending) -> RetryAccount {
        RetryAccount {
            retries: self.retries,
            over: now.saturating_duration_since(self.first_failure),
            causes: self.causes.clone(),
            ending,
        }
    }
}

/// "1 time", "6 times".
fn times(n: u32) -> String {
    if n == 1 { "1 time".into() } else { format!("{n} times") }
}

/// A duration as people say it: `250ms`, `1.5s`, `40s`, `2m 10s`, `3m`, `1h 5m`.
pub fn spoken(duration: Duration) -> String {
    let millis = duration.as_millis();
    let seconds = duration.as_secs();
    match seconds {
        0 => format!("{millis}ms"),
        1..10 if !millis.is_multiple_of(1000) => format!("{:.1}s", duration.as_secs_f64()),
        1..60 => format!("{seconds}s"),
        60..3600 => with_remainder(seconds / 60, "m", seconds % 60, "s"),
        _ => with_remainder(seconds / 3600, "h", seconds % 3600 / 60, "m"),
    }
}

fn with_remainder(whole: u64, unit: &str, rest: u64, rest_unit: &str) -> String {
    if rest == 0 { format!("{whole}{unit}") } else { format!("{whole}{unit} {rest}{rest_unit}") }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// A test error: transient when it has a cause; its message collects the account.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Flaky {
        cause: Option<&'static str>,
        message: String,
    }

    impl Flaky {
        fn transient(cause: &'static str) -> Flaky {
            Flaky { cause: Some(cause), message: format!("{cause} failure") }
        }

        fn permanent() -> Flaky {
            Flaky { cause: None, message: "bad request".into() }
        }
    }

    impl fmt::Display for Flaky {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.message)
        }
    }

    impl Retryable for Flaky {
        fn transient_cause(&self) -> Option<String> {
            self.cause.map(str::to_owned)
        }

        fn with_retry_account(mut self, account: &RetryAccount) -> Flaky {
            self.message = format!("{} ({account})", self.message);
            self
        }
    }

    const TINY: RetryPolicy =
        RetryPolicy::doubling(Duration::from_millis(1), Duration::from_millis(4), Duration::from_secs(5));

    /// Fails with `failures` in turn, then succeeds with the number of calls made.
    fn script(
        failures: Vec<Flaky>,
    ) -> (Arc<AtomicU32>, impl FnMut() -> std::future::Ready<Result<u32, Flaky>>) {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let call = move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            std::future::ready(match failures.get(n as usize) {
                Some(failure) => Err(failure.clone()),
                None => Ok(n + 1),
            })
        };
        (calls, call)
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_the_call_succeeds() {
        let (calls, call) = script(vec![Flaky::transient("throttled"), Flaky::transient("unreachable")]);
        assert_eq!(retry(TINY, "test", call).await, Ok(3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_permanent_failure_is_returned_at_once_and_unchanged() {
        let (calls, call) = script(vec![Flaky::permanent(), Flaky::transient("x")]);
        assert_eq!(retry(TINY, "test", call).await, Err(Flaky::permanent()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_permanent_failure_after_retries_says_what_was_retried() {
        let (calls, call) = script(vec![Flaky::transient("unreachable"), Flaky::permanent()]);
        let error = retry(TINY, "test", call).await.unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(
            error.message.starts_with("bad request (retried 1 time over ")
                && error.message.ends_with("ms: unreachable; the last failure is not one a retry fixes)"),
            "{}",
            error.message
        );
    }

    #[tokio::test]
    async fn retries_stop_at_the_deadline_and_the_error_says_so() {
        let policy = RetryPolicy { deadline: Duration::from_millis(30), jitter: 0.0, ..TINY };
        let (calls, call) = script(vec![Flaky::transient("throttled"); 1000]);
        let started = std::time::Instant::now();
        let error = retry(policy, "test", call).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        let made = calls.load(Ordering::SeqCst);
        // 1 + 2 + 4 + 4 + … ms of waits fit in 30 ms: about nine retries, never hundreds. A loaded
        // machine oversleeps each wait, so fewer may fit; at least one retry always does.
        assert!((2..=12).contains(&made), "{made} calls");
        let expected_end = "ms: throttled; giving up at the 30ms deadline)";
        assert!(error.message.ends_with(expected_end), "{}", error.message);
        assert!(error.message.contains(&format!("retried {} times over ", made - 1)), "{}", error.message);
    }

    #[tokio::test]
    async fn a_cancel_ends_the_wait_with_the_last_error() {
        let policy = RetryPolicy { first_delay: Duration::from_secs(30), ..TINY };
        let cancel = CancellationToken::new();
        let (calls, call) = script(vec![Flaky::transient("deadlock"); 10]);
        let trigger = cancel.clone();
        let run = RetryLoop::new(policy, "test")
            .cancelled_by(&cancel)
            .on_retry(move |_| trigger.cancel())
            .run(call);
        let error =
            tokio::time::timeout(Duration::from_secs(5), run).await.expect("no 30 s wait").unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(error.message.ends_with("deadlock; stopped waiting: cancelled)"), "{}", error.message);
    }

    #[tokio::test]
    async fn an_observer_hears_of_retries_made_deep_inside_its_future() {
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = heard.clone();
        let observer: RetryObserver = Arc::new(move |retrying: &Retrying<'_>| {
            sink.lock().unwrap().push((retrying.retry, retrying.planned, retrying.cause.to_owned()));
        });
        let (_, call) = script(vec![Flaky::transient("refused"), Flaky::transient("refused")]);
        let inner = async move { retry(TINY, "connecting", call).await };
        assert_eq!(observed(observer, inner).await, Ok(3));
        let planned = TINY.planned_retries();
        assert_eq!(
            *heard.lock().unwrap(),
            vec![(1, planned, "refused".into()), (2, planned, "refused".into())]
        );
        let (_, call) = script(vec![Flaky::transient("refused")]);
        assert_eq!(retry(TINY, "unobserved", call).await, Ok(2), "no observer, no harm");
        assert_eq!(heard.lock().unwrap().len(), 2, "only retries inside the scope are heard");
    }

    #[test]
    fn planned_retries_count_the_backoffs_that_fit_the_deadline() {
        // 0.5, 1, 2, 4, 8, 10, 10, 10, 10 s: 55.5 s; a tenth would end at 65.5 s.
        assert_eq!(RetryPolicy::WAREHOUSE_SESSION.planned_retries(), 9);
        let none = RetryPolicy { deadline: Duration::from_millis(1), ..RetryPolicy::WAREHOUSE_SESSION };
        assert_eq!(none.planned_retries(), 0);
    }

    #[tokio::test]
    async fn each_retry_is_reported_before_its_wait() {
        let reported = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = reported.clone();
        let (_, call) = script(vec![Flaky::transient("throttled"), Flaky::transient("unreachable")]);
        let result = RetryLoop::new(TINY, "DescribeExport")
            .on_retry(move |retrying| sink.lock().unwrap().push(retrying.to_string()))
            .run(call)
            .await;
        assert_eq!(result, Ok(3));
        let reported = reported.lock().unwrap();
        assert_eq!(reported.len(), 2);
        assert!(
            reported[0]
                .starts_with("retrying DescribeExport after throttled: throttled failure; retry 1 in "),
            "{}",
            reported[0]
        );
        assert!(
            reported[1].contains(" after unreachable: unreachable failure; retry 2 in "),
            "{}",
            reported[1]
        );
        assert!(reported[1].ends_with(" left before giving up"), "{}", reported[1]);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let delays: Vec<u64> =
            (1..=8).map(|retry| RetryPolicy::EXPORT_API.backoff(retry).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(RetryPolicy::EXPORT_API.backoff(400), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_varies() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let policy = RetryPolicy {
            first_delay: Duration::from_secs(100),
            max_delay: Duration::from_secs(100),
            ..TINY
        };
        let waits: Vec<Duration> = (0..500).map(|_| policy.wait(1, &mut rng)).collect();
        assert!(waits.iter().all(|w| (Duration::from_secs(75)..=Duration::from_secs(125)).contains(w)));
        assert!(
            waits.iter().any(|w| *w < Duration::from_secs(85))
                && waits.iter().any(|w| *w > Duration::from_secs(115))
        );
        let steady = RetryPolicy { jitter: 0.0, ..policy };
        assert_eq!(steady.wait(1, &mut rng), Duration::from_secs(100));
    }

    #[test]
    fn the_schedule_gives_up_when_the_next_retry_would_start_after_the_deadline() {
        let policy = RetryPolicy { jitter: 0.0, ..RetryPolicy::EXPORT_API };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let start = Instant::now();
        let mut schedule = Schedule::start(policy, start);
        // Each call takes 1 s; a retry is made while its wait ends within 300 s of the first
        // failure: the 8th wait starts at 189 s and ends at 249 s, a 9th would end at 310 s.
        let mut now = start;
        let mut waits = Vec::new();
        while let Some(wait) = schedule.next_wait(now, &mut rng) {
            waits.push(wait.as_secs());
            now += wait + Duration::from_secs(1);
        }
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(schedule.retries, 8);
        assert_eq!(now.duration_since(start), Duration::from_secs(250));
        assert_eq!(schedule.left(start + Duration::from_secs(290)), Duration::from_secs(10));
    }

    #[test]
    fn the_account_reads_as_a_sentence() {
        let account = |retries, over, causes: &[&str], ending| RetryAccount {
            retries,
            over: Duration::from_secs(over),
            causes: causes.iter().map(|c| c.to_string()).collect(),
            ending,
        };
        let three_minutes = Ending::Deadline(Duration::from_secs(180));
        assert_eq!(
            account(6, 130, &["throttled", "unreachable"], three_minutes).to_string(),
            "retried 6 times over 2m 10s: throttled, then unreachable; giving up at the 3m deadline"
        );
        assert_eq!(
            account(0, 0, &["unreachable"], three_minutes).to_string(),
            "unreachable; not retried: a retry would start after the 3m deadline"
        );
        assert_eq!(
            account(1, 2, &["deadlock (40P01)"], Ending::Permanent).to_string(),
            "retried 1 time over 2s: deadlock (40P01); the last failure is not one a retry fixes"
        );
        assert_eq!(
            account(2, 45, &["connection lost"], Ending::Cancelled).to_string(),
            "retried 2 times over 45s: connection lost; stopped waiting: cancelled"
        );
    }

    #[test]
    fn a_retry_reads_as_a_sentence() {
        let retrying = Retrying {
            operation: "the load",
            retry: 1,
            planned: 6,
            cause: "deadlock (40P01)",
            error: "statement 9 (merge staged upserts) failed: ERROR 40P01: deadlock detected".into(),
            wait: Duration::from_millis(2100),
            left: Duration::from_secs(178),
        };
        assert_eq!(
            retrying.to_string(),
            "retrying the load after deadlock (40P01): statement 9 (merge staged upserts) failed: ERROR 40P01: \
             deadlock detected; retry 1 in 2.1s, 2m 58s left before giving up"
        );
    }

    #[test]
    fn causes_are_listed_once_in_the_order_first_met() {
        let mut schedule = Schedule::start(TINY, Instant::now());
        for cause in ["throttled", "unreachable", "throttled", "server error (HTTP 500)"] {
            schedule.met(cause.into());
        }
        assert_eq!(schedule.causes, ["throttled", "unreachable", "server error (HTTP 500)"]);
    }

    #[test]
    fn durations_are_spoken_in_at_most_two_units() {
        let cases = [
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(2), "2s"),
            (Duration::from_secs(40), "40s"),
            (Duration::from_secs(130), "2m 10s"),
            (Duration::from_secs(180), "3m"),
            (Duration::from_secs(3900), "1h 5m"),
            (Duration::from_secs(7200), "2h"),
        ];
        for (duration, text) in cases {
            assert_eq!(spoken(duration), text);
        }
    }
}

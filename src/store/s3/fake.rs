//! A scripted S3 on loopback for the store's retry tests: it keeps objects in memory and answers
//! PutObject (honouring `If-None-Match: *` and `If-Match: <etag>`) and GetObject (with the ETag), except that the requests a test lines
//! up faults for fail — before or after taking effect. moto cannot lose an answer on purpose;
//! this can, which is what the conditional create's read-back must be tested against.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What the next request suffers.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fault {
    /// Answers this error without doing anything.
    Refuse { status: u16, code: &'static str },
    /// Does the request, then answers this error, as when an answer is lost on its way back.
    ApplyThenFail { status: u16, code: &'static str },
}

#[derive(Debug, Default)]
struct State {
    objects: HashMap<String, Bytes>,
    faults: VecDeque<Fault>,
    requests: u32,
}

/// The running server; it stops when the test's runtime ends.
#[derive(Debug, Clone, Default)]
pub(super) struct FakeS3 {
    state: Arc<Mutex<State>>,
}

impl FakeS3 {
    /// Starts serving on a free loopback port; returns the server and its endpoint URL.
    pub(super) async fn start() -> (FakeS3, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeS3::default();
        let served = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let fake = served.clone();
                let service = service_fn(move |request| {
                    let fake = fake.clone();
                    async move { Ok::<_, Infallible>(fake.answer(request).await) }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        (fake, endpoint)
    }

    /// Lines up `faults` for the next requests, in order.
    pub(super) fn fail_next(&self, faults: &[Fault]) {
        self.state.lock().unwrap().faults.extend(faults.iter().copied());
    }

    pub(super) fn insert(&self, path: &str, bytes: &[u8]) {
        self.state.lock().unwrap().objects.insert(path.to_owned(), Bytes::copy_from_slice(bytes));
    }

    /// The object at `/bucket/key`.
    pub(super) fn object(&self, path: &str) -> Option<Bytes> {
        self.state.lock().unwrap().objects.get(path).cloned()
    }

    pub(super) fn requests(&self) -> u32 {
        self.state.lock().unwrap().requests
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let condition = match (request.headers().get("if-none-match"), request.headers().get("if-match")) {
            (Some(v), _) if v == "*" => Condition::Absent,
            (_, Some(etag)) => Condition::Matches(etag.to_str().unwrap_or_default().to_owned()),
            _ => Condition::None,
        };
        let chunked = request.headers().get("content-encoding").is_some_and(|v| v == "aws-chunked");
        let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let body = if chunked { decode_aws_chunked(&body) } else { body };
        let mut state = self.state.lock().unwrap();
        state.requests += 1;
        match state.faults.pop_front() {
            Some(Fault::Refuse { status, code }) => error(status, code),
            Some(Fault::ApplyThenFail { status, code }) => {
                perform(&mut state, &method, &path, &condition, body);
                error(status, code)
            }
            None => perform(&mut state, &method, &path, &condition, body),
        }
    }
}

/// The precondition of a PutObject.
#[derive(Debug)]
enum Condition {
    None,
    /// `If-None-Match: *`
    Absent,
    /// `If-Match: <etag>`
    Matches(String),
}

/// The ETag the fake gives an object: quoted, derived from the content like S3's MD5.
pub(super) fn etag_of(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

fn perform(
    state: &mut State,
    method: &Method,
    path: &str,
    condition: &Condition,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let current = state.objects.get(path).map(|bytes| etag_of(bytes));
    match (method, condition) {
        (&Method::PUT, Condition::Absent) if current.is_some() => error(412, "PreconditionFailed"),
        (&Method::PUT, Condition::Matches(_)) if current.is_none() => error(404, "NoSuchKey"),
        (&Method::PUT, Condition::Matches(etag)) if current.as_ref() != Some(etag) => {
            error(412, "PreconditionFailed")
        }
        (&Method::PUT, _) => {
            let etag = etag_of(&body);
            state.objects.insert(path.to_owned(), body);
            Response::builder().status(200).header("etag", etag).body(Full::new(Bytes::new())).unwrap()
        }
        (&Method::GET, _) => match state.objects.get(path) {
            Some(bytes) => Response::builder()
                .status(200)
                .header("etag", etag_of(bytes))
                .body(Full::new(bytes.clone()))
                .unwrap(),
            None => error(404, "NoSuchKey"),
        },
        _ => error(405, "MethodNotAllowed"),
    }
}

fn error(status: u16, code: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>scripted {code}</Message></Error>"
    );
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// The payload of an `aws-chunked` body: `<hex size>[;extensions]\r\n<data>\r\n` chunks up to a
/// zero-size one (trailers after it are ignored).
fn decode_aws_chunked(body: &[u8]) -> Bytes {
    let mut payload = Vec::new();
    let mut rest = body;
    while let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") {
        let header = std::str::from_utf8(&rest[..line_end]).unwrap_or("0");
        let size = usize::from_str_radix(header.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        payload.extend_from_slice(&rest[start..start + size]);
        rest = &rest[(start + size + 2).min(rest.len())..];
    }
    Bytes::from(payload)
}

//! The HTTP side: HTTP/1.1 on loopback, `POST /` with `X-Amz-Target: RedshiftData.<Operation>`
//! and a JSON body; answers `application/x-amz-json-1.1`, errors as HTTP 400 (403 without an
//! Authorization header) with `{"__type", "message"}`.
//!
//! SigV4 signatures are not verified: only the header's presence is required, which is enough
//! to prove the client signs its requests.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

use super::Shared;
use super::operations;
use super::protocol::ApiError;

const TARGET_PREFIX: &str = "RedshiftData.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Accepts connections until the stand-in shuts down.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            () = shared.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(|request| answer(shared.clone(), request));
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = shared.shutdown.cancelled() => {}
            }
        });
    }
}

async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let result = handle(&shared, request).await;
    let (status, body) = match result {
        Ok(body) => (StatusCode::OK, body),
        Err(error) => (StatusCode::from_u16(error.status).expect("a valid status"), error.body()),
    };
    let response = Response::builder()
        .status(status)
        .header("content-type", CONTENT_TYPE)
        .header("x-amzn-requestid", request_id())
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response");
    Ok(response)
}

async fn handle(shared: &Arc<Shared>, request: Request<Incoming>) -> Result<Value, ApiError> {
    let target =
        request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let operation = target
        .strip_prefix(TARGET_PREFIX)
        .filter(|_| request.method() == hyper::Method::POST && request.uri().path() == "/")
        .ok_or_else(|| ApiError::unknown_operation(&target))?
        .to_owned();
    if !request.headers().contains_key("authorization") {
        return Err(ApiError::missing_authentication());
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::malformed(format!("reading the request body: {e}")))?
        .to_bytes();
    operations::dispatch(shared, &operation, &body)
}

fn request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

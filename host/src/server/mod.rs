//! `rekon run`'s HTTP server: health, readiness, metrics, status and
//! webhook receivers, on plain hyper (HTTP/1.1, no web framework).
//!
//! | path | answer |
//! |---|---|
//! | `GET /healthz` | 200 while the process serves |
//! | `GET /readyz` | 200 once the daemon finished starting, 503 before |
//! | `GET /metrics` | Prometheus text ([`metrics`]) |
//! | `GET /status` | the [`Snapshot`](crate::status::Snapshot) as JSON |
//! | `POST /hook/NAME` | a webhook for `[receivers.NAME]` ([`receivers`]) |
//!
//! It listens on loopback by default (`[server] listen`); only the receivers
//! check a token, so exposing the port exposes the status page too.

pub mod metrics;
pub mod receivers;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};

use crate::status::StatusBoard;
pub use metrics::Metrics;

/// Work a request asks the daemon to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Scan an image now rather than at its next interval.
    ScanImage {
        /// Its policy name, `NS:NAME` of `[images."NS:NAME"]`.
        policy: String,
        /// Who asked and why, for the log.
        reason: String,
    },
}

/// What the handlers read and where receivers send their triggers.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// The daemon's status board.
    pub board: Arc<StatusBoard>,
    /// The daemon's metrics.
    pub metrics: Arc<Metrics>,
    /// `[receivers.NAME]` from the config.
    pub receivers: Vec<crate::config::Receiver>,
    /// `(policy, repository)` of every `[images."NS:NAME"]`.
    pub images: Vec<(String, String)>,
    /// Where triggers go: the scheduler's queue.
    pub triggers: mpsc::Sender<Trigger>,
}

/// Connections served at once; more wait to be accepted. A Pi's daemon has a
/// scraper, a webhook or two and the odd `rekon status`.
const MAX_CONNECTIONS: usize = 64;
/// A client must send its request head within this (slow clients hold memory).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connections may finish their requests after shutdown is asked.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The response body type of every handler.
pub(crate) type Body = Full<Bytes>;

/// Serve on `listener` until `shutdown` completes, then stop accepting, let
/// requests in flight finish (for at most a few seconds) and return.
///
/// Errors of single connections, and failures to accept (a reset before
/// the accept, running out of file descriptors), are logged and the server
/// carries on: the status page should outlive the trouble it is there to
/// show.
pub async fn serve(
    listener: TcpListener,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = Arc::new(state);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving health, metrics, status and webhooks");
    }
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_per_connection(&e) => {
                    tracing::debug!(error = %e, "accepting a connection failed");
                    continue;
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting connections failed; retrying in 1s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        let service = service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(route(&state, peer, request).await) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    // New connections are refused at once rather than left in the backlog.
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("HTTP requests still running at shutdown were abandoned");
    }
    Ok(())
}

/// Accept errors that concern one connection, not the listener.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    )
}

async fn route(
    state: &ServerState,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let path = request.uri().path().to_string();
    if let Some(name) = path.strip_prefix("/hook/") {
        return receivers::deliver(state, name, peer, request).await;
    }
    let get = matches!(*request.method(), Method::GET | Method::HEAD);
    let known = matches!(
        path.as_str(),
        "/healthz" | "/readyz" | "/metrics" | "/status"
    );
    if !known {
        return text(StatusCode::NOT_FOUND, format!("no such path: {path}\n"));
    }
    if !get {
        return method_not_allowed("GET, HEAD");
    }
    match path.as_str() {
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/readyz" => {
            if state.board.snapshot().ready {
                text(StatusCode::OK, "ready\n".into())
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "starting\n".into())
            }
        }
        "/metrics" => with_type(
            StatusCode::OK,
            metrics::CONTENT_TYPE,
            state.metrics.encode(),
        ),
        _ => json(StatusCode::OK, &state.board.snapshot()),
    }
}

/// A plain-text response.
pub(crate) fn text(status: StatusCode, body: String) -> Response<Body> {
    with_type(status, "text/plain; charset=utf-8", body)
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let mut body = serde_json::to_string_pretty(value).unwrap_or_else(|e| {
        // Only a map with non-string keys fails; none of rekon's types has one.
        tracing::error!(error = %e, "encoding a JSON answer");
        "{}".into()
    });
    body.push('\n');
    with_type(status, "application/json", body)
}

/// 405, naming the methods the path takes.
pub(crate) fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method not allowed: use {allow}\n"),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

fn with_type(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

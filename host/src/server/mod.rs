//! `rekon run`'s HTTP server: health, readiness, metrics, status (as a page
//! and as JSON) and webhook receivers, on plain hyper (HTTP/1.1, no web
//! framework).
//!
//! | path | answer |
//! |---|---|
//! | `GET /` | the status page ([`page`]); `/KIND/NAME` an item, `/events` the events |
//! | `GET /healthz` | 200 while the process serves |
//! | `GET /readyz` | 200 once the daemon finished starting, 503 before |
//! | `GET /metrics` | Prometheus text ([`metrics`]) |
//! | `GET /status` | the [`Snapshot`](crate::status::Snapshot) as JSON |
//! | `GET`, `POST /login`; `POST /logout` | the token form, when `[server]` has a token ([`access`]) |
//! | `POST /hook/PATH` | a webhook: `[receivers.NAME]` or a Flux Receiver ([`receivers`]) |
//!
//! It listens on loopback by default (`[server] listen`). With a `[server]`
//! token the pages and `/status` need it ([`access`]); without one, exposing
//! the port exposes them, and `rekon run` warns when it listens beyond
//! loopback so.

pub mod access;
pub mod metrics;
pub mod page;
pub mod receivers;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION,
    REFERRER_POLICY, SET_COOKIE, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};

use crate::config::Secret;
use crate::status::StatusBoard;
use access::Access;
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
    /// Fetch a source now.
    FetchSource {
        /// Its name (`[sources.NAME]`, or a GitRepository's `NS/NAME`).
        source: String,
        /// Who asked and why, for the log.
        reason: String,
    },
    /// Reconcile a kustomization now.
    Reconcile {
        /// Its name.
        kustomization: String,
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
    /// `[server]`'s token: the pages and `/status` need it when set.
    pub token: Option<Secret>,
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
        tracing::info!(%addr, "serving the status page, health, metrics, status and webhooks");
        if state.token.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "the status page and /status are open to anyone who reaches {addr}: \
                 set [server] token-env or token-file, or listen on 127.0.0.1"
            );
        }
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
    let post = *request.method() == Method::POST;
    match path.as_str() {
        "/healthz" | "/readyz" | "/metrics" | "/status" | "/" | "/events" if !get => {
            return method_not_allowed("GET, HEAD")
        }
        "/login" if !get && !post => return method_not_allowed("GET, HEAD, POST"),
        "/logout" if !post => return method_not_allowed("POST"),
        "/healthz" => return text(StatusCode::OK, "ok\n".into()),
        "/readyz" => {
            return if state.board.snapshot().ready {
                text(StatusCode::OK, "ready\n".into())
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "starting\n".into())
            }
        }
        "/metrics" => {
            return with_type(
                StatusCode::OK,
                metrics::CONTENT_TYPE,
                state.metrics.encode(),
            )
        }
        "/login" => return login(state, peer, request).await,
        "/logout" => {
            let mut response = redirect("/login");
            set_cookie(&mut response, access::sign_out());
            return response;
        }
        _ => {}
    }
    let item = page::parse_link(&path);
    let known = matches!(path.as_str(), "/status" | "/" | "/events") || item.is_some();
    if !known {
        return text(StatusCode::NOT_FOUND, format!("no such path: {path}\n"));
    }
    if !get {
        return method_not_allowed("GET, HEAD");
    }
    let signed_in = match access::check(state.token.as_ref(), request.headers()) {
        Ok(Access::Open) => false,
        Ok(Access::SignedIn) => true,
        Ok(Access::Refused) if path == "/status" => {
            let mut response = text(StatusCode::UNAUTHORIZED, "unauthorized\n".into());
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
        Ok(Access::Refused) => {
            let next: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &path)
                .finish();
            return redirect(&format!("/login?{next}"));
        }
        Err(problem) => {
            tracing::error!(%peer, "status refused: cannot read the [server] token: {problem}");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "rekon cannot check tokens; see the daemon's log\n".into(),
            );
        }
    };
    let snapshot = state.board.snapshot();
    let chrome = page::Chrome {
        now: std::time::SystemTime::now(),
        signed_in,
    };
    match (path.as_str(), item) {
        ("/status", _) => json(StatusCode::OK, &snapshot),
        ("/", _) => html(StatusCode::OK, page::overview(&snapshot, chrome)),
        ("/events", _) => html(StatusCode::OK, page::events(&snapshot, chrome)),
        (_, Some((kind, name))) => match page::item(&snapshot, kind, &name, chrome) {
            Some(body) => html(StatusCode::OK, body),
            None => text(StatusCode::NOT_FOUND, format!("no {kind} named `{name}`\n")),
        },
        _ => unreachable!("every known path is answered above"),
    }
}

/// `GET /login` shows the form; `POST /login` checks the token it sends and
/// signs the browser in (a cookie), then goes where the form was asked from.
async fn login(
    state: &ServerState,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let Some(token) = &state.token else {
        // Nothing to sign in to.
        return redirect("/");
    };
    if request.method() != Method::POST {
        let next = request
            .uri()
            .query()
            .and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "next")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_default();
        return html(StatusCode::OK, page::login(&local(&next), false));
    }
    let body = match receivers::read_body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let (mut given, mut next) = (String::new(), String::new());
    for (key, value) in form_urlencoded::parse(&body) {
        match &*key {
            "token" => given = value.into_owned(),
            "next" => next = value.into_owned(),
            _ => {}
        }
    }
    let next = local(&next);
    let signed = access::is_token(token, &given)
        .and_then(|ok| ok.then(|| access::sign_in(token)).transpose());
    match signed {
        Ok(Some(cookie)) => {
            tracing::info!(%peer, "signed in to the status page");
            let mut response = redirect(&next);
            set_cookie(&mut response, cookie);
            response
        }
        Ok(None) => {
            tracing::warn!(%peer, "status page sign-in refused: wrong token");
            html(StatusCode::UNAUTHORIZED, page::login(&next, true))
        }
        Err(problem) => {
            tracing::error!(%peer, "sign-in refused: cannot read the [server] token: {problem}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "rekon cannot check tokens; see the daemon's log\n".into(),
            )
        }
    }
}

/// `next` when it is a path of this server, else `/`: a login link must not
/// send the browser to another site.
fn local(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_string()
    } else {
        "/".to_string()
    }
}

/// A plain-text response.
pub(crate) fn text(status: StatusCode, body: String) -> Response<Body> {
    with_type(status, "text/plain; charset=utf-8", body)
}

/// An HTML page, with the headers that keep it from being framed, sniffed,
/// cached or made to run anything but its own script.
pub(crate) fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut response = with_type(status, "text/html; charset=utf-8", body);
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&page::content_security_policy()) {
        headers.insert(CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 303 to `location` (a path of this server).
fn redirect(location: &str) -> Response<Body> {
    let mut response = text(StatusCode::SEE_OTHER, String::new());
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

fn set_cookie(response: &mut Response<Body>, cookie: String) {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
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

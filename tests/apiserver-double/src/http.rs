//! The HTTP side: routing of discovery and resource paths, request parsing,
//! the request log and fault injection.

use std::sync::{Arc, Mutex, MutexGuard};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::faults::{Fault, FaultAction};
use crate::selector::Selector;
use crate::store::Store;

/// One request the double received, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET`, `PATCH`, `DELETE`, ...
    pub method: String,
    /// The path, e.g. `/apis/apps/v1/namespaces/website/deployments/frontend`.
    pub path: String,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
    /// `dryRun=All` was set.
    pub dry_run: bool,
    /// The `fieldManager` parameter.
    pub field_manager: Option<String>,
    /// `force=true` was set.
    pub force: bool,
    /// The HTTP status answered (0: the connection was dropped).
    pub status: u16,
    /// A fault rule decided the answer.
    pub fault: bool,
    /// The `Impersonate-User` header (the double does not check it).
    pub impersonate: Option<String>,
}

impl RequestRecord {
    /// A server-side apply that was not a dry-run.
    pub fn is_apply(&self) -> bool {
        self.method == "PATCH" && !self.dry_run
    }

    /// The last path segment (the object's name for object paths).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }
}

/// State shared by the server thread and the test.
#[derive(Debug)]
pub struct Shared {
    /// The objects and the rules on them.
    pub store: Store,
    /// Fault rules.
    pub faults: Vec<Fault>,
    /// Every request, in order.
    pub log: Vec<RequestRecord>,
    /// `127.0.0.1:PORT`, for `/api`'s server address.
    pub address: String,
}

/// The state, locked (a panicking test thread does not poison it for others).
pub fn lock(state: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Accept connections until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    state: Arc<Mutex<Shared>>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    // A dropped connection ends here with the service's error.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// Returned by the service to make hyper close the connection unanswered.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// A parsed request.
struct Call {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    content_type: String,
    body: Bytes,
}

impl Call {
    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

async fn handle(
    state: Arc<Mutex<Shared>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let impersonate = req
        .headers()
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let call = Call {
        method,
        path,
        query,
        content_type,
        body,
    };
    let dry_run = call.param("dryRun") == Some("All");
    let mut record = RequestRecord {
        method: call.method.clone(),
        path: call.path.clone(),
        query: call.query.clone(),
        dry_run,
        field_manager: call.param("fieldManager").map(str::to_string),
        force: call.param("force") == Some("true"),
        status: 0,
        fault: false,
        impersonate,
    };
    let fault = {
        let mut shared = lock(&state);
        shared
            .faults
            .iter_mut()
            .find(|f| f.matches(&call.method, &call.path, dry_run))
            .map(|f| {
                f.remaining -= 1;
                f.action.clone()
            })
    };
    let outcome = match fault {
        Some(FaultAction::Drop) => {
            record.fault = true;
            lock(&state).log.push(record);
            return Err(Dropped);
        }
        Some(FaultAction::Status(code)) => {
            record.fault = true;
            Err(ApiError::injected(code, &call.path))
        }
        Some(FaultAction::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            route(&mut lock(&state), &call, dry_run)
        }
        None => route(&mut lock(&state), &call, dry_run),
    };
    let (code, body) = match outcome {
        Ok(answer) => answer,
        Err(err) => (err.code, err.to_status()),
    };
    record.status = code;
    lock(&state).log.push(record);
    let response = Response::builder()
        .status(code)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response");
    Ok(response)
}

fn route(shared: &mut Shared, call: &Call, dry_run: bool) -> Result<(u16, Value), ApiError> {
    let segments: Vec<&str> = call.path.split('/').filter(|s| !s.is_empty()).collect();
    let not_found = || ApiError::no_route(&call.path);
    let resources = &shared.store.resources;
    let get_only = |doc: Option<Value>| match call.method.as_str() {
        "GET" => doc.map(|d| (200, d)).ok_or_else(not_found),
        m => Err(ApiError::method_not_allowed(m)),
    };
    match segments.as_slice() {
        ["version"] => get_only(Some(json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0+apiserver-double",
            "platform": "linux/arm64",
        }))),
        ["api"] => get_only(Some(resources.core_versions(&shared.address))),
        ["api", "v1"] => get_only(resources.resource_list("", "v1")),
        ["apis"] => get_only(Some(resources.group_list())),
        ["apis", group] => get_only(resources.group_doc(group)),
        ["apis", group, version] => get_only(resources.resource_list(group, version)),
        ["api", "v1", rest @ ..] => object_request(shared, call, "", "v1", rest, dry_run),
        ["apis", group, version, rest @ ..] => {
            object_request(shared, call, group, version, rest, dry_run)
        }
        _ => Err(not_found()),
    }
}

fn object_request(
    shared: &mut Shared,
    call: &Call,
    group: &str,
    version: &str,
    rest: &[&str],
    dry_run: bool,
) -> Result<(u16, Value), ApiError> {
    let not_found = || ApiError::no_route(&call.path);
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return Err(not_found()),
    };
    let r = shared
        .store
        .resources
        .by_path(group, version, plural)
        .cloned()
        .ok_or_else(not_found)?;
    let namespace_needed = r.namespaced && namespace.is_none() && name.is_some();
    if namespace_needed || (!r.namespaced && namespace.is_some()) {
        return Err(not_found());
    }
    let ns = namespace.unwrap_or("");
    let store = &mut shared.store;
    match (call.method.as_str(), name) {
        ("GET", None) => {
            let selector = Selector::parse(call.param("labelSelector").unwrap_or(""))
                .map_err(ApiError::bad_request)?;
            Ok((200, store.list(&r, namespace, &selector)))
        }
        ("GET", Some(name)) => Ok((200, store.get(&r, ns, name)?)),
        ("DELETE", Some(name)) => Ok((200, store.delete(&r, ns, name, dry_run)?)),
        ("POST", None) => {
            let body = json_body(call)?;
            // The name comes from the body; the URL names only the collection.
            let name = body
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    ApiError::bad_request("metadata.name: Required value: name is required".into())
                })?
                .to_string();
            let manager = call.param("fieldManager").unwrap_or("unknown");
            let written = store.create(&r, ns, &name, body, manager, dry_run)?;
            Ok((201, written.object))
        }
        ("PUT", Some(name)) => {
            let body = json_body(call)?;
            let manager = call.param("fieldManager").unwrap_or("unknown");
            Ok((
                200,
                store.replace(&r, ns, name, body, manager, dry_run)?.object,
            ))
        }
        ("PATCH", Some(name)) => {
            let media = call.content_type.split(';').next().unwrap_or("").trim();
            match media {
                "application/apply-patch+yaml" => {
                    let Some(manager) = call.param("fieldManager") else {
                        return Err(ApiError::bad_request(
                            "fieldManager: Required value: is required for apply patch".into(),
                        ));
                    };
                    let patch: Value = serde_yaml_ng::from_slice(&call.body)
                        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
                    let force = call.param("force") == Some("true");
                    let written = store.apply(&r, ns, name, patch, manager, force, dry_run)?;
                    Ok((if written.created { 201 } else { 200 }, written.object))
                }
                "application/merge-patch+json" => {
                    let patch: Value = serde_json::from_slice(&call.body)
                        .map_err(|e| ApiError::bad_request(format!("error decoding JSON: {e}")))?;
                    let manager = call.param("fieldManager").unwrap_or("unknown");
                    Ok((
                        200,
                        store.update(&r, ns, name, patch, manager, dry_run)?.object,
                    ))
                }
                other => Err(ApiError::unsupported_media_type(other)),
            }
        }
        (method, _) => Err(ApiError::method_not_allowed(method)),
    }
}

/// The JSON body of a create or replace.
fn json_body(call: &Call) -> Result<Value, ApiError> {
    let media = call.content_type.split(';').next().unwrap_or("").trim();
    if media != "application/json" {
        return Err(ApiError::unsupported_media_type(media));
    }
    serde_json::from_slice(&call.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding JSON: {e}")))
}

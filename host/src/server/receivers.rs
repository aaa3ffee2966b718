//! Webhook receivers: `POST /hook/NAME` for each `[receivers.NAME]`.
//!
//! - `type = "harbor"`: Harbor sends the policy's "Auth Header" verbatim as
//!   `Authorization`; that value is the token. A `PUSH_ARTIFACT` event (or
//!   its CloudEvents form, `harbor.artifact.pushed`) triggers a scan of every
//!   configured image whose repository ends with the event's
//!   `repo_full_name` (limited to the receiver's `images` when it has them);
//!   other events are answered 200 and ignored.
//! - `type = "generic"`: `Authorization: Bearer TOKEN`, any body; triggers
//!   the receiver's `images` (all images when it names none).
//!
//! Answers: 202 with the policies triggered (JSON); 200 when nothing was to
//! be done, saying why; 401 for a bad or missing token (no detail, nothing
//! triggered); 404 unknown receiver; 405 not a POST; 400 a payload that is
//! not a Harbor event, saying what is wrong; 413 a body over [`MAX_BODY`].
//! Tokens are compared in constant time and never logged.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{json, method_not_allowed, text, Body, ServerState, Trigger};
use crate::config::{Receiver, ReceiverKind, Secret};

/// The largest body a receiver reads (Harbor's events are a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;
/// How long a sender has to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a delivery waits for room in the scheduler's queue.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// Answer one delivery to receiver `name`.
pub(crate) async fn deliver(
    state: &ServerState,
    name: &str,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let Some(receiver) = state.receivers.iter().find(|r| r.name == name) else {
        tracing::warn!(receiver = name, %peer, "webhook for an unknown receiver");
        return text(
            StatusCode::NOT_FOUND,
            format!("no receiver named `{name}`\n"),
        );
    };
    if request.method() != Method::POST {
        return method_not_allowed("POST");
    }
    match authorized(receiver, request.headers()) {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(receiver = name, %peer, "webhook refused: bad or missing token");
            return text(StatusCode::UNAUTHORIZED, "unauthorized\n".into());
        }
        Err(problem) => {
            tracing::error!(receiver = name, %peer, "webhook refused: cannot read the receiver's token: {problem}");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("receiver `{name}` cannot check tokens; see the daemon's log\n"),
            );
        }
    }
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(response) => {
            tracing::warn!(receiver = name, %peer, status = %response.status(), "webhook body refused");
            return response;
        }
    };
    let outcome = match receiver.kind {
        ReceiverKind::Harbor => harbor(state, receiver, &body),
        ReceiverKind::Generic => {
            let policies = selected(state, receiver, |_| true);
            Ok(Outcome {
                event: None,
                skipped: policies
                    .is_empty()
                    .then(|| "no [images] are configured".to_string()),
                policies,
            })
        }
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(problem) => {
            tracing::warn!(receiver = name, %peer, "webhook payload refused: {problem}");
            return text(StatusCode::BAD_REQUEST, format!("{problem}\n"));
        }
    };
    let reason = match &outcome.event {
        Some(event) => format!("receiver {name}: {event}"),
        None => format!("receiver {name}"),
    };
    for policy in &outcome.policies {
        let trigger = Trigger::ScanImage {
            policy: policy.clone(),
            reason: reason.clone(),
        };
        match tokio::time::timeout(QUEUE_TIMEOUT, state.triggers.send(trigger)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "rekon is shutting down\n".into(),
                )
            }
            Err(_) => {
                tracing::warn!(receiver = name, %peer, "webhook dropped: the scheduler's queue stayed full");
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "rekon is busy; deliver again later\n".into(),
                );
            }
        }
    }
    tracing::info!(
        receiver = name,
        kind = %receiver.kind,
        %peer,
        event = outcome.event.as_deref().unwrap_or("-"),
        triggered = ?outcome.policies,
        "webhook delivered"
    );
    let mut answer = json!({
        "receiver": name,
        "triggered": outcome.policies,
    });
    if let Some(event) = &outcome.event {
        answer["event"] = json!(event);
    }
    if let Some(why) = &outcome.skipped {
        answer["message"] = json!(why);
    }
    let status = if outcome.policies.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    json(status, &answer)
}

/// What a delivery asks for.
struct Outcome {
    /// The event, for the log and the answer (`PUSH_ARTIFACT website/frontend:1.2`).
    event: Option<String>,
    /// The image policies to scan.
    policies: Vec<String>,
    /// Why nothing was triggered, when nothing was.
    skipped: Option<String>,
}

/// Whether the request carries the receiver's token. `Err` when the token
/// itself cannot be read (a configuration problem, for the log only).
fn authorized(receiver: &Receiver, headers: &HeaderMap) -> Result<bool, String> {
    let expected = Secret::read(&receiver.token)?;
    if expected.is_empty() {
        return Err("the token is empty".into());
    }
    let header = headers
        .get(AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let bearer = header
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|_| &header[7..]);
    Ok(match receiver.kind {
        // Harbor sends its "Auth Header" as is; someone who wrote it as
        // `Bearer TOKEN` means the same token.
        ReceiverKind::Harbor => {
            same(header, expected.as_bytes()) | bearer.is_some_and(|t| same(t, expected.as_bytes()))
        }
        ReceiverKind::Generic => bearer.is_some_and(|t| same(t, expected.as_bytes())),
    })
}

/// Constant-time equality. Both sides are hashed first so that neither the
/// time nor an early length check says how long the token is.
fn same(given: &[u8], expected: &[u8]) -> bool {
    Sha256::digest(given)
        .ct_eq(&Sha256::digest(expected))
        .into()
}

/// The body, at most [`MAX_BODY`] bytes, or the response refusing it.
pub(crate) async fn read_body(request: Request<Incoming>) -> Result<Vec<u8>, Response<Body>> {
    let too_large = || {
        text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {MAX_BODY} bytes\n"),
        )
    };
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let read = Limited::new(request.into_body(), MAX_BODY).collect();
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Err(_) => Err(text(
            StatusCode::REQUEST_TIMEOUT,
            "the body did not arrive in time\n".into(),
        )),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(text(
            StatusCode::BAD_REQUEST,
            format!("reading the body: {e}\n"),
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
    }
}

/// The policies of `state.images` this receiver may trigger and `matches`
/// accepts (by repository), in config order.
fn selected(
    state: &ServerState,
    receiver: &Receiver,
    matches: impl Fn(&str) -> bool,
) -> Vec<String> {
    state
        .images
        .iter()
        .filter(|(policy, _)| receiver.images.is_empty() || receiver.images.contains(policy))
        .filter(|(_, repository)| matches(repository))
        .map(|(policy, _)| policy.clone())
        .collect()
}

/// A Harbor event in its default form, or its CloudEvents form (whose
/// payload is under `data`). Fields rekon does not use are ignored.
#[derive(Debug, Deserialize)]
struct HarborEvent {
    #[serde(rename = "type")]
    kind: String,
    event_data: Option<HarborData>,
    data: Option<HarborData>,
}

#[derive(Debug, Deserialize)]
struct HarborData {
    #[serde(default)]
    resources: Vec<HarborResource>,
    repository: Option<HarborRepository>,
}

#[derive(Debug, Deserialize)]
struct HarborResource {
    #[serde(default)]
    tag: String,
}

#[derive(Debug, Deserialize)]
struct HarborRepository {
    repo_full_name: String,
}

/// Harbor's event types for a push, default and CloudEvents.
const PUSH_EVENTS: [&str; 2] = ["PUSH_ARTIFACT", "harbor.artifact.pushed"];

fn harbor(state: &ServerState, receiver: &Receiver, body: &[u8]) -> Result<Outcome, String> {
    let event: HarborEvent = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not a Harbor webhook event: {e}"))?;
    if !PUSH_EVENTS.contains(&event.kind.as_str()) {
        return Ok(Outcome {
            skipped: Some(format!(
                "event {} ignored: only PUSH_ARTIFACT triggers scans",
                event.kind
            )),
            event: Some(event.kind),
            policies: Vec::new(),
        });
    }
    let data = event.event_data.or(event.data);
    let Some(repository) = data
        .as_ref()
        .and_then(|d| d.repository.as_ref())
        .map(|r| r.repo_full_name.trim_matches('/'))
        .filter(|r| !r.is_empty())
    else {
        return Err(format!(
            "{} event without event_data.repository.repo_full_name",
            event.kind
        ));
    };
    let tags: Vec<&str> = data
        .iter()
        .flat_map(|d| &d.resources)
        .map(|r| r.tag.as_str())
        .filter(|t| !t.is_empty())
        .collect();
    let suffix = format!("/{repository}");
    let policies = selected(state, receiver, |configured| configured.ends_with(&suffix));
    let skipped = policies.is_empty().then(|| {
        format!(
            "no image {}has a repository ending in {suffix}",
            if receiver.images.is_empty() {
                String::new()
            } else {
                format!("of receiver `{}` ", receiver.name)
            }
        )
    });
    let event = if tags.is_empty() {
        format!("{} {repository}", event.kind)
    } else {
        format!("{} {repository}:{}", event.kind, tags.join(","))
    };
    Ok(Outcome {
        event: Some(event),
        policies,
        skipped,
    })
}

//! Webhook receivers: `POST /hook/PATH`, for each `[receivers.NAME]`
//! (PATH is NAME) and each Flux Receiver object (PATH is Flux's: the hex
//! sha256 of its token, name and namespace, so a webhook a forge already
//! sends to Flux keeps working after the switch).
//!
//! How a delivery proves it knows the token, by type (Flux's checks):
//! - `harbor`: `Authorization` is the token (Harbor's "Auth Header"). A
//!   `PUSH_ARTIFACT` event (or `harbor.artifact.pushed`) triggers scans of
//!   the receiver's images whose repository ends with the event's
//!   `repo_full_name`; other events are answered 200 and ignored.
//! - `generic`: `Authorization: Bearer TOKEN` (a Flux Receiver of this
//!   type: its path alone, as in Flux).
//! - `generic-hmac`: `X-Signature: sha1|sha256|sha512=HEX`, an HMAC of the body.
//! - `github`: `X-Hub-Signature-256: sha256=HEX` (or the older
//!   `X-Hub-Signature: sha1=HEX`); event `X-GitHub-Event`.
//! - `gitea`: `X-Gitea-Signature: HEX` (HMAC-SHA256) or GitHub's headers;
//!   event `X-Gitea-Event` or `X-GitHub-Event`.
//! - `gitlab`: `X-Gitlab-Token` is the token; event `X-Gitlab-Event`.
//! - `bitbucket` (Server): `X-Hub-Signature: sha256=HEX`; event `X-Event-Key`.
//!
//! A receiver with `events` ignores (200) deliveries of other events. A
//! delivery triggers the receiver's image scans, source fetches and
//! kustomization reconciles at once, rather than at their next interval.
//!
//! Answers: 202 with what was triggered (JSON); 200 when nothing was to be
//! done, saying why; 401 for a bad or missing token or signature (no
//! detail, nothing triggered); 404 unknown path; 405 not a POST; 400 a
//! payload that is not a Harbor event, saying what is wrong; 413 a body
//! over [`MAX_BODY`]. Tokens and signatures are compared in constant time
//! and never logged.

use std::net::SocketAddr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::{json, method_not_allowed, text, Body, ServerState, Trigger};
use crate::config::{Receiver, ReceiverKind, Secret};

/// The largest body a receiver reads (a forge's push event with many
/// commits runs to tens of KiB).
pub const MAX_BODY: usize = 1024 * 1024;
/// How long a sender has to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a delivery waits for room in the scheduler's queue.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// Flux's webhook path of Receiver `namespace/name` with `token`.
pub fn flux_path(token: &str, name: &str, namespace: &str) -> String {
    hex::encode(Sha256::digest(format!("{token}{name}{namespace}")))
}

/// Answer one delivery to `/hook/{path}`.
pub(crate) async fn deliver(
    state: &ServerState,
    path: &str,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Body> {
    let Some(receiver) = state
        .receivers
        .iter()
        .find(|r| same(r.path.as_bytes(), path.as_bytes()))
    else {
        tracing::warn!(%peer, "webhook for an unknown receiver");
        return text(StatusCode::NOT_FOUND, "no receiver at this path\n".into());
    };
    let name = receiver.name.as_str();
    if request.method() != Method::POST {
        return method_not_allowed("POST");
    }
    let headers = request.headers().clone();
    // Token types are checked before the body is read, so a sender without
    // the token never makes rekon hold a body; signatures need the body.
    let signed = matches!(
        receiver.kind,
        ReceiverKind::GenericHmac
            | ReceiverKind::Github
            | ReceiverKind::Gitea
            | ReceiverKind::Bitbucket
    );
    if !signed {
        if let Some(refused) = refusal(name, peer, authorized(receiver, &headers, &[])) {
            return refused;
        }
    }
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(response) => {
            tracing::warn!(receiver = name, %peer, status = %response.status(), "webhook body refused");
            return response;
        }
    };
    if signed {
        if let Some(refused) = refusal(name, peer, authorized(receiver, &headers, &body)) {
            return refused;
        }
    }
    let event = event_name(receiver.kind, &headers);
    if !receiver.events.is_empty()
        && !event
            .as_deref()
            .is_some_and(|e| receiver.events.iter().any(|want| want == e))
    {
        let event = event.unwrap_or_else(|| "(none)".into());
        tracing::info!(receiver = name, %peer, event, "webhook ignored: not one of its events");
        return json(
            StatusCode::OK,
            &json!({"receiver": name, "event": event, "triggered": [],
                    "message": format!("event {event} ignored (events: {})", receiver.events.join(", "))}),
        );
    }
    let outcome = match receiver.kind {
        ReceiverKind::Harbor => harbor(state, receiver, &body),
        _ => Ok(Outcome {
            event: event.clone(),
            policies: selected(state, receiver, |_| true),
            skipped: None,
        }),
    };
    let mut outcome = match outcome {
        Ok(outcome) => outcome,
        Err(problem) => {
            tracing::warn!(receiver = name, %peer, "webhook payload refused: {problem}");
            return text(StatusCode::BAD_REQUEST, format!("{problem}\n"));
        }
    };
    let (sources, kustomizations) = if outcome.skipped.is_some() {
        (&[][..], &[][..])
    } else {
        (&receiver.sources[..], &receiver.kustomizations[..])
    };
    if outcome.policies.is_empty() && sources.is_empty() && kustomizations.is_empty() {
        outcome
            .skipped
            .get_or_insert_with(|| "it names nothing rekon runs".into());
    }
    let reason = match &outcome.event {
        Some(event) => format!("receiver {name}: {event}"),
        None => format!("receiver {name}"),
    };
    let triggers = outcome
        .policies
        .iter()
        .map(|policy| Trigger::ScanImage {
            policy: policy.clone(),
            reason: reason.clone(),
        })
        .chain(sources.iter().map(|source| Trigger::FetchSource {
            source: source.clone(),
            reason: reason.clone(),
        }))
        .chain(kustomizations.iter().map(|k| Trigger::Reconcile {
            kustomization: k.clone(),
            reason: reason.clone(),
        }));
    for trigger in triggers {
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
        images = ?outcome.policies,
        sources = ?sources,
        kustomizations = ?kustomizations,
        "webhook delivered"
    );
    let mut answer = json!({
        "receiver": name,
        "triggered": outcome.policies,
        "sources": sources,
        "kustomizations": kustomizations,
    });
    if let Some(event) = &outcome.event {
        answer["event"] = json!(event);
    }
    if let Some(why) = &outcome.skipped {
        answer["message"] = json!(why);
    }
    let nothing = outcome.policies.is_empty() && sources.is_empty() && kustomizations.is_empty();
    json(
        if nothing {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        },
        &answer,
    )
}

/// The answer refusing a delivery that [`authorized`] did not pass, if it did not.
fn refusal(name: &str, peer: SocketAddr, check: Result<bool, String>) -> Option<Response<Body>> {
    match check {
        Ok(true) => None,
        Ok(false) => {
            tracing::warn!(receiver = name, %peer, "webhook refused: bad or missing token or signature");
            Some(text(StatusCode::UNAUTHORIZED, "unauthorized\n".into()))
        }
        Err(problem) => {
            tracing::error!(receiver = name, %peer, "webhook refused: cannot read the receiver's token: {problem}");
            Some(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("receiver `{name}` cannot check tokens; see the daemon's log\n"),
            ))
        }
    }
}

/// What a delivery asks for.
struct Outcome {
    /// The event, for the log and the answer (`PUSH_ARTIFACT website/frontend:1.2`, `push`).
    event: Option<String>,
    /// The image policies to scan.
    policies: Vec<String>,
    /// Why nothing was triggered, when nothing was.
    skipped: Option<String>,
}

/// The event a delivery names, for types whose deliveries name one.
fn event_name(kind: ReceiverKind, headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match kind {
        ReceiverKind::Github => header("x-github-event"),
        ReceiverKind::Gitea => header("x-gitea-event").or_else(|| header("x-github-event")),
        ReceiverKind::Gitlab => header("x-gitlab-event"),
        ReceiverKind::Bitbucket => header("x-event-key"),
        _ => None,
    }
}

/// Whether the request carries the receiver's token, or a signature of the
/// body made with it. `Err` when the token itself cannot be read (a
/// configuration problem, for the log only).
fn authorized(receiver: &Receiver, headers: &HeaderMap, body: &[u8]) -> Result<bool, String> {
    let expected = Secret::read(&receiver.token)?;
    if expected.is_empty() {
        return Err("the token is empty".into());
    }
    let key = expected.as_bytes();
    let header = |name: &str| headers.get(name).map(|v| v.as_bytes()).unwrap_or_default();
    let authorization = header(AUTHORIZATION.as_str());
    let bearer = authorization
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|_| &authorization[7..]);
    let hub256 = || signed(key, body, header("x-hub-signature-256"), &["sha256"]);
    Ok(match receiver.kind {
        // Harbor sends its "Auth Header" as is; someone who wrote it as
        // `Bearer TOKEN` means the same token.
        ReceiverKind::Harbor => same(authorization, key) | bearer.is_some_and(|t| same(t, key)),
        // Flux's generic Receiver: the path, derived from the token, was the check.
        ReceiverKind::Generic if receiver.flux => true,
        ReceiverKind::Generic => bearer.is_some_and(|t| same(t, key)),
        ReceiverKind::GenericHmac => signed(
            key,
            body,
            header("x-signature"),
            &["sha1", "sha256", "sha512"],
        ),
        ReceiverKind::Github => {
            if headers.contains_key("x-hub-signature-256") {
                hub256()
            } else {
                signed(key, body, header("x-hub-signature"), &["sha1"])
            }
        }
        ReceiverKind::Gitea => {
            if headers.contains_key("x-gitea-signature") {
                let mut with_prefix = b"sha256=".to_vec();
                with_prefix.extend_from_slice(header("x-gitea-signature"));
                signed(key, body, &with_prefix, &["sha256"])
            } else {
                hub256()
            }
        }
        ReceiverKind::Gitlab => same(header("x-gitlab-token"), key),
        ReceiverKind::Bitbucket => signed(key, body, header("x-hub-signature"), &["sha256"]),
    })
}

/// Whether `signature` (`ALGORITHM=HEX`, ALGORITHM one of `allowed`) is
/// the HMAC of `body` with `key`. The MAC libraries compare in constant time.
fn signed(key: &[u8], body: &[u8], signature: &[u8], allowed: &[&str]) -> bool {
    let Some((algorithm, hex_mac)) = std::str::from_utf8(signature)
        .ok()
        .and_then(|s| s.trim().split_once('='))
    else {
        return false;
    };
    let Ok(mac) = hex::decode(hex_mac) else {
        return false;
    };
    if !allowed.contains(&algorithm) {
        return false;
    }
    fn check<M: Mac + hmac::digest::KeyInit>(key: &[u8], body: &[u8], mac: &[u8]) -> bool {
        let mut m = <M as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
        m.update(body);
        m.verify_slice(mac).is_ok()
    }
    match algorithm {
        "sha1" => check::<Hmac<sha1::Sha1>>(key, body, &mac),
        "sha256" => check::<Hmac<Sha256>>(key, body, &mac),
        "sha512" => check::<Hmac<Sha512>>(key, body, &mac),
        _ => false,
    }
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
        .filter(|(policy, _)| receiver.images.contains(policy))
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

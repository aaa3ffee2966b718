//! What each provider is sent: the request for one event, built from the
//! provider's documented API, without sending it (so tests can read it and
//! the dispatcher can retry it as is).
//!
//! | type | request |
//! |---|---|
//! | `generic` | `POST address`, Flux's event JSON (`involvedObject`, `severity`, `timestamp`, `message`, `reason`, `metadata`, `reportingController`, `reportingInstance`) |
//! | `generic-hmac` | the same with `X-Signature: sha256=HEX`, HMAC-SHA256 of the body keyed by the token |
//! | `slack` | `POST address`, an incoming-webhook body with one attachment (`Authorization: Bearer` with a token, for `chat.postMessage`) |
//! | `discord` | the Slack body to `address/slack`, Discord's Slack-compatible webhook |
//! | `msteams` | `POST address`, a message with an adaptive card (Teams workflows) |
//! | `telegram` | `POST {address or https://api.telegram.org}/bot{token}/sendMessage`, `chat_id` = channel |
//! | `matrix` | `PUT address/_matrix/client/v3/rooms/{channel}/send/m.room.message/{txn}`, `Authorization: Bearer` |
//! | `github` | `POST {api}/repos/{owner}/{repo}/statuses/{sha}` (`api.github.com`, or `host/api/v3`) |
//! | `gitea` | `POST host/api/v1/repos/{owner}/{repo}/statuses/{sha}`, `Authorization: token` |
//! | `gitlab` | `POST host/api/v4/projects/{owner%2Frepo}/statuses/{sha}`, `PRIVATE-TOKEN` |
//!
//! Forges get a commit status for Kustomization events that carry a
//! commit: `success` for info, `failure` (`failed` on GitLab) for errors,
//! the context (GitLab: name) `kustomization/NAME` as Flux writes it.

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use super::{redact_url, Event, ProviderConfig, ProviderKind, Severity};
use crate::config::Secret;

/// One HTTP request to a provider.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// `POST` (`PUT` for Matrix).
    pub method: reqwest::Method,
    /// Where (may hold a token: never logged, see [`Request::describe`]).
    pub url: String,
    /// Headers, `Content-Type` included.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
    /// The proxy to send it through.
    pub proxy: Option<String>,
}

impl std::fmt::Debug for Request {
    // Headers and URL may hold credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Request {
    /// `METHOD scheme://host/…`: what messages show of it.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, redact_url(&self.url))
    }
}

/// The request that tells `provider` about `event`, or `None` when the
/// provider takes no such event (a forge, an event without a commit).
/// Errors name the secret or field, never a value.
pub fn build(provider: &ProviderConfig, event: &Event) -> Result<Option<Request>, String> {
    let read = |what: &str, s: &Option<Secret>| -> Result<Option<String>, String> {
        s.as_ref()
            .map(|s| s.read().map_err(|e| format!("{what}: {e}")))
            .transpose()
    };
    let address = read("address", &provider.address)?;
    let token = read("token", &provider.token)?;
    let proxy = read("proxy", &provider.proxy)?;
    let need = |what: &str, v: Option<String>| {
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| format!("a {} provider needs {what}", provider.kind))
    };
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    let (method, url, body) = match provider.kind {
        ProviderKind::Generic | ProviderKind::GenericHmac => {
            let body = serde_json::to_vec(&generic_body(event)).expect("JSON");
            headers.push(("gotk-component".into(), event.controller().into()));
            for (name, value) in &provider.headers {
                headers.push((
                    name.clone(),
                    value.read().map_err(|e| format!("headers: {e}"))?,
                ));
            }
            if let Some(password) = read("password", &provider.password)? {
                let user = provider.username.clone().unwrap_or_default();
                let basic =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                headers.push(("Authorization".into(), format!("Basic {basic}")));
            }
            if provider.kind == ProviderKind::GenericHmac {
                let key = need("a token (the HMAC key)", token)?;
                headers.push((
                    "X-Signature".into(),
                    format!("sha256={}", sign(&key, &body)),
                ));
            }
            (reqwest::Method::POST, need("an address", address)?, body)
        }
        ProviderKind::Slack | ProviderKind::Discord => {
            let mut url = need("an address", address)?;
            if provider.kind == ProviderKind::Discord
                && !url.trim_end_matches('/').ends_with("/slack")
            {
                url = format!("{}/slack", url.trim_end_matches('/'));
            }
            if let Some(token) = token {
                headers.push(("Authorization".into(), format!("Bearer {token}")));
            }
            let body = slack_body(
                event,
                provider.channel.as_deref(),
                provider.username.as_deref(),
            );
            (
                reqwest::Method::POST,
                url,
                serde_json::to_vec(&body).expect("JSON"),
            )
        }
        ProviderKind::MsTeams => (
            reqwest::Method::POST,
            need("an address", address)?,
            serde_json::to_vec(&teams_body(event)).expect("JSON"),
        ),
        ProviderKind::Telegram => {
            let base = address.unwrap_or_else(|| "https://api.telegram.org".into());
            let token = need("a token (the bot's)", token)?;
            let body = json!({
                "chat_id": need("a channel (the chat id)", provider.channel.clone())?,
                "text": text(event),
            });
            (
                reqwest::Method::POST,
                format!("{}/bot{token}/sendMessage", base.trim_end_matches('/')),
                serde_json::to_vec(&body).expect("JSON"),
            )
        }
        ProviderKind::Matrix => {
            let token = need("a token (an access token)", token)?;
            headers.push(("Authorization".into(), format!("Bearer {token}")));
            let room = need("a channel (the room id)", provider.channel.clone())?;
            let body = serde_json::to_vec(&json!({"msgtype": "m.text", "body": text(event)}))
                .expect("JSON");
            // The transaction id makes a retried send idempotent: the same
            // event (message and time) is the same transaction, while the
            // same message at another time is a new one.
            let txn = sign(&crate::status::timestamp(event.at), &body);
            let url = format!(
                "{}/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}",
                need("an address (the homeserver)", address)?.trim_end_matches('/'),
                utf8_percent_encode(&room, NON_ALPHANUMERIC)
            );
            (reqwest::Method::PUT, url, body)
        }
        ProviderKind::GitHub | ProviderKind::GitLab | ProviderKind::Gitea => {
            let Some(sha) = commit_of(event) else {
                return Ok(None);
            };
            let token = need("a token", token)?;
            let address = need("an address (the repository's URL)", address)?;
            let (base, repo) = repository(&address).ok_or_else(|| {
                format!(
                    "address {} is not a repository URL (https://HOST/OWNER/REPO)",
                    redact_url(&address)
                )
            })?;
            let context = format!("{}/{}", event.kind.to_lowercase(), event.name);
            let description: String = event.message.chars().take(140).collect();
            let ok = event.severity == Severity::Info;
            let (url, body) = match provider.kind {
                ProviderKind::GitHub => {
                    let api = if base == "https://github.com" {
                        "https://api.github.com".to_string()
                    } else {
                        format!("{base}/api/v3")
                    };
                    headers.push(("Authorization".into(), format!("Bearer {token}")));
                    headers.push(("Accept".into(), "application/vnd.github+json".into()));
                    (
                        format!("{api}/repos/{repo}/statuses/{sha}"),
                        json!({"state": if ok {"success"} else {"failure"}, "context": context, "description": description}),
                    )
                }
                ProviderKind::Gitea => {
                    headers.push(("Authorization".into(), format!("token {token}")));
                    (
                        format!("{base}/api/v1/repos/{repo}/statuses/{sha}"),
                        json!({"state": if ok {"success"} else {"failure"}, "context": context, "description": description}),
                    )
                }
                _ => {
                    headers.push(("PRIVATE-TOKEN".into(), token));
                    (
                        format!(
                            "{base}/api/v4/projects/{}/statuses/{sha}",
                            utf8_percent_encode(&repo, NON_ALPHANUMERIC)
                        ),
                        json!({"state": if ok {"success"} else {"failed"}, "name": context, "description": description}),
                    )
                }
            };
            (
                reqwest::Method::POST,
                url,
                serde_json::to_vec(&body).expect("JSON"),
            )
        }
    };
    if reqwest::Url::parse(&url).is_err() {
        return Err(format!("the {} address is not a URL", provider.kind));
    }
    Ok(Some(Request {
        method,
        url,
        headers,
        body,
        proxy,
    }))
}

/// Flux's event, as notification-controller forwards it to generic webhooks.
pub fn generic_body(event: &Event) -> Value {
    json!({
        "involvedObject": {
            "apiVersion": event.api_version(),
            "kind": event.kind,
            "namespace": event.namespace,
            "name": event.name,
        },
        "severity": event.severity.to_string(),
        "timestamp": crate::status::timestamp(event.at),
        "message": event.message,
        "reason": event.reason,
        "metadata": event.metadata,
        "reportingController": event.controller(),
        "reportingInstance": "rekon",
    })
}

/// `kind/name.namespace` (`kind/name` without a namespace), as Flux titles messages.
fn title(event: &Event) -> String {
    let kind = event.kind.to_lowercase();
    if event.namespace.is_empty() {
        format!("{kind}/{}", event.name)
    } else {
        format!("{kind}/{}.{}", event.name, event.namespace)
    }
}

/// Slack's incoming-webhook body: one attachment, green for info, red for errors.
fn slack_body(event: &Event, channel: Option<&str>, username: Option<&str>) -> Value {
    let fields: Vec<Value> = event
        .metadata
        .iter()
        .map(|(k, v)| json!({"title": k, "value": v, "short": false}))
        .collect();
    let mut body = json!({
        "attachments": [{
            "color": if event.severity == Severity::Error { "danger" } else { "good" },
            "author_name": title(event),
            "text": event.message,
            "mrkdwn_in": ["text"],
            "fields": fields,
        }],
    });
    if let Some(channel) = channel {
        body["channel"] = channel.into();
    }
    if let Some(username) = username {
        body["username"] = username.into();
    }
    body
}

/// A Teams workflow message: one adaptive card with the metadata as facts.
fn teams_body(event: &Event) -> Value {
    let facts: Vec<Value> = event
        .metadata
        .iter()
        .map(|(k, v)| json!({"title": k, "value": v}))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {
                        "type": "TextBlock",
                        "text": title(event),
                        "weight": "bolder",
                        "size": "medium",
                        "color": if event.severity == Severity::Error { "attention" } else { "good" },
                        "wrap": true,
                    },
                    {"type": "TextBlock", "text": event.message, "wrap": true},
                    {"type": "FactSet", "facts": facts},
                ],
            },
        }],
    })
}

/// A plain-text message (Telegram, Matrix).
fn text(event: &Event) -> String {
    let mut out = format!("[{}] {}\n{}", event.severity, title(event), event.message);
    for (k, v) in &event.metadata {
        out.push_str(&format!("\n{k}: {v}"));
    }
    out
}

/// The commit a Kustomization event is about: its revision's sha
/// (`main@sha1:SHA`, `main/SHA` or `SHA`).
fn commit_of(event: &Event) -> Option<String> {
    if event.kind != "Kustomization" {
        return None;
    }
    let revision = event.revision.as_deref()?;
    let sha = revision.rsplit([':', '/', '@']).next().unwrap_or(revision);
    (matches!(sha.len(), 40 | 64) && sha.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| sha.to_string())
}

/// `https://host/owner/repo(.git)` → (`https://host`, `owner/repo`).
fn repository(address: &str) -> Option<(String, String)> {
    let url = reqwest::Url::parse(address).ok()?;
    let host = url.host_str()?;
    let base = match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    };
    let path = url.path().trim_matches('/').trim_end_matches(".git");
    (path.split('/').filter(|p| !p.is_empty()).count() >= 2).then(|| (base, path.to_string()))
}

/// Hex HMAC-SHA256 of `body` keyed by `key` (hmac, the RustCrypto crate
/// that goes with sha2: a MAC is not something to write by hand).
pub fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::alerts::sink::{Captured, Sink};
    use crate::alerts::{dispatch, Settings};
    use crate::status::Kind;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn value(v: &str) -> Secret {
        Secret::Value {
            from: "test".into(),
            value: v.into(),
        }
    }

    fn provider(kind: ProviderKind, address: &str, token: Option<&str>) -> ProviderConfig {
        ProviderConfig {
            kind,
            address: Some(value(address)),
            channel: None,
            username: None,
            token: token.map(value),
            password: None,
            headers: Vec::new(),
            proxy: None,
        }
    }

    fn failed() -> Event {
        let mut e = Event::new(
            Kind::Kustomization,
            "flux-system/apps",
            Severity::Error,
            "ReconciliationFailed",
            "kustomization path not found",
        )
        .at_revision(Some(&format!("main@sha1:{SHA}")));
        e.metadata
            .insert("revision".into(), format!("main@sha1:{SHA}"));
        e
    }

    /// Send what `build` makes of `event` to a sink at `address` (`{sink}` replaced).
    async fn through_sink(mut p: ProviderConfig, event: &Event) -> Captured {
        let (sink, url) = Sink::start().await;
        let address = p
            .address
            .take()
            .map(|a| a.read().unwrap().replace("{sink}", &url));
        p.address = address.as_deref().map(value);
        let request = build(&p, event).unwrap().expect("a request");
        let client = dispatch::client(&request, Duration::from_secs(5)).unwrap();
        dispatch::deliver(&client, &request, &Settings::default())
            .await
            .unwrap();
        let mut taken = sink.taken();
        assert_eq!(taken.len(), 1);
        taken.remove(0)
    }

    #[tokio::test]
    async fn generic_posts_flux_s_event() {
        let mut p = provider(ProviderKind::Generic, "{sink}/hook", None);
        p.headers = vec![("X-Team".into(), value("web"))];
        let got = through_sink(p, &failed()).await;
        assert_eq!((got.method.as_str(), got.path.as_str()), ("POST", "/hook"));
        assert_eq!(got.header("content-type"), Some("application/json"));
        assert_eq!(got.header("gotk-component"), Some("kustomize-controller"));
        assert_eq!(got.header("x-team"), Some("web"));
        let body = got.json();
        assert_eq!(
            body["involvedObject"],
            serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "namespace": "flux-system", "name": "apps"})
        );
        assert_eq!(body["severity"], "error");
        assert_eq!(body["reason"], "ReconciliationFailed");
        assert_eq!(body["message"], "kustomization path not found");
        assert_eq!(body["metadata"]["revision"], format!("main@sha1:{SHA}"));
        assert_eq!(body["reportingController"], "kustomize-controller");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn generic_hmac_signs_the_body_it_sends() {
        let p = provider(ProviderKind::GenericHmac, "{sink}/hook", Some("key"));
        let got = through_sink(p, &failed()).await;
        assert_eq!(
            got.header("x-signature").unwrap(),
            format!("sha256={}", sign("key", &got.body))
        );
        assert_eq!(got.json()["severity"], "error");
    }

    #[tokio::test]
    async fn slack_and_discord_get_an_attachment() {
        let mut p = provider(ProviderKind::Slack, "{sink}/services/T/B/x", Some("xoxb"));
        p.channel = Some("#ops".into());
        p.username = Some("rekon".into());
        let got = through_sink(p, &failed()).await;
        assert_eq!(got.path, "/services/T/B/x");
        assert_eq!(got.header("authorization"), Some("Bearer xoxb"));
        let body = got.json();
        assert_eq!(body["channel"], "#ops");
        assert_eq!(body["username"], "rekon");
        let a = &body["attachments"][0];
        assert_eq!(a["color"], "danger");
        assert_eq!(a["author_name"], "kustomization/apps.flux-system");
        assert_eq!(a["text"], "kustomization path not found");
        assert_eq!(a["fields"][0]["title"], "revision");

        let p = provider(ProviderKind::Discord, "{sink}/api/webhooks/1/x", None);
        let got = through_sink(p, &failed()).await;
        assert_eq!(got.path, "/api/webhooks/1/x/slack");
        assert!(got.header("authorization").is_none());
        assert_eq!(got.json()["attachments"][0]["color"], "danger");
    }

    #[tokio::test]
    async fn teams_gets_an_adaptive_card() {
        let p = provider(ProviderKind::MsTeams, "{sink}/workflows/x", None);
        let got = through_sink(p, &failed()).await;
        let a = &got.json()["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(
            a["content"]["body"][1]["text"],
            "kustomization path not found"
        );
        assert_eq!(a["content"]["body"][2]["facts"][0]["title"], "revision");
    }

    #[tokio::test]
    async fn telegram_and_matrix_get_text() {
        let mut p = provider(ProviderKind::Telegram, "{sink}", Some("123:abc"));
        p.channel = Some("-100".into());
        let got = through_sink(p, &failed()).await;
        assert_eq!(got.path, "/bot123:abc/sendMessage");
        let body = got.json();
        assert_eq!(body["chat_id"], "-100");
        let text = body["text"].as_str().unwrap();
        assert!(
            text.starts_with(
                "[error] kustomization/apps.flux-system\nkustomization path not found"
            ),
            "{text}"
        );

        let mut p = provider(ProviderKind::Matrix, "{sink}", Some("syt"));
        p.channel = Some("!room:pi.lan".into());
        let got = through_sink(p, &failed()).await;
        assert_eq!(got.method, "PUT");
        let prefix = "/_matrix/client/v3/rooms/%21room%3Api%2Elan/send/m.room.message/";
        assert!(got.path.starts_with(prefix), "{}", got.path);
        assert_eq!(got.path.len(), prefix.len() + 64, "a sha256 transaction id");
        assert_eq!(got.header("authorization"), Some("Bearer syt"));
        assert_eq!(got.json()["msgtype"], "m.text");
    }

    #[tokio::test]
    async fn forges_get_a_commit_status_on_the_applied_revision() {
        let got = through_sink(
            provider(ProviderKind::GitHub, "{sink}/me/site.git", Some("ghp")),
            &failed(),
        )
        .await;
        assert_eq!(got.path, format!("/api/v3/repos/me/site/statuses/{SHA}"));
        assert_eq!(got.header("authorization"), Some("Bearer ghp"));
        assert_eq!(
            got.json(),
            serde_json::json!({"state": "failure", "context": "kustomization/apps", "description": "kustomization path not found"})
        );

        let mut ok = failed();
        ok.severity = Severity::Info;
        let got = through_sink(
            provider(ProviderKind::Gitea, "{sink}/me/site", Some("tea")),
            &ok,
        )
        .await;
        assert_eq!(got.path, format!("/api/v1/repos/me/site/statuses/{SHA}"));
        assert_eq!(got.header("authorization"), Some("token tea"));
        assert_eq!(got.json()["state"], "success");

        let got = through_sink(
            provider(ProviderKind::GitLab, "{sink}/group/sub/site", Some("glpat")),
            &failed(),
        )
        .await;
        assert_eq!(
            got.path,
            format!("/api/v4/projects/group%2Fsub%2Fsite/statuses/{SHA}")
        );
        assert_eq!(got.header("private-token"), Some("glpat"));
        assert_eq!(got.json()["state"], "failed");
        assert_eq!(got.json()["name"], "kustomization/apps");

        // github.com's API is api.github.com.
        let p = provider(
            ProviderKind::GitHub,
            "https://github.com/me/site",
            Some("ghp"),
        );
        let request = build(&p, &failed()).unwrap().unwrap();
        assert_eq!(
            request.url,
            format!("https://api.github.com/repos/me/site/statuses/{SHA}")
        );
    }

    #[test]
    fn forges_take_only_kustomization_events_with_a_commit() {
        let p = provider(
            ProviderKind::GitHub,
            "https://github.com/me/site",
            Some("ghp"),
        );
        let mut e = failed();
        e.revision = None;
        assert_eq!(build(&p, &e).unwrap(), None);
        let e = Event::new(Kind::Source, "site", Severity::Error, "R", "m").at_revision(Some(SHA));
        assert_eq!(build(&p, &e).unwrap(), None);
    }

    #[test]
    fn errors_name_what_is_missing_never_a_value() {
        let mut p = provider(ProviderKind::GenericHmac, "https://hooks.lan/s3cret", None);
        assert_eq!(
            build(&p, &failed()).unwrap_err(),
            "a generic-hmac provider needs a token (the HMAC key)"
        );
        p.token = Some(Secret::Env("REKON_TEST_NO_SUCH_VARIABLE".into()));
        let err = build(&p, &failed()).unwrap_err();
        assert!(
            err.starts_with("token: $REKON_TEST_NO_SUCH_VARIABLE"),
            "{err}"
        );
        let p = provider(ProviderKind::GitHub, "https://git.lan/s3cret", Some("t"));
        let err = build(&p, &failed()).unwrap_err();
        assert!(
            err.contains("https://git.lan/…") && !err.contains("s3cret"),
            "{err}"
        );
        let request = build(
            &provider(ProviderKind::Generic, "https://hooks.lan/s3cret", None),
            &failed(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(format!("{request:?}"), "POST https://hooks.lan/…");
    }
}

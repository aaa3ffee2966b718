//! `rekon run`'s HTTP server over real HTTP on loopback: health and
//! readiness, metrics, status, the Harbor and generic webhook receivers, and
//! the `rekon status` binary reading a served board.

use crate::support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use rekon::config::{Receiver, ReceiverKind, Secret};
use rekon::plugin::{CallStats, Limits};
use rekon::server::receivers::MAX_BODY;
use rekon::server::{serve, Metrics, ServerState, Trigger};
use rekon::status::{Kind, Snapshot, StatusBoard};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

/// A delivery as Harbor 2.x sends it for `docker push
/// harbor.lan/website/frontend:main-def5678-1767312000` (the "Default"
/// payload format; fields as in Harbor's notifier model).
const HARBOR_PUSH: &str = r#"{
  "type": "PUSH_ARTIFACT",
  "occur_at": 1767312005,
  "operator": "robot$website+ci",
  "event_data": {
    "resources": [
      {
        "digest": "sha256:3f1c0a3b8e9d2c4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
        "tag": "main-def5678-1767312000",
        "resource_url": "harbor.lan/website/frontend:main-def5678-1767312000"
      }
    ],
    "repository": {
      "date_created": 1760000000,
      "name": "frontend",
      "namespace": "website",
      "repo_full_name": "website/frontend",
      "repo_type": "private"
    }
  }
}"#;

/// The same push in Harbor's CloudEvents payload format.
const HARBOR_PUSH_CLOUDEVENTS: &str = r#"{
  "specversion": "1.0",
  "id": "6d8a3c1e-0c43-4b5c-9f3e-2b7d7a3f0e11",
  "requestid": "8a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
  "source": "/projects/2/webhook/policies/3",
  "type": "harbor.artifact.pushed",
  "datacontenttype": "application/json",
  "time": "2026-01-02T00:00:05Z",
  "data": {
    "resources": [{"digest": "sha256:3f1c", "tag": "main-def5678-1767312000",
                   "resource_url": "harbor.lan/website/frontend:main-def5678-1767312000"}],
    "repository": {"date_created": 1760000000, "name": "frontend", "namespace": "website",
                   "repo_full_name": "website/frontend", "repo_type": "private"},
    "operator": "robot$website+ci"
  }
}"#;

const TOKEN: &str = "hH9s-3kq_ZlP0x";

/// A served board, metrics and trigger queue; stopped (and checked to
/// stop) on drop.
struct Served {
    addr: SocketAddr,
    board: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    triggers: mpsc::Receiver<Trigger>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Receivers: `harbor` (all images), `harbor-backend` (only the
    /// backend), `ci` (generic, the backend and the worker) and `all`
    /// (generic, every image). No `[server]` token.
    fn start() -> Served {
        Served::start_with(false)
    }

    /// With `status_token`, `[server]`'s token is the receivers' [`TOKEN`].
    fn start_with(status_token: bool) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        // A trailing newline, as `echo > file` leaves it, is not part of the token.
        std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
        let receiver = |name: &str, kind, images: &[&str]| Receiver {
            name: name.into(),
            path: name.into(),
            flux: false,
            kind,
            token: Secret::File(token.clone()),
            events: Vec::new(),
            images: images.iter().map(|s| s.to_string()).collect(),
            sources: Vec::new(),
            kustomizations: Vec::new(),
        };
        // What `[receivers]` gives a receiver that lists nothing.
        let every = [
            "flux-system:backend",
            "flux-system:frontend",
            "flux-system:mirror",
            "flux-system:worker",
        ];
        let forge = |name: &str, kind, events: &[&str]| Receiver {
            events: events.iter().map(|s| s.to_string()).collect(),
            sources: vec!["website".into()],
            kustomizations: vec!["frontend".into()],
            ..receiver(name, kind, &[])
        };
        let receivers = vec![
            receiver("harbor", ReceiverKind::Harbor, &every),
            receiver(
                "harbor-backend",
                ReceiverKind::Harbor,
                &["flux-system:backend"],
            ),
            receiver(
                "ci",
                ReceiverKind::Generic,
                &["flux-system:backend", "flux-system:worker"],
            ),
            receiver("all", ReceiverKind::Generic, &every),
            forge("github", ReceiverKind::Github, &["push"]),
            forge("gitea", ReceiverKind::Gitea, &[]),
            forge(
                "gitlab",
                ReceiverKind::Gitlab,
                &["Push Hook", "Tag Push Hook"],
            ),
            forge("bitbucket", ReceiverKind::Bitbucket, &["repo:refs_changed"]),
            forge("hmac", ReceiverKind::GenericHmac, &[]),
            // A Flux Receiver: served at Flux's path, which is its only check.
            Receiver {
                name: "flux-system/ci".into(),
                path: rekon::server::receivers::flux_path(TOKEN, "ci", "flux-system"),
                flux: true,
                ..forge("unused", ReceiverKind::Generic, &[])
            },
        ];
        let images = [
            ("flux-system:backend", "harbor.lan/website/backend"),
            ("flux-system:frontend", "harbor.lan/website/frontend"),
            // Same tail, other project: must not match website/frontend.
            ("flux-system:mirror", "harbor.lan/mywebsite/frontend"),
            ("flux-system:worker", "ghcr.io/example/worker"),
        ]
        .iter()
        .map(|(p, r)| (p.to_string(), r.to_string()))
        .collect();
        let board = Arc::new(StatusBoard::new());
        let metrics = Arc::new(Metrics::new());
        let (tx, triggers) = mpsc::channel(16);
        let state = ServerState {
            board: board.clone(),
            metrics: metrics.clone(),
            receivers,
            images,
            triggers: tx,
            token: status_token.then(|| Secret::File(token.clone())),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?).unwrap();
                serve(listener, state, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv().expect("the server thread started");
        Served {
            addr,
            board,
            metrics,
            triggers,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One request over a fresh connection.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        let chunked = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"));
        if !chunked {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        if chunked {
            for chunk in body.chunks(8192) {
                // The server may answer 413 and close before all chunks are sent.
                if stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .and_then(|()| stream.write_all(chunk))
                    .and_then(|()| stream.write_all(b"\r\n"))
                    .is_err()
                {
                    break;
                }
            }
            let _ = stream.write_all(b"0\r\n\r\n");
        } else {
            // Likewise for an oversized body refused on its Content-Length.
            let _ = stream.write_all(body);
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Answer::parse(&raw)
    }

    fn get(&self, path: &str) -> Answer {
        self.request("GET", path, &[], b"")
    }

    fn post(&self, path: &str, authorization: Option<&str>, body: &str) -> Answer {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = authorization {
            headers.push(("Authorization", a));
        }
        self.request("POST", path, &headers, body.as_bytes())
    }

    /// Every trigger sent so far, as `image X`, `source X`, `kustomization X`.
    fn all_triggered(&mut self) -> Vec<String> {
        let mut all = Vec::new();
        while let Ok(trigger) = self.triggers.try_recv() {
            all.push(match trigger {
                Trigger::ScanImage { policy, .. } => format!("image {policy}"),
                Trigger::FetchSource { source, .. } => format!("source {source}"),
                Trigger::Reconcile { kustomization, .. } => {
                    format!("kustomization {kustomization}")
                }
            });
        }
        all
    }

    /// Every trigger sent so far (the handlers send before they answer).
    fn triggered(&mut self) -> Vec<String> {
        let mut policies = Vec::new();
        while let Ok(Trigger::ScanImage { policy, reason }) = self.triggers.try_recv() {
            assert!(reason.starts_with("receiver "), "{reason}");
            policies.push(policy);
        }
        policies
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let result = thread.join();
            if !std::thread::panicking() {
                result.unwrap().expect("serve returned an error");
            }
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Answer {
    fn parse(raw: &[u8]) -> Answer {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_string(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

#[test]
fn health_and_readiness() {
    let s = Served::start();
    let health = s.get("/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    assert_eq!(s.get("/readyz").status, 503, "not ready before set_ready");
    s.board.set_ready(true);
    assert_eq!(s.get("/readyz").status, 200);
    s.board.set_ready(false);
    assert_eq!(s.get("/readyz").status, 503);

    let wrong = s.request("POST", "/healthz", &[], b"");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.headers["allow"], "GET, HEAD");
    let head = s.request("HEAD", "/healthz", &[], b"");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    assert_eq!(s.get("/nothing-here").status, 404);
}

/// Metric lines as `name{labels}` -> value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l}"));
            (
                key.to_string(),
                value.parse().unwrap_or_else(|_| panic!("{l}")),
            )
        })
        .collect()
}

#[test]
fn metrics_count_reconciles_plugin_calls_tags_and_revisions() {
    let s = Served::start();
    let m = &s.metrics;
    m.reconcile(
        Kind::Kustomization,
        "frontend",
        Duration::from_millis(1500),
        true,
    );
    m.reconcile(
        Kind::Kustomization,
        "frontend",
        Duration::from_millis(500),
        false,
    );
    m.reconcile(
        Kind::Image,
        "flux-system:frontend",
        Duration::from_millis(20),
        true,
    );
    m.tags_scanned("flux-system:frontend", 10_000);
    m.applied_revision("frontend", "1a2b3c4d");
    m.applied_revision("frontend", "5e6f7a8b");

    // Real calls of a real plugin: one good, one trap, one endless loop.
    let stats = Arc::new(CallStats::default());
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let plugin = support::load("hostile_plugin", limits).with_stats(stats.clone());
    m.plugin("hostile", stats.clone());
    let input = [json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "website"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    .to_string()];
    plugin.mutate(&json!({"mode": "ok"}), &input).unwrap();
    plugin.mutate(&json!({"mode": "trap"}), &input).unwrap_err();
    plugin.mutate(&json!({"mode": "loop"}), &input).unwrap_err();

    let answer = s.get("/metrics");
    assert_eq!(answer.status, 200);
    assert!(answer.headers["content-type"].starts_with("text/plain; version=0.0.4"));
    let got = samples(&answer.body);
    let at = |key: &str| {
        *got.get(key)
            .unwrap_or_else(|| panic!("no {key} in\n{}", answer.body))
    };
    let k = r#"{kind="kustomization",name="frontend"}"#;
    assert_eq!(at(&format!("rekon_reconcile_total{k}")), 2.0);
    assert_eq!(at(&format!("rekon_reconcile_errors_total{k}")), 1.0);
    assert_eq!(
        at(&format!("rekon_reconcile_duration_seconds_count{k}")),
        2.0
    );
    assert_eq!(at(&format!("rekon_reconcile_duration_seconds_sum{k}")), 2.0);
    // Cumulative buckets: each counts the runs (0.5 s, 1.5 s) up to its bound.
    let prefix =
        r#"rekon_reconcile_duration_seconds_bucket{kind="kustomization",name="frontend",le=""#;
    let buckets: Vec<(f64, f64)> = got
        .iter()
        .filter_map(|(key, count)| {
            let le = key.strip_prefix(prefix)?.strip_suffix("\"}")?;
            Some((le.parse().unwrap(), *count))
        })
        .collect();
    assert!(buckets.len() > 5, "{buckets:?}");
    assert!(
        buckets.iter().any(|(le, _)| le.is_infinite()),
        "{buckets:?}"
    );
    for (le, count) in buckets {
        let expected = f64::from(u8::from(le >= 0.5)) + f64::from(u8::from(le >= 1.5));
        assert_eq!(count, expected, "bucket le={le}");
    }
    assert_eq!(
        at(r#"rekon_reconcile_total{kind="image",name="flux-system:frontend"}"#),
        1.0
    );
    assert!(!got
        .contains_key(r#"rekon_reconcile_errors_total{kind="image",name="flux-system:frontend"}"#));
    assert_eq!(
        at(r#"rekon_image_tags_scanned{image="flux-system:frontend"}"#),
        10_000.0
    );
    assert_eq!(
        at(r#"rekon_applied_revision_info{kustomization="frontend",revision="5e6f7a8b"}"#),
        1.0
    );
    assert!(
        !answer.body.contains("1a2b3c4d"),
        "the previous revision's series is gone:\n{}",
        answer.body
    );
    assert_eq!(at(r#"rekon_plugin_calls_total{plugin="hostile"}"#), 3.0);
    assert_eq!(at(r#"rekon_plugin_traps_total{plugin="hostile"}"#), 1.0);
    assert_eq!(at(r#"rekon_plugin_timeouts_total{plugin="hostile"}"#), 1.0);

    // A hot swap: the new version shares the counters, read at each scrape.
    let swapped = support::load("hostile_plugin", Limits::default()).with_stats(stats.clone());
    m.plugin("hostile", stats);
    swapped.mutate(&json!({"mode": "ok"}), &input).unwrap();
    let got = samples(&s.get("/metrics").body);
    assert_eq!(got[r#"rekon_plugin_calls_total{plugin="hostile"}"#], 4.0);
}

#[test]
fn status_json_round_trips() {
    let s = Served::start();
    s.board.register(Kind::Source, "website", false);
    s.board.register(Kind::Kustomization, "frontend", false);
    s.board.register(Kind::Image, "flux-system:frontend", true);
    s.board.update(Kind::Source, "website", |i| {
        i.ready = Some(true);
        i.revision = Some("main@sha1:1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d".into());
        i.last_run = Some("2026-01-02T00:00:00Z".into());
        i.duration_ms = Some(840);
        i.message = "fetched main \"quoted\" ünïcode".into();
    });
    s.board.set_ready(true);
    let answer = s.get("/status");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/json");
    let served: Snapshot = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(served, s.board.snapshot());
    assert_eq!(served.version, env!("CARGO_PKG_VERSION"));
    assert!(served.images["flux-system:frontend"].suspended);
    assert_eq!(served.kustomizations["frontend"].ready, None);
}

#[test]
fn a_harbor_push_triggers_exactly_the_matching_policy() {
    let mut s = Served::start();
    let answer = s.post("/hook/harbor", Some(TOKEN), HARBOR_PUSH);
    assert_eq!(answer.status, 202, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["triggered"], json!(["flux-system:frontend"]));
    assert_eq!(
        body["event"],
        "PUSH_ARTIFACT website/frontend:main-def5678-1767312000"
    );
    assert_eq!(s.triggered(), ["flux-system:frontend"]);

    let answer = s.post("/hook/harbor", Some(TOKEN), HARBOR_PUSH_CLOUDEVENTS);
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(s.triggered(), ["flux-system:frontend"]);

    // A receiver limited to other images triggers nothing, and says so.
    let answer = s.post("/hook/harbor-backend", Some(TOKEN), HARBOR_PUSH);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["triggered"], json!([]));
    assert!(
        answer.json()["message"]
            .as_str()
            .unwrap()
            .contains("/website/frontend"),
        "{}",
        answer.body
    );
    assert!(s.triggered().is_empty());
}

#[test]
fn a_bad_or_missing_token_is_refused_and_triggers_nothing() {
    let mut s = Served::start();
    let refused = [
        ("/hook/harbor", None),
        ("/hook/harbor", Some("wrong")),
        ("/hook/harbor", Some(&TOKEN[..TOKEN.len() - 1])),
        ("/hook/harbor", Some("Bearer wrong")),
        // The generic receiver wants the Bearer scheme.
        ("/hook/ci", Some(TOKEN)),
        ("/hook/ci", Some("Bearer wrong")),
        ("/hook/ci", None),
    ];
    for (path, auth) in refused {
        let answer = s.post(path, auth, HARBOR_PUSH);
        assert_eq!(answer.status, 401, "{path} with {auth:?}: {}", answer.body);
        assert_eq!(answer.body, "unauthorized\n");
    }
    assert!(s.triggered().is_empty());
    // Harbor's auth header written with the Bearer scheme carries the same token.
    let answer = s.post(
        "/hook/harbor",
        Some(&format!("Bearer {TOKEN}")),
        HARBOR_PUSH,
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(s.triggered(), ["flux-system:frontend"]);
}

#[test]
fn other_harbor_events_are_ignored_and_say_so() {
    let mut s = Served::start();
    let pull = HARBOR_PUSH.replace("PUSH_ARTIFACT", "PULL_ARTIFACT");
    let answer = s.post("/hook/harbor", Some(TOKEN), &pull);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["triggered"], json!([]));
    assert_eq!(
        body["message"],
        "event PULL_ARTIFACT ignored: only PUSH_ARTIFACT triggers scans"
    );
    assert!(s.triggered().is_empty());
}

#[test]
fn bad_payloads_are_refused_saying_what_is_wrong() {
    let mut s = Served::start();
    let answer = s.post("/hook/harbor", Some(TOKEN), "this is not json");
    assert_eq!(answer.status, 400);
    assert!(
        answer
            .body
            .starts_with("the body is not a Harbor webhook event: expected"),
        "{}",
        answer.body
    );
    let answer = s.post("/hook/harbor", Some(TOKEN), r#"{"event_data": {}}"#);
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("missing field `type`"),
        "{}",
        answer.body
    );
    let answer = s.post(
        "/hook/harbor",
        Some(TOKEN),
        r#"{"type": "PUSH_ARTIFACT", "event_data": {"resources": []}}"#,
    );
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body,
        "PUSH_ARTIFACT event without event_data.repository.repo_full_name\n"
    );
    assert!(s.triggered().is_empty());
}

#[test]
fn oversized_bodies_are_refused() {
    let mut s = Served::start();
    let big = format!(
        "{{\"type\": \"PUSH_ARTIFACT\", \"padding\": \"{}\"}}",
        "x".repeat(MAX_BODY + 1)
    );
    // Refused on its Content-Length, before it is read.
    let answer = s.post("/hook/harbor", Some(TOKEN), &big);
    assert_eq!(answer.status, 413, "{}", answer.body);
    // Without the token, refused before the body matters.
    let answer = s.post("/hook/harbor", Some("wrong"), &big);
    assert_eq!(answer.status, 401, "{}", answer.body);
    // Chunked, so only counting while reading finds out.
    let answer = s.request(
        "POST",
        "/hook/harbor",
        &[("Authorization", TOKEN), ("Transfer-Encoding", "chunked")],
        big.as_bytes(),
    );
    assert_eq!(answer.status, 413, "{}", answer.body);
    assert!(s.triggered().is_empty());
    // Just under the cap is read (and refused only for what it says).
    let padded = format!(
        "{}, \"padding\": \"{}\"}}",
        HARBOR_PUSH.trim_end().trim_end_matches('}'),
        "x".repeat(MAX_BODY - 1024)
    );
    let answer = s.post("/hook/harbor", Some(TOKEN), &padded);
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(s.triggered(), ["flux-system:frontend"]);
}

#[test]
fn unknown_receivers_and_wrong_methods() {
    let mut s = Served::start();
    let answer = s.post("/hook/gitlub", Some(TOKEN), HARBOR_PUSH);
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body, "no receiver at this path\n");
    let answer = s.get("/hook/harbor");
    assert_eq!(answer.status, 405);
    assert_eq!(answer.headers["allow"], "POST");
    assert!(s.triggered().is_empty());
}

#[test]
fn the_status_token_guards_the_pages_and_status_but_not_the_probes() {
    let s = Served::start_with(true);
    s.board.set_ready(true);
    s.board.update(Kind::Kustomization, "frontend", |i| {
        i.ready = Some(true);
        i.message = "applied".into();
    });
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(s.get(path).status, 200, "{path}");
    }
    let refused = s.get("/status");
    assert_eq!(refused.status, 401);
    assert_eq!(refused.headers["www-authenticate"], "Bearer");
    assert!(!refused.body.contains("frontend"));
    for path in ["/", "/events", "/kustomization/frontend"] {
        let answer = s.get(path);
        assert_eq!(answer.status, 303, "{path}");
        assert!(
            answer.headers["location"].starts_with("/login?next=%2F"),
            "{answer:?}"
        );
        assert!(!answer.body.contains("frontend"));
    }

    let bearer = format!("Bearer {TOKEN}");
    let answer = s.request("GET", "/status", &[("Authorization", &bearer)], b"");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["kustomizations"]["frontend"]["ready"], true);
    let wrong = s.request("GET", "/", &[("Authorization", "Bearer nope")], b"");
    assert_eq!(wrong.status, 303);

    // The login form, a wrong token, then the right one.
    let form = s.get("/login?next=%2Fkustomization%2Ffrontend");
    assert_eq!(form.status, 200);
    assert!(
        form.body
            .contains("name=\"next\" value=\"/kustomization/frontend\""),
        "{}",
        form.body
    );
    let post = |body: &str| {
        s.request(
            "POST",
            "/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
    };
    let wrong = post("token=guess&next=%2Fkustomization%2Ffrontend");
    assert_eq!(wrong.status, 401);
    assert!(
        wrong.body.contains("not the one configured"),
        "{}",
        wrong.body
    );
    assert!(!wrong.headers.contains_key("set-cookie"));
    // Somewhere else than this server is not a place to go after a login.
    let elsewhere = post(&format!("token={TOKEN}&next=%2F%2Fevil.example%2F"));
    assert_eq!(elsewhere.headers["location"], "/");
    let signed = post(&format!("token={TOKEN}&next=%2Fkustomization%2Ffrontend"));
    assert_eq!(signed.status, 303, "{signed:?}");
    assert_eq!(signed.headers["location"], "/kustomization/frontend");
    let cookie = &signed.headers["set-cookie"];
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(TOKEN), "{cookie}");
    let pair = cookie.split(';').next().unwrap();
    let page = s.request("GET", "/kustomization/frontend", &[("Cookie", pair)], b"");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign out"), "{}", page.body);
    assert!(page.headers["content-security-policy"].contains("script-src 'sha256-"));
    assert_eq!(
        s.request("GET", "/status", &[("Cookie", pair)], b"").status,
        200
    );
    let out = s.request("POST", "/logout", &[("Cookie", pair)], b"");
    assert_eq!(out.status, 303);
    assert!(out.headers["set-cookie"].contains("Max-Age=0"));
}

#[test]
fn the_status_page_is_open_without_a_token_and_404s_unknown_items() {
    let s = Served::start();
    s.board.update(Kind::Image, "flux-system:frontend", |i| {
        i.ready = Some(false);
        i.message = "left alone: <b>registry down</b>".into();
    });
    let page = s.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert!(
        page.body.contains("<title>rekon: 1 failed</title>"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("left alone: &lt;b&gt;registry down&lt;/b&gt;"));
    assert!(page.body.contains("href=\"/image/flux-system:frontend\""));
    assert!(!page.body.contains("Sign out"));
    assert_eq!(s.get("/image/flux-system:frontend").status, 200);
    assert_eq!(s.get("/image/flux-system:backend").status, 404);
    assert_eq!(s.get("/login").status, 303, "nothing to sign in to");
    assert_eq!(s.request("POST", "/", &[], b"").status, 405);
}

#[test]
fn the_generic_receiver_triggers_its_images() {
    let mut s = Served::start();
    let bearer = format!("Bearer {TOKEN}");
    let answer = s.request(
        "POST",
        "/hook/ci",
        &[("Authorization", &bearer)],
        b"built 1.2.3",
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(
        answer.json()["triggered"],
        json!(["flux-system:backend", "flux-system:worker"])
    );
    assert_eq!(s.triggered(), ["flux-system:backend", "flux-system:worker"]);
    // No images listed: every image; an empty body is fine.
    let answer = s.request("POST", "/hook/all", &[("Authorization", &bearer)], b"");
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(s.triggered().len(), 4);
}

fn rekon_status(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rekon"))
        .arg("status")
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The cells of the table row starting with `name`.
fn row<'a>(stdout: &'a str, name: &str) -> Vec<&'a str> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no row {name} in\n{stdout}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn rekon_status_prints_the_table_and_exits_by_readiness() {
    let s = Served::start();
    let just_now = rekon::status::timestamp(std::time::SystemTime::now());
    s.board.register(Kind::Source, "website", false);
    s.board.register(Kind::Kustomization, "frontend", false);
    s.board.register(Kind::Kustomization, "staging", true);
    s.board.register(Kind::Plugin, "flux-policy", false);
    s.board.update(Kind::Source, "website", |i| {
        i.ready = Some(true);
        i.revision = Some("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d".into());
        i.last_run = Some(just_now.clone());
        i.message = "fetched main".into();
    });
    s.board.update(Kind::Kustomization, "frontend", |i| {
        i.ready = Some(false);
        i.last_run = Some(just_now.clone());
        i.message =
            "validator image-validator: Deployment website/web: image not from harbor.lan".into();
    });
    s.board.set_ready(true);

    let out = rekon_status(&["--url", &s.url()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.starts_with(&format!(
            "rekon {} ready, started ",
            env!("CARGO_PKG_VERSION")
        )),
        "{stdout}"
    );
    for title in ["SOURCES", "KUSTOMIZATIONS", "PLUGINS"] {
        assert!(
            stdout.lines().any(|l| l == title),
            "{title} missing:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("IMAGES"),
        "no images, no section:\n{stdout}"
    );
    assert!(stdout.contains("NAME"), "{stdout}");
    let website = row(&stdout, "website");
    assert_eq!(website[..3], ["website", "True", "1a2b3c4d"], "{stdout}");
    assert!(website[3].ends_with("s ago"), "{stdout}");
    assert_eq!(website[4], "fetched main");
    let frontend = row(&stdout, "frontend");
    assert_eq!(frontend[..3], ["frontend", "False", "-"], "{stdout}");
    assert!(
        frontend[4].starts_with("validator image-validator:"),
        "{stdout}"
    );
    assert_eq!(
        row(&stdout, "staging")[..4],
        ["staging", "Suspended", "-", "-"]
    );
    assert_eq!(row(&stdout, "flux-policy")[1], "Unknown");

    // --json is the snapshot itself; the URL may omit its scheme.
    let out = rekon_status(&["--url", &s.addr.to_string(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let snapshot: Snapshot = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(snapshot, s.board.snapshot());

    // Everything ready (the suspended item does not count): exit 0, and the
    // address may come from the config's [server] listen.
    for (kind, name) in [
        (Kind::Kustomization, "frontend"),
        (Kind::Plugin, "flux-policy"),
    ] {
        s.board.update(kind, name, |i| i.ready = Some(true));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rekon.toml");
    std::fs::write(&config, format!("[server]\nlisten = \"{}\"\n", s.addr)).unwrap();
    let out = rekon_status(&["--config", config.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(row(&text(&out.stdout), "frontend")[1], "True");
}

#[test]
fn rekon_status_explains_an_unreachable_daemon() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let out = rekon_status(&["--url", &url]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains(&format!("cannot reach the rekon daemon at {url}")),
        "{stderr}"
    );
    assert!(stderr.contains("rekon run"), "{stderr}");
    // A config that does not parse is an error too, naming the file.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rekon.toml");
    std::fs::write(&config, "[server]\nlisten = \"nowhere\"\n").unwrap();
    let out = rekon_status(&["--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains(&format!("{}:2: server.listen", config.display())));
}

/// `openssl dgst -hmac`: signatures made by another implementation.
fn hmac(algorithm: &str, body: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["dgst", &format!("-{algorithm}"), "-hmac", TOKEN, "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn forge_webhooks_are_checked_as_each_forge_signs_them() {
    let mut s = Served::start();
    let body = r#"{"ref": "refs/heads/main", "after": "0123abcd"}"#;
    let forge = ["source website", "kustomization frontend"];
    let sha256 = format!("sha256={}", hmac("sha256", body));
    // (path, headers, the status it gets)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, u16);
    let cases: Vec<Case> = vec![
        // GitHub: X-Hub-Signature-256, or the older sha1 X-Hub-Signature.
        (
            "/hook/github",
            vec![
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", sha256.clone()),
            ],
            202,
        ),
        (
            "/hook/github",
            vec![
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature", format!("sha1={}", hmac("sha1", body))),
            ],
            202,
        ),
        (
            "/hook/github",
            vec![
                ("X-GitHub-Event", "push".into()),
                (
                    "X-Hub-Signature-256",
                    format!("sha256={}", hmac("sha256", "{}")),
                ),
            ],
            401,
        ),
        ("/hook/github", vec![("X-GitHub-Event", "push".into())], 401),
        // Not one of its events: ignored.
        (
            "/hook/github",
            vec![
                ("X-GitHub-Event", "issues".into()),
                ("X-Hub-Signature-256", sha256.clone()),
            ],
            200,
        ),
        // Gitea: its own header, hex without the algorithm.
        (
            "/hook/gitea",
            vec![
                ("X-Gitea-Event", "push".into()),
                ("X-Gitea-Signature", hmac("sha256", body)),
            ],
            202,
        ),
        (
            "/hook/gitea",
            vec![("X-Gitea-Signature", hmac("sha512", body))],
            401,
        ),
        // GitLab: the token itself.
        (
            "/hook/gitlab",
            vec![
                ("X-Gitlab-Event", "Push Hook".into()),
                ("X-Gitlab-Token", TOKEN.into()),
            ],
            202,
        ),
        (
            "/hook/gitlab",
            vec![
                ("X-Gitlab-Event", "Push Hook".into()),
                ("X-Gitlab-Token", "nope".into()),
            ],
            401,
        ),
        (
            "/hook/gitlab",
            vec![
                ("X-Gitlab-Event", "Issue Hook".into()),
                ("X-Gitlab-Token", TOKEN.into()),
            ],
            200,
        ),
        // Bitbucket Server: sha256 in X-Hub-Signature.
        (
            "/hook/bitbucket",
            vec![
                ("X-Event-Key", "repo:refs_changed".into()),
                ("X-Hub-Signature", sha256.clone()),
            ],
            202,
        ),
        (
            "/hook/bitbucket",
            vec![
                ("X-Event-Key", "repo:refs_changed".into()),
                ("X-Hub-Signature", format!("sha1={}", hmac("sha1", body))),
            ],
            401,
        ),
        // generic-hmac: any of Flux's three algorithms in X-Signature.
        (
            "/hook/hmac",
            vec![("X-Signature", format!("sha1={}", hmac("sha1", body)))],
            202,
        ),
        ("/hook/hmac", vec![("X-Signature", sha256.clone())], 202),
        (
            "/hook/hmac",
            vec![("X-Signature", format!("sha512={}", hmac("sha512", body)))],
            202,
        ),
        (
            "/hook/hmac",
            vec![("X-Signature", format!("md5={}", hmac("md5", body)))],
            401,
        ),
        (
            "/hook/hmac",
            vec![("Authorization", format!("Bearer {TOKEN}"))],
            401,
        ),
    ];
    for (path, headers, status) in cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = s.request("POST", path, &h, body.as_bytes());
        assert_eq!(answer.status, status, "{path} {headers:?}: {}", answer.body);
        let triggered = s.all_triggered();
        if status == 202 {
            assert_eq!(triggered, forge, "{path} {headers:?}");
            assert_eq!(answer.json()["sources"], json!(["website"]));
        } else {
            assert!(triggered.is_empty(), "{path} {headers:?}: {triggered:?}");
        }
        if status == 200 {
            assert!(
                answer.json()["message"]
                    .as_str()
                    .unwrap()
                    .contains("ignored"),
                "{}",
                answer.body
            );
        }
    }

    // A Flux Receiver answers at Flux's path (sha256 of token, name and
    // namespace) and nowhere else.
    let path = rekon::server::receivers::flux_path(TOKEN, "ci", "flux-system");
    assert_eq!(path.len(), 64);
    let answer = s.request("POST", &format!("/hook/{path}"), &[], b"{}");
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(s.all_triggered(), forge);
    assert_eq!(
        s.request("POST", "/hook/flux-system/ci", &[], b"{}").status,
        404
    );
    assert_eq!(s.request("POST", "/hook/unused", &[], b"{}").status, 404);
}

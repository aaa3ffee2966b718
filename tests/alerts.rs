//! Alerts end to end: `rekon run` with a `[alerts.NAME]` generic provider
//! POSTs a failing kustomization's error, then its recovery, its change set
//! and a corrected drift to a local HTTP sink (the cluster is the API server
//! double); a plugin swapped and refused while it runs is posted too; and
//! Flux `Alert` and
//! `Provider` objects become rekon's alerts with their Secret read from the
//! cluster.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rekon::apply::Cluster;
use rekon::config::{Config, ProviderKind, Severity};
use rekon::flux::{expand, Access};
use rekon::source::Roots;
use rekon_apiserver_double::ApiServer;
use serde_json::{json, Value};

use crate::support::registry::free_port;
use crate::support::world::wait_until;

/// A webhook receiver on loopback: the (path, headers, JSON body) of each POST.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<(String, String, Value)>>>);

impl Sink {
    fn start() -> (Sink, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let sink = Sink::default();
        let taken = sink.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let (mut headers, mut length) = (String::new(), 0);
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap();
                        }
                    }
                    headers.push_str(&line.to_ascii_lowercase());
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                taken.0.lock().unwrap().push((path, headers, body));
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        (sink, url)
    }

    fn bodies(&self) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, b)| b.clone())
            .collect()
    }

    fn find(&self, reason: &str) -> Option<Value> {
        self.bodies().into_iter().find(|b| b["reason"] == reason)
    }
}

struct Killed(Child);

/// `rekon run --config DIR/rekon.toml` against the API server double, its
/// alerts sent to `sink`; stderr in DIR/rekon.log.
fn run(dir: &Path, sink: &str) -> Killed {
    Killed(
        Command::new(env!("CARGO_BIN_EXE_rekon"))
            .arg("--cache-dir")
            .arg(crate::support::repo().join("target/rekon-test-cache"))
            .args(["run", "--config"])
            .arg(dir.join("rekon.toml"))
            .arg("--kubeconfig")
            .arg(dir.join("kubeconfig"))
            .env("REKON_TEST_ALERT_URL", format!("{sink}/hook"))
            .env("RUST_LOG", "rekon=debug,info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("rekon.log")).unwrap())
            .spawn()
            .unwrap(),
    )
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_failing_kustomization_alerts_then_its_recovery_changes_and_drift() {
    let (sink, url) = Sink::start();
    let api = ApiServer::start();
    let dir = tempfile::tempdir().unwrap();
    api.write_kubeconfig(&dir.path().join("kubeconfig"))
        .unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    // The resource it names is missing: every reconcile fails.
    std::fs::write(
        app.join("kustomization.yaml"),
        "resources: [settings.yaml]\n",
    )
    .unwrap();
    let listen = free_port();
    let config = dir.path().join("rekon.toml");
    std::fs::write(
        &config,
        format!(
            r#"state-dir = "state"

[server]
listen = "127.0.0.1:{listen}"

[alerts.hook]
type = "generic"
address-env = "REKON_TEST_ALERT_URL"
metadata = {{ cluster = "pi" }}

[[kustomizations]]
name = "app"
path = "app"
interval = "1s"
timeout = "5s"
"#
        ),
    )
    .unwrap();
    let _rekon = run(dir.path(), &url);
    let log = || std::fs::read_to_string(dir.path().join("rekon.log")).unwrap_or_default();

    wait_until("the failure is posted", Duration::from_secs(30), || {
        sink.find("ReconciliationFailed").is_some()
    });
    let failed = sink.find("ReconciliationFailed").unwrap();
    assert_eq!(
        failed["involvedObject"],
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "namespace": "", "name": "app"}),
        "{}",
        log()
    );
    assert_eq!(failed["severity"], "error");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("settings.yaml"),
        "{failed}"
    );
    assert_eq!(failed["metadata"]["cluster"], "pi");
    assert_eq!(failed["reportingController"], "kustomize-controller");
    let (path, headers, _) = sink.0.lock().unwrap()[0].clone();
    assert_eq!(path, "/hook");
    assert!(
        headers.contains("content-type: application/json"),
        "{headers}"
    );

    // Fixed: the next retry applies it and says so.
    std::fs::write(
        app.join("settings.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  a: \"1\"\n",
    )
    .unwrap();
    wait_until("the recovery is posted", Duration::from_secs(30), || {
        sink.find("ReconciliationSucceeded").is_some()
    });
    let recovered = sink.find("ReconciliationSucceeded").unwrap();
    assert_eq!(recovered["severity"], "info");
    assert!(
        recovered["message"]
            .as_str()
            .unwrap()
            .starts_with("recovered: applied"),
        "{recovered}"
    );
    wait_until("the change set is posted", Duration::from_secs(10), || {
        sink.find("Progressing").is_some()
    });
    let applied = sink.find("Progressing").unwrap();
    assert!(
        applied["message"]
            .as_str()
            .unwrap()
            .contains("ConfigMap/default/settings created"),
        "{applied}"
    );
    // Someone edits the ConfigMap: the next interval puts it back and says so.
    api.edit_as(
        "kubectl-edit",
        "v1",
        "ConfigMap",
        "default",
        "settings",
        &json!({"data": {"a": "2"}}),
    )
    .unwrap();
    wait_until(
        "the drift correction is posted",
        Duration::from_secs(30),
        || sink.find("DriftCorrected").is_some(),
    );
    let drift = sink.find("DriftCorrected").unwrap();
    assert!(
        drift["message"]
            .as_str()
            .unwrap()
            .contains("ConfigMap/default/settings configured"),
        "{drift}"
    );
    assert_eq!(
        api.object("v1", "ConfigMap", "default", "settings")
            .unwrap()["data"]["a"],
        "1"
    );
    // The same failure on each retry was posted once.
    let failures = sink
        .bodies()
        .iter()
        .filter(|b| b["reason"] == "ReconciliationFailed")
        .count();
    assert_eq!(failures, 1, "{:#?}", sink.bodies());
}

#[test]
fn plugin_swaps_and_refusals_are_alerts() {
    let (sink, url) = Sink::start();
    let api = ApiServer::start();
    let dir = tempfile::tempdir().unwrap();
    api.write_kubeconfig(&dir.path().join("kubeconfig"))
        .unwrap();
    let plugin = dir.path().join("stamp.wasm");
    std::fs::copy(crate::support::wasm("stamp_v1_plugin"), &plugin).unwrap();
    let listen = free_port();
    std::fs::write(
        dir.path().join("rekon.toml"),
        format!(
            r#"state-dir = "state"

[run]
plugin-poll = "200ms"

[server]
listen = "127.0.0.1:{listen}"

[plugins.stamp]
path = "stamp.wasm"

[alerts.hook]
type = "generic"
address-env = "REKON_TEST_ALERT_URL"
sources = ["Plugin/*"]
"#
        ),
    )
    .unwrap();
    let _rekon = run(dir.path(), &url);
    wait_until("rekon is ready", Duration::from_secs(30), || {
        crate::support::world::status_at(listen).is_some_and(|s| s["ready"] == true)
    });
    assert!(
        sink.bodies().is_empty(),
        "loading is no event: {:?}",
        sink.bodies()
    );

    crate::support::world::replace(&crate::support::wasm("stamp_v2_plugin"), &plugin);
    wait_until("the swap is posted", Duration::from_secs(30), || {
        sink.find("PluginSwapped").is_some()
    });
    let swapped = sink.find("PluginSwapped").unwrap();
    assert_eq!(swapped["involvedObject"]["kind"], "Plugin");
    assert_eq!(swapped["involvedObject"]["name"], "stamp");
    assert_eq!(swapped["severity"], "info");
    assert_eq!(swapped["reportingController"], "rekon");
    let sha = swapped["metadata"]["revision"].as_str().unwrap();
    assert_eq!(sha.len(), 64, "{swapped}");

    std::fs::write(dir.path().join("stamp.new"), b"\0asm not really").unwrap();
    std::fs::rename(dir.path().join("stamp.new"), &plugin).unwrap();
    wait_until("the refusal is posted", Duration::from_secs(30), || {
        sink.find("PluginRefused").is_some()
    });
    let refused = sink.find("PluginRefused").unwrap();
    assert_eq!(refused["severity"], "error");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .starts_with("refused: "),
        "{refused}"
    );
}

#[test]
fn flux_alerts_and_providers_read_their_secret_from_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let flux = dir.path().join("flux");
    std::fs::create_dir_all(&flux).unwrap();
    std::fs::write(
        flux.join("kustomization.yaml"),
        "resources: [alerts.yaml]\n",
    )
    .unwrap();
    let alerts = "\
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: chat
  namespace: flux-system
spec:
  type: slack
  channel: ops
  secretRef:
    name: chat-webhook
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: errors
  namespace: flux-system
spec:
  providerRef:
    name: chat
  eventSeverity: error
  eventSources:
    - kind: Kustomization
      name: '*'
      matchLabels:
        team: web
  exclusionList: ['^waiting']
  eventMetadata:
    cluster: pi
";
    std::fs::write(flux.join("alerts.yaml"), alerts).unwrap();
    let api = ApiServer::start();
    let kubeconfig = dir.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig).unwrap();
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    api.apply_as(
        "test",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}),
        false,
    )
    .unwrap();
    api.apply_as(
        "test",
        &json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "chat-webhook", "namespace": "flux-system"},
            "data": {"address": b64("https://hooks.slack.com/services/T/B/s3cret"), "headers": b64("X-Team: web\n")},
        }),
        false,
    )
    .unwrap();

    let discover = |kubeconfig: Option<&Path>| {
        let mut config = Config::for_flux(dir.path(), Path::new("flux")).unwrap();
        config.state_dir = Some(dir.path().join("state"));
        let mut roots = Roots::fetch(&config).unwrap();
        let graph = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let cluster = match kubeconfig {
                    Some(k) => Some(Cluster::connect(Some(k), None).await.unwrap()),
                    None => None,
                };
                let access = Access {
                    cluster: cluster.as_ref(),
                    fetch: false,
                };
                expand(&mut config, &mut roots, access).await
            });
        (config, graph)
    };
    let (config, graph) = discover(Some(&kubeconfig));
    let graph = graph.unwrap();
    let mut kinds: Vec<&str> = graph.items.iter().map(|i| i.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["Alert", "Provider"]);
    let [alert] = &config.alerts.alerts[..] else {
        panic!("{:?}", config.alerts)
    };
    assert_eq!(alert.name, "flux-system/errors");
    assert_eq!(alert.severity, Severity::Error);
    assert_eq!(alert.provider.kind, ProviderKind::Slack);
    assert_eq!(alert.provider.channel.as_deref(), Some("ops"));
    let address = alert.provider.address.as_ref().unwrap();
    assert_eq!(
        address.read().unwrap(),
        "https://hooks.slack.com/services/T/B/s3cret"
    );
    assert!(!format!("{address:?}").contains("s3cret"));
    assert_eq!(alert.provider.headers[0].0, "X-Team");
    let source = &alert.sources[0];
    assert_eq!(
        source.namespace.as_deref(),
        Some("flux-system"),
        "the Alert's"
    );
    assert_eq!(source.match_labels["team"], "web");
    assert!(alert.exclusions[0].is_match("waiting for x"));
    assert_eq!(alert.metadata["cluster"], "pi");

    // Without a cluster (`rekon check` offline) the alert is noted, not an error.
    let (config, graph) = discover(None);
    assert!(config.alerts.alerts.is_empty());
    let notes = graph.unwrap().notes.join("\n");
    assert!(
        notes.contains("Alert flux-system/errors: not sent"),
        "{notes}"
    );

    // A Provider without what its type needs names its file and line.
    std::fs::write(
        flux.join("alerts.yaml"),
        alerts.replace("  type: slack\n  channel: ops\n", "  type: matrix\n"),
    )
    .unwrap();
    let err = discover(Some(&kubeconfig)).1.unwrap_err().to_string();
    assert!(
        err.contains("alerts.yaml:1: Provider flux-system/chat: a matrix provider needs a token"),
        "{err}"
    );

    // An Alert naming a Provider that is not there names its file and line.
    std::fs::write(
        flux.join("alerts.yaml"),
        alerts.replace(
            "    name: chat\n  eventSeverity",
            "    name: pager\n  eventSeverity",
        ),
    )
    .unwrap();
    let err = discover(Some(&kubeconfig)).1.unwrap_err().to_string();
    assert!(
        err.contains("alerts.yaml:12")
            && err.contains("spec.providerRef: Provider flux-system/pager is not defined"),
        "{err}"
    );
}

//! `rekon run` end to end, with real parts: Debian's `docker-registry` with
//! images pushed by `skopeo`, a bare repository served by `git daemon`, the
//! API server double reached through a kubeconfig, and the `rekon` binary
//! itself, driven through its HTTP server (Harbor webhook, /status).
//!
//! Also the plugin swap gate on its own ([`PluginSet`]), without servers.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rekon::config::Config;
use rekon::daemon::{PluginEvent, PluginSet};
use rekon::render::Renderer;
use rekon::source::Roots;
use rekon::status::StatusBoard;
use rekon_apiserver_double::ApiServer;
use serde_json::{json, Value};
use support::registry::{free_port, tools, Registry, ABC, DEF, FFF, PLACEHOLDER, REPO};

const DEPLOYMENT: &str = "flux/clusters/production/frontend/deployment.yaml";
const FLUX_SETTINGS: &str = r#"{ filterTags = { pattern = "^main-[a-f0-9]+-(?P<ts>[0-9]+)", extract = "$ts" }, policy = { numerical = { order = "asc" } } }"#;
const TOKEN: &str = "harbor-test-secret";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=seed", "-c", "user.email=seed@test"])
        .args(args)
        .output()
        .expect("running git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim_end()
        .to_string()
}

/// `git daemon` serving `base`, killed on drop.
struct GitDaemon {
    child: Child,
    port: u16,
}

impl GitDaemon {
    fn start(base: &Path) -> GitDaemon {
        let port = free_port();
        // Start git-daemon itself: killing the `git daemon` wrapper would
        // leave the server running.
        let exec_path = git(base, &["--exec-path"]);
        let mut child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .args([
                "--export-all",
                "--enable=receive-pack",
                "--reuseaddr",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", base.display()))
            .stderr(std::fs::File::create(base.join("daemon.log")).unwrap())
            .spawn()
            .expect("starting git daemon");
        wait_until("git daemon listens", Duration::from_secs(10), || {
            assert!(child.try_wait().unwrap().is_none(), "git daemon exited");
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        GitDaemon { child, port }
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 request on loopback: (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to rekon");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Atomically put `from` at `to`, as an operator's `install` or a
/// config-management tool would.
fn replace(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

/// The example repository (frontend and ingress), pointed at the test
/// registry, plus the image-validator plugin committed under plugins/, as
/// a bare repository served by `git daemon`.
struct World {
    registry: Registry,
    api: ApiServer,
    dir: tempfile::TempDir,
    git: GitDaemon,
    listen: u16,
}

impl World {
    fn new() -> Option<World> {
        if !tools() {
            return None;
        }
        let registry = Registry::start(None);
        registry.push(PLACEHOLDER, &["arm64"]);
        registry.push(ABC, &["arm64"]);
        // Newer, but amd64 only: a Pi must not get it.
        registry.push(FFF, &["amd64"]);
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("seed");
        let example = support::repo().join("examples/pi-website");
        for sub in [
            "flux/clusters/production/frontend",
            "flux/clusters/production/ingress",
        ] {
            std::fs::create_dir_all(work.join(sub)).unwrap();
            for entry in std::fs::read_dir(example.join(sub)).unwrap() {
                let entry = entry.unwrap();
                let text = std::fs::read_to_string(entry.path()).unwrap();
                let text = text.replace("harbor.lan", &registry.host());
                std::fs::write(work.join(sub).join(entry.file_name()), text).unwrap();
            }
        }
        std::fs::create_dir_all(work.join("plugins")).unwrap();
        std::fs::copy(
            support::wasm("image_validator"),
            work.join("plugins/image-validator.wasm"),
        )
        .unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", "seed"]);
        let remote = dir.path().join("remote");
        git(
            dir.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                remote.join("site.git").to_str().unwrap(),
            ],
        );
        git(
            &work,
            &[
                "push",
                "-q",
                remote.join("site.git").to_str().unwrap(),
                "main",
            ],
        );
        let git_daemon = GitDaemon::start(&remote);

        let api = ApiServer::start();
        api.write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        // k3s ships Traefik with its CRDs; the example's IngressRoute needs them.
        let crd: Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(
                support::repo().join("tests/data/apply/traefik-ingressroute-crd.yaml"),
            )
            .unwrap(),
        )
        .unwrap();
        api.apply_as("helm-controller", &crd, false).unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        std::fs::copy(
            support::wasm("flux_policy"),
            dir.path().join("plugins/flux-policy.wasm"),
        )
        .unwrap();
        std::fs::copy(
            support::wasm("stamp_v1_plugin"),
            dir.path().join("plugins/stamp.wasm"),
        )
        .unwrap();
        Some(World {
            listen: free_port(),
            registry,
            api,
            dir,
            git: git_daemon,
        })
    }

    fn url(&self) -> String {
        format!("git://127.0.0.1:{}/site.git", self.git.port)
    }

    fn config(&self) -> PathBuf {
        let host = self.registry.host();
        let text = format!(
            r#"state-dir = "state"

[run]
plugin-poll = "200ms"

[server]
listen = "127.0.0.1:{listen}"

[sources.website]
url = "{url}"
interval = "1s"

[plugins.flux-policy]
path = "plugins/flux-policy.wasm"
settings = {FLUX_SETTINGS}

[plugins.stamp]
path = "plugins/stamp.wasm"

# Kept in git: a push changes it.
[plugins.image-validator]
source = "website"
path = "plugins/image-validator.wasm"
settings = {{ requireLimits = "error" }}

[registries.local]
url = "{host}"
insecure = true
timeout = "5s"

[images."flux-system:frontend"]
repository = "{host}/{REPO}"
registry = "local"
platform = "linux/arm64"
interval = "1h"

[receivers.harbor]
type = "harbor"
token-env = "REKON_TEST_HARBOR_TOKEN"

[git]
url = "{url}"
author-name = "rekon-bot"
author-email = "bot@pi.lan"

[[kustomizations]]
name = "frontend"
source = "website"
path = "flux/clusters/production/frontend"
mutators = ["stamp"]
validators = ["image-validator"]
interval = "1h"
timeout = "10s"

[[kustomizations]]
name = "ingress"
source = "website"
path = "flux/clusters/production/ingress"
depends-on = ["frontend"]
interval = "1h"
timeout = "10s"
"#,
            listen = self.listen,
            url = self.url(),
        );
        let path = self.dir.path().join("rekon.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn start(&self) -> Child {
        let config = self.config();
        Command::new(env!("CARGO_BIN_EXE_rekon"))
            .arg("--cache-dir")
            .arg(support::repo().join("target/rekon-test-cache"))
            .args(["run", "--config"])
            .arg(&config)
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .args(["--shutdown-grace", "10s"])
            .env("REKON_TEST_HARBOR_TOKEN", TOKEN)
            .env("RUST_LOG", "rekon=debug,info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("rekon.log")).unwrap())
            .spawn()
            .expect("starting rekon run")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rekon.log")).unwrap_or_default()
    }

    fn status(&self) -> Option<Value> {
        let stream = TcpStream::connect(("127.0.0.1", self.listen)).ok()?;
        drop(stream);
        let (code, body) = http(self.listen, "GET", "/status", &[], "");
        (code == 200).then(|| serde_json::from_str(&body).unwrap())
    }

    fn item(&self, kind: &str, name: &str) -> Value {
        self.status()
            .map(|s| s[kind][name].clone())
            .unwrap_or(Value::Null)
    }

    fn deployment(&self) -> Option<Value> {
        self.api
            .object("apps/v1", "Deployment", "website", "frontend")
    }

    fn image(&self) -> String {
        self.deployment()
            .and_then(|d| {
                d["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }

    fn stamp(&self) -> String {
        self.deployment()
            .and_then(|d| {
                d["metadata"]["annotations"]["rekon.dev/stamp"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }

    fn head(&self) -> String {
        git(
            &self.dir.path().join("remote/site.git"),
            &["rev-parse", "refs/heads/main"],
        )
    }

    fn wait(&self, what: &str, check: impl FnMut() -> bool) {
        let limit = Duration::from_secs(120);
        let deadline = Instant::now() + limit;
        let mut check = check;
        while !check() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}\nstatus: {:#}\nrekon log:\n{}",
                self.status().unwrap_or(Value::Null),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn harbor_push(tag: &str) -> String {
    json!({
        "type": "PUSH_ARTIFACT",
        "occur_at": 1767312000,
        "operator": "robot$website+ci",
        "event_data": {
            "resources": [{
                "digest": "sha256:3f1e0bd4b7a9c1c1f3c8e6b6c1c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6",
                "tag": tag,
                "resource_url": format!("harbor.lan/{REPO}:{tag}")
            }],
            "repository": {
                "date_created": 1767225600,
                "name": "frontend",
                "namespace": "website",
                "repo_full_name": REPO,
                "repo_type": "private"
            }
        }
    })
    .to_string()
}

#[test]
fn rekon_run_reconciles_from_tag_push_to_applied_and_swaps_plugins_live() {
    let Some(world) = World::new() else { return };
    let mut rekon = world.start();

    // Start: the source is fetched, the scan picks the newest arm64 tag
    // (ABC; FFF is amd64 only), automation pushes it, and the push is applied.
    world.wait("the frontend runs ABC", || world.image().ends_with(ABC));
    assert_eq!(world.stamp(), "v1");
    let status = world.status().unwrap();
    assert_eq!(status["ready"], true);
    assert_eq!(status["images"]["flux-system:frontend"]["revision"], ABC);
    world.wait("ingress is applied after frontend", || {
        world.item("kustomizations", "ingress")["ready"] == true
    });
    assert_eq!(
        status["plugins"]["image-validator"]["ready"], true,
        "{status:#}"
    );

    // A wrong token triggers nothing.
    let (code, _) = http(
        world.listen,
        "POST",
        "/hook/harbor",
        &[("Authorization", "nope")],
        &harbor_push(DEF),
    );
    assert_eq!(code, 401);

    // Push DEF and deliver Harbor's webhook: scan, commit, push, fetch, apply.
    let before = world.head();
    world.registry.push(DEF, &["arm64", "amd64"]);
    let (code, body) = http(
        world.listen,
        "POST",
        "/hook/harbor",
        &[("Authorization", TOKEN)],
        &harbor_push(DEF),
    );
    assert_eq!(code, 202, "{body}");
    assert!(body.contains("flux-system:frontend"), "{body}");
    world.wait("the frontend runs DEF", || world.image().ends_with(DEF));
    let head = world.head();
    assert_ne!(head, before);
    let message = git(
        &world.dir.path().join("remote/site.git"),
        &["log", "-1", "--format=%an %B", "main"],
    );
    assert!(
        message.starts_with("rekon-bot") && message.contains(DEF),
        "{message}"
    );
    world.wait("the kustomization reports the pushed commit", || {
        world.item("kustomizations", "frontend")["revision"] == head.as_str()
    });

    // Swap the mutator's file while rekon runs: v2 is applied, same process.
    let pid = rekon.id();
    let first_sha = world.item("plugins", "stamp")["revision"].clone();
    replace(
        &support::wasm("stamp_v2_plugin"),
        &world.dir.path().join("plugins/stamp.wasm"),
    );
    world.wait("stamp v2 is applied", || world.stamp() == "v2");
    assert!(
        rekon.try_wait().unwrap().is_none(),
        "rekon restarted or died"
    );
    assert_eq!(rekon.id(), pid);
    assert_ne!(world.item("plugins", "stamp")["revision"], first_sha);

    // A broken file is refused; the old version keeps working: a new commit
    // is applied, still stamped v2.
    let stamp_sha = world.item("plugins", "stamp")["revision"].clone();
    std::fs::write(
        world.dir.path().join("plugins/stamp.new"),
        b"\0asm not really",
    )
    .unwrap();
    std::fs::rename(
        world.dir.path().join("plugins/stamp.new"),
        world.dir.path().join("plugins/stamp.wasm"),
    )
    .unwrap();
    world.wait("the broken stamp is refused", || {
        let s = world.item("plugins", "stamp");
        s["ready"] == false && s["message"].as_str().unwrap_or("").contains("refused")
    });
    assert_eq!(world.item("plugins", "stamp")["revision"], stamp_sha);
    let clone = world.dir.path().join("clone");
    git(
        world.dir.path(),
        &["clone", "-q", &world.url(), clone.to_str().unwrap()],
    );
    let deployment = clone.join(DEPLOYMENT);
    let text = std::fs::read_to_string(&deployment).unwrap();
    let labelled = text.replacen(
        "    app: frontend\nspec:",
        "    app: frontend\n    tier: web\nspec:",
        1,
    );
    assert_ne!(labelled, text);
    std::fs::write(&deployment, labelled).unwrap();
    git(&clone, &["commit", "-q", "-am", "label the frontend"]);
    git(&clone, &["push", "-q", "origin", "main"]);
    let pushed = world.head();
    world.wait(
        "the labelled frontend is applied with the old plugin",
        || world.item("kustomizations", "frontend")["revision"] == pushed.as_str(),
    );
    assert_eq!(world.stamp(), "v2");
    assert_eq!(
        world.deployment().unwrap()["metadata"]["labels"]["tier"],
        "web"
    );

    // Metrics count what happened.
    let (code, metrics) = http(world.listen, "GET", "/metrics", &[], "");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("rekon_plugin_calls_total{plugin=\"stamp\"}"),
        "{metrics}"
    );

    // SIGTERM: a clean exit.
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(rekon.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = rekon.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "rekon did not exit on SIGTERM\n{}",
            world.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}\n{}", world.log());
}

#[test]
fn a_killed_rekon_carries_on_where_it_was() {
    let Some(world) = World::new() else { return };
    let mut rekon = world.start();
    world.wait("the frontend runs ABC", || world.image().ends_with(ABC));
    let head = world.head();
    world.wait("the frontend is applied at the pushed commit", || {
        world.item("kustomizations", "frontend")["revision"] == head.as_str()
    });
    rekon.kill().unwrap(); // SIGKILL
    rekon.wait().unwrap();

    // The next start finds its state (the lock is gone with the process),
    // remembers what was applied, and makes no new commit for the same tag.
    let mut again = world.start();
    world.wait("the restarted rekon is ready", || {
        world.status().is_some_and(|s| s["ready"] == true)
    });
    assert_eq!(
        world.item("kustomizations", "frontend")["revision"],
        head.as_str()
    );
    world.wait("the image is scanned again", || {
        world.item("images", "flux-system:frontend")["ready"] == true
    });
    world.wait("automation ran", || {
        world.item("automation", "git")["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no change"))
    });
    assert_eq!(world.head(), head, "a second commit for the same tag");
    again.kill().unwrap();
    again.wait().unwrap();
}

/// The swap gate without servers: a candidate must load, accept its
/// settings and pass its suite; work in flight keeps its version.
#[test]
fn plugin_versions_are_verified_before_they_replace_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stamp.wasm");
    std::fs::copy(support::wasm("stamp_v2_plugin"), &file).unwrap();
    // A suite that only v2 passes.
    std::fs::write(
        dir.path().join("stamp-test.yaml"),
        "plugin: stamp.wasm\ncases:\n  - name: stamps v2\n    objects:\n      - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n    expect:\n      objects:\n        - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, annotations: {rekon.dev/stamp: v2}}}\n",
    )
    .unwrap();
    std::fs::copy(
        support::wasm("stamp_v1_plugin"),
        dir.path().join("free.wasm"),
    )
    .unwrap();
    let config_path = dir.path().join("rekon.toml");
    std::fs::write(
        &config_path,
        "[plugins.stamp]\npath = \"stamp.wasm\"\ntests = \"stamp-test.yaml\"\n\
         [plugins.free]\npath = \"free.wasm\"\n\
         [[kustomizations]]\nname = \"k\"\npath = \".\"\nmutators = [\"stamp\", \"free\"]\n",
    )
    .unwrap();
    let config = Config::load(&config_path).unwrap();
    let roots = Roots::local(&config);
    let board = StatusBoard::new();
    let runtime = std::sync::Arc::new(
        rekon::plugin::Runtime::new(rekon::plugin::RuntimeOptions {
            cache_dir: Some(support::repo().join("target/rekon-test-cache")),
            ..Default::default()
        })
        .unwrap(),
    );
    let set = PluginSet::new(runtime, &config);
    let events = set.refresh(&config, &roots, &board);
    assert!(
        matches!(
            &events[..],
            [PluginEvent::Loaded { .. }, PluginEvent::Loaded { .. }]
        ),
        "{events:?}"
    );
    let v2 = set.snapshot()["stamp"].sha256().to_string();
    assert!(
        set.refresh(&config, &roots, &board).is_empty(),
        "an unchanged file is not reloaded"
    );

    // Work that started now keeps v1 of `free` after the swap below.
    let in_flight = set.snapshot();
    replace(
        &support::wasm("stamp_v2_plugin"),
        &dir.path().join("free.wasm"),
    );
    let events = set.refresh(&config, &roots, &board);
    assert!(
        matches!(&events[..], [PluginEvent::Swapped { name, .. }] if name == "free"),
        "{events:?}"
    );
    let object =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}).to_string();
    let old = in_flight["free"]
        .mutate(&json!({}), std::slice::from_ref(&object))
        .unwrap();
    assert!(old[0].contains("\"v1\""), "{old:?}");
    let new = set.snapshot()["free"]
        .mutate(&json!({}), std::slice::from_ref(&object))
        .unwrap();
    assert!(new[0].contains("\"v2\""), "{new:?}");

    // v1 fails stamp's suite: refused, v2 stays.
    replace(&support::wasm("stamp_v1_plugin"), &file);
    let events = set.refresh(&config, &roots, &board);
    match &events[..] {
        [PluginEvent::Refused { name, reason, .. }] => {
            assert_eq!(name, "stamp");
            assert!(
                reason.contains("test suite") && reason.contains("stamps v2"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(set.snapshot()["stamp"].sha256(), v2);
    let shown = &board.snapshot().plugins["stamp"];
    assert_eq!(shown.ready, Some(false));
    assert!(
        shown.message.contains("refused") && shown.message.contains("still running"),
        "{shown:?}"
    );

    // Not a component at all: refused, v2 stays; a refused file is not retried.
    std::fs::write(&file, b"garbage").unwrap();
    let events = set.refresh(&config, &roots, &board);
    assert!(
        matches!(&events[..], [PluginEvent::Refused { reason, .. }] if reason.contains("not a WebAssembly")),
        "{events:?}"
    );
    assert!(set.refresh(&config, &roots, &board).is_empty());
    assert_eq!(set.snapshot()["stamp"].sha256(), v2);

    // Renders use what the snapshot holds.
    let k = &config.kustomizations[0];
    assert!(Renderer::with_plugins(set.snapshot(), k).is_ok());
    let mut partial = set.snapshot();
    partial.remove("free");
    let err = Renderer::with_plugins(partial, k)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("plugin `free` is not loaded"), "{err}");
}

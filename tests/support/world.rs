//! A whole rekon deployment on loopback for `rekon run` (tests/daemon.rs
//! and the footprint benchmark): Debian's `docker-registry` with images
//! pushed by `skopeo`, the example repository as a bare repository served by
//! `git daemon`, the API server double reached through a kubeconfig, and the
//! `rekon` binary, driven through its HTTP server.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rekon_apiserver_double::ApiServer;
use serde_json::{json, Value};

use super::registry::{free_port, tools, Registry, ABC, FFF, PLACEHOLDER, REPO};

pub const DEPLOYMENT: &str = "flux/clusters/production/frontend/deployment.yaml";
pub const FLUX_SETTINGS: &str = r#"{ filterTags = { pattern = "^main-[a-f0-9]+-(?P<ts>[0-9]+)", extract = "$ts" }, policy = { numerical = { order = "asc" } } }"#;
pub const TOKEN: &str = "harbor-test-secret";

pub fn git(dir: &Path, args: &[&str]) -> String {
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
pub struct GitDaemon {
    child: Child,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
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

impl GitDaemon {
    /// The URL of `site.git` under the served directory.
    pub fn url(&self) -> String {
        format!("git://127.0.0.1:{}/site.git", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 request on loopback: (status, body).
pub fn http(
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
pub fn replace(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

/// The example repository (frontend and ingress), pointed at the test
/// registry, plus the image-validator plugin committed under plugins/, as
/// a bare repository served by `git daemon`.
pub struct World {
    pub registry: Registry,
    pub api: ApiServer,
    pub dir: tempfile::TempDir,
    pub git: GitDaemon,
    pub listen: u16,
    /// `interval` of the source (default 1s: a push is seen at once).
    pub source_interval: &'static str,
    /// `interval` of the kustomizations (default 1h: only triggers run them).
    pub kustomization_interval: &'static str,
}

impl World {
    pub fn new() -> Option<World> {
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
        let example = super::repo().join("examples/pi-website");
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
            super::wasm("image_validator"),
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
                super::repo().join("tests/data/apply/traefik-ingressroute-crd.yaml"),
            )
            .unwrap(),
        )
        .unwrap();
        api.apply_as("helm-controller", &crd, false).unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        std::fs::copy(
            super::wasm("flux_policy"),
            dir.path().join("plugins/flux-policy.wasm"),
        )
        .unwrap();
        std::fs::copy(
            super::wasm("stamp_v1_plugin"),
            dir.path().join("plugins/stamp.wasm"),
        )
        .unwrap();
        Some(World {
            source_interval: "1s",
            kustomization_interval: "1h",
            listen: free_port(),
            registry,
            api,
            dir,
            git: git_daemon,
        })
    }

    pub fn url(&self) -> String {
        self.git.url()
    }

    /// rekon.toml for the default instance.
    pub fn config(&self) -> PathBuf {
        self.config_for("state", self.listen)
    }

    /// rekon.toml for an instance with its own state dir and port (two
    /// rekons never share a state dir).
    pub fn config_for(&self, state: &str, listen: u16) -> PathBuf {
        let host = self.registry.host();
        let text = format!(
            r#"state-dir = "{state}"

[run]
plugin-poll = "200ms"

[server]
listen = "127.0.0.1:{listen}"

[sources.website]
url = "{url}"
interval = "{source_interval}"

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
interval = "{kustomization_interval}"
timeout = "10s"

[[kustomizations]]
name = "ingress"
source = "website"
path = "flux/clusters/production/ingress"
depends-on = ["frontend"]
interval = "{kustomization_interval}"
timeout = "10s"
"#,
            url = self.url(),
            source_interval = self.source_interval,
            kustomization_interval = self.kustomization_interval,
        );
        let path = self.dir.path().join(format!("rekon-{state}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Start `rekon run` on [`World::config`], logging to rekon.log.
    pub fn start(&self) -> Child {
        self.spawn(&self.config(), &[], "rekon.log")
    }

    /// Start `rekon run --config CONFIG EXTRA…`, logging to `log` in the world's dir.
    pub fn spawn(&self, config: &Path, extra: &[&str], log: &str) -> Child {
        // REKON_BIN: measure another build (the footprint bench uses the `pi` profile).
        let binary = std::env::var_os("REKON_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rekon")));
        Command::new(binary)
            .arg("--cache-dir")
            .arg(super::repo().join("target/rekon-test-cache"))
            .args(["run", "--config"])
            .arg(config)
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .args(["--shutdown-grace", "10s"])
            .args(extra)
            .env("REKON_TEST_HARBOR_TOKEN", TOKEN)
            .env("RUST_LOG", "rekon=debug,info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join(log)).unwrap())
            .spawn()
            .expect("starting rekon run")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rekon.log")).unwrap_or_default()
    }

    pub fn status(&self) -> Option<Value> {
        status_at(self.listen)
    }

    pub fn item(&self, kind: &str, name: &str) -> Value {
        self.status()
            .map(|s| s[kind][name].clone())
            .unwrap_or(Value::Null)
    }

    pub fn deployment(&self) -> Option<Value> {
        self.api
            .object("apps/v1", "Deployment", "website", "frontend")
    }

    pub fn image(&self) -> String {
        self.deployment()
            .and_then(|d| {
                d["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }

    pub fn stamp(&self) -> String {
        self.deployment()
            .and_then(|d| {
                d["metadata"]["annotations"]["rekon.dev/stamp"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default()
    }

    pub fn head(&self) -> String {
        git(
            &self.dir.path().join("remote/site.git"),
            &["rev-parse", "refs/heads/main"],
        )
    }

    pub fn wait(&self, what: &str, check: impl FnMut() -> bool) {
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

/// `/status` of the rekon listening on `port`, if one answers.
pub fn status_at(port: u16) -> Option<Value> {
    TcpStream::connect(("127.0.0.1", port)).ok()?;
    let (code, body) = http(port, "GET", "/status", &[], "");
    (code == 200).then(|| serde_json::from_str(&body).unwrap())
}

pub fn harbor_push(tag: &str) -> String {
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

/// SIGTERM `child` and wait (at most 30 s) for it to exit cleanly; `log`
/// is shown when it does not.
pub fn terminate(child: &mut Child, log: impl Fn() -> String) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "rekon did not exit on SIGTERM\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}\n{}", log());
}

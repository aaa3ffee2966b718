//! `rekon run` on the example repository configured by its Flux objects
//! (`examples/pi-website/flux/clusters/production`), with real parts: the
//! repository served by `git daemon`, tags in Debian's `docker-registry`,
//! the cluster the API server double. The example's objects are used as
//! they are; only addresses change (Harbor and the git server become the
//! local ones) and the frontend's replicas become a `${VAR}`.

use crate::support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rekon_apiserver_double::ApiServer;
use serde_json::{json, Value};
use support::registry::{free_port, Registry, ABC, FFF, PLACEHOLDER, REPO};
use support::world::{git, http, status_at, terminate, GitDaemon};

struct Run {
    dir: tempfile::TempDir,
    api: ApiServer,
    listen: u16,
}

impl Run {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rekon.log")).unwrap_or_default()
    }

    fn deployment(&self) -> Value {
        self.api
            .object("apps/v1", "Deployment", "website", "frontend")
            .unwrap_or(Value::Null)
    }

    fn wait(&self, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !check() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}\nstatus: {:#}\nrekon log:\n{}",
                status_at(self.listen).unwrap_or(Value::Null),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The example's `flux/` tree, with `harbor.lan` and the git server's URL
/// replaced by the local ones.
fn seed(work: &Path, registry: &str, git_url: &str) {
    let example = support::repo().join("examples/pi-website");
    let mut stack = vec![example.join("flux")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let to = work.join(path.strip_prefix(&example).unwrap());
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace("harbor.lan", registry)
                .replace("https://git.lan/home/website.git", git_url);
            std::fs::write(to, text).unwrap();
        }
    }
}

/// The `token` of the example Receiver's Secret.
const WEBHOOK_TOKEN: &str = "5b0c1f6e-webhook";

/// What the git server sends on a push to the example's Receiver: GitHub's
/// event header and signature, at Flux's path for `flux-system/git-push`.
fn push_webhook(listen: u16) {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let path = hex::encode(Sha256::digest(format!(
        "{WEBHOOK_TOKEN}git-pushflux-system"
    )));
    let body = r#"{"ref": "refs/heads/main"}"#;
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_TOKEN.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let (code, answer) = http(
        listen,
        "POST",
        &format!("/hook/{path}"),
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &signature),
        ],
        body,
    );
    assert_eq!(code, 202, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["sources"], json!(["website"]), "{answer}");
}

fn start(dir: &Path, config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rekon"))
        .arg("--cache-dir")
        .arg(support::repo().join("target/rekon-test-cache"))
        .args(["run", "--config"])
        .arg(config)
        .arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .args(["--shutdown-grace", "10s"])
        .env("RUST_LOG", "rekon=debug,info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("rekon.log")).unwrap())
        .spawn()
        .expect("starting rekon run")
}

#[test]
fn the_example_runs_from_its_flux_objects_and_follows_their_changes() {
    if !support::registry::tools() {
        return;
    }
    let registry = Registry::start(None);
    registry.push(PLACEHOLDER, &["arm64"]);
    registry.push(ABC, &["arm64"]);
    // Newer, but amd64 only: the ImagePolicy's rekon.dev/platform skips it.
    registry.push(FFF, &["amd64"]);
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    let git_daemon = GitDaemon::start(&remote);
    let work = dir.path().join("seed");
    seed(&work, &registry.host(), &git_daemon.url());
    // A per-cluster value, as home labs write them.
    let deployment = work.join("flux/clusters/production/frontend/deployment.yaml");
    let text = std::fs::read_to_string(&deployment).unwrap();
    let templated = text.replacen("replicas: 1", "replicas: ${FRONTEND_REPLICAS:=1}", 1);
    assert_ne!(templated, text);
    std::fs::write(&deployment, templated).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "seed"]);
    let bare = remote.join("site.git");
    git(
        dir.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);

    // The cluster: Traefik's CRD (k3s ships it), the Secrets the Flux
    // objects name, and the ConfigMap `postBuild.substituteFrom` reads.
    let api = ApiServer::start();
    api.write_kubeconfig(&dir.path().join("kubeconfig"))
        .unwrap();
    let crd: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(
            support::repo().join("tests/data/apply/traefik-ingressroute-crd.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    api.apply_as("helm-controller", &crd, false).unwrap();
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let docker = json!({"auths": {registry.host(): {"username": "robot", "password": "x"}}});
    for object in [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}),
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "flux-system", "namespace": "flux-system"},
               "data": {"username": b64("rekon"), "password": b64("token")}}),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
               "metadata": {"name": "harbor-robot", "namespace": "flux-system"},
               "data": {".dockerconfigjson": b64(&docker.to_string())}}),
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "webhook-token", "namespace": "flux-system"},
               "data": {"token": b64(WEBHOOK_TOKEN)}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "cluster-settings", "namespace": "flux-system"},
               "data": {"FRONTEND_REPLICAS": "2"}}),
    ] {
        api.apply_as("kubectl", &object, false).unwrap();
    }

    // rekon.toml: only what Flux has no place for.
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for name in [
        "readiness_probe",
        "traefik_priority",
        "image_validator",
        "flux_policy",
    ] {
        std::fs::copy(
            support::wasm(name),
            plugins.join(format!("{}.wasm", name.replace('_', "-"))),
        )
        .unwrap();
    }
    let listen = free_port();
    let config = dir.path().join("rekon.toml");
    std::fs::write(
        &config,
        format!(
            r#"state-dir = "state"

[server]
listen = "127.0.0.1:{listen}"

# Fetched when rekon pushes, and when the git server's webhook (the
# example's Receiver) says so.
[sources.website]
url = "{url}"
interval = "1h"

[flux]
path = "flux/clusters/production"
source = "website"

[plugins.readiness-probe]
path = "plugins/readiness-probe.wasm"
settings = {{ match = {{ namespaces = ["website"], names = ["frontend"] }}, readinessProbe = {{ initialDelaySeconds = 10, periodSeconds = 5 }} }}

[plugins.traefik-priority]
path = "plugins/traefik-priority.wasm"
settings = {{ rules = [{{ pathPrefix = "/api", priority = 2000 }}, {{ pathPrefix = "/", priority = 1000 }}] }}

[plugins.image-validator]
path = "plugins/image-validator.wasm"

[plugins.flux-policy]
path = "plugins/flux-policy.wasm"

# The registry speaks plain HTTP; its credentials come from the
# ImageRepository's Secret.
[registries.local]
url = "{host}"
insecure = true
"#,
            url = git_daemon.url(),
            host = registry.host(),
        ),
    )
    .unwrap();
    let run = Run { dir, api, listen };
    let mut rekon = start(run.dir.path(), &config);

    // The newest arm64 tag is committed with the ImageUpdateAutomation's
    // message template, pushed, fetched and applied with the ConfigMap's value.
    let image = format!("{}/{REPO}:{ABC}", registry.host());
    run.wait("the frontend runs ABC", || {
        run.deployment()["spec"]["template"]["spec"]["containers"][0]["image"] == image.as_str()
    });
    let deployment = run.deployment();
    assert_eq!(deployment["spec"]["replicas"], 2, "{deployment:#}");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
            ["initialDelaySeconds"],
        10
    );
    let message = git(&bare, &["log", "-1", "--format=%an <%ae>%n%B", "main"]);
    let expected = format!(
        "rekon <rekon@pi.lan>\nimages: {image} \n\nAutomation: flux-system/flux-system\n\
         - frontend/deployment.yaml (Deployment frontend): {host}/{REPO}:{PLACEHOLDER} -> {image}\n",
        host = registry.host()
    );
    assert_eq!(message.trim_end(), expected.trim_end());

    // Ingress depends on frontend; its routes get their priorities.
    run.wait("the ingress Kustomization is applied", || {
        status_at(listen)
            .is_some_and(|s| s["kustomizations"]["flux-system/ingress"]["ready"] == true)
    });
    let route = run
        .api
        .object("traefik.io/v1alpha1", "IngressRoute", "website", "api")
        .unwrap();
    assert_eq!(route["spec"]["routes"][0]["priority"], 2000);
    // Flux objects are configuration, never applied.
    assert!(run.api.objects().iter().all(|o| !o["apiVersion"]
        .as_str()
        .unwrap_or("")
        .contains("toolkit.fluxcd.io")));

    // A commit that changes a Flux object: rekon reads them again and runs
    // with what they now say (`substitute` wins over `substituteFrom`).
    let clone = run.dir.path().join("clone");
    git(
        run.dir.path(),
        &["clone", "-q", &git_daemon.url(), clone.to_str().unwrap()],
    );
    let apps = clone.join("flux/clusters/production/apps.yaml");
    let text = std::fs::read_to_string(&apps).unwrap();
    let changed = text.replacen(
        "  postBuild:\n",
        "  postBuild:\n    substitute:\n      FRONTEND_REPLICAS: \"3\"\n",
        1,
    );
    assert_ne!(changed, text);
    std::fs::write(&apps, changed).unwrap();
    git(&clone, &["commit", "-q", "-am", "three frontends"]);
    git(&clone, &["push", "-q", "origin", "main"]);
    push_webhook(listen);
    run.wait("the frontend has 3 replicas", || {
        run.deployment()["spec"]["replicas"] == 3
    });
    assert!(
        run.log().contains("the Flux objects changed"),
        "{}",
        run.log()
    );
    assert!(
        rekon.try_wait().unwrap().is_none(),
        "rekon exited\n{}",
        run.log()
    );

    // A Flux object that does not read keeps the running configuration.
    let text = std::fs::read_to_string(&apps).unwrap();
    std::fs::write(
        &apps,
        text.replacen("  prune: true\n", "  prune: true\n  pruneAll: yes\n", 1),
    )
    .unwrap();
    git(
        &clone,
        &["commit", "-q", "-am", "a field Flux does not have"],
    );
    git(&clone, &["push", "-q", "origin", "main"]);
    push_webhook(listen);
    run.wait("the bad object is reported", || {
        run.log().contains("the Flux objects do not read")
    });
    let log = run.log();
    assert!(
        log.contains("flux/clusters/production/apps.yaml") && log.contains("pruneAll"),
        "{log}"
    );
    assert_eq!(run.deployment()["spec"]["replicas"], 3);

    // SIGTERM: a clean exit.
    terminate(&mut rekon, || run.log());
    drop(git_daemon);
}

/// The README's first command renders the example from rekon.toml; its
/// Flux objects (rekon-flux.toml) must say the same thing.
#[test]
fn the_example_renders_the_same_from_rekon_toml_and_from_its_flux_objects() {
    let example = support::repo().join("examples/pi-website");
    let render = |config: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_rekon"))
            .arg("--cache-dir")
            .arg(support::repo().join("target/rekon-test-cache"))
            .args(["render", "--config"])
            .arg(example.join(config))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{config}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let native = render("rekon.toml");
    assert!(native.contains("kind: Deployment") && native.contains("priority: 2000"));
    assert_eq!(render("rekon-flux.toml"), native);

    // `rekon check --offline` lists the graph with files and lines.
    let out = Command::new(env!("CARGO_BIN_EXE_rekon"))
        .arg("--cache-dir")
        .arg(support::repo().join("target/rekon-test-cache"))
        .args(["check", "--offline", "--config"])
        .arg(example.join("rekon-flux.toml"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "Kustomization flux-system/ingress (flux/clusters/production/apps.yaml:29): path flux/clusters/production/ingress from GitRepository flux-system/flux-system, depends on flux-system/frontend",
        "ImagePolicy flux-system/frontend (flux/clusters/production/image-automation.yaml:16)",
        "ImageUpdateAutomation flux-system/flux-system (flux/clusters/production/image-automation.yaml:34)",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
}

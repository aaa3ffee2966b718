//! Helm on k3s: the chart sources Flux discovery reads (HelmRepository over
//! HTTP and OCI, OCIRepository), chart versions the host resolves against a
//! chart repository served on loopback (an `index.yaml` and a chart `.tgz`)
//! and Debian's `docker-registry` (a chart pushed as an OCI artifact), and
//! `rekon render` of a Flux repository whose HelmReleases the `helm-k3s`
//! plugin turns into k3s HelmCharts.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rekon::charts::Resolver;
use rekon::config::Config;
use rekon::flux::{expand, Access};
use rekon::source::Roots;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::registry::{self, Registry};

/// A chart repository on loopback: serves the files of `files` by path,
/// answers 401 without `auth` (user, password) when one is set, counts the
/// requests per path.
struct ChartServer {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl ChartServer {
    fn start(files: Vec<(String, Vec<u8>)>, auth: Option<(&str, &str)>) -> ChartServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let expected = auth.map(|(u, p)| {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                let mut authorization = None;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        if name.eq_ignore_ascii_case("authorization") {
                            authorization = Some(value.trim().to_string());
                        }
                    }
                }
                log.lock().unwrap().push(path.clone());
                let (status, body) = if expected.is_some() && authorization != expected {
                    ("401 Unauthorized", b"who are you?".to_vec())
                } else {
                    match files.iter().find(|(p, _)| *p == path) {
                        Some((_, body)) => ("200 OK", body.clone()),
                        None => ("404 Not Found", b"no such file".to_vec()),
                    }
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        ChartServer { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/charts", self.port)
    }

    fn requests(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

/// A chart archive: a gzipped tar with `NAME/Chart.yaml`, made by `tar`
/// (what `helm package` writes, minus templates rekon never reads).
fn chart_tgz(name: &str, version: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(name)).unwrap();
    std::fs::write(
        dir.path().join(name).join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: {version}\n"),
    )
    .unwrap();
    let out = std::process::Command::new("tar")
        .args([
            "--mtime=2026-01-01",
            "--owner=0",
            "--group=0",
            "-czf",
            "-",
            name,
        ])
        .current_dir(dir.path())
        .output()
        .expect("running tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An `index.yaml` listing `versions` of chart `name`, each with the digest
/// of its archive (as `helm repo index` writes it, with relative URLs), and
/// the files of the repository: `/charts/index.yaml` and the archives.
fn index(name: &str, versions: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut text = format!("apiVersion: v1\nentries:\n  {name}:\n");
    let mut files = Vec::new();
    for v in versions {
        let tgz = chart_tgz(name, v);
        let file = format!("{name}-{v}.tgz");
        text += &format!(
            "    - apiVersion: v2\n      name: {name}\n      version: {v}\n      digest: {}\n      urls:\n        - {file}\n",
            hex::encode(Sha256::digest(&tgz))
        );
        files.push((format!("/charts/{file}"), tgz));
    }
    text += "generated: \"2026-12-01T10:00:00Z\"\n";
    files.insert(0, ("/charts/index.yaml".to_string(), text.into_bytes()));
    files
}

/// A chart repository of `versions` of podinfo on loopback.
fn serve_podinfo(versions: &[&str]) -> ChartServer {
    ChartServer::start(index("podinfo", versions), None)
}

/// Push chart `name` `version` to `registry` as Helm pushes it (an OCI
/// manifest with Helm's config and chart-layer media types), through the
/// distribution API (skopeo copies images, not Helm's artifacts).
fn push_chart(registry: &Registry, name: &str, version: &str) {
    let repository = format!("charts/{name}");
    let upload = |media_type: &str, bytes: &[u8]| -> Value {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        // Start an upload, then finish it with the whole blob.
        let (status, head) = request(
            registry.port,
            "POST",
            &format!("/v2/{repository}/blobs/uploads/"),
            b"",
        );
        assert_eq!(status, 202, "starting an upload: {head}");
        let location = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("Location: ")
                    .or_else(|| l.strip_prefix("location: "))
            })
            .expect("a Location header")
            .trim();
        let path = location
            .split_once("://")
            .map_or(location, |(_, rest)| &rest[rest.find('/').unwrap()..]);
        let sep = if path.contains('?') { '&' } else { '?' };
        let (status, head) = request(
            registry.port,
            "PUT",
            &format!("{path}{sep}digest={digest}"),
            bytes,
        );
        assert_eq!(status, 201, "finishing an upload: {head}");
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    };
    let config = upload(
        "application/vnd.cncf.helm.config.v1+json",
        format!(r#"{{"apiVersion":"v2","name":"{name}","version":"{version}"}}"#).as_bytes(),
    );
    let layer = upload(
        "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
        &chart_tgz(name, version),
    );
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": [layer],
    }))
    .unwrap();
    // Helm writes `+` in a version as `_` in the tag.
    let tag = version.replace('+', "_");
    let (status, body) = registry::http(
        registry.port,
        "PUT",
        &format!("/v2/{repository}/manifests/{tag}"),
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    );
    assert_eq!(status, 201, "PUT {tag}: {body}\n{}", registry.log());
}

/// A self-signed CA certificate (PEM), made by the `openssl` CLI.
fn self_signed_ca(dir: &Path) -> String {
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=charts.lan CA"])
        .arg("-keyout")
        .arg(dir.join("ca.key"))
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One HTTP/1.1 request on loopback: status and response head.
fn request(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut response).unwrap();
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
    (head[9..12].parse().unwrap(), head)
}

const GOTK_SYNC: &str = "\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  url: https://git.lan/home/cluster
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./clusters/home
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
";

/// A home-lab layout: the sources in `infrastructure/sources`, the releases
/// in `apps/`, each under its own Flux Kustomization.
fn repository(dir: &Path, http_repo: &str, registry: &str, apps: &str) {
    let files: Vec<(&str, String)> = vec![
        ("clusters/home/flux-system/gotk-sync.yaml", GOTK_SYNC.into()),
        (
            "clusters/home/flux-system/kustomization.yaml",
            "resources:\n  - gotk-sync.yaml\n".into(),
        ),
        (
            "clusters/home/infrastructure.yaml",
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: sources\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ./infrastructure/sources\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n".into(),
        ),
        ("clusters/home/apps.yaml", apps.into()),
        (
            "infrastructure/sources/helm-repositories.yaml",
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: podinfo\n  namespace: flux-system\nspec:\n  interval: 1h\n  url: {http_repo}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata:\n  name: lan-charts\n  namespace: flux-system\nspec:\n  type: oci\n  interval: 1h\n  insecure: true\n  url: oci://{registry}/charts\n---\napiVersion: source.toolkit.fluxcd.io/v1beta2\nkind: OCIRepository\nmetadata:\n  name: redis\n  namespace: flux-system\nspec:\n  interval: 1h\n  insecure: true\n  url: oci://{registry}/charts/redis\n  ref:\n    semver: \">=18.0.0 <19.0.0\"\n"
            ),
        ),
        (
            "infrastructure/sources/kustomization.yaml",
            "resources:\n  - helm-repositories.yaml\n".into(),
        ),
        (
            "apps/podinfo/release.yaml",
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: podinfo\n  namespace: podinfo\nspec:\n  interval: 30m\n  chart:\n    spec:\n      chart: podinfo\n      version: \"6.5.x\"\n      sourceRef:\n        kind: HelmRepository\n        name: podinfo\n        namespace: flux-system\n  values:\n    replicaCount: 2\n".into(),
        ),
        (
            "apps/podinfo/kustomization.yaml",
            "resources:\n  - release.yaml\n".into(),
        ),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

const APPS: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  dependsOn:\n    - name: sources\n  interval: 10m\n  path: ./apps/podinfo\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";

/// APPS with a Flux health check on the release, which targets namespace
/// `web` (so its release, and HelmChart, is `web-podinfo`).
const APPS_CHECKED: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  dependsOn:\n    - name: sources\n  interval: 10m\n  path: ./apps/podinfo\n  prune: true\n  healthChecks:\n    - apiVersion: helm.toolkit.fluxcd.io/v2\n      kind: HelmRelease\n      name: podinfo\n      namespace: podinfo\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";

fn discover(dir: &Path) -> Config {
    let mut config = Config::for_flux(dir, Path::new("clusters/home")).unwrap();
    config.state_dir = Some(dir.join("state"));
    let mut roots = Roots::fetch(&config).unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(expand(
            &mut config,
            &mut roots,
            Access {
                cluster: None,
                fetch: true,
            },
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    config
}

fn release(name: &str, chart: Value) -> Value {
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": chart,
    })
}

fn chart_spec(chart: &str, version: &str, source: &str) -> Value {
    json!({"chart": {"spec": {"chart": chart, "version": version,
        "sourceRef": {"kind": "HelmRepository", "name": source, "namespace": "flux-system"}}}})
}

#[test]
fn chart_versions_resolve_against_an_index_and_a_registry_and_listings_are_reused() {
    if !registry::tools() {
        eprintln!("skipped: docker-registry or skopeo is missing");
        return;
    }
    let registry = Registry::start(None);
    for v in ["18.1.0", "18.6.2", "19.0.1"] {
        push_chart(&registry, "redis", v);
    }
    for v in ["1.2.0", "1.3.0+build.7", "2.0.0-rc.1"] {
        push_chart(&registry, "lan-app", v);
    }
    let files = index("podinfo", &["6.4.1", "6.5.3", "6.5.4", "7.0.0-rc.1"]);
    let digest_654 = format!("sha256:{}", hex::encode(Sha256::digest(&files[3].1)));
    let server = ChartServer::start(files, None);
    let dir = tempfile::tempdir().unwrap();
    repository(dir.path(), &server.url(), &registry.host(), APPS_CHECKED);
    let file = dir.path().join("apps/podinfo/release.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("spec:\n", "spec:\n  targetNamespace: web\n", 1),
    )
    .unwrap();
    let config = discover(dir.path());
    // A Flux `healthChecks` entry naming the HelmRelease checks the HelmChart
    // that stands for it (named after the release).
    let apps = config
        .kustomizations
        .iter()
        .find(|k| k.name == "flux-system/apps")
        .unwrap();
    let check = &apps.flux.as_ref().unwrap().health_checks[0];
    assert_eq!(
        (check.api_version.as_str(), check.kind.as_str()),
        ("helm.cattle.io/v1", "HelmChart")
    );
    assert_eq!(
        (check.namespace.as_deref(), check.name.as_str()),
        (Some("podinfo"), "web-podinfo")
    );
    assert!(apps.wait);
    let mut keys: Vec<&String> = config.charts.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "HelmRepository/flux-system/lan-charts",
            "HelmRepository/flux-system/podinfo",
            "OCIRepository/flux-system/redis"
        ]
    );

    let releases = [
        release("podinfo", chart_spec("podinfo", "6.5.x", "podinfo")),
        release("pinned", chart_spec("podinfo", "6.4.1", "podinfo")),
        release("newest", chart_spec("podinfo", "", "podinfo")),
        release("lan-app", chart_spec("lan-app", "^1.0.0", "lan-charts")),
        release(
            "redis",
            json!({"chartRef": {"kind": "OCIRepository", "name": "redis", "namespace": "flux-system"}}),
        ),
        release("too-new", chart_spec("podinfo", ">=8.0.0", "podinfo")),
        release("nowhere", chart_spec("podinfo", "*", "missing")),
        release("unknown-chart", chart_spec("grafana", "*", "podinfo")),
    ];
    let values: Vec<&Value> = releases.iter().collect();
    let resolver = Resolver::new();
    let context = resolver.context(&config.charts, &values);
    let version = |name: &str| context.helm_chart("apps", name).map(|c| c.version);
    assert_eq!(version("podinfo").as_deref(), Ok("6.5.4"));
    assert_eq!(
        context
            .helm_chart("apps", "podinfo")
            .unwrap()
            .digest
            .as_deref(),
        Some(digest_654.as_str())
    );
    assert_eq!(version("pinned").as_deref(), Ok("6.4.1"));
    // No version: the newest release, not the release candidate.
    assert_eq!(version("newest").as_deref(), Ok("6.5.4"));
    // OCI tags: `_` read back as `+`.
    assert_eq!(version("lan-app").as_deref(), Ok("1.3.0+build.7"));
    assert_eq!(version("redis").as_deref(), Ok("18.6.2"));
    let url = server.url();
    assert_eq!(
        version("too-new"),
        Err(format!(
            "HelmRepository flux-system/podinfo ({url}): no version of chart `podinfo` matches `>=8.0.0` (newest: 6.5.4)"
        ))
    );
    assert_eq!(
        version("nowhere"),
        Err("HelmRepository flux-system/missing is not defined in the repository".into())
    );
    assert_eq!(
        version("unknown-chart"),
        Err(format!(
            "HelmRepository flux-system/podinfo ({url}): the index has no chart `grafana`"
        ))
    );
    assert_eq!(
        version("absent"),
        Err("HelmRelease apps/absent is not in this render: the host resolves the charts of the HelmReleases a render holds".into())
    );
    // The source objects as written in git, for the plugin.
    let source: Value = serde_json::from_str(
        &context
            .source("OCIRepository", "flux-system", "redis")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(source["spec"]["ref"]["semver"], ">=18.0.0 <19.0.0");
    assert!(context
        .source("HelmRepository", "flux-system", "nope")
        .is_none());

    // One index download served every release of that repository, and the
    // next render within the source's interval downloads nothing.
    assert_eq!(server.requests("/charts/index.yaml"), 1);
    let again = resolver.context(&config.charts, &values);
    assert_eq!(
        again.helm_chart("apps", "podinfo").unwrap().version,
        "6.5.4"
    );
    assert_eq!(server.requests("/charts/index.yaml"), 1);
}

#[test]
fn a_private_index_is_read_with_the_repositorys_credentials() {
    let server = ChartServer::start(index("podinfo", &["6.5.4"]), Some(("robot", "s3cret")));
    let source = |credentials| rekon::charts::ChartSource {
        kind: "HelmRepository".into(),
        namespace: "flux-system".into(),
        name: "private".into(),
        object: json!({}),
        fetch: rekon::charts::Fetch::Index {
            url: server.url(),
            credentials,
            ca_file: None,
            timeout: std::time::Duration::from_secs(5),
        },
        ca: None,
        interval: std::time::Duration::from_secs(600),
    };
    let release = release("podinfo", chart_spec("podinfo", "6.5.4", "private"));
    let resolve = |credentials| {
        let sources = Arc::new(
            [(
                "HelmRepository/flux-system/private".to_string(),
                source(credentials),
            )]
            .into_iter()
            .collect(),
        );
        Resolver::new()
            .context(&sources, &[&release])
            .helm_chart("apps", "podinfo")
            .map(|c| c.version)
    };
    let err = resolve(rekon::config::Credentials::Anonymous).unwrap_err();
    assert!(
        err.ends_with(&format!(
            "GET {}/index.yaml: 401 Unauthorized",
            server.url()
        )),
        "{err}"
    );
    let version = resolve(rekon::config::Credentials::Basic {
        username: "robot".into(),
        password: rekon::config::Secret::Value {
            from: "flux-system/private-auth[password]".into(),
            value: "s3cret".into(),
        },
    });
    assert_eq!(version.as_deref(), Ok("6.5.4"));
    // 401 is not retried: two requests in all.
    assert_eq!(server.requests("/charts/index.yaml"), 2);
}

#[test]
fn a_helm_release_nothing_translates_fails_the_render_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    repository(dir.path(), "https://charts.lan", "127.0.0.1:1", APPS);
    let config = discover(dir.path());
    let roots = Roots::fetch(&config).unwrap();
    let k = config
        .kustomizations
        .iter()
        .find(|k| k.name == "flux-system/apps")
        .unwrap_or_else(|| {
            panic!(
                "{:?}",
                config
                    .kustomizations
                    .iter()
                    .map(|k| &k.name)
                    .collect::<Vec<_>>()
            )
        });
    let err = rekon::render::Renderer::with_plugins(Default::default(), k)
        .unwrap()
        .render(roots.of(k), k)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "kustomization `flux-system/apps`: HelmRelease podinfo/podinfo (apps/podinfo/release.yaml:1) is left in the render: \
         rekon applies no Flux object and has no Helm controller; translate it with the `helm-k3s` plugin \
         (`rekon.dev/mutators: helm-k3s` on the Kustomization; see the README, \"Helm on k3s\")"
    );
}

const APPS_WITH_PLUGIN: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\n  annotations:\n    rekon.dev/mutators: helm-k3s\nspec:\n  dependsOn:\n    - name: sources\n  interval: 10m\n  path: ./apps/podinfo\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n";

/// `rekon.toml` declaring helm-k3s with `grant`.
fn config(dir: &Path, grant: &str) {
    std::fs::write(
        dir.join("rekon.toml"),
        format!(
            "state-dir = \"state\"\n[flux]\npath = \"clusters/home\"\n\n[plugins.helm-k3s]\npath = \"{}\"\ngrant = [{grant}]\n",
            crate::support::wasm("helm_k3s").display()
        ),
    )
    .unwrap();
}

const GRANT: &str =
    "\"sources\", \"create:helm.cattle.io/HelmChart\", \"delete:helm.toolkit.fluxcd.io/HelmRelease\"";

#[test]
fn rekon_render_turns_a_flux_helm_release_into_a_k3s_helm_chart() {
    let server = serve_podinfo(&["6.5.3", "6.5.4", "6.6.0"]);
    let dir = tempfile::tempdir().unwrap();
    repository(dir.path(), &server.url(), "127.0.0.1:1", APPS_WITH_PLUGIN);
    config(dir.path(), GRANT);

    let out = crate::support::langs::rekon(dir.path(), &["render", "flux-system/apps"]);
    let shown = crate::support::langs::show(&out);
    assert!(out.status.success(), "{shown}");
    let objects: Vec<Value> = serde_yaml_ng::Deserializer::from_slice(&out.stdout)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(objects.len(), 1, "{shown}");
    let chart = &objects[0];
    assert_eq!(chart["apiVersion"], "helm.cattle.io/v1");
    assert_eq!(chart["kind"], "HelmChart");
    assert_eq!(chart["metadata"]["name"], "podinfo");
    assert_eq!(chart["metadata"]["namespace"], "podinfo");
    assert_eq!(
        chart["metadata"]["annotations"]["rekon.dev/helm-release"],
        "podinfo/podinfo"
    );
    let spec = &chart["spec"];
    assert_eq!(spec["chart"], "podinfo");
    assert_eq!(spec["repo"], server.url().as_str());
    // `6.5.x` resolved by the host against the index.
    assert_eq!(spec["version"], "6.5.4");
    assert_eq!(spec["targetNamespace"], "podinfo");
    let values: Value = serde_yaml_ng::from_str(spec["valuesContent"].as_str().unwrap()).unwrap();
    assert_eq!(values, json!({"replicaCount": 2}));

    // --explain says what the plugin removed and added.
    let out =
        crate::support::langs::rekon(dir.path(), &["render", "flux-system/apps", "--explain"]);
    let shown = crate::support::langs::show(&out);
    assert!(
        shown.contains("helm-k3s: HelmRelease/podinfo/podinfo removed"),
        "{shown}"
    );
    assert!(
        shown.contains("helm-k3s: HelmChart/podinfo/podinfo added"),
        "{shown}"
    );

    // A version nothing in the index satisfies fails the render, naming the
    // release, the source and what it lists.
    let release = dir.path().join("apps/podinfo/release.yaml");
    let text = std::fs::read_to_string(&release).unwrap();
    std::fs::write(&release, text.replace("\"6.5.x\"", "\"7.x\"")).unwrap();
    let out = crate::support::langs::rekon(dir.path(), &["render", "flux-system/apps"]);
    let shown = crate::support::langs::show(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(
        shown.contains(&format!(
            "HelmRelease podinfo/podinfo: HelmRepository flux-system/podinfo ({}): no version of chart `podinfo` matches `7.x` (newest: 6.6.0)",
            server.url()
        )),
        "{shown}"
    );
    assert!(out.stdout.is_empty(), "nothing is rendered: {shown}");
}

#[test]
fn helm_k3s_needs_its_grant() {
    let dir = tempfile::tempdir().unwrap();
    repository(
        dir.path(),
        "https://charts.lan",
        "127.0.0.1:1",
        APPS_WITH_PLUGIN,
    );
    config(
        dir.path(),
        "\"create:helm.cattle.io/HelmChart\", \"delete:helm.toolkit.fluxcd.io/HelmRelease\"",
    );
    let out = crate::support::langs::rekon(dir.path(), &["render", "flux-system/apps"]);
    let shown = crate::support::langs::show(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("helm-k3s"), "{shown}");
    assert!(shown.contains("`sources`"), "{shown}");
}

/// The app's Namespace beside its release, as a cluster needs it.
fn with_namespace(dir: &Path) {
    std::fs::write(
        dir.join("apps/podinfo/namespace.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: podinfo\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("apps/podinfo/kustomization.yaml"),
        "resources:\n  - namespace.yaml\n  - release.yaml\n",
    )
    .unwrap();
}

/// `rekon apply` of the Flux repository against the API server double: the
/// HelmChart helm-k3s writes is applied, k3s's install Job (modelled by
/// the double) decides its health, and a failed install fails the apply
/// with the Job's message.
#[test]
fn rekon_apply_installs_the_chart_and_waits_for_k3s_install_job() {
    let server = serve_podinfo(&["6.5.4"]);
    let dir = tempfile::tempdir().unwrap();
    repository(dir.path(), &server.url(), "127.0.0.1:1", APPS_WITH_PLUGIN);
    with_namespace(dir.path());
    config(dir.path(), GRANT);
    let cluster = rekon_apiserver_double::ApiServer::start();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig).unwrap();
    // The repository's CA, in a Secret its certSecretRef names: rekon reads
    // it from the cluster and the HelmChart carries it inline (k3s takes a
    // CA inline or from a ConfigMap, never from a Secret).
    let pem = self_signed_ca(dir.path());
    let pem = pem.as_str();
    for object in [
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}}),
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "podinfo-ca", "namespace": "flux-system"},
               "data": {"ca.crt": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pem)}}),
    ] {
        cluster.apply_as("test", &object, true).unwrap();
    }
    let sources = dir
        .path()
        .join("infrastructure/sources/helm-repositories.yaml");
    let text = std::fs::read_to_string(&sources).unwrap();
    std::fs::write(
        &sources,
        text.replacen(
            "  interval: 1h\n",
            "  interval: 1h\n  certSecretRef:\n    name: podinfo-ca\n",
            1,
        ),
    )
    .unwrap();
    let apply = || {
        crate::support::langs::rekon(
            dir.path(),
            &[
                "apply",
                "flux-system/apps",
                "--kubeconfig",
                kubeconfig.to_str().unwrap(),
            ],
        )
    };

    let out = apply();
    let shown = crate::support::langs::show(&out);
    assert!(out.status.success(), "{shown}");
    let chart = cluster
        .object("helm.cattle.io/v1", "HelmChart", "podinfo", "podinfo")
        .unwrap_or_else(|| panic!("no HelmChart applied: {shown}"));
    assert_eq!(chart["spec"]["version"], "6.5.4");
    assert_eq!(chart["spec"]["repoCA"], pem);
    let job = cluster
        .object("batch/v1", "Job", "podinfo", "helm-install-podinfo")
        .expect("k3s's install Job");
    assert!(
        job["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Complete" && c["status"] == "True"),
        "{job}"
    );
    assert!(
        cluster
            .object(
                "helm.toolkit.fluxcd.io/v2",
                "HelmRelease",
                "podinfo",
                "podinfo"
            )
            .is_none(),
        "no HelmRelease reaches the cluster"
    );

    // A new version whose install fails: the apply fails, naming the chart,
    // its Job and the Job's message.
    let release = dir.path().join("apps/podinfo/release.yaml");
    let text = std::fs::read_to_string(&release).unwrap();
    std::fs::write(&release, text.replace("replicaCount: 2", "replicaCount: 3")).unwrap();
    cluster.fail_helm_install(
        "podinfo",
        "podinfo",
        "Job has reached the specified backoff limit",
    );
    let out = apply();
    let shown = crate::support::langs::show(&out);
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("HelmChart/podinfo/podinfo"), "{shown}");
    assert!(shown.contains("helm-install-podinfo"), "{shown}");
    assert!(
        shown.contains("Job has reached the specified backoff limit"),
        "{shown}"
    );
}

/// `rekon run` of the Flux repository: the release shows on `/status` and
/// on the kustomization's page with its chart, version and state.
#[test]
fn rekon_run_shows_helm_releases_on_its_status_and_page() {
    use crate::support::world::{http, status_at, terminate};
    let server = serve_podinfo(&["6.5.4"]);
    let dir = tempfile::tempdir().unwrap();
    repository(dir.path(), &server.url(), "127.0.0.1:1", APPS_WITH_PLUGIN);
    with_namespace(dir.path());
    let listen = registry::free_port();
    std::fs::write(
        dir.path().join("rekon.toml"),
        format!(
            "state-dir = \"state\"\n[server]\nlisten = \"127.0.0.1:{listen}\"\n[flux]\npath = \"clusters/home\"\n\n[plugins.helm-k3s]\npath = \"{}\"\ngrant = [{GRANT}]\n",
            crate::support::wasm("helm_k3s").display()
        ),
    )
    .unwrap();
    let cluster = rekon_apiserver_double::ApiServer::start();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.write_kubeconfig(&kubeconfig).unwrap();
    let log = dir.path().join("rekon.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rekon"))
        .arg("--cache-dir")
        .arg(crate::support::repo().join("target/rekon-test-cache"))
        .args(["run", "--config"])
        .arg(dir.path().join("rekon.toml"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("starting rekon run");
    let show = || std::fs::read_to_string(&log).unwrap_or_default();
    let releases = || {
        status_at(listen)
            .map(|s| {
                s["kustomizations"]["flux-system/apps"]["kustomization"]["helm_releases"].clone()
            })
            .unwrap_or(Value::Null)
    };
    crate::support::world::wait_until(
        "the release installed on /status",
        std::time::Duration::from_secs(60),
        || releases()[0]["state"] == "installed",
    );
    assert_eq!(
        releases(),
        json!([{"release": "podinfo/podinfo", "chart": "podinfo", "version": "6.5.4", "state": "installed"}]),
        "{}",
        show()
    );
    let (code, page) = http(listen, "GET", "/kustomization/flux-system%2Fapps", &[], "");
    assert_eq!(code, 200, "{page}");
    let section = page
        .split("Helm releases")
        .nth(1)
        .unwrap_or_else(|| panic!("no Helm releases section:\n{page}"));
    for text in ["podinfo/podinfo", "6.5.4", "installed"] {
        assert!(
            section.contains(text),
            "{text} not in the section:\n{section}"
        );
    }
    terminate(&mut child, show);
}

//! A real registry for the tests: Debian's `docker-registry` on a free
//! loopback port, and images pushed to it by `skopeo` from OCI layouts built
//! here by hand (tests/registry.rs, tests/automation.rs).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const PLACEHOLDER: &str = "main-placeholder-0000000000";
pub const ABC: &str = "main-abc1234-1767225600";
pub const DEF: &str = "main-def5678-1767312000";
pub const FFF: &str = "main-fff9999-1767398400";
pub const REPO: &str = "website/frontend";

/// Whether the real registry tests can run; panics in CI when they cannot.
pub fn tools() -> bool {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if have("docker-registry") && have("skopeo") && have("openssl") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but docker-registry, skopeo or openssl is missing (tests/run.sh installs them)"
    );
    eprintln!(
        "SKIPPED: docker-registry, skopeo or openssl is not installed \
         (apt-get install docker-registry skopeo openssl, or run tests/run.sh); in CI this fails"
    );
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `docker-registry` of this test's own, killed on drop.
pub struct Registry {
    pub port: u16,
    pub creds: Option<(String, String)>,
    child: Option<Child>,
    pub dir: tempfile::TempDir,
}

impl Registry {
    pub fn start(creds: Option<(&str, &str)>) -> Registry {
        Registry::start_in(tempfile::tempdir().unwrap(), creds, "")
    }

    /// Start in `dir` with `http_extra` appended to the `http:` section.
    pub fn start_in(
        dir: tempfile::TempDir,
        creds: Option<(&str, &str)>,
        http_extra: &str,
    ) -> Registry {
        let port = free_port();
        let auth = match creds {
            None => String::new(),
            Some((user, pass)) => {
                let line = format!("{user}:{}\n", bcrypt::hash(pass, 4).unwrap());
                std::fs::write(dir.path().join("htpasswd"), line).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: rekon-test\n    path: {}\n",
                    dir.path().join("htpasswd").display()
                )
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n{http_extra}{auth}",
            dir.path().join("storage").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut registry = Registry {
            port,
            creds: creds.map(|(u, p)| (u.to_string(), p.to_string())),
            child: Some(child),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = registry.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("docker-registry exited ({status}): {}", registry.log());
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen: {}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Push `REPO:tag` with one image per architecture (an index when more
    /// than one), returning the manifest of the first image.
    pub fn push(&self, tag: &str, archs: &[&str]) -> Vec<u8> {
        let layout = tempfile::tempdir().unwrap();
        let (index_entry, first) = oci_layout(layout.path(), archs);
        let mut entry = index_entry;
        entry["annotations"] = json!({ "org.opencontainers.image.ref.name": tag });
        write_json(
            &layout.path().join("index.json"),
            &json!({ "schemaVersion": 2, "manifests": [entry] }),
        );
        let mut cmd = Command::new("skopeo");
        cmd.args([
            "--insecure-policy",
            "copy",
            "--all",
            "--dest-tls-verify=false",
        ]);
        if let Some((user, pass)) = &self.creds {
            cmd.arg(format!("--dest-creds={user}:{pass}"));
        }
        let out = cmd
            .arg(format!("oci:{}:{tag}", layout.path().display()))
            .arg(format!("docker://{}/{REPO}:{tag}", self.host()))
            .output()
            .expect("running skopeo");
        assert!(
            out.status.success(),
            "skopeo copy {tag}: {}\nregistry log: {}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        first
    }

    /// Tag an already pushed manifest under `tag` through the API (fast:
    /// no skopeo per tag). Anonymous registries only.
    pub fn put_manifest(&self, tag: &str, manifest: &[u8]) {
        let (status, body) = http(
            self.port,
            "PUT",
            &format!("/v2/{REPO}/manifests/{tag}"),
            "application/vnd.oci.image.manifest.v1+json",
            manifest,
        );
        assert_eq!(status, 201, "PUT {tag}: {body}");
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec(value).unwrap()).unwrap();
}

/// Write `bytes` as a blob of the layout; its descriptor.
pub fn blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let hex = hex::encode(Sha256::digest(bytes));
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&hex), bytes).unwrap();
    json!({ "mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len() })
}

/// An OCI layout with one image per architecture: the descriptor to name in
/// index.json (the image, or an index of them) and the first image's manifest.
pub fn oci_layout(layout: &Path, archs: &[&str]) -> (Value, Vec<u8>) {
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    // gzip of nothing: the smallest valid layer.
    let empty_gzip = [
        0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let layer = blob(
        layout,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &empty_gzip,
    );
    let mut images = Vec::new();
    for arch in archs {
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{}", hex::encode(Sha256::digest(b"")))] },
        });
        let config = blob(
            layout,
            "application/vnd.oci.image.config.v1+json",
            &serde_json::to_vec(&config).unwrap(),
        );
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": [layer],
        }))
        .unwrap();
        let mut descriptor = blob(
            layout,
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        );
        descriptor["platform"] = json!({ "architecture": arch, "os": "linux" });
        images.push((descriptor, manifest));
    }
    let first = images[0].1.clone();
    if let [(descriptor, _)] = &images[..] {
        let mut descriptor = descriptor.clone();
        descriptor.as_object_mut().unwrap().remove("platform");
        return (descriptor, first);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": images.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(),
    });
    let descriptor = blob(
        layout,
        "application/vnd.oci.image.index.v1+json",
        &serde_json::to_vec(&index).unwrap(),
    );
    (descriptor, first)
}

/// One HTTP/1.1 request on loopback: status and body.
pub fn http(port: u16, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The seed's tags: the placeholder, two arm64+amd64-capable releases and a
/// newer amd64-only one, plus a cosign signature tag.
pub fn push_seed(registry: &Registry) {
    let first = registry.push(PLACEHOLDER, &["arm64"]);
    registry.push(ABC, &["arm64"]);
    registry.push(DEF, &["arm64", "amd64"]);
    registry.push(FFF, &["amd64"]);
    if registry.creds.is_none() {
        registry.put_manifest(&format!("{FFF}.sig"), &first);
    }
}

/// One request a [`Proxy`] saw: when it arrived, its request line, and the
/// status it was answered with.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: std::time::SystemTime,
    pub line: String,
    pub status: u16,
    /// When the answer had been written.
    pub answered: std::time::SystemTime,
}

/// What a [`Proxy`] does with the n-th (from 0) tags/list request: `Some`
/// answers with that raw HTTP response instead of the registry's.
pub type Fault = Box<dyn Fn(usize) -> Option<String> + Send + Sync>;

/// A loopback HTTP proxy in front of a real registry, for what a registry
/// will not do on demand: answer a tags/list with 429/503 and `Retry-After`
/// (`fault`), or page tags/list with `Link` headers (`page_cap`: the
/// registry's full answer, sorted, cut into pages of at most that many tags
/// after `last`), or serve another path's answer for a request
/// ([`Proxy::redirecting`]: a registry handing out other bytes than asked
/// for). Everything else is passed through unchanged. It records every
/// request.
pub struct Proxy {
    pub port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl Proxy {
    pub fn start(upstream: u16, page_cap: Option<usize>, fault: Fault) -> Proxy {
        Proxy::spawn(upstream, page_cap, fault, None)
    }

    /// A proxy answering requests for the path `from` with the registry's
    /// answer for `to`.
    pub fn redirecting(upstream: u16, from: &str, to: &str) -> Proxy {
        let redirect = Some((from.to_string(), to.to_string()));
        Proxy::spawn(upstream, None, Box::new(|_| None), redirect)
    }

    fn spawn(
        upstream: u16,
        page_cap: Option<usize>,
        fault: Fault,
        redirect: Option<(String, String)>,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            let mut tag_lists = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let at = std::time::SystemTime::now();
                let Some((line, request)) = read_request(&mut stream) else {
                    continue;
                };
                let response = if line.contains("/tags/list") {
                    tag_lists += 1;
                    match fault(tag_lists - 1) {
                        Some(canned) => canned.into_bytes(),
                        None => match page_cap {
                            Some(cap) => page(upstream, &line, &request, cap),
                            None => forward(upstream, &request),
                        },
                    }
                } else {
                    match &redirect {
                        Some((from, to)) if line.split(' ').nth(1) == Some(from.as_str()) => {
                            let request = String::from_utf8_lossy(&request).replacen(from, to, 1);
                            forward(upstream, request.as_bytes())
                        }
                        _ => forward(upstream, &request),
                    }
                };
                let status = std::str::from_utf8(&response[9..12])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                // Logged before the answer is written: a client that has
                // its answer must find the request in the log.
                let answered = std::time::SystemTime::now();
                log.lock().unwrap().push(Seen {
                    at,
                    line,
                    status,
                    answered,
                });
                let _ = stream.write_all(&response);
                let _ = stream.flush();
            }
        });
        Proxy { port, seen }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The tags/list requests so far.
    pub fn tag_lists(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.line.contains("/tags/list"))
            .cloned()
            .collect()
    }
}

/// A request's line and its bytes, rewritten to close the connection after
/// the answer (the proxy serves one request per connection) and to ask for
/// HTTP/1.0 (so the registry's body runs to the end of the stream, never chunked).
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? != 1 {
            return None;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let line = lines.next()?.to_string();
    let mut length = 0;
    let mut out = format!("{}\r\n", line.replace("HTTP/1.1", "HTTP/1.0"));
    for header in lines.filter(|l| !l.is_empty()) {
        let lower = header.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        if let Some(n) = lower.strip_prefix("content-length:") {
            length = n.trim().parse().unwrap_or(0);
        }
        out.push_str(header);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).ok()?;
    bytes.extend(body);
    Some((line, bytes))
}

fn forward(upstream: u16, request: &[u8]) -> Vec<u8> {
    let mut registry = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    registry.write_all(request).unwrap();
    let mut response = Vec::new();
    registry.read_to_end(&mut response).unwrap();
    response
}

/// tags/list as a registry that pages by `n`/`last` and says where the next
/// page is with `Link` (with `last` before `n`, a form rekon's own fallback
/// never writes, so a test sees which was followed).
fn page(upstream: u16, line: &str, request: &[u8], cap: usize) -> Vec<u8> {
    let target = line.split(' ').nth(1).unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |key: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
    };
    let whole = String::from_utf8_lossy(request).replacen(target, path, 1);
    let response = forward(upstream, whole.as_bytes());
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.contains(" 200 "), "registry: {text}");
    let listing: Value = serde_json::from_str(body).unwrap();
    let mut all: Vec<String> = listing["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    all.sort();
    let n = param("n").map_or(cap, |n| n.parse::<usize>().unwrap().min(cap));
    let start = param("last").map_or(0, |last| all.partition_point(|t| *t <= last));
    let tags = &all[start..(start + n).min(all.len())];
    let body = json!({ "name": listing["name"], "tags": tags }).to_string();
    let link = match tags.last() {
        Some(last) if start + tags.len() < all.len() => {
            format!("Link: <{path}?last={last}&n={n}>; rel=\"next\"\r\n")
        }
        _ => String::new(),
    };
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{link}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

//! Registry scanning against a real registry: Debian's `docker-registry`
//! (distribution 2.8) started per test on a free loopback port, images pushed
//! by `skopeo` from OCI layouts built here by hand, and the real flux-policy
//! plugin ranking the tags. Two faults a real registry will not produce on
//! demand (garbage JSON, 429 then success) come from a tiny loopback server;
//! paging by `Link` and `Retry-After` (seconds and HTTP-date) are tested on
//! the real registry through the loopback proxy of tests/support/registry.rs,
//! which records when each request came.
//!
//! Without `docker-registry`/`skopeo`/`openssl` the registry tests are skipped with a
//! message, unless `CI` is set: there they must run (tests/run.sh installs
//! them).

use crate::support;

use support::registry::*;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rekon::config::{Config, Credentials, RegistryConfig};
use rekon::images::registry::{ErrorKind, RegistryClient, Retry};
use rekon::images::scan::{scan, ScanError, ScanResult};
use rekon::images::tagstore::TagStore;
use rekon::plugin::{Plugin, PluginSource};
use serde_json::json;

const FLUX_SETTINGS: &str = r#"{ filterTags = { pattern = "^main-[a-f0-9]+-(?P<ts>[0-9]+)", extract = "$ts" }, policy = { numerical = { order = "asc" } } }"#;

/// A rekon.toml in `dir` for `REPO` on `host`, with `registry` lines.
fn config(dir: &Path, host: &str, registry: &str, image: &str) -> Config {
    let text = format!(
        "state-dir = \"state\"\n\
         [plugins.flux-policy]\npath = \"{wasm}\"\nsettings = {FLUX_SETTINGS}\n\
         [registries.local]\nurl = \"{host}\"\ninsecure = true\ntimeout = \"5s\"\n{registry}\n\
         [images.\"flux-system:frontend\"]\nrepository = \"{host}/{REPO}\"\nregistry = \"local\"\n{image}\n",
        wasm = support::wasm("flux_policy").display(),
    );
    let path = dir.join("rekon.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

fn plugin(config: &Config) -> Plugin {
    let p = &config.plugins["flux-policy"];
    support::runtime()
        .load(&PluginSource {
            name: "flux-policy".into(),
            path: p.path.clone(),
            sha256: None,
            limits: p.limits.clone(),
        })
        .unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn quick() -> Retry {
    Retry {
        attempts: 2,
        first_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(100),
    }
}

fn scan_with(config: &Config, retry: Retry) -> Result<ScanResult, ScanError> {
    let image = &config.images["flux-system:frontend"];
    let client = RegistryClient::new(&image.registry)
        .unwrap()
        .with_retry(retry);
    let store = TagStore::new(config.state_dir.as_ref().unwrap().join("tags"));
    block_on(scan(image, &client, &plugin(config), &store))
}

fn rekon(config: &Config) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args(["images", "scan", "--config"])
        .arg(&config.file)
        .arg("--cache-dir")
        .arg(support::repo().join("target/rekon-test-cache"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn arm64_requirement_skips_the_newer_amd64_only_tag() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    push_seed(&registry);
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        &registry.host(),
        "",
        "platform = \"linux/arm64\"",
    );

    let result = scan_with(&config, quick()).unwrap();
    assert!(result.succeeded(), "{result:?}");
    assert_eq!(result.tags, 5);
    assert_eq!(result.excluded, 1, "the .sig tag is excluded by default");
    // The placeholder is not hex, so flux-policy's pattern drops it.
    assert_eq!(result.ranking, [FFF, DEF, ABC]);
    assert_eq!(result.chosen.as_deref(), Some(DEF));
    assert_eq!(result.skipped.len(), 1);
    assert_eq!(result.skipped[0].tag, FFF);
    assert_eq!(
        result.skipped[0]
            .offered
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["linux/amd64"]
    );
    // The list is on disk, one tag per line, for the next start.
    let stored = std::fs::read_to_string(
        TagStore::new(config.state_dir.as_ref().unwrap().join("tags"))
            .file(&format!("{}/{REPO}", registry.host())),
    )
    .unwrap();
    let mut lines: Vec<&str> = stored.lines().collect();
    lines.sort();
    let sig = format!("{FFF}.sig");
    assert_eq!(lines, [ABC, DEF, FFF, sig.as_str(), PLACEHOLDER]);

    // The command line reports the same.
    let (code, stdout, stderr) = rekon(&config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("tags: 5 (1 excluded)"), "{stdout}");
    assert!(
        stdout.contains(&format!("chosen: {DEF} (offers linux/arm64)")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("skipped: {FFF} (offers linux/amd64)")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("ranking (3 of 3): {FFF}, {DEF}, {ABC}")),
        "{stdout}"
    );
}

#[test]
fn without_a_platform_the_top_ranked_tag_is_chosen() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    push_seed(&registry);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &registry.host(), "", "");
    let result = scan_with(&config, quick()).unwrap();
    assert_eq!(result.chosen.as_deref(), Some(FFF));
    assert!(result.skipped.is_empty());
}

#[test]
fn basic_auth_and_a_wrong_password() {
    if !tools() {
        return;
    }
    let registry = Registry::start(Some(("robot$website+rekon", "s3cret")));
    registry.push(DEF, &["arm64", "amd64"]);
    registry.push(FFF, &["amd64"]);
    // One directory per config: each has its own state (a stored list
    // would turn the failures below into stale scans).
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    std::fs::write(dirs[0].path().join("good"), "s3cret\n").unwrap();
    std::fs::write(dirs[1].path().join("bad"), "wrong\n").unwrap();

    let good = config(
        dirs[0].path(),
        &registry.host(),
        "username = \"robot$website+rekon\"\npassword-file = \"good\"",
        "platform = \"linux/arm64\"",
    );
    let result = scan_with(&good, quick()).unwrap();
    assert_eq!(result.chosen.as_deref(), Some(DEF), "{result:?}");

    let bad = config(
        dirs[1].path(),
        &registry.host(),
        "username = \"robot$website+rekon\"\npassword-file = \"bad\"",
        "",
    );
    let err = scan_with(&bad, quick()).unwrap_err();
    let ScanError::Registry(e) = &err else {
        panic!("{err}")
    };
    assert!(matches!(e.kind, ErrorKind::Unauthorized), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "registry `local` ({}): listing tags of {REPO}: 401 unauthorized",
            registry.host()
        )),
        "{message}"
    );

    // No credentials at all: the same clear 401.
    let anonymous = config(dirs[2].path(), &registry.host(), "", "");
    let err = scan_with(&anonymous, quick()).unwrap_err().to_string();
    assert!(err.contains("401 unauthorized"), "{err}");
}

#[test]
fn registry_down_keeps_the_last_good_list() {
    if !tools() {
        return;
    }
    let mut registry = Registry::start(None);
    push_seed(&registry);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &registry.host(), "", "");
    assert!(scan_with(&config, quick()).unwrap().succeeded());

    registry.stop();
    let result = scan_with(&config, quick()).unwrap();
    assert!(result.stale && !result.succeeded());
    assert_eq!(result.tags, 5, "the stored list is used");
    assert_eq!(result.ranking, [FFF, DEF, ABC]);
    let e = result.error.as_ref().unwrap();
    assert!(matches!(e.kind, ErrorKind::Unreachable(_)), "{e}");
    let message = e.to_string();
    assert!(
        message.starts_with(&format!(
            "registry `local` ({}): listing tags of {REPO} (after 2 attempts): cannot connect",
            registry.host()
        )),
        "{message}"
    );

    let (code, stdout, stderr) = rekon(&config);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("STALE: using the tag list of the last good scan"),
        "{stdout}"
    );
    assert!(stdout.contains("cannot connect"), "{stdout}");

    // With no stored list there is nothing to fall back to.
    let fresh = tempfile::tempdir().unwrap();
    let config = self::config(fresh.path(), &registry.host(), "", "");
    let err = scan_with(&config, quick()).unwrap_err().to_string();
    assert!(
        err.ends_with("(and no earlier tag list is stored)"),
        "{err}"
    );
}

/// HTTPS with a private CA: trusted through `ca-file`, refused without it.
#[test]
fn https_with_a_ca_file() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    for args in [
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=rekon-test-ca",
        "req -newkey rsa:2048 -nodes -keyout key.pem -out leaf.csr -subj /CN=127.0.0.1",
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 1 -extfile leaf.ext",
    ] {
        let out = Command::new("openssl")
            .args(args.split(' '))
            .current_dir(d)
            .output()
            .expect("running openssl");
        assert!(out.status.success(), "openssl {args}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let tls = format!(
        "  tls:\n    certificate: {}\n    key: {}\n",
        d.join("cert.pem").display(),
        d.join("key.pem").display()
    );
    let ca = d.join("ca.pem");
    let registry = Registry::start_in(dir, None, &tls);
    registry.push(DEF, &["arm64", "amd64"]);

    let mut config = RegistryConfig::anonymous(&registry.host());
    config.ca_file = Some(ca);
    let client = RegistryClient::new(&config).unwrap().with_retry(quick());
    assert_eq!(block_on(client.list_tags(REPO)).unwrap(), [DEF]);
    let platforms = block_on(client.platforms(REPO, DEF)).unwrap();
    assert_eq!(
        platforms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["linux/arm64", "linux/amd64"]
    );

    let client = RegistryClient::new(&RegistryConfig::anonymous(&registry.host()))
        .unwrap()
        .with_retry(quick());
    let err = block_on(client.list_tags(REPO)).unwrap_err().to_string();
    assert!(err.contains("certificate"), "{err}");
}

/// distribution 2.8 (Debian's docker-registry) ignores `n` and `last` and
/// answers every tags/list with all tags and no `Link`: the listing must
/// still end, with each tag once. (Paging by `Link` is tested through
/// [`Proxy`] below.)
#[test]
fn a_registry_that_ignores_n_still_lists_250_tags_once() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    let manifest = registry.push("t000", &["arm64"]);
    for i in 1..250 {
        registry.put_manifest(&format!("t{i:03}"), &manifest);
    }
    let mut config = RegistryConfig::anonymous(&registry.host());
    config.insecure = true;
    config.page_size = 100;
    let client = RegistryClient::new(&config).unwrap();
    let mut tags = block_on(client.list_tags(REPO)).unwrap();
    tags.sort();
    assert_eq!(tags, all_tags());
}

fn all_tags() -> Vec<String> {
    (0..250).map(|i| format!("t{i:03}")).collect()
}

/// A tags/list page of `all_tags()` as the spec pages: `n` (at most `cap`)
/// tags after `last`, with a `Link` header when more follow.
fn page(line: &str, cap: usize) -> String {
    let query = line.split(['?', ' ']).nth(2).unwrap_or("");
    let param = |key: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
    };
    let n: usize = param("n").map_or(cap, |n| n.parse().unwrap());
    let all = all_tags();
    let start = param("last").map_or(0, |last| all.partition_point(|t| *t <= last));
    let tags = &all[start..(start + n.min(cap)).min(all.len())];
    let body = json!({ "name": REPO, "tags": tags }).to_string();
    let link = match tags.last() {
        Some(last) if start + tags.len() < all.len() => {
            format!("Link: </v2/{REPO}/tags/list?n={n}&last={last}>; rel=\"next\"\r\n")
        }
        _ => String::new(),
    };
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{link}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

fn list_with_page_size(config: &mut RegistryConfig, page_size: usize) -> Vec<String> {
    config.page_size = page_size;
    let client = RegistryClient::new(config).unwrap();
    block_on(client.list_tags(REPO)).unwrap()
}

fn tag_requests(seen: &Mutex<Vec<String>>) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("/tags/list"))
        .cloned()
        .collect()
}

#[test]
fn pages_through_250_tags_100_at_a_time() {
    let (mut config, seen) = fake_registry(|_, line| page(line, 1000));
    assert_eq!(list_with_page_size(&mut config, 100), all_tags());
    let requests = tag_requests(&seen);
    // 100 + 100 + 50, each page after the first where `Link` said; the last
    // page has no `Link`, which ends the listing without another request.
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(requests[0].contains("?n=100 "), "{requests:?}");
    assert!(requests[1].contains("n=100&last=t099"), "{requests:?}");
    assert!(requests[2].contains("last=t199"), "{requests:?}");
}

#[test]
fn a_registry_capping_pages_below_n_is_still_read_to_the_end() {
    let (mut config, seen) = fake_registry(|_, line| page(line, 30));
    assert_eq!(list_with_page_size(&mut config, 100), all_tags());
    assert_eq!(
        tag_requests(&seen).len(),
        9,
        "nine pages of up to 30, the last without `Link`"
    );
}

/// A loopback server answering `/v2/` with 200 and every other request with
/// `answer(n, request line)`, n counting those requests from 0; it records
/// the request lines.
fn fake_registry(answer: fn(usize, &str) -> String) -> (RegistryConfig, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut n = 0;
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut request = Vec::new();
            let mut byte = [0];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let line = String::from_utf8_lossy(&request)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let response = if line.starts_with("GET /v2/ ") {
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_string()
            } else {
                n += 1;
                answer(n - 1, &line)
            };
            log.lock().unwrap().push(line);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    let config = RegistryConfig {
        name: "fake".into(),
        insecure: true,
        credentials: Credentials::Anonymous,
        timeout: Duration::from_secs(5),
        ..RegistryConfig::anonymous(&format!("127.0.0.1:{port}"))
    };
    (config, seen)
}

fn ok_json(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn garbage_json_is_a_clear_error() {
    let (config, _) = fake_registry(|_, _| ok_json("<html>this is not JSON</html>"));
    let client = RegistryClient::new(&config).unwrap().with_retry(quick());
    let err = block_on(client.list_tags(REPO)).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Invalid(_)), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "registry `fake` ({}): listing tags of {REPO}: invalid answer",
            config.url
        )),
        "{err}"
    );
}

#[test]
fn backs_off_on_429_then_succeeds() {
    let (config, seen) = fake_registry(|n, _| match n {
        0 => {
            let body = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#;
            format!(
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        1 => ok_json(&format!(r#"{{"name":"{REPO}","tags":["{ABC}","{DEF}"]}}"#)),
        _ => ok_json(&format!(r#"{{"name":"{REPO}","tags":[]}}"#)),
    });
    let client = RegistryClient::new(&config).unwrap().with_retry(quick());
    let tags = block_on(client.list_tags(REPO)).unwrap();
    assert_eq!(tags, [ABC, DEF]);
    let lists: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("/tags/list"))
        .cloned()
        .collect();
    assert_eq!(lists.len(), 3, "429, the page, the empty end: {lists:?}");
    assert!(lists[2].contains(&format!("last={DEF}")), "{lists:?}");
}

#[test]
fn a_server_that_keeps_failing_gives_up_after_the_bounded_retries() {
    let (config, seen) = fake_registry(|_, _| {
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown"
            .into()
    });
    let client = RegistryClient::new(&config).unwrap().with_retry(Retry {
        attempts: 3,
        ..quick()
    });
    let err = block_on(client.list_tags(REPO)).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("(after 3 attempts): HTTP 503: down"),
        "{err}"
    );
    let lists = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("/tags/list"))
        .count();
    assert_eq!(lists, 3);
}

/// The real registry's tags served in pages of 10 with `Link` headers (by
/// the test proxy: distribution 2.8 does not page tags/list): the client
/// follows each `Link` as written and stops at the page without one.
#[test]
fn pages_by_link_over_the_real_registry() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    let manifest = registry.push("t000", &["arm64"]);
    for i in 1..25 {
        registry.put_manifest(&format!("t{i:03}"), &manifest);
    }
    let proxy = Proxy::start(registry.port, Some(10), Box::new(|_| None));
    let mut config = RegistryConfig::anonymous(&proxy.host());
    config.insecure = true;
    config.page_size = 100;
    let client = RegistryClient::new(&config).unwrap().with_retry(quick());
    let tags = block_on(client.list_tags(REPO)).unwrap();
    let want: Vec<String> = (0..25).map(|i| format!("t{i:03}")).collect();
    assert_eq!(tags, want);
    let lines: Vec<String> = proxy.tag_lists().into_iter().map(|s| s.line).collect();
    assert_eq!(
        lines.len(),
        3,
        "10 + 10 + 5, no request after the last page: {lines:?}"
    );
    assert!(lines[0].contains("/tags/list?n=100 "), "{lines:?}");
    // `last` before `n`: the proxy's Link, not rekon's own n/last fallback.
    assert!(lines[1].contains("/tags/list?last=t009&n=10 "), "{lines:?}");
    assert!(lines[2].contains("/tags/list?last=t019&n=10 "), "{lines:?}");
}

fn too_many_requests(retry_after: &str) -> String {
    let body = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#;
    format!(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A 429 with `Retry-After: 2` in front of the real registry: the retry
/// comes no earlier than 2 s after the 429 was sent (the client's own first
/// delay would be 50 ms), and the listing then succeeds.
#[test]
fn retry_after_seconds_is_honoured() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    registry.push(DEF, &["arm64", "amd64"]);
    let proxy = Proxy::start(
        registry.port,
        None,
        Box::new(|n| (n == 0).then(|| too_many_requests("2"))),
    );
    let mut config = RegistryConfig::anonymous(&proxy.host());
    config.insecure = true;
    config.timeout = Duration::from_secs(5);
    let client = RegistryClient::new(&config).unwrap().with_retry(quick());
    assert_eq!(block_on(client.list_tags(REPO)).unwrap(), [DEF]);
    let lists = proxy.tag_lists();
    assert_eq!(lists[0].status, 429, "{lists:?}");
    assert_eq!(lists[1].status, 200, "{lists:?}");
    let waited = lists[1].at.duration_since(lists[0].answered).unwrap();
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
}

/// `Retry-After` as an HTTP-date on a 503: the retry arrives no earlier
/// than that date.
#[test]
fn retry_after_date_is_honoured() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    registry.push(DEF, &["arm64", "amd64"]);
    // Whole seconds (HTTP-dates have no fraction), at least 2 s ahead.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let date = std::time::UNIX_EPOCH + Duration::from_secs(now + 3);
    let header = httpdate::fmt_http_date(date);
    let proxy = Proxy::start(
        registry.port,
        None,
        Box::new(move |n| {
            (n == 0).then(|| {
                format!(
                    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {header}\r\n\
                     Content-Length: 4\r\nConnection: close\r\n\r\ndown"
                )
            })
        }),
    );
    let mut config = RegistryConfig::anonymous(&proxy.host());
    config.insecure = true;
    config.timeout = Duration::from_secs(5);
    let client = RegistryClient::new(&config).unwrap().with_retry(quick());
    assert_eq!(block_on(client.list_tags(REPO)).unwrap(), [DEF]);
    let lists = proxy.tag_lists();
    assert_eq!(lists[0].status, 503, "{lists:?}");
    assert!(
        lists[1].at >= date,
        "retried {:?} before the date",
        date.duration_since(lists[1].at).unwrap_or_default()
    );
}

/// A `Retry-After` beyond the call's budget (timeout × attempts) is not
/// waited out: the call fails at once, saying why, after one request.
#[test]
fn retry_after_beyond_the_budget_fails_at_once() {
    if !tools() {
        return;
    }
    let registry = Registry::start(None);
    registry.push(DEF, &["arm64"]);
    let proxy = Proxy::start(
        registry.port,
        None,
        Box::new(|_| Some(too_many_requests("30"))),
    );
    let mut config = RegistryConfig::anonymous(&proxy.host());
    config.insecure = true;
    config.timeout = Duration::from_secs(5);
    let client = RegistryClient::new(&config).unwrap().with_retry(quick());
    let err = block_on(client.list_tags(REPO)).unwrap_err().to_string();
    assert!(
        err.contains(
            "listing tags of website/frontend (the registry asks to retry after 30s, \
             beyond what is left of this call's budget ("
        ) && err.ends_with("HTTP 429: TOOMANYREQUESTS: slow down"),
        "{err}"
    );
    assert_eq!(proxy.tag_lists().len(), 1);
}

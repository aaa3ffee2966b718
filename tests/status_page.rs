//! The status page of `rekon run` in a real browser: the daemon runs over
//! the test world (tests/support/world.rs) with one more kustomization, whose
//! path does not exist, beside the two that apply; Debian's headless
//! `chromium` loads the pages (`--dump-dom`) and takes phone and desktop
//! screenshots, kept under `target/status-page/` to look at.
//!
//! Skipped, saying so, when chromium is not installed (tests/run.sh installs
//! it when root, so CI runs it).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::registry::{ABC, FFF};
use support::world::World;

/// `chromium` on the PATH.
fn chromium() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
}

/// Headless chromium with a throwaway profile and nothing fetched but `url`.
struct Browser {
    binary: PathBuf,
    profile: tempfile::TempDir,
}

impl Browser {
    fn run(&self, args: &[&str], url: &str) -> String {
        let out = self.profile.path().join("stdout");
        let err = self.profile.path().join("stderr");
        let mut child = Command::new(&self.binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
            ])
            .arg(format!(
                "--user-data-dir={}",
                self.profile.path().join("profile").display()
            ))
            .args(args)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("starting chromium");
        // A browser that hangs must not hang the test run.
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium {args:?} {url} did not finish\n{}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            status.success(),
            "chromium {args:?} {url}: {status}\n{}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        std::fs::read_to_string(&out).unwrap()
    }

    /// The DOM after the page loaded, serialized.
    fn dom(&self, url: &str) -> String {
        self.run(&["--dump-dom"], url)
    }

    /// A screenshot of `url` at `width`x`height` into `file`; checked to be a
    /// PNG of that width with something on it.
    fn screenshot(&self, url: &str, width: u32, height: u32, file: &Path) {
        let _ = std::fs::remove_file(file);
        self.run(
            &[
                &format!("--screenshot={}", file.display()),
                &format!("--window-size={width},{height}"),
            ],
            url,
        );
        let png = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", file.display());
        let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        assert_eq!((size(16), size(20)), (width, height), "{}", file.display());
        // A blank page compresses to a few hundred bytes.
        assert!(
            png.len() > 10_000,
            "{}: {} bytes",
            file.display(),
            png.len()
        );
    }
}

#[test]
fn the_status_page_in_chromium_shows_failures_first_and_each_item() {
    let Some(world) = World::new() else { return };
    let Some(binary) = chromium() else {
        eprintln!(
            "skipping the status page browser test: chromium is not installed \
             (tests/run.sh installs it when run as root)"
        );
        return;
    };
    let browser = Browser {
        binary,
        profile: tempfile::tempdir().unwrap(),
    };
    let config = world.config();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "\n[[kustomizations]]\nname = \"broken\"\nsource = \"website\"\n\
         path = \"flux/clusters/production/missing\"\ninterval = \"1h\"\n",
    );
    std::fs::write(&config, text).unwrap();
    let mut rekon = world.spawn(&config, &[], "rekon.log");
    world.wait(
        "frontend and ingress applied, broken failed, the image committed",
        || {
            world.status().is_some_and(|s| {
                let k = &s["kustomizations"];
                k["frontend"]["ready"] == true
                    && k["ingress"]["ready"] == true
                    && k["broken"]["ready"] == false
                    && s["images"]["flux-system:frontend"]["image"]["last_commit"].is_object()
                    && s["automation"]["git"]["ready"] == true
                    && s["plugins"]["stamp"]["ready"] == true
            })
        },
    );
    let status = world.status().unwrap();
    let ready = [
        "sources",
        "kustomizations",
        "images",
        "automation",
        "plugins",
    ]
    .iter()
    .flat_map(|kind| status[kind].as_object().unwrap().values())
    .filter(|item| item["ready"] == true)
    .count();
    let base = format!("http://127.0.0.1:{}", world.listen);

    // The overview: counts in the title, landmarks, the failure first.
    let dom = browser.dom(&format!("{base}/"));
    assert!(
        dom.contains(&format!("<title>rekon: 1 failed, {ready} ready</title>")),
        "{dom}"
    );
    for landmark in [
        "<header>",
        "<nav aria-label=\"Pages\">",
        "<main id=\"main\"",
        "<th scope=\"col\">",
    ] {
        assert!(dom.contains(landmark), "{landmark} missing: {dom}");
    }
    let row = |name: &str| {
        dom.find(&format!("<a href=\"/kustomization/{name}\">{name}</a>"))
            .unwrap_or_else(|| panic!("no row for {name}: {dom}"))
    };
    assert!(row("broken") < row("frontend") && row("frontend") < row("ingress"));
    assert!(
        dom.contains("<span class=\"badge failed\">failed</span>"),
        "{dom}"
    );
    assert!(
        dom.contains("href=\"/image/flux-system:frontend\""),
        "{dom}"
    );
    assert!(dom.contains("href=\"/plugin/stamp\""), "{dom}");
    assert!(dom.contains("Recent events"), "{dom}");

    // The failing kustomization's page says why.
    let dom = browser.dom(&format!("{base}/kustomization/broken"));
    assert!(dom.contains("<h2 id=\"errors\">Last errors</h2>"), "{dom}");
    let errors = &dom[dom.find("id=\"errors\"").unwrap()..];
    assert!(errors.contains("<pre>"), "{dom}");
    assert!(
        errors.contains("missing"),
        "the error names the path: {dom}"
    );

    // The applied one: its objects, the stamp's change, what it depends on.
    let dom = browser.dom(&format!("{base}/kustomization/frontend"));
    assert!(
        dom.contains("<code>Deployment/website/frontend</code>"),
        "{dom}"
    );
    let changes = &dom[dom.find("Fields changed by plugins").unwrap()..];
    assert!(
        changes.contains("<a href=\"/plugin/stamp\">stamp</a>")
            && changes.contains("<code>metadata.annotations</code>")
            && changes.contains("rekon.dev/stamp"),
        "{dom}"
    );
    let dom = browser.dom(&format!("{base}/kustomization/ingress"));
    assert!(
        dom.contains("<a href=\"/kustomization/frontend\">frontend</a>"),
        "{dom}"
    );

    // The image: the chosen tag, the newer amd64-only tag skipped, the commit.
    let dom = browser.dom(&format!("{base}/image/flux-system:frontend"));
    assert!(
        dom.contains(&format!("<code>{ABC}</code> (chosen)")),
        "{dom}"
    );
    let skipped = &dom[dom.find("Skipped for their platform").unwrap()..];
    assert!(
        skipped.contains(FFF) && skipped.contains("linux/amd64"),
        "{dom}"
    );
    let head = world.head();
    assert!(
        dom.contains(&format!("title=\"{head}\"")),
        "the last commit: {dom}"
    );

    // A plugin: its version, world and calls.
    let dom = browser.dom(&format!("{base}/plugin/stamp"));
    assert!(dom.contains("manifest-mutator"), "{dom}");
    assert!(dom.contains("<td>loaded</td>"), "{dom}");

    // Phone and desktop screenshots (look at them: target/status-page/).
    let shots = support::repo().join("target/status-page");
    std::fs::create_dir_all(&shots).unwrap();
    browser.screenshot(&format!("{base}/"), 390, 844, &shots.join("phone.png"));
    browser.screenshot(&format!("{base}/"), 1280, 900, &shots.join("desktop.png"));
    browser.screenshot(
        &format!("{base}/kustomization/broken"),
        390,
        844,
        &shots.join("phone-broken.png"),
    );
    browser.screenshot(
        &format!("{base}/image/flux-system:frontend"),
        1280,
        900,
        &shots.join("desktop-image.png"),
    );

    rekon.kill().unwrap();
    rekon.wait().unwrap();
}

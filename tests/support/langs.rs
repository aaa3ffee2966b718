//! Building plugins in JavaScript and Python (and scaffolded Rust ones) for
//! the tests, with the tools `tests/run.sh` installs under `target/lang-tools`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::SystemTime;

pub use super::repo;

fn tool(relative: &str) -> PathBuf {
    let path = repo().join("target/lang-tools").join(relative);
    assert!(
        path.exists(),
        "{} is missing: run tests/run.sh once (it installs componentize-js and componentize-py there)",
        path.display()
    );
    path
}

/// componentize-js, as `tests/run.sh` installs it.
pub fn componentize_js() -> PathBuf {
    tool("node/node_modules/.bin/componentize-js")
}

/// componentize-py, as `tests/run.sh` installs it.
pub fn componentize_py() -> PathBuf {
    tool("python/bin/componentize-py")
}

/// Where scaffolded Rust projects build, shared so their dependencies are
/// compiled once (a project's own `target/` would rebuild them every time).
pub fn cargo_target() -> PathBuf {
    repo().join("target/scaffold-build")
}

/// The `rekon` binary run in `dir` with the tests' compile cache.
pub fn rekon(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args([
            "--cache-dir",
            repo().join("target/rekon-test-cache").to_str().unwrap(),
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// stdout and stderr of `out`, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn newest_source(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if ["dist", "node_modules", "target", "tests"].contains(&name.to_str().unwrap()) {
            continue;
        }
        let meta = entry.metadata().unwrap();
        let time = if meta.is_dir() {
            newest_source(&entry.path())
        } else {
            meta.modified().unwrap()
        };
        newest = newest.max(time);
    }
    newest
}

/// Run `dir/build.sh` (with the test toolchains and `$REKON`) unless `dir/dist/NAME.wasm` is
/// newer than every source file and `wit/`; returns the component.
pub fn build(dir: &Path, name: &str) -> PathBuf {
    // One build at a time: componentize and cargo each use both cores.
    static BUILDS: Mutex<()> = Mutex::new(());
    let _one = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let wasm = dir.join("dist").join(format!("{name}.wasm"));
    let sources = newest_source(dir).max(newest_source(&repo().join("wit")));
    if wasm
        .metadata()
        .and_then(|m| m.modified())
        .is_ok_and(|built| built > sources)
    {
        return wasm;
    }
    let out = Command::new(dir.join("build.sh"))
        // For `rekon plugin annotate --interest` after componentize.
        .env("REKON", env!("CARGO_BIN_EXE_rekon"))
        .env("COMPONENTIZE_JS", componentize_js())
        .env("COMPONENTIZE_PY", componentize_py())
        .env("CARGO_TARGET_DIR", cargo_target())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}/build.sh failed\n{}",
        dir.display(),
        show(&out)
    );
    assert!(
        wasm.exists(),
        "{}/build.sh did not write {}",
        dir.display(),
        wasm.display()
    );
    wasm
}

/// Run `rekon test DIR` and return the number of passed cases; fails the
/// test unless every case passed.
pub fn suite_passes(dir: &Path) -> u32 {
    let out = rekon(dir, &["test", "."]);
    assert!(
        out.status.success(),
        "rekon test in {}\n{}",
        dir.display(),
        show(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = last
        .split_once(" passed, ")
        .unwrap_or_else(|| panic!("{last}"));
    assert_eq!(failed, "0 failed", "{stdout}");
    passed.parse().unwrap()
}

//! Every example of the plugin author guide, `docs/plugins.md`, is run or
//! parsed here, so the guide cannot rot.
//!
//! # The marking convention
//!
//! A fenced code block is tested as the HTML comment on the line just before
//! its opening fence says (the comment does not show when the guide is read):
//!
//! | marker | block | what the test does |
//! |---|---|---|
//! | `<!-- test: run -->` | `sh` | runs it with `bash -euo pipefail`; it must exit 0 |
//! | `<!-- test: output -->` | `console` | runs each `$ ` line with bash; stdout and stderr together (colours removed) must match the lines up to the next `$ ` line; the exit status is not checked (errors are examples too) |
//! | `<!-- test: rekon-toml -->` | `toml` | parses it as a whole `rekon.toml` (`rekon::config::Config::parse`) |
//! | `<!-- test: suite -->` | `yaml` | parses it as a `rekon-test.yaml` suite |
//! | `<!-- test: toml -->`, `<!-- test: yaml -->` | `toml`, `yaml` | parses it as TOML or YAML |
//! | `<!-- test: skip: REASON -->` | any | nothing; the reason must be given (e.g. "needs a cluster") |
//!
//! In expected output, a line that is `...` alone matches any number of lines,
//! and `...` inside a line matches any text (times, digests, paths that vary).
//!
//! Blocks run in document order, all in one scratch directory under
//! `target/docs-tests/` whose `examples`, `plugins`, `target`, `tests` and `wit`
//! link to the checkout (so the guide's paths work and what a block writes
//! stays out of the tree), with `rekon` first on `PATH` and the toolchains of
//! `tests/run.sh` (componentize-js, componentize-py, a shared Cargo target dir)
//! in the environment.
//!
//! An unmarked block fails the test, except in the sections other guides'
//! authors own ([`TOLERATED`]): there unmarked `toml` and `yaml` blocks are
//! parsed for syntax and other unmarked blocks are listed as not run. Marked
//! blocks there are tested like any other.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::langs::{build, cargo_target, componentize_js, componentize_py, repo};

/// Sections whose blocks may be unmarked (written at the same time by others).
const TOLERATED: &[&str] = &["Capabilities", "Publishing a plugin"];

/// One fenced block of the guide.
#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    /// The `## ` section it is in.
    section: String,
    /// The info string: `sh`, `console`, ...
    lang: String,
    /// The marker's text after `test:`, if any.
    marker: Option<String>,
    /// The lines between the fences.
    body: String,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut previous = "";
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        if let Some(title) = line.strip_prefix("## ") {
            section = title.trim().to_string();
        }
        if let Some(info) = line.strip_prefix("```") {
            let marker = previous
                .trim()
                .strip_prefix("<!-- test:")
                .and_then(|m| m.strip_suffix("-->"))
                .map(|m| m.trim().to_string());
            let mut body = String::new();
            for (_, inner) in lines.by_ref() {
                if inner.starts_with("```") {
                    break;
                }
                body.push_str(inner);
                body.push('\n');
            }
            out.push(Block {
                line: i + 1,
                section: section.clone(),
                lang: info.trim().to_string(),
                marker,
                body,
            });
            previous = "";
            continue;
        }
        previous = line;
    }
    out
}

/// Whether `actual` matches the glob `pattern` (`...` is any text).
fn line_matches(pattern: &str, actual: &str) -> bool {
    let mut parts = pattern.split("...");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (n, part) in parts.iter().enumerate() {
        if n + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Whether the `actual` lines match the `expected` ones (`...` alone: any lines).
fn lines_match(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((&"...", rest)) => (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..])),
        Some((pattern, rest)) => actual
            .split_first()
            .is_some_and(|(line, more)| line_matches(pattern, line) && lines_match(rest, more)),
    }
}

/// Remove terminal colour sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The scratch directory of one run of the guide.
struct Scratch {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let base = repo().join("target/docs-tests");
        std::fs::create_dir_all(&base).unwrap();
        let dir = tempfile::tempdir_in(base).unwrap();
        for link in ["examples", "plugins", "target", "tests", "wit"] {
            std::os::unix::fs::symlink(repo().join(link), dir.path().join(link)).unwrap();
        }
        let path = dir.path().to_path_buf();
        Scratch { _dir: dir, path }
    }

    fn bash(&self, script: &str) -> std::process::Output {
        let rekon = Path::new(env!("CARGO_BIN_EXE_rekon"));
        let path = format!(
            "{}:{}",
            rekon.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let tools = repo().join("target/lang-tools");
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(&self.path)
            .env("PATH", path)
            .env("REKON_CACHE_DIR", repo().join("target/rekon-test-cache"))
            .env("COMPONENTIZE_JS", componentize_js())
            .env("COMPONENTIZE_PY", componentize_py())
            .env("CARGO_TARGET_DIR", cargo_target())
            .env("PIP_CACHE_DIR", tools.join("pip-cache"))
            .env("npm_config_cache", tools.join("npm-cache"))
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }
}

/// Run one `console` block; `Err` says what differed.
fn check_output(scratch: &Scratch, body: &str) -> Result<(), String> {
    let mut steps: Vec<(String, Vec<&str>)> = Vec::new();
    for line in body.lines() {
        match line.strip_prefix("$ ") {
            Some(command) => steps.push((command.to_string(), Vec::new())),
            None => match steps.last_mut() {
                Some((_, expected)) => expected.push(line.trim_end()),
                None => return Err(format!("output before the first `$ ` line: {line}")),
            },
        }
    }
    for (command, expected) in steps {
        let out = scratch.bash(&format!("{command} 2>&1"));
        let text = strip_ansi(&String::from_utf8_lossy(&out.stdout));
        let actual: Vec<&str> = text.lines().map(str::trim_end).collect();
        if !lines_match(&expected, &actual) {
            return Err(format!(
                "$ {command}\nexpected:\n{}\nactual:\n{}",
                expected.join("\n"),
                actual.join("\n")
            ));
        }
    }
    Ok(())
}

/// Test one block; `Ok(false)` when it was (rightly) not run.
fn check(scratch: &Scratch, block: &Block) -> Result<bool, String> {
    let Some(marker) = &block.marker else {
        if !TOLERATED.contains(&block.section.as_str()) {
            return Err(
                "unmarked block: add a `<!-- test: ... -->` line before it (see tests/docs.rs)"
                    .into(),
            );
        }
        return match block.lang.as_str() {
            "toml" => toml::from_str::<toml::Value>(&block.body)
                .map(|_| true)
                .map_err(|e| format!("not TOML: {e}")),
            "yaml" => serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&block.body)
                .map(|_| true)
                .map_err(|e| format!("not YAML: {e}")),
            _ => Ok(false),
        };
    };
    match (marker.as_str(), block.lang.as_str()) {
        ("run", "sh") => {
            let out = scratch.bash(&block.body);
            if out.status.success() {
                Ok(true)
            } else {
                Err(format!(
                    "exited with {}\nstdout:\n{}\nstderr:\n{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        }
        ("output", "console") => check_output(scratch, &block.body).map(|_| true),
        ("rekon-toml", "toml") => {
            let file = scratch.path.join("rekon.toml");
            rekon::config::Config::parse(&block.body, &file)
                .map(|_| true)
                .map_err(|e| format!("not a valid rekon.toml: {e}"))
        }
        ("suite", "yaml") => {
            let file = scratch.path.join("rekon-test.yaml");
            std::fs::write(&file, &block.body).unwrap();
            rekon::testing::suite::Suite::load(&file)
                .map(|_| true)
                .map_err(|e| format!("not a valid rekon-test.yaml: {e}"))
        }
        ("toml", "toml") => toml::from_str::<toml::Value>(&block.body)
            .map(|_| true)
            .map_err(|e| format!("not TOML: {e}")),
        ("yaml", "yaml") => serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&block.body)
            .map(|_| true)
            .map_err(|e| format!("not YAML: {e}")),
        (skip, _) if skip.starts_with("skip:") && skip.len() > "skip:".len() + 2 => Ok(false),
        (marker, lang) => Err(format!(
            "marker `{marker}` does not fit a `{lang}` block (see tests/docs.rs)"
        )),
    }
}

#[test]
fn every_example_of_the_plugin_guide_runs() {
    // The guide's examples use the two example plugins; build them as
    // tests/languages.rs does (it may not have run yet).
    build(
        &repo().join("examples/plugins/calver-policy"),
        "calver-policy",
    );
    build(
        &repo().join("examples/plugins/arm64-affinity"),
        "arm64-affinity",
    );

    let text = std::fs::read_to_string(repo().join("docs/plugins.md")).unwrap();
    let blocks = blocks(&text);
    let scratch = Scratch::new();
    let (mut tested, mut not_run, mut failures) = (0, Vec::new(), Vec::new());
    for block in &blocks {
        match check(&scratch, block) {
            Ok(true) => tested += 1,
            Ok(false) => not_run.push(format!("line {} ({})", block.line, block.section)),
            Err(why) => failures.push(format!(
                "docs/plugins.md:{} ({}, ```{}):\n{why}",
                block.line, block.section, block.lang
            )),
        }
    }
    eprintln!(
        "{tested} blocks tested; not run: {}",
        if not_run.is_empty() {
            "none".to_string()
        } else {
            not_run.join(", ")
        }
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The guide's own sections carry examples of every kind.
    assert!(tested >= 12, "only {tested} blocks tested");
}

#[test]
fn blocks_and_markers_are_found() {
    let text =
        "## A\n<!-- test: run -->\n```sh\necho hi\n```\n\n## Capabilities\n```rust\nx\n```\n";
    let found = blocks(text);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].marker.as_deref(), Some("run"));
    assert_eq!((found[0].line, found[0].body.as_str()), (3, "echo hi\n"));
    assert_eq!(
        (found[1].section.as_str(), found[1].marker.as_deref()),
        ("Capabilities", None)
    );
}

#[test]
fn output_patterns_match_lines_and_text() {
    assert!(line_matches("error: ... MiB", "error: 16 MiB"));
    assert!(line_matches("a...b...c", "a-x-b-y-c"));
    assert!(!line_matches("a...b", "a-x-c"));
    assert!(!line_matches("exact", "exact and more"));
    assert!(lines_match(&["a", "...", "d"], &["a", "b", "c", "d"]));
    assert!(lines_match(&["a", "..."], &["a"]));
    assert!(!lines_match(&["a", "d"], &["a", "b", "d"]));
    assert_eq!(strip_ansi("\u{1b}[2mtime\u{1b}[0m DEBUG"), "time DEBUG");
}

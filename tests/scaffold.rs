//! `rekon plugin new`: every kind of project it writes builds as it is and
//! passes its own `rekon test` suite (Rust in all three worlds, JavaScript
//! and Python in one world each: the examples under `examples/plugins/`
//! cover their other worlds' machinery), and its refusals are clear.

use crate::support;

use std::path::Path;

use support::langs::{build, rekon, repo, show, suite_passes};

/// A fresh directory under `target/` (inside the checkout, so a Rust project
/// finds `plugins/sdk` on its own, as it would for a contributor).
fn workdir() -> tempfile::TempDir {
    let base = repo().join("target/scaffold-tests");
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

fn new_project(dir: &Path, args: &[&str]) {
    let out = rekon(dir, &[&["plugin", "new"], args].concat());
    assert!(
        out.status.success(),
        "rekon plugin new {args:?}\n{}",
        show(&out)
    );
}

fn scaffold_builds_and_passes(name: &str, world: &str, lang: &str) {
    let work = workdir();
    new_project(work.path(), &[name, "--world", world, "--lang", lang]);
    let project = work.path().join(name);
    for file in ["README.md", "rekon-test.yaml", "build.sh", ".gitignore"] {
        assert!(project.join(file).exists(), "{lang} {world}: no {file}");
    }
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    assert!(readme.contains("rekon test"), "{readme}");
    assert!(readme.contains(&format!("[plugins.{name}]")), "{readme}");
    build(&project, name);
    assert!(suite_passes(&project) >= 4, "{lang} {world}");
    let out = rekon(
        &project,
        &["plugin", "inspect", &format!("dist/{name}.wasm")],
    );
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("world:     {world}")), "{text}");
    assert!(text.contains(&format!("plugin:    {name} 0.1.0")), "{text}");
}

#[test]
fn rust_scaffolds_of_every_world_build_and_pass() {
    for world in ["image-policy", "manifest-mutator", "manifest-validator"] {
        scaffold_builds_and_passes(&format!("rs-{world}"), world, "rust");
    }
}

// One test per (language, world) so they build in parallel.
#[test]
fn javascript_image_policy_scaffold_builds_and_passes() {
    scaffold_builds_and_passes("js-policy", "image-policy", "js");
}

#[test]
fn javascript_mutator_scaffold_builds_and_passes() {
    scaffold_builds_and_passes("js-labels", "manifest-mutator", "js");
}

#[test]
fn javascript_validator_scaffold_builds_and_passes() {
    scaffold_builds_and_passes("js-validator", "manifest-validator", "js");
}

#[test]
fn python_image_policy_scaffold_builds_and_passes() {
    scaffold_builds_and_passes("py-policy", "image-policy", "python");
}

#[test]
fn python_mutator_scaffold_builds_and_passes() {
    scaffold_builds_and_passes("py-labels", "manifest-mutator", "python");
}

#[test]
fn python_validator_scaffold_builds_and_passes() {
    scaffold_builds_and_passes("py-validator", "manifest-validator", "python");
}

#[test]
fn javascript_and_python_projects_carry_the_contract() {
    let work = workdir();
    new_project(
        work.path(),
        &["p", "--world", "image-policy", "--lang", "python"],
    );
    for file in ["types.wit", "worlds.wit"] {
        assert_eq!(
            std::fs::read_to_string(work.path().join("p/wit").join(file)).unwrap(),
            std::fs::read_to_string(repo().join("wit").join(file)).unwrap(),
        );
    }
    // The scaffold pins the tool versions the examples pin (and tests/run.sh installs).
    let pin = |path: &Path| {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("componentize-py=="))
            .map(str::to_string)
    };
    assert_eq!(
        pin(&work.path().join("p/requirements.txt")),
        pin(&repo().join("examples/plugins/calver-policy/requirements.txt"))
    );
    new_project(
        work.path(),
        &["j", "--world", "image-policy", "--lang", "js"],
    );
    let dev_dependencies = |path: &Path| {
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        manifest["devDependencies"].clone()
    };
    assert_eq!(
        dev_dependencies(&work.path().join("j/package.json")),
        dev_dependencies(&repo().join("examples/plugins/arm64-affinity/package.json"))
    );
}

#[test]
fn the_sdk_comes_from_the_checkout_a_path_or_a_git_url() {
    let work = workdir();
    new_project(
        work.path(),
        &["a", "--world", "image-policy", "--lang", "rust"],
    );
    // A relative path (the project can move with the checkout) that leads to the SDK.
    let leads_to_the_sdk = |project: &str| {
        let manifest =
            std::fs::read_to_string(work.path().join(project).join("Cargo.toml")).unwrap();
        let path = manifest
            .lines()
            .find_map(|l| l.strip_prefix("rekon-plugin-sdk = { path = \""))
            .and_then(|rest| rest.strip_suffix("\" }"))
            .unwrap_or_else(|| panic!("no SDK path in:\n{manifest}"))
            .to_string();
        assert!(path.starts_with(".."), "{manifest}");
        // Compared by content, not by path: target/ may be a symlink.
        let sdk = std::fs::read_to_string(work.path().join(project).join(path).join("Cargo.toml"))
            .unwrap_or_else(|e| {
                panic!("{project}: the SDK path does not lead to a Cargo.toml: {e}")
            });
        assert!(sdk.contains("name = \"rekon-plugin-sdk\""), "{sdk}");
    };
    let sdk = repo().join("plugins/sdk");
    leads_to_the_sdk("a");

    new_project(
        work.path(),
        &[
            "b",
            "--world",
            "image-policy",
            "--lang",
            "rust",
            "--sdk",
            sdk.to_str().unwrap(),
        ],
    );
    leads_to_the_sdk("b");

    new_project(
        work.path(),
        &[
            "c",
            "--world",
            "image-policy",
            "--lang",
            "rust",
            "--sdk",
            "https://git.example/rekon.git",
        ],
    );
    let manifest = std::fs::read_to_string(work.path().join("c/Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"rekon-plugin-sdk = { git = "https://git.example/rekon.git" }"#),
        "{manifest}"
    );
    let readme = std::fs::read_to_string(work.path().join("c/README.md")).unwrap();
    assert!(
        readme.contains("the git repository `https://git.example/rekon.git`"),
        "{readme}"
    );
}

#[test]
fn outside_a_checkout_a_rust_project_needs_sdk() {
    let outside = tempfile::tempdir().unwrap();
    let out = rekon(
        outside.path(),
        &[
            "plugin",
            "new",
            "x",
            "--world",
            "image-policy",
            "--lang",
            "rust",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not on crates.io"), "{stderr}");
    assert!(stderr.contains("--sdk PATH"), "{stderr}");
    assert!(!outside.path().join("x").exists());
}

#[test]
fn refuses_bad_names_and_non_empty_directories() {
    let work = workdir();
    let out = rekon(
        work.path(),
        &[
            "plugin",
            "new",
            "Calver_Policy",
            "--world",
            "image-policy",
            "--lang",
            "js",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("plugin name `Calver_Policy` is not kebab-case"),
        "{stderr}"
    );

    std::fs::create_dir(work.path().join("taken")).unwrap();
    std::fs::write(work.path().join("taken/notes.txt"), "mine").unwrap();
    let out = rekon(
        work.path(),
        &[
            "plugin",
            "new",
            "calver-policy",
            "--world",
            "image-policy",
            "--lang",
            "js",
            "--dir",
            "taken",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("exists and is not empty"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(work.path().join("taken"))
        .unwrap()
        .collect();
    assert_eq!(left.len(), 1, "the existing directory was touched");

    // An empty directory is fine, and a project may go anywhere.
    std::fs::create_dir(work.path().join("empty")).unwrap();
    new_project(
        work.path(),
        &[
            "calver-policy",
            "--world",
            "image-policy",
            "--lang",
            "js",
            "--dir",
            "empty",
        ],
    );
    assert!(work.path().join("empty/src/plugin.js").exists());
    assert!(std::fs::read_dir(work.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with(".rekon-plugin-new")));
}

/// The templates are real source files: every JavaScript and Python template
/// (and example) parses as it is, placeholders and all, so editors and
/// linters can read them. (The Rust ones compile in the tests above.)
#[test]
fn templates_parse_as_javascript_and_python() {
    let mut checked = 0;
    for dir in [
        "host/templates/js/src",
        "host/templates/python",
        "examples/plugins",
    ] {
        let mut files = vec![repo().join(dir)];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                if ["dist", "node_modules"].iter().any(|d| path.ends_with(d)) {
                    continue;
                }
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let check = match path.extension().and_then(|e| e.to_str()) {
                Some("js") => std::process::Command::new("node")
                    .args(["--input-type=module", "--check"])
                    .stdin(std::fs::File::open(&path).unwrap())
                    .output(),
                Some("py") => std::process::Command::new("python3")
                    .args([
                        "-c",
                        "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])",
                    ])
                    .arg(&path)
                    .output(),
                _ => continue,
            }
            .unwrap();
            assert!(
                check.status.success(),
                "{}\n{}",
                path.display(),
                show(&check)
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} files checked");
}

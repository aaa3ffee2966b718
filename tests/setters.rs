//! The image setters: byte-exact rewrites of the values image policy markers
//! point at, over realistic files, whole trees, and the `rekon images set`
//! command.
//!
//! Every expectation is a whole text: the only bytes that differ from the
//! input are the values the markers set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use rekon::images::{
    apply_to_text, apply_to_tree, Field, Policies, PolicyResult, SetterError, TextUpdate,
    WarningKind,
};

const OLD_SHA: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
const NEW_SHA: &str = "sha256:4e1d3c0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d";

fn policies() -> Policies {
    [
        (
            "flux-system:frontend",
            "harbor.lan/website/frontend:main-def5678-1767312000".to_owned(),
        ),
        (
            "flux-system:api",
            format!("harbor.lan/website/api:1.4.2@{NEW_SHA}"),
        ),
        ("apps:redis", "docker.io/bitnami/redis:7.4.1".to_owned()),
        ("apps:web", "ghcr.io/acme/web:1.10".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), PolicyResult::parse(&v).unwrap()))
    .collect()
}

fn apply(text: &str) -> TextUpdate {
    let update = apply_to_text(text, Path::new("in.yaml"), &policies()).unwrap();
    // A second pass over the result never changes anything.
    let again = apply_to_text(&update.text, Path::new("in.yaml"), &policies()).unwrap();
    assert_eq!(again.text, update.text, "second pass changed the text");
    assert!(again.changes.is_empty(), "second pass: {:?}", again.changes);
    update
}

/// Apply, compare the whole output, and return the `line old -> new` list.
#[track_caller]
fn check(input: &str, expected: &str) -> Vec<String> {
    let update = apply(input);
    assert_eq!(update.text, expected);
    assert!(update.warnings.is_empty(), "{:?}", update.warnings);
    update
        .changes
        .iter()
        .map(|c| format!("{} {} -> {}", c.line, c.old, c.new))
        .collect()
}

// ---------------------------------------------------------------- texts

#[test]
fn deployment_with_comments_and_odd_indentation() {
    let input = r#"# Frontend of the Pi website.
apiVersion: apps/v1
kind: Deployment
metadata:
   name: frontend   # three-space indentation, on purpose
   namespace: website

spec:
   template:
      spec:
         # {"$imagepolicy": "flux-system:frontend"} on a comment-only line sets nothing
         initContainers:
         -  name: migrate
            image:   "harbor.lan/website/frontend:old"     # {"$imagepolicy":"flux-system:frontend"}   
         containers:
           - name: frontend
             image: harbor.lan/website/frontend:main-abc1234-1767225600 # {"$imagepolicy": "flux-system:frontend"}
             env:
               - name: API_IMAGE
                 value: 'harbor.lan/website/api:1.4.1' # {"$imagepolicy": "flux-system:api"}
           - name: sidecar
             image: busybox:1.36 # not managed
"#;
    let expected = r#"# Frontend of the Pi website.
apiVersion: apps/v1
kind: Deployment
metadata:
   name: frontend   # three-space indentation, on purpose
   namespace: website

spec:
   template:
      spec:
         # {"$imagepolicy": "flux-system:frontend"} on a comment-only line sets nothing
         initContainers:
         -  name: migrate
            image:   "harbor.lan/website/frontend:main-def5678-1767312000"     # {"$imagepolicy":"flux-system:frontend"}   
         containers:
           - name: frontend
             image: harbor.lan/website/frontend:main-def5678-1767312000 # {"$imagepolicy": "flux-system:frontend"}
             env:
               - name: API_IMAGE
                 value: 'harbor.lan/website/api:1.4.2@sha256:4e1d3c0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d' # {"$imagepolicy": "flux-system:api"}
           - name: sidecar
             image: busybox:1.36 # not managed
"#;
    assert_eq!(
        check(input, expected),
        [
            "14 harbor.lan/website/frontend:old -> harbor.lan/website/frontend:main-def5678-1767312000",
            "17 harbor.lan/website/frontend:main-abc1234-1767225600 -> harbor.lan/website/frontend:main-def5678-1767312000",
            &format!("20 harbor.lan/website/api:1.4.1 -> harbor.lan/website/api:1.4.2@{NEW_SHA}"),
        ]
    );
}

#[test]
fn kustomization_images_with_name_tag_and_digest_markers() {
    let input = format!(
        r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: frontend
    newName: harbor.lan/website/frontend # {{"$imagepolicy": "flux-system:frontend:name"}}
    newTag: main-abc1234-1767225600 # {{"$imagepolicy": "flux-system:frontend:tag"}}
  - name: api
    newName: registry.old.lan/website/api # {{"$imagepolicy": "flux-system:api:name"}}
    newTag: "1.4.1" # {{"$imagepolicy": "flux-system:api:tag"}}
    digest: {OLD_SHA} # {{"$imagepolicy": "flux-system:api:digest"}}
"#
    );
    let expected = format!(
        r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: frontend
    newName: harbor.lan/website/frontend # {{"$imagepolicy": "flux-system:frontend:name"}}
    newTag: main-def5678-1767312000 # {{"$imagepolicy": "flux-system:frontend:tag"}}
  - name: api
    newName: harbor.lan/website/api # {{"$imagepolicy": "flux-system:api:name"}}
    newTag: "1.4.2" # {{"$imagepolicy": "flux-system:api:tag"}}
    digest: {NEW_SHA} # {{"$imagepolicy": "flux-system:api:digest"}}
"#
    );
    assert_eq!(
        check(&input, &expected),
        [
            "8 main-abc1234-1767225600 -> main-def5678-1767312000",
            "10 registry.old.lan/website/api -> harbor.lan/website/api",
            "11 1.4.1 -> 1.4.2",
            &format!("12 {OLD_SHA} -> {NEW_SHA}"),
        ]
    );
    let fields: Vec<Field> = apply(&input).changes.iter().map(|c| c.field).collect();
    assert_eq!(fields, [Field::Tag, Field::Name, Field::Tag, Field::Digest]);
}

#[test]
fn helm_values_keep_their_quotes() {
    let input = r#"image:
  repository: bitnami/redis # {"$imagepolicy": "apps:redis:name"}
  tag: "7.2.4" # {"$imagepolicy": "apps:redis:tag"}
  pullPolicy: IfNotPresent
web:
  image:
    repository: 'ghcr.io/acme/web' # {"$imagepolicy": "apps:web:name"}
    tag: '1.9' # {"$imagepolicy": "apps:web:tag"}
  # Plain, this would be the float 1.1 to Helm: the setter quotes it.
  legacyTag: v1.9 # {"$imagepolicy": "apps:web:tag"}
"#;
    let expected = r#"image:
  repository: bitnami/redis # {"$imagepolicy": "apps:redis:name"}
  tag: "7.4.1" # {"$imagepolicy": "apps:redis:tag"}
  pullPolicy: IfNotPresent
web:
  image:
    repository: 'ghcr.io/acme/web' # {"$imagepolicy": "apps:web:name"}
    tag: '1.10' # {"$imagepolicy": "apps:web:tag"}
  # Plain, this would be the float 1.1 to Helm: the setter quotes it.
  legacyTag: "1.10" # {"$imagepolicy": "apps:web:tag"}
"#;
    // `bitnami/redis` is `docker.io/bitnami/redis`: its spelling stays.
    assert_eq!(
        check(input, expected),
        ["3 7.2.4 -> 7.4.1", "8 1.9 -> 1.10", "10 v1.9 -> 1.10"]
    );
}

#[test]
fn docker_compose_and_plain_list_items() {
    let input = r#"services:
  web:
    image: ghcr.io/acme/web:1.9 # {"$imagepolicy": "apps:web"}
    ports: ["8080:80"]
  cache:
    image: "bitnami/redis:7.2.4"  # {"$imagepolicy": "apps:redis"}
x-prefetch:
  - ghcr.io/acme/web:1.9 # {"$imagepolicy": "apps:web"}
  - - nested/x:1 # unrelated
"#;
    let expected = r#"services:
  web:
    image: ghcr.io/acme/web:1.10 # {"$imagepolicy": "apps:web"}
    ports: ["8080:80"]
  cache:
    image: "bitnami/redis:7.4.1"  # {"$imagepolicy": "apps:redis"}
x-prefetch:
  - ghcr.io/acme/web:1.10 # {"$imagepolicy": "apps:web"}
  - - nested/x:1 # unrelated
"#;
    assert_eq!(
        check(input, expected),
        [
            "3 ghcr.io/acme/web:1.9 -> ghcr.io/acme/web:1.10",
            "6 bitnami/redis:7.2.4 -> bitnami/redis:7.4.1",
            "8 ghcr.io/acme/web:1.9 -> ghcr.io/acme/web:1.10",
        ]
    );
}

#[test]
fn crlf_line_endings_stay() {
    let input = "apiVersion: v1\r\nkind: Pod\r\n\r\nspec:\r\n  containers:\r\n    - image: ghcr.io/acme/web:1.9 # {\"$imagepolicy\": \"apps:web\"}\r\n      name: web\r\n";
    let expected = "apiVersion: v1\r\nkind: Pod\r\n\r\nspec:\r\n  containers:\r\n    - image: ghcr.io/acme/web:1.10 # {\"$imagepolicy\": \"apps:web\"}\r\n      name: web\r\n";
    assert_eq!(
        check(input, expected),
        ["6 ghcr.io/acme/web:1.9 -> ghcr.io/acme/web:1.10"]
    );
}

#[test]
fn missing_final_newline_and_trailing_spaces_stay() {
    let input = "a: 1   \n\n\nimage: ghcr.io/acme/web:1.9   # {\"$imagepolicy\": \"apps:web\"}  ";
    let expected =
        "a: 1   \n\n\nimage: ghcr.io/acme/web:1.10   # {\"$imagepolicy\": \"apps:web\"}  ";
    check(input, expected);
    // And a byte-order mark at the start.
    let input = "\u{feff}image: ghcr.io/acme/web:1.9 # {\"$imagepolicy\": \"apps:web\"}";
    let expected = "\u{feff}image: ghcr.io/acme/web:1.10 # {\"$imagepolicy\": \"apps:web\"}";
    check(input, expected);
}

#[test]
fn block_scalars_hold_no_markers() {
    let input = r#"apiVersion: batch/v1
kind: Job
spec:
  template:
    spec:
      containers:
        - name: job
          command: ["sh", "-c"]
          args:
            - |
              echo image: ghcr.io/acme/web:1.0 # {"$imagepolicy": "apps:web"}

              - ghcr.io/acme/web:1.0 # {"$imagepolicy": "apps:web"}
          env:
            - name: NOTES
              value: >-
                image: x:1 # {"$imagepolicy": "apps:web"}
          image: ghcr.io/acme/web:1.9 # {"$imagepolicy": "apps:web"}
"#;
    let expected = input.replace("web:1.9", "web:1.10");
    assert_eq!(
        check(input, &expected),
        ["18 ghcr.io/acme/web:1.9 -> ghcr.io/acme/web:1.10"]
    );
}

#[test]
fn quoted_strings_hold_no_markers() {
    let input = r#"metadata:
  annotations:
    description: 'see # {"$imagepolicy": "apps:web"} for the marker'
    quoted: "image: x:1 # {\"$imagepolicy\": \"apps:web\"}"
    multi: 'first line
      image: x:1 # {"$imagepolicy": "apps:web"}
      last line'
    plain: x#{"$imagepolicy": "apps:web"}
  image: ghcr.io/acme/web:1.9 # {"$imagepolicy": "apps:web"}
"#;
    let expected = input.replace("web:1.9", "web:1.10");
    assert_eq!(
        check(input, &expected),
        ["9 ghcr.io/acme/web:1.9 -> ghcr.io/acme/web:1.10"]
    );
}

#[test]
fn unknown_policies_and_malformed_markers_are_reported_and_left_alone() {
    let input = r#"a:
  image: ghcr.io/acme/other:1 # {"$imagepolicy": "apps:other"}
  b: x:1 # {"$imagepolicy": "apps:web"
  c: x:1 # {"$imagepolicy": "apps:web:version"}
  d: ghcr.io/acme/web:1.9 # {"$imagepolicy": "apps:web"}
"#;
    let update = apply(input);
    assert_eq!(update.text, input.replace("web:1.9", "web:1.10"));
    let warnings: Vec<(usize, &WarningKind)> =
        update.warnings.iter().map(|w| (w.line, &w.kind)).collect();
    assert_eq!(warnings.len(), 3);
    assert_eq!(
        warnings[0],
        (
            2,
            &WarningKind::UnknownPolicy {
                policy: "apps:other".into()
            }
        )
    );
    assert!(
        matches!(warnings[1], (3, WarningKind::MalformedMarker { reason }) if reason.contains("not JSON"))
    );
    assert!(
        matches!(warnings[2], (4, WarningKind::MalformedMarker { reason }) if reason.contains("\"version\""))
    );
    assert_eq!(
        update.warnings[0].to_string(),
        "in.yaml:2: marker names unknown policy apps:other; left alone"
    );
}

#[test]
fn digest_forms() {
    // Full form: the policy's digest is appended, and replaces an old one.
    let input = format!(
        "- harbor.lan/website/api:1.4.1@{OLD_SHA} # {{\"$imagepolicy\": \"flux-system:api\"}}\n"
    );
    let expected = format!(
        "- harbor.lan/website/api:1.4.2@{NEW_SHA} # {{\"$imagepolicy\": \"flux-system:api\"}}\n"
    );
    check(&input, &expected);
    // Without a digest in the policy, the old digest goes (it would pin the old image).
    let input = format!("- ghcr.io/acme/web:1.9@{OLD_SHA} # {{\"$imagepolicy\": \"apps:web\"}}\n");
    check(
        &input,
        "- ghcr.io/acme/web:1.10 # {\"$imagepolicy\": \"apps:web\"}\n",
    );
    // A `:digest` marker for a policy without a digest is an error naming the line.
    let err = apply_to_text(
        "x: 1\ndigest: 'sha256:00' # {\"$imagepolicy\": \"apps:web:digest\"}\n",
        Path::new("kustomization.yaml"),
        &policies(),
    )
    .unwrap_err();
    assert!(matches!(err, SetterError::MissingDigest { line: 2, .. }));
    assert_eq!(
        err.to_string(),
        "kustomization.yaml:2: marker apps:web:digest sets a digest, but policy apps:web knows none"
    );
}

#[test]
fn a_marker_on_a_value_that_cannot_be_set_is_an_error_naming_file_and_line() {
    let input = "a: 1\nargs: |  # {\"$imagepolicy\": \"apps:web\"}\n  text\n";
    let err = apply_to_text(input, Path::new("job.yaml"), &policies()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "job.yaml:2: marker apps:web is on a block scalar (| or >); setters rewrite only one-line `key: value` or `- value` scalars"
    );
}

#[test]
fn a_value_already_right_is_not_a_change() {
    let input = "image: ghcr.io/acme/web:1.10 # {\"$imagepolicy\": \"apps:web\"}\n";
    let update = apply(input);
    assert_eq!(update.text, input);
    assert!(update.changes.is_empty());
}

// ---------------------------------------------------------------- trees

fn write(root: &Path, rel: &str, text: &str) -> PathBuf {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Every file under `root` with its bytes, for "nothing changed" checks.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.insert(entry.path(), std::fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

const WEB: &str = "image: ghcr.io/acme/web:1.9 # {\"$imagepolicy\": \"apps:web\"}\n";
const WEB_NEW: &str = "image: ghcr.io/acme/web:1.10 # {\"$imagepolicy\": \"apps:web\"}\n";

#[test]
fn product_case_pi_website_frontend() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let rel = "flux/clusters/production/frontend/deployment.yaml";
    let original = read(&repo.join("examples/pi-website").join(rel));
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), rel, &original);
    let policies: Policies = [(
        "flux-system:frontend".to_owned(),
        PolicyResult::parse("harbor.lan/website/frontend:main-def5678-1767312000").unwrap(),
    )]
    .into();

    let update = apply_to_tree(dir.path(), &policies, false).unwrap();

    assert_eq!(original.matches("main-placeholder-0000000000").count(), 1);
    let expected = original.replace("main-placeholder-0000000000", "main-def5678-1767312000");
    assert_eq!(read(&path), expected);
    let changes: Vec<String> = update.changes().map(|c| c.to_string()).collect();
    assert_eq!(
        changes,
        [format!(
            "{}:23 flux-system:frontend harbor.lan/website/frontend:main-placeholder-0000000000 -> harbor.lan/website/frontend:main-def5678-1767312000",
            path.display()
        )]
    );
    assert!(update.warnings.is_empty());
}

#[test]
fn dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a/web.yaml", WEB);
    let before = snapshot(dir.path());
    let update = apply_to_tree(dir.path(), &policies(), true).unwrap();
    assert!(!update.written);
    assert_eq!(update.files.len(), 1);
    assert_eq!(update.files[0].before, WEB);
    assert_eq!(update.files[0].after, WEB_NEW);
    assert_eq!(snapshot(dir.path()), before);
}

#[cfg(unix)]
#[test]
fn only_changed_files_are_replaced_atomically_with_their_permissions() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let changed = write(root, "apps/web.yml", WEB);
    std::fs::set_permissions(&changed, std::fs::Permissions::from_mode(0o640)).unwrap();
    // No literal: never parsed, never rewritten, even though its YAML
    // "looks" like a marker to a sloppier scan.
    let unrelated = write(
        root,
        "apps/other.yaml",
        "image: ghcr.io/acme/web:1.9 # {'$imagepolicy': 'apps:web'}\n",
    );
    // The literal, but its value is already right: parsed, not rewritten.
    let right = write(root, "apps/right.yaml", WEB_NEW);
    let not_yaml = write(root, "apps/notes.txt", WEB);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mut inodes = BTreeMap::new();
    for p in [&changed, &unrelated, &right, &not_yaml] {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        inodes.insert(p.clone(), std::fs::metadata(p).unwrap().ino());
    }
    let before = snapshot(root);

    let update = apply_to_tree(root, &policies(), false).unwrap();

    assert!(update.written);
    assert_eq!((update.yaml_files, update.marked_files), (3, 2));
    assert_eq!(read(&changed), WEB_NEW);
    let meta = std::fs::metadata(&changed).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_ne!(meta.ino(), inodes[&changed], "replaced by rename");
    for p in [&unrelated, &right, &not_yaml] {
        let meta = std::fs::metadata(p).unwrap();
        assert_eq!(meta.modified().unwrap(), old, "{} was touched", p.display());
        assert_eq!(meta.ino(), inodes[p], "{} was replaced", p.display());
        assert_eq!(std::fs::read(p).unwrap(), before[p]);
    }
    // No temporary file is left behind.
    let mut names: Vec<String> = std::fs::read_dir(root.join("apps"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["notes.txt", "other.yaml", "right.yaml", "web.yml"]);
}

#[test]
fn an_error_in_any_file_leaves_every_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", WEB);
    write(
        dir.path(),
        "b.yaml",
        "x: 1\nimages: [ghcr.io/acme/web:1.9] # {\"$imagepolicy\": \"apps:web\"}\n",
    );
    write(dir.path(), "c.yaml", WEB);
    let before = snapshot(dir.path());
    let err = apply_to_tree(dir.path(), &policies(), false).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "{}:2: marker apps:web is on a flow collection",
            dir.path().join("b.yaml").display()
        )),
        "{err}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_marked_file_that_is_not_utf8_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.yaml");
    let mut bytes = WEB.as_bytes().to_vec();
    bytes.extend_from_slice(b"# caf\xe9\n");
    std::fs::write(&path, bytes).unwrap();
    let err = apply_to_tree(dir.path(), &policies(), false).unwrap_err();
    assert!(matches!(err, SetterError::NotUtf8 { line: 2, .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn git_directories_and_symlinks_are_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    let outside_file = write(outside.path(), "deploy.yaml", WEB);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let in_git = write(root, ".git/refs/web.yaml", WEB);
    let real = write(root, "real/web.yaml", WEB);
    std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
    std::os::unix::fs::symlink(&outside_file, root.join("out.yaml")).unwrap();
    std::os::unix::fs::symlink(&real, root.join("alias.yaml")).unwrap();

    let update = apply_to_tree(root, &policies(), false).unwrap();

    let files: Vec<&Path> = update.files.iter().map(|f| f.path.as_path()).collect();
    assert_eq!(files, [real.as_path()]);
    assert_eq!(read(&real), WEB_NEW);
    assert_eq!(read(&in_git), WEB);
    assert_eq!(read(&outside_file), WEB);
    let link = std::fs::symlink_metadata(root.join("alias.yaml")).unwrap();
    assert!(link.file_type().is_symlink(), "the link stays a link");
}

// ---------------------------------------------------------------- the command

fn rekon(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FRONTEND: &str = "flux-system:frontend=harbor.lan/website/frontend:main-def5678-1767312000";

fn pi_website_copy() -> (tempfile::TempDir, PathBuf, String) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let rel = "flux/clusters/production/frontend/deployment.yaml";
    let original = read(&repo.join("examples/pi-website").join(rel));
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), rel, &original);
    (dir, PathBuf::from(rel), original)
}

#[test]
fn cli_dry_run_prints_changes_and_a_diff_and_writes_nothing() {
    let (dir, rel, original) = pi_website_copy();
    let out = rekon(
        dir.path(),
        &[
            "images",
            "set",
            "--dry-run",
            FRONTEND,
            "apps:unused=nginx:1",
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with(&format!(
        "{}:23 flux-system:frontend harbor.lan/website/frontend:main-placeholder-0000000000 -> harbor.lan/website/frontend:main-def5678-1767312000\n",
        rel.display()
    )), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "--- a/{}\n+++ b/{}\n",
            rel.display(),
            rel.display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("\n-          image: harbor.lan/website/frontend:main-placeholder-0000000000 # {\"$imagepolicy\": \"flux-system:frontend\"}\n+          image: harbor.lan/website/frontend:main-def5678-1767312000 # {\"$imagepolicy\": \"flux-system:frontend\"}\n"), "{stdout}");
    assert!(stderr.contains("dry run: nothing written"), "{stderr}");
    assert_eq!(read(&dir.path().join(&rel)), original);
}

#[test]
fn cli_set_writes_and_warns_about_markers_of_policies_not_given() {
    let (dir, rel, original) = pi_website_copy();
    write(dir.path(), "other.yaml", WEB);
    let out = rekon(dir.path(), &["images", "set", "--path", ".", FRONTEND]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stderr.contains("warning: other.yaml:1: marker names unknown policy apps:web; left alone"),
        "{stderr}"
    );
    assert_eq!(
        read(&dir.path().join(&rel)),
        original.replace("main-placeholder-0000000000", "main-def5678-1767312000")
    );
    assert_eq!(read(&dir.path().join("other.yaml")), WEB);
    // A second run has nothing to do.
    let out = rekon(dir.path(), &["images", "set", FRONTEND]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn cli_errors_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "job.yaml",
        "a: 1\nargs: > # {\"$imagepolicy\": \"apps:web\"}\n  text\n",
    );
    let out = rekon(
        dir.path(),
        &["images", "set", "apps:web=ghcr.io/acme/web:1.10"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: job.yaml:2: marker apps:web is on a block scalar"),
        "{stderr}"
    );
    // A bad argument is refused before any file is read.
    let out = rekon(dir.path(), &["images", "set", "apps:web=ghcr.io/acme/web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("a tag is required"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn cli_help_teaches_with_an_example() {
    let out = rekon(Path::new("."), &["images", "set", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(
        help.contains("rekon images set flux-system:frontend=harbor.lan/website/frontend:"),
        "{help}"
    );
    assert!(help.contains("--dry-run"), "{help}");
}

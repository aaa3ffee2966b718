//! Least privilege for plugins (issue #12): what a plugin is shown (its
//! interest, Secrets only with `secrets`), what a mutator may change (no
//! identity change, added or removed object without `rename`, `create`,
//! `delete`), grants that must be declared, and components of the previous
//! contract (`rekon:plugin@0.1.0`, fixture `legacy-v1`) held to the same
//! rules. Real components in the real sandbox: `hostile` misbehaves on
//! purpose (see `tests/fixtures/hostile`), and the `rekon` binary is run for
//! `render --explain`, `plugin inspect`, `plugin annotate` and `test`.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rekon::plugin::capabilities;
use rekon::plugin::{interest, Capabilities, Grant, Limits, Plugin, PluginError, PluginSource};
use serde_json::{json, Value};

fn grant(entries: &[&str]) -> Grant {
    Grant::parse(entries.iter().copied()).unwrap()
}

fn load_file(name: &str, path: &Path, granted: &[&str]) -> Result<Plugin, PluginError> {
    support::runtime().load(&PluginSource {
        name: name.into(),
        path: path.to_path_buf(),
        sha256: None,
        limits: Limits {
            grant: grant(granted),
            ..Limits::default()
        },
    })
}

fn hostile(granted: &[&str]) -> Plugin {
    load_file("hostile", &support::wasm("hostile_plugin"), granted).unwrap()
}

/// `hostile` re-annotated to declare `declared`, and to be shown only what
/// `interest` rules match (`None`: every object).
fn hostile_declaring(dir: &Path, declared: &[&str], interest: Option<&str>) -> PathBuf {
    let bytes = std::fs::read(support::wasm("hostile_plugin")).unwrap();
    let caps = Capabilities::parse(declared.iter().copied()).unwrap();
    let mut out = capabilities::annotate(&bytes, caps).unwrap();
    if let Some(rules) = interest {
        out = capabilities::replace_section(&out, interest::SECTION, Some(rules)).unwrap();
    }
    let path = dir.join(format!(
        "hostile-{}-{}.wasm",
        declared.join("-"),
        interest.map(|i| i.len()).unwrap_or(0)
    ));
    std::fs::write(&path, out).unwrap();
    path
}

/// A Deployment, a Secret and a ConfigMap in namespace `website`.
fn render_objects() -> Vec<Value> {
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "frontend", "namespace": "website", "labels": {"app": "frontend"}},
               "spec": {"replicas": 1}}),
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "registry-token", "namespace": "website"},
               "stringData": {"token": "planted-secret-value"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "settings", "namespace": "website"},
               "data": {"a": "b"}}),
    ]
}

fn mutate(plugin: &Plugin, mode: &str) -> Result<rekon::plugin::Mutation, String> {
    let objects = render_objects();
    let refs: Vec<&Value> = objects.iter().collect();
    plugin
        .mutate_objects(&json!({ "mode": mode }), &refs)
        .map_err(|e| e.to_string())
}

#[test]
fn every_overstep_of_a_mutator_is_refused_naming_plugin_object_and_what_it_tried() {
    let none = hostile(&[]);
    let cases = [
        (
            "move-namespace",
            "plugin `hostile` overstepped its grant: it moved or renamed Deployment/website/frontend \
             to Deployment/kube-system/frontend (changing an object's namespace or name needs the `rename` grant)",
        ),
        (
            "rename",
            "it moved or renamed Deployment/website/frontend to Deployment/website/frontend-renamed",
        ),
        (
            "retype",
            "it changed Deployment/website/frontend (apps/v1 Deployment) into ClusterRole/website/frontend \
             (rbac.authorization.k8s.io/v1 ClusterRole) in place",
        ),
        (
            "add-binding",
            "it added ClusterRoleBinding/hostile-admin (rbac.authorization.k8s.io/v1 ClusterRoleBinding) \
             (that needs the `create` grant)",
        ),
        (
            "remove",
            "it removed Deployment/website/frontend (apps/v1 Deployment) (that needs the `delete` grant)",
        ),
        (
            "replace-unseen",
            "plugin `hostile`, export `mutate`: it replaced object 2, but it was shown 2 objects",
        ),
    ];
    for (mode, want) in cases {
        let err = mutate(&none, mode).unwrap_err();
        assert!(err.contains(want), "{mode}: {err}");
        assert!(err.contains("hostile"), "{mode}: {err}");
    }
    // Every error says nothing is applied (render stops at the first one).
    assert!(mutate(&none, "add-binding")
        .unwrap_err()
        .ends_with("the render is stopped and nothing is applied"));
}

#[test]
fn grants_allow_exactly_what_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_declaring(dir.path(), &["create", "delete", "rename"], None);
    let load = |granted: &[&str]| load_file("hostile", &file, granted);

    // Declared but not granted: refused at load, naming what is missing.
    let err = load(&["create", "delete"]).unwrap_err().to_string();
    assert!(err.contains("not granted: `rename`"), "{err}");

    let all = load(&["create", "delete", "rename"]).unwrap();
    let m = mutate(&all, "move-namespace").unwrap();
    assert_eq!(
        m.replaced.len(),
        2,
        "the Deployment and the ConfigMap, not the Secret"
    );
    assert!(m
        .replaced
        .iter()
        .all(|(_, o)| o["metadata"]["namespace"] == "kube-system"));
    let m = mutate(&all, "add-binding").unwrap();
    assert_eq!(m.added[0]["kind"], "ClusterRoleBinding");
    assert_eq!(mutate(&all, "remove").unwrap().removed, vec![0]);
    // apiVersion and kind never change in place, whatever is granted.
    assert!(mutate(&all, "retype").unwrap_err().contains("never change"));

    // Kind limits.
    let limited = load(&["create:HelmChart", "delete:core/ConfigMap", "rename"]).unwrap();
    let err = mutate(&limited, "add-binding").unwrap_err();
    assert!(
        err.contains("its `create` grant is limited to `HelmChart`"),
        "{err}"
    );
    let err = mutate(&limited, "remove").unwrap_err();
    assert!(
        err.contains("its `delete` grant is limited to `core/ConfigMap`"),
        "{err}"
    );
    let rbac = load(&[
        "create:rbac.authorization.k8s.io/ClusterRoleBinding",
        "delete:Deployment",
        "rename",
    ])
    .unwrap();
    assert_eq!(mutate(&rbac, "add-binding").unwrap().added.len(), 1);
    assert_eq!(mutate(&rbac, "remove").unwrap().removed, vec![0]);
}

#[test]
fn secrets_are_shown_only_to_plugins_granted_secrets() {
    let seen = |plugin: &Plugin| -> (usize, Vec<String>) {
        let m = mutate(plugin, "peek-secrets").unwrap();
        let counts = m
            .replaced
            .iter()
            .map(|(_, o)| {
                o["metadata"]["annotations"]["hostile.rekon.dev/secrets-seen"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        (m.replaced.len(), counts)
    };
    // Without the grant: shown the Deployment and the ConfigMap, no Secret.
    let (shown, counts) = seen(&hostile(&[]));
    assert_eq!(shown, 2);
    assert!(counts.iter().all(|c| c == "0"), "{counts:?}");

    // Granting `secrets` to a plugin that does not declare it is refused.
    let err = load_file("hostile", &support::wasm("hostile_plugin"), &["secrets"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("plugin `hostile`")
            && err.contains("its `grant` gives `secrets`, which the plugin does not declare"),
        "{err}"
    );
    // Declared and granted: the Secret is shown too.
    let dir = tempfile::tempdir().unwrap();
    let asks = hostile_declaring(dir.path(), &["secrets"], None);
    let (shown, counts) = seen(&load_file("hostile", &asks, &["secrets"]).unwrap());
    assert_eq!(shown, 3);
    assert!(counts.iter().all(|c| c == "1"), "{counts:?}");

    // Kinds the operator marks sensitive are withheld like Secrets.
    let plugin = support::runtime()
        .load(&PluginSource {
            name: "hostile".into(),
            path: support::wasm("hostile_plugin"),
            sha256: None,
            limits: Limits {
                sensitive: rekon::plugin::Sensitive {
                    kinds: vec!["core/ConfigMap".parse().unwrap()],
                },
                ..Limits::default()
            },
        })
        .unwrap();
    let m = mutate(&plugin, "peek-secrets").unwrap();
    assert_eq!(m.replaced.len(), 1);
    assert_eq!(m.replaced[0].1["kind"], "Deployment");
}

#[test]
fn a_plugin_is_shown_only_what_its_interest_matches_and_its_answer_goes_back_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile_declaring(
        dir.path(),
        &[],
        Some("# only configuration\n{\"groups\":[\"\"],\"kinds\":[\"ConfigMap\"]}\n"),
    );
    let plugin = load_file("hostile", &file, &[]).unwrap();
    assert!(plugin.interest().is_declared());
    // Shown one object (the ConfigMap, position 2 of the render): its
    // `remove` of "the first object it was shown" is the ConfigMap.
    let deleter = hostile_declaring(dir.path(), &["delete"], Some(r#"{"kinds":["ConfigMap"]}"#));
    let m = mutate(
        &load_file("hostile", &deleter, &["delete"]).unwrap(),
        "remove",
    )
    .unwrap();
    assert_eq!(m.removed, vec![2]);
    let m = mutate(&plugin, "peek-secrets").unwrap();
    assert_eq!(m.replaced.len(), 1);
    assert_eq!(m.replaced[0].0, 2);
    // Shown nothing: not called at all (a trapping mode does not trap).
    let none = hostile_declaring(dir.path(), &[], Some("{\"kinds\":[\"HelmRelease\"]}"));
    let plugin = load_file("hostile", &none, &[]).unwrap();
    assert!(mutate(&plugin, "trap").unwrap().is_empty());
    assert_eq!(
        plugin
            .stats()
            .calls
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "`describe` at load, no `mutate`"
    );
}

#[test]
fn bad_declarations_and_undeclared_grants_are_load_time_errors_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(support::wasm("hostile_plugin")).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        let out = capabilities::replace_section(&bytes, interest::SECTION, Some(text)).unwrap();
        std::fs::write(&path, out).unwrap();
        path
    };
    let err = load_file(
        "hostile",
        &write(
            "typo.wasm",
            "{\"groups\":[\"apps\"]}\n{\"kind\":[\"Deployment\"]}",
        ),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("plugin `hostile` (")
            && err
                .contains("is refused: its `rekon.interest` section, line 2: unknown field `kind`"),
        "{err}"
    );
    let err = load_file(
        "hostile",
        &write(
            "selector.wasm",
            r#"{"selector":{"matchExpressions":[{"key":"app","operator":"Equals","values":["a"]}]}}"#,
        ),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("line 1: selector: matchExpressions[0]: unknown operator `Equals`"),
        "{err}"
    );
    let err = load_file("hostile", &write("empty.wasm", "# nothing\n"), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("declares no rule"), "{err}");

    // A grant the plugin does not declare: named, with the field.
    let err = load_file(
        "hostile",
        &support::wasm("hostile_plugin"),
        &["clock", "create"],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("its `grant` gives `clock`, `create`, which the plugin does not declare; remove them from `grant` under [plugins.hostile]"),
        "{err}"
    );
}

#[test]
fn components_of_contract_0_1_load_and_are_held_to_the_same_scope() {
    let legacy =
        |granted: &[&str]| load_file("legacy", &support::wasm("legacy_v1_plugin"), granted);
    let plugin = legacy(&[]).unwrap();
    assert!(plugin.is_v0_1());
    assert_eq!(plugin.info().contract, "rekon:plugin@0.1.0");

    // It returns every object; only the ones it changed come back as changes.
    let m = mutate(&plugin, "label").unwrap();
    assert_eq!(m.replaced.len(), 2, "the Secret is not shown");
    assert!(m.removed.is_empty() && m.added.is_empty());
    assert!(m
        .replaced
        .iter()
        .all(|(_, o)| o["metadata"]["labels"].is_object()));

    let err = mutate(&plugin, "move").unwrap_err();
    assert!(
        err.contains("plugin `legacy` overstepped its grant: it moved or renamed"),
        "{err}"
    );
    assert!(mutate(&plugin, "add")
        .unwrap_err()
        .contains("it added ConfigMap/default/legacy-added"));
    assert!(mutate(&plugin, "remove")
        .unwrap_err()
        .contains("it removed ConfigMap/website/settings"));

    // 0.1.0 could not declare scope: the operator's grant stands in for it.
    let trusted = legacy(&["create", "delete", "rename"]).unwrap();
    assert_eq!(mutate(&trusted, "add").unwrap().added.len(), 1);
    assert_eq!(mutate(&trusted, "remove").unwrap().removed, vec![2]);
    assert_eq!(mutate(&trusted, "move").unwrap().replaced.len(), 2);
    // ...but not for the sandbox capabilities.
    let err = legacy(&["clock"]).unwrap_err().to_string();
    assert!(err.contains("does not declare"), "{err}");
}

fn rekon(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rekon"))
        .current_dir(dir)
        .args([
            "--cache-dir",
            support::repo()
                .join("target/rekon-test-cache")
                .to_str()
                .unwrap(),
        ])
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A repository whose one kustomization runs `hostile` in `mode`.
fn repository(mode: &str, granted: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let declared: Vec<&str> = granted
        .iter()
        .map(|g| g.split(':').next().unwrap())
        .collect();
    let file = hostile_declaring(d, &declared, None);
    std::fs::rename(file, d.join("hostile.wasm")).unwrap();
    std::fs::create_dir(d.join("app")).unwrap();
    std::fs::write(
        d.join("app/kustomization.yaml"),
        "resources: [objects.yaml]\n",
    )
    .unwrap();
    let yaml: Vec<String> = render_objects()
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
    std::fs::write(d.join("app/objects.yaml"), yaml.join("\n---\n")).unwrap();
    let grant_list: Vec<String> = granted.iter().map(|g| format!("\"{g}\"")).collect();
    std::fs::write(
        d.join("rekon.toml"),
        format!(
            "[plugins.hostile]\npath = \"hostile.wasm\"\ngrant = [{}]\nsettings = {{ mode = \"{mode}\" }}\n\n\
             [[kustomizations]]\nname = \"app\"\npath = \"app\"\nmutators = [\"hostile\"]\n",
            grant_list.join(", ")
        ),
    )
    .unwrap();
    dir
}

#[test]
fn render_explain_lists_added_and_removed_objects_and_an_overstep_renders_nothing() {
    let repo = repository("add-binding", &["create"]);
    let out = rekon(repo.path(), &["render", "--explain"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hostile: ClusterRoleBinding/hostile-admin added\n"
    );
    let repo = repository("remove", &["delete"]);
    let out = rekon(repo.path(), &["render", "--explain"]);
    // kustomize orders ConfigMaps first: the first object `remove` is shown.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hostile: ConfigMap/website/settings removed\n",
        "{}",
        text(&out)
    );
    let out = rekon(repo.path(), &["render"]);
    let yaml = String::from_utf8_lossy(&out.stdout);
    assert!(
        !yaml.contains("kind: ConfigMap") && yaml.contains("kind: Deployment"),
        "{yaml}"
    );

    // Without the grant: an error, nothing on stdout.
    let repo = repository("add-binding", &[]);
    let out = rekon(repo.path(), &["render"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "plugin `hostile` overstepped its grant: it added ClusterRoleBinding/hostile-admin"
        ),
        "{err}"
    );
    assert_eq!(err.matches("overstepped").count(), 1, "said once: {err}");
}

#[test]
fn inspect_shows_contract_declarations_and_grant_and_annotate_writes_an_interest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wasm = support::wasm("hostile_plugin");
    let out = rekon(
        d,
        &[
            "plugin",
            "annotate",
            wasm.to_str().unwrap(),
            "--capability",
            "create",
            "--interest",
            r#"{"groups":["apps"],"kinds":["Deployment"]}"#,
            "-o",
            "annotated.wasm",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = rekon(
        d,
        &[
            "plugin",
            "inspect",
            "annotated.wasm",
            "--grant",
            "create:HelmChart",
        ],
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    for line in [
        "contract:  rekon:plugin@0.2.0",
        "  declared:  create (component section)",
        "  granted:   create:HelmChart",
        "  in force:  create:HelmChart",
        "interest:",
        r#"    {"groups":["apps"],"kinds":["Deployment"]}"#,
        "  Secrets:   withheld (not granted `secrets`)",
    ] {
        assert!(shown.contains(line), "missing {line:?} in:\n{shown}");
    }
    let out = rekon(d, &["plugin", "inspect", "--json", "annotated.wasm"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["interest"],
        json!([{"groups": ["apps"], "kinds": ["Deployment"]}])
    );
    assert_eq!(json["interest_declared_in"], "component");

    // A bad rule is refused by annotate already, naming the flag and field.
    let out = rekon(
        d,
        &[
            "plugin",
            "annotate",
            "annotated.wasm",
            "--interest",
            r#"{"kind":"x"}"#,
            "-o",
            "x.wasm",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("--interest: `rekon.interest` section, line 1: unknown field `kind`"),
        "{}",
        text(&out)
    );
    assert!(!d.join("x.wasm").exists());

    // The legacy component says which contract it was built against.
    let out = rekon(
        d,
        &[
            "plugin",
            "inspect",
            support::wasm("legacy_v1_plugin").to_str().unwrap(),
        ],
    );
    assert!(
        text(&out).contains("contract:  rekon:plugin@0.1.0"),
        "{}",
        text(&out)
    );
}

#[test]
fn test_suites_state_grants() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::copy(support::wasm("legacy_v1_plugin"), d.join("legacy.wasm")).unwrap();
    let suite = |grant: &str| {
        format!(
            "plugin: legacy.wasm\n{grant}settings: {{mode: add}}\ncases:\n  - name: adds a ConfigMap\n    objects:\n      - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c}}}}\n    expect:\n      objects:\n        - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c}}}}\n        - {{apiVersion: v1, kind: ConfigMap, metadata: {{name: legacy-added, namespace: default}}, data: {{from: legacy-v1}}}}\n"
        )
    };
    std::fs::write(d.join("rekon-test.yaml"), suite("grant: [create]\n")).unwrap();
    let out = rekon(d, &["test", "rekon-test.yaml"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    std::fs::write(d.join("rekon-test.yaml"), suite("")).unwrap();
    let out = rekon(d, &["test", "rekon-test.yaml"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("needs the `create` grant"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_validator_is_shown_its_kinds_and_its_findings_name_render_positions() {
    // image-validator declares workload kinds: the ConfigMap and the
    // Secret before the Deployment are not shown, and its finding about the
    // Deployment (no memory limit) comes back at the Deployment's position.
    let plugin = support::load("image_validator", Limits::default());
    assert!(plugin.interest().is_declared());
    let mut objects = render_objects();
    objects.rotate_left(1); // Secret, ConfigMap, Deployment
    objects[2]["spec"] = json!({"template": {"spec": {"containers": [
        {"name": "web", "image": "harbor.lan/website/frontend:1.0"}]}}});
    let refs: Vec<&Value> = objects.iter().collect();
    let found = plugin
        .validate_objects(&json!({"requireLimits": "error"}), &refs)
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].object.index, 2);
    assert_eq!(found[0].object.name, "frontend");
}

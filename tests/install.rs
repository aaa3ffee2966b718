//! The install material in `examples/install/` stays true to rekon: the
//! cluster kustomization builds with rekon's own kustomize, its Deployment
//! runs the daemon the way its configuration expects (port, secrets, state
//! and cache directories, leader election), its configuration passes `rekon
//! check` and renders the example, its RBAC covers what that render applies,
//! and the systemd unit runs the same daemon with the same configuration.
//!
//! Needs the example's plugins (`tests/build-plugins.sh`), like
//! tests/render.rs, and `git` to make a repository of the example.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rekon::config::{Config, Credentials, GitAuth, Secret};
use serde_json::Value;

/// Steady-state RSS of `rekon run` on the example in MiB, measured with
/// `cargo bench -p rekon --bench footprint` (x86_64, release build). The
/// memory limits are checked against it.
const STEADY_RSS_MIB: u64 = 34;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn install() -> PathBuf {
    repo().join("examples/install")
}

/// `examples/install/cluster`, built as `kubectl apply -k` would see it.
fn cluster() -> Vec<Value> {
    let root = rekon_kustomize::open_root(&install()).unwrap();
    rekon_kustomize::build(&root, Path::new("cluster"))
        .unwrap_or_else(|e| panic!("examples/install/cluster does not build: {e}"))
        .into_iter()
        .map(|r| r.object)
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in examples/install/cluster"))
}

fn container(objects: &[Value]) -> &Value {
    let containers = find(objects, "Deployment", "rekon")["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1, "one container: rekon");
    &containers[0]
}

fn args(container: &Value) -> Vec<&str> {
    container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

/// The value of `--flag=VALUE` or `--flag VALUE` in `args`.
fn flag<'a>(args: &[&'a str], flag: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| {
        if *a == flag {
            args.get(i + 1).copied()
        } else {
            a.strip_prefix(flag).and_then(|v| v.strip_prefix('='))
        }
    })
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
}

/// The container's mount at `path`, and the pod volume behind it.
fn volume_at<'a>(objects: &'a [Value], path: &Path) -> &'a Value {
    let c = container(objects);
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| Path::new(m["mountPath"].as_str().unwrap()) == path)
        .unwrap_or_else(|| panic!("nothing is mounted at {}", path.display()));
    find(objects, "Deployment", "rekon")["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap_or_else(|| panic!("no volume {}", mount["name"]))
}

/// The ConfigMap's rekon.toml, parsed as the pod reads it (at `--config`).
fn cluster_config(objects: &[Value]) -> (String, Config) {
    let args = args(container(objects));
    let path = Path::new(flag(&args, "--config").expect("--config is given"));
    let text = find(objects, "ConfigMap", "rekon-config")["data"]["rekon.toml"]
        .as_str()
        .expect("the ConfigMap has rekon.toml")
        .to_string();
    let config = Config::parse(&text, path)
        .unwrap_or_else(|e| panic!("the ConfigMap's rekon.toml does not parse: {e}"));
    (text, config)
}

fn duration(text: &str) -> Duration {
    humantime::parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A memory quantity (`256Mi`, `1Gi`, systemd's `256M`, meaning MiB) in MiB.
fn mebibytes(text: &str) -> u64 {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap());
    let n: u64 = number.parse().unwrap();
    match unit {
        "Mi" | "M" => n,
        "Gi" | "G" => n * 1024,
        _ => panic!("{text}: unit not understood here"),
    }
}

/// Memory that `rekon run` may need at worst: the steady state, plus a full
/// memory cap for each run the semaphore admits and for the plugin refresh,
/// which runs outside it (host/src/daemon/mod.rs, refresh_plugins).
fn worst_case_mib(config: &Config) -> u64 {
    let cap = config
        .plugins
        .values()
        .map(|p| p.limits.memory_bytes as u64 >> 20)
        .max()
        .unwrap_or(0);
    STEADY_RSS_MIB + (config.run.concurrency as u64 + 1) * cap
}

/// Every secret the configuration reads: (what for, where).
fn secrets(config: &Config) -> Vec<(String, Secret)> {
    let mut out = Vec::new();
    for (name, r) in &config.registries {
        match &r.credentials {
            Credentials::Anonymous => {}
            Credentials::Basic { password, .. } => {
                out.push((format!("registries.{name}"), password.clone()))
            }
            Credentials::Token(t) => out.push((format!("registries.{name}"), t.clone())),
        }
    }
    let mut git = |what: String, auth: &GitAuth| match auth {
        GitAuth::None => {}
        GitAuth::Token(t) | GitAuth::Basic { password: t, .. } => out.push((what, t.clone())),
        GitAuth::Ssh { key, .. } => out.push((what, Secret::File(key.clone()))),
    };
    for (name, s) in &config.sources {
        git(format!("sources.{name}"), &s.git.auth);
    }
    if let Some(g) = &config.git {
        git("git".into(), &g.auth);
    }
    for r in &config.receivers {
        out.push((format!("receivers.{}", r.name), r.token.clone()));
    }
    out
}

#[test]
fn the_deployment_runs_the_daemon_with_leader_election_on_arm64() {
    let objects = cluster();
    assert!(
        !objects.iter().any(|o| o["kind"] == "CronJob"),
        "the CronJob of `rekon apply` is gone"
    );
    let deployment = find(&objects, "Deployment", "rekon");
    let pod = &deployment["spec"]["template"]["spec"];
    let c = container(&objects);
    let args = args(c);
    assert_eq!(args[0], "run", "{args:?}");
    assert!(args.contains(&"--leader-elect"), "{args:?}");
    assert_eq!(pod["nodeSelector"]["kubernetes.io/arch"], "arm64");
    assert_eq!(
        env(c, "POD_NAME").expect("POD_NAME is set")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    // One pod, stopped before its successor starts: a standby is never
    // Ready, so a surge rollout could not finish.
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    // The kubelet's SIGKILL comes after the shutdown grace.
    let grace = duration(flag(&args, "--shutdown-grace").unwrap_or("20s"));
    let termination = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    assert!(
        Duration::from_secs(termination) > grace,
        "{termination}s <= {grace:?}"
    );
    // REKON_* service links would land in rekon's own settings prefix.
    assert_eq!(pod["enableServiceLinks"], false);
    assert_eq!(pod["serviceAccountName"], "rekon");
    find(&objects, "ServiceAccount", "rekon");

    // Hardened.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));

    // The configuration is the ConfigMap's, mounted where --config points.
    let config_path = PathBuf::from(flag(&args, "--config").unwrap());
    let volume = volume_at(&objects, config_path.parent().unwrap());
    assert_eq!(volume["configMap"]["name"], "rekon-config");
    assert!(find(&objects, "ConfigMap", "rekon-config")["data"]
        [config_path.file_name().unwrap().to_str().unwrap()]
    .is_string());
    // State per pod (an emptyDir: never shared, so the flock never refuses
    // a start); the plugin cache on the claim the kustomization creates.
    let state = env(c, "REKON_STATE_DIR").expect("REKON_STATE_DIR")["value"]
        .as_str()
        .unwrap();
    assert!(
        volume_at(&objects, Path::new(state))["emptyDir"].is_object(),
        "the state dir is an emptyDir"
    );
    let cache = env(c, "REKON_CACHE_DIR").expect("REKON_CACHE_DIR")["value"]
        .as_str()
        .unwrap();
    let claim = volume_at(&objects, Path::new(cache))["persistentVolumeClaim"]["claimName"]
        .as_str()
        .expect("the cache is a persistent volume");
    find(&objects, "PersistentVolumeClaim", claim);
    // ...and not overridden by the file.
    let (text, _) = cluster_config(&objects);
    let table: toml::Table = toml::from_str(&text).unwrap();
    assert!(!table.contains_key("state-dir") && !table.contains_key("cache-dir"));
    assert!(flag(&args, "--cache-dir").is_none());
}

#[test]
fn probes_and_service_use_the_port_the_config_listens_on() {
    let objects = cluster();
    let (_, config) = cluster_config(&objects);
    let c = container(&objects);
    let args = args(c);
    assert!(
        flag(&args, "--listen").is_none() && env(c, "REKON_LISTEN").is_none(),
        "the address is the config's [server] listen"
    );
    let listen = config.server.listen;
    assert!(
        listen.ip().is_unspecified(),
        "{listen}: probes and the Service reach the pod on its IP, not on loopback"
    );
    let ports: BTreeMap<&str, u64> = c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or(""),
                p["containerPort"].as_u64().unwrap(),
            )
        })
        .collect();
    let resolve = |port: &Value| match port {
        Value::String(name) => *ports
            .get(name.as_str())
            .unwrap_or_else(|| panic!("no container port named {name}")),
        other => other.as_u64().unwrap(),
    };
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(resolve(&get["port"]), u64::from(listen.port()), "{probe}");
    }

    let service = find(&objects, "Service", "rekon");
    assert!(matches!(
        service["spec"]["type"].as_str(),
        None | Some("ClusterIP")
    ));
    let labels = &find(&objects, "Deployment", "rekon")["spec"]["template"]["metadata"]["labels"];
    for (k, v) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "the Service selects the pod by {k}");
    }
    let targets: Vec<u64> = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| resolve(&p["targetPort"]))
        .collect();
    assert_eq!(targets, [u64::from(listen.port())]);

    // The Traefik example routes to that Service port, and only /hook/.
    let text =
        std::fs::read_to_string(install().join("cluster/ingressroute.example.yaml")).unwrap();
    let route: Value = serde_yaml_ng::from_str(&text).unwrap();
    let r = &route["spec"]["routes"][0];
    assert!(r["match"]
        .as_str()
        .unwrap()
        .contains("PathPrefix(`/hook/`)"));
    assert_eq!(r["services"][0]["name"], "rekon");
    assert_eq!(
        r["services"][0]["port"],
        service["spec"]["ports"][0]["port"]
    );
}

#[test]
fn every_secret_the_config_names_comes_from_the_secret() {
    let objects = cluster();
    let (_, config) = cluster_config(&objects);
    let c = container(&objects);
    let example: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(install().join("cluster/secret.example.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(example["kind"], "Secret");
    assert_eq!(example["metadata"]["namespace"], "rekon-system");
    let secret_name = example["metadata"]["name"].as_str().unwrap();
    assert!(
        !objects.iter().any(|o| o["kind"] == "Secret"),
        "no Secret is in the kustomization: it is created by hand"
    );

    let secrets = secrets(&config);
    assert!(secrets.len() >= 3, "{secrets:?}");
    for (what, secret) in secrets {
        let Secret::Env(var) = secret else {
            panic!("{what}: the pod provides secrets as variables, not files ({secret:?})")
        };
        let from = &env(c, &var)
            .unwrap_or_else(|| panic!("{what} reads ${var}, which the Deployment does not set"))
            ["valueFrom"]["secretKeyRef"];
        assert_eq!(from["name"], secret_name, "{what}: ${var}");
        assert_ne!(
            from["optional"], true,
            "{what}: ${var} must not be optional"
        );
        let key = from["key"].as_str().unwrap();
        assert!(
            example["stringData"][key].is_string(),
            "{what}: key {key} is missing from secret.example.yaml"
        );
    }
}

/// A git repository holding examples/pi-website (plugins included), as the
/// configuration's [sources.website] expects, and the configuration at
/// `text` pointed at it (then changed by `edit`), written to `dir`.
fn local_copy(dir: &Path, text: &str, edit: impl FnOnce(&mut toml::Table)) -> PathBuf {
    let example = repo().join("examples/pi-website");
    for plugin in [
        "readiness-probe",
        "traefik-priority",
        "image-validator",
        "flux-policy",
    ] {
        assert!(
            example.join(format!("plugins/{plugin}.wasm")).exists(),
            "run tests/build-plugins.sh first"
        );
    }
    let git_dir = dir.join("website");
    let status = Command::new("cp")
        .arg("-r")
        .arg(&example)
        .arg(&git_dir)
        .status()
        .unwrap();
    assert!(status.success());
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(&git_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "-A", "-f", "."]);
    git(&["commit", "-q", "-m", "example"]);

    // Only the remote changes: a local path, no credentials.
    let mut table: toml::Table = toml::from_str(text).unwrap();
    for (_, source) in table["sources"].as_table_mut().unwrap().iter_mut() {
        let source = source.as_table_mut().unwrap();
        source.insert("url".into(), git_dir.display().to_string().into());
        source.remove("token-env");
        source.remove("token-file");
    }
    edit(&mut table);
    let path = dir.join("rekon.toml");
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
    path
}

fn rekon(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rekon"))
        .arg("--cache-dir")
        .arg(repo().join("target/rekon-test-cache"))
        .args(args)
        .env("REKON_STATE_DIR", dir.join("state"))
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `rekon check` of `text` against a repository of the example, then the
/// objects `rekon render` makes of it.
fn check_and_render(text: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let config = local_copy(dir.path(), text, |_| {});
    let config = config.to_str().unwrap();
    let (ok, stdout, stderr) = rekon(dir.path(), &["check", "--config", config]);
    assert!(ok, "rekon check failed:\n{stdout}\n{stderr}");
    assert!(!stdout.contains("skip"), "{stdout}");
    let (ok, stdout, stderr) = rekon(dir.path(), &["render", "--config", config]);
    assert!(ok, "rekon render failed:\n{stderr}");
    serde_yaml_ng::Deserializer::from_str(&stdout)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// Kubernetes' resource name of `kind` (the example's kinds need no more).
fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower.ends_with("ss") {
        format!("{lower}es")
    } else if lower.ends_with('s') {
        lower
    } else if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether `role` lets its subject `verb` `group/resource` (named `name`).
fn allows(role: &Value, group: &str, resource: &str, verb: &str, name: Option<&str>) -> bool {
    role["rules"].as_array().unwrap().iter().any(|r| {
        let names = strings(&r["resourceNames"]);
        strings(&r["apiGroups"]).contains(&group)
            && strings(&r["resources"]).contains(&resource)
            && strings(&r["verbs"]).contains(&verb)
            && (names.is_empty() || name.is_some_and(|n| names.contains(&n)))
    })
}

#[test]
fn the_config_checks_and_rbac_covers_what_it_applies() {
    let objects = cluster();
    let (text, config) = cluster_config(&objects);
    let rendered = check_and_render(&text);
    let kinds: BTreeSet<(String, String)> = rendered
        .iter()
        .map(|o| {
            let api = o["apiVersion"].as_str().unwrap();
            let group = api.rsplit_once('/').map_or("", |(g, _)| g);
            (group.to_string(), plural(o["kind"].as_str().unwrap()))
        })
        .collect();
    assert!(kinds.len() >= 6, "{kinds:?}");

    // Least privilege: named verbs and resources, no wildcards, no secrets.
    let cluster_role = find(&objects, "ClusterRole", "rekon");
    let role = find(&objects, "Role", "rekon");
    for r in [cluster_role, role] {
        for rule in r["rules"].as_array().unwrap() {
            for field in ["apiGroups", "resources", "verbs"] {
                assert!(!strings(&rule[field]).contains(&"*"), "{rule}");
            }
            for verb in ["list", "watch", "deletecollection", "escalate", "bind"] {
                assert!(!strings(&rule["verbs"]).contains(&verb), "{rule}");
            }
            assert!(!strings(&rule["resources"]).contains(&"secrets"), "{rule}");
        }
    }
    for (group, resource) in &kinds {
        for verb in ["get", "create", "patch", "delete"] {
            assert!(
                allows(cluster_role, group, resource, verb, None),
                "the ClusterRole does not let rekon {verb} {resource}.{group}"
            );
        }
    }
    // rekon-system itself: read, and created when missing.
    for verb in ["get", "create"] {
        assert!(allows(cluster_role, "", "namespaces", verb, None));
    }

    // The Lease and the inventories, in the Lease's namespace.
    let args = args(container(&objects));
    let namespace = flag(&args, "--lease-namespace").unwrap_or("rekon-system");
    let lease = flag(&args, "--lease-name").unwrap_or("rekon");
    assert_eq!(role["metadata"]["namespace"], namespace);
    assert!(allows(
        role,
        "coordination.k8s.io",
        "leases",
        "create",
        None
    ));
    for verb in ["get", "update"] {
        assert!(
            allows(role, "coordination.k8s.io", "leases", verb, Some(lease)),
            "the Role does not let rekon {verb} the Lease {lease}"
        );
    }
    for verb in ["get", "create", "patch"] {
        assert!(allows(
            role,
            "",
            "configmaps",
            verb,
            Some("rekon-inventory-frontend")
        ));
    }
    for binding in [
        find(&objects, "ClusterRoleBinding", "rekon"),
        find(&objects, "RoleBinding", "rekon"),
    ] {
        let subject = &binding["subjects"][0];
        assert_eq!(subject["kind"], "ServiceAccount");
        assert_eq!(subject["name"], "rekon");
        assert_eq!(subject["namespace"], "rekon-system");
    }

    // Pi-sized, yet a plugin at its memory cap traps at the cap instead of
    // the kernel OOM-killing the daemon.
    let resources = &container(&objects)["resources"];
    let limit = mebibytes(resources["limits"]["memory"].as_str().unwrap());
    let request = mebibytes(resources["requests"]["memory"].as_str().unwrap());
    assert!(request > STEADY_RSS_MIB, "request {request} MiB");
    assert!(
        limit >= worst_case_mib(&config),
        "limit {limit} MiB < {} MiB",
        worst_case_mib(&config)
    );
    assert!(limit <= 512, "{limit} MiB is not Pi-sized");
}

/// `[Section]` -> key -> values, in file order.
fn unit(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        out.entry(section.clone())
            .or_default()
            .entry(key.trim().to_string())
            .or_default()
            .push(value.trim().to_string());
    }
    out
}

#[test]
fn the_systemd_unit_runs_the_daemon_with_the_same_config() {
    let dir = install().join("systemd");
    let names: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".timer")),
        "the timer of `rekon apply` is gone: {names:?}"
    );
    let unit = unit(&std::fs::read_to_string(dir.join("rekon.service")).unwrap());
    let service = &unit["Service"];
    let one = |key: &str| -> &str {
        match service.get(key).map(Vec::as_slice) {
            Some([value]) => value,
            other => panic!("{key}: {other:?}"),
        }
    };
    let exec: Vec<&str> = one("ExecStart").split_whitespace().collect();
    assert!(
        exec[0]
            .trim_start_matches(['-', '@', '+', '!', ':'])
            .ends_with("/rekon"),
        "{exec:?}"
    );
    assert_eq!(exec[1], "run", "{exec:?}");
    assert!(exec.contains(&"--leader-elect"), "{exec:?}");
    assert!(matches!(one("Type"), "exec" | "simple"));
    assert_eq!(one("Restart"), "on-failure");
    let grace = duration(flag(&exec, "--shutdown-grace").unwrap_or("20s"));
    assert!(duration(one("TimeoutStopSec")) > grace);

    let environment: BTreeMap<&str, &str> = service["Environment"]
        .iter()
        .flat_map(|e| e.split_whitespace())
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    assert_eq!(one("StateDirectory"), "rekon");
    assert_eq!(environment["REKON_STATE_DIR"], "%S/rekon");
    assert_eq!(one("CacheDirectory"), "rekon");
    assert_eq!(environment["REKON_CACHE_DIR"], "%C/rekon");
    let credentials: BTreeMap<&str, &str> = service["LoadCredential"]
        .iter()
        .map(|c| c.split_once(':').unwrap())
        .collect();
    assert!(credentials.contains_key("kubeconfig"));
    assert_eq!(environment["KUBECONFIG"], "%d/kubeconfig");

    // The host's rekon.toml: where ExecStart reads it, its secrets the
    // credentials the unit loads, and otherwise the cluster's configuration.
    let config_path = flag(&exec, "--config").unwrap();
    assert_eq!(config_path, "/etc/rekon/rekon.toml");
    let text = std::fs::read_to_string(dir.join("rekon.toml")).unwrap();
    let host = Config::parse(&text, Path::new(config_path))
        .unwrap_or_else(|e| panic!("systemd/rekon.toml: {e}"));
    for (what, secret) in secrets(&host) {
        let Secret::File(file) = secret else {
            panic!("{what}: the unit provides secrets as credentials, not variables")
        };
        let name = file
            .strip_prefix("/run/credentials/rekon.service")
            .unwrap_or_else(|_| panic!("{what}: {} is not a credential", file.display()));
        assert!(
            credentials.contains_key(name.to_str().unwrap()),
            "{what}: no LoadCredential={}:...",
            name.display()
        );
    }
    let limit = mebibytes(one("MemoryMax"));
    assert!(limit >= worst_case_mib(&host), "MemoryMax {limit} MiB");

    let (_, cluster) = cluster_config(&cluster());
    let shape = |c: &Config| {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            c.sources
                .values()
                .map(|s| (&s.name, &s.git.url, &s.git.branch, s.interval))
                .collect::<Vec<_>>(),
            c.plugins
                .iter()
                .map(|(n, p)| (n, &p.path, &p.source, &p.settings, &p.tests))
                .collect::<Vec<_>>(),
            c.images
                .values()
                .map(|i| (&i.policy_name, &i.repository, &i.policy, i.interval))
                .collect::<Vec<_>>(),
            c.receivers
                .iter()
                .map(|r| (&r.name, r.kind, &r.images))
                .collect::<Vec<_>>(),
            c.kustomizations
                .iter()
                .map(|k| {
                    let uses = |u: &[rekon::config::PluginUse]| {
                        u.iter().map(|u| u.plugin.clone()).collect::<Vec<_>>()
                    };
                    (
                        &k.name,
                        &k.path,
                        &k.source,
                        k.interval,
                        &k.depends_on,
                        uses(&k.mutators),
                        uses(&k.validators),
                    )
                })
                .collect::<Vec<_>>(),
            (c.run.concurrency, c.server.listen),
        )
    };
    assert_eq!(shape(&host), shape(&cluster));
    check_and_render(&text);
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The Deployment's container, run as the binary on this machine against
/// the API server double: it takes the Lease under `$POD_NAME`, applies the
/// example from a git copy of it, and on SIGTERM releases the Lease and
/// exits 0. What differs from the pod: the API server (the double, through
/// a kubeconfig), the address (`--listen` on a free loopback port), the
/// source's URL, and no registry or git server (images suspended, no
/// `[git]`).
#[test]
fn the_deployment_s_command_leads_and_applies_the_example() {
    let objects = cluster();
    let (text, _) = cluster_config(&objects);
    let c = container(&objects);
    let dir = tempfile::tempdir().unwrap();
    let config = local_copy(dir.path(), &text, |table| {
        table.remove("git");
        for (_, image) in table["images"].as_table_mut().unwrap().iter_mut() {
            image
                .as_table_mut()
                .unwrap()
                .insert("suspend".into(), true.into());
        }
    });
    let api = rekon_apiserver_double::ApiServer::start();
    api.write_kubeconfig(&dir.path().join("kubeconfig"))
        .unwrap();
    // k3s ships Traefik with its CRDs; the example's IngressRoute needs them.
    let crd: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo().join("tests/data/apply/traefik-ingressroute-crd.yaml"))
            .unwrap(),
    )
    .unwrap();
    api.apply_as("helm-controller", &crd, false).unwrap();

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let grace = duration(flag(&args(c), "--shutdown-grace").unwrap_or("20s"));
    let mut argv: Vec<String> = args(c).iter().map(|a| a.to_string()).collect();
    for a in &mut argv {
        if a.starts_with("--config") {
            *a = format!("--config={}", config.display());
        }
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekon"));
    command
        .args(&argv)
        .arg("--kubeconfig")
        .arg(dir.path().join("kubeconfig"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("rekon.log")).unwrap());
    // The container's environment, with the pod's paths moved into this
    // test's directory (the cache: the one the other tests share), a pod
    // name for the downward API, and stand-ins for the Secret's values.
    for e in c["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let value = match (name, e["value"].as_str()) {
            ("REKON_CACHE_DIR", _) => repo().join("target/rekon-test-cache"),
            ("REKON_STATE_DIR", Some(path)) => dir.path().join(path.trim_start_matches('/')),
            (_, Some(value)) => PathBuf::from(value),
            ("POD_NAME", None) => PathBuf::from("rekon-5f7d8c9b6-x2x4q"),
            (_, None) => PathBuf::from(format!("stand-in for {name}")),
        };
        command.env(name, value);
    }
    let mut rekon = command.spawn().unwrap();
    let log = || std::fs::read_to_string(dir.path().join("rekon.log")).unwrap_or_default();

    // `rekon status` (README: "Checking that it works") exits 0 once every
    // source, plugin and kustomization is ready.
    let started = std::time::Instant::now();
    loop {
        let status = Command::new(env!("CARGO_BIN_EXE_rekon"))
            .args(["status", "--url", &url])
            .output()
            .unwrap();
        if status.status.success() {
            let table = String::from_utf8_lossy(&status.stdout).into_owned();
            for name in ["website", "frontend", "ingress", "readiness-probe"] {
                assert!(table.contains(name), "{table}");
            }
            break;
        }
        assert!(
            rekon.try_wait().unwrap().is_none(),
            "rekon exited:\n{}",
            log()
        );
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not ready after 90 s:\n{}\n{}",
            String::from_utf8_lossy(&status.stdout),
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let lease = api
        .object("coordination.k8s.io/v1", "Lease", "rekon-system", "rekon")
        .expect("the Lease exists");
    let holder = lease["spec"]["holderIdentity"].as_str().unwrap();
    assert!(holder.starts_with("rekon-5f7d8c9b6-x2x4q_"), "{holder}");
    let frontend = api
        .object("apps/v1", "Deployment", "website", "frontend")
        .expect("the example's Deployment is applied");
    assert_eq!(
        frontend["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
            ["initialDelaySeconds"],
        10,
        "with the readiness-probe plugin from git"
    );
    for k in ["frontend", "ingress"] {
        let name = format!("rekon-inventory-{k}");
        assert!(api
            .object("v1", "ConfigMap", "rekon-system", &name)
            .is_some());
    }

    // SIGTERM, as the kubelet stops the pod: the Lease is released for the
    // next pod, and rekon exits 0 within the grace period.
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    unsafe { libc::kill(rekon.id() as i32, libc::SIGTERM) };
    let stopping = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = rekon.try_wait().unwrap() {
            break exit;
        }
        if stopping.elapsed() > grace + Duration::from_secs(5) {
            let _ = rekon.kill();
            panic!("still running {grace:?} after SIGTERM:\n{}", log());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit}:\n{}", log());
    let lease = api
        .object("coordination.k8s.io/v1", "Lease", "rekon-system", "rekon")
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "", "released");
}

/// `kubectl apply -k examples/install/cluster`, approximated by rekon's own
/// apply against the API server double (server-side dry-run, then apply): the
/// server accepts every object, and a second apply changes nothing.
#[tokio::test]
async fn the_install_manifests_apply_cleanly_and_twice_is_a_no_op() {
    let api = rekon_apiserver_double::ApiServer::start();
    let dir = tempfile::tempdir().unwrap();
    api.write_kubeconfig(&dir.path().join("kubeconfig"))
        .unwrap();
    let toml = format!(
        "[source]\npath = \"{}\"\n\n[[kustomizations]]\nname = \"rekon\"\npath = \"cluster\"\nwait = false\n",
        install().display()
    );
    let config = Config::parse(&toml, &dir.path().join("rekon.toml")).unwrap();
    let k = &config.kustomizations[0];
    let target_cluster = rekon::apply::Cluster::connect(Some(&dir.path().join("kubeconfig")), None)
        .await
        .unwrap();
    // A render without plugins is the kustomize build.
    let objects = cluster();
    let report = target_cluster.apply(k, &objects).await.unwrap();
    let created: Vec<String> = report
        .applied
        .iter()
        .map(|a| format!("{} {}", a.action, a.object))
        .collect();
    for expected in [
        "created Deployment/rekon-system/rekon",
        "created Service/rekon-system/rekon",
        "created ConfigMap/rekon-system/rekon-config",
        "created Role/rekon-system/rekon",
        "created ClusterRole/rekon",
    ] {
        assert!(created.iter().any(|c| c == expected), "{created:?}");
    }
    assert!(!created.iter().any(|c| c.contains("Secret")), "{created:?}");
    let again = target_cluster.apply(k, &objects).await.unwrap();
    let changed: Vec<String> = again
        .applied
        .iter()
        .filter(|a| a.action != rekon::apply::Action::Unchanged)
        .map(|a| format!("{} {}", a.action, a.object))
        .collect();
    assert!(changed.is_empty(), "{changed:?}");
}

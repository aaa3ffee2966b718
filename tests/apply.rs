//! Applying to a cluster, end to end over real HTTP: the real `kube` client
//! against the in-process API server double (`tests/apiserver-double`),
//! through a kubeconfig file. Every test starts its own double on a free
//! port and works in its own temporary directory, so they run in parallel.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use rekon::apply::{
    Action, ApplyError, ApplyReport, Cluster, FieldConflict, HealthState, Options, PruneOutcome,
    Reason, Retry,
};
use rekon::config::{Config, Kustomization};
use rekon::render::Renderer;
use rekon_apiserver_double::{ApiServer, Fault, Reject, RequestRecord, Rollout};
use serde_json::{json, Value};

/// A git checkout (a copy of `tests/data/apply`) and a cluster.
struct Site {
    dir: tempfile::TempDir,
    server: ApiServer,
}

impl Site {
    /// The `site/` kustomization as `shop`, with `settings` added to its
    /// `[[kustomizations]]` entry.
    fn new(settings: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&support::repo().join("tests/data/apply"), dir.path());
        let server = ApiServer::start();
        server
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        let site = Site { dir, server };
        site.configure(settings);
        site
    }

    fn configure(&self, settings: &str) {
        let toml = format!(
            "[[kustomizations]]\nname = \"shop\"\npath = \"site\"\ntimeout = \"5s\"\n{settings}\n"
        );
        std::fs::write(self.path("rekon.toml"), toml).unwrap();
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path(rel)).unwrap();
        assert!(text.contains(from), "{rel} has no `{from}`");
        std::fs::write(self.path(rel), text.replace(from, to)).unwrap();
    }

    /// A new client each time, as a restarted rekon or another machine would have.
    async fn cluster(&self) -> Cluster {
        connect(&self.path("kubeconfig")).await
    }

    async fn apply(&self) -> Result<ApplyReport, ApplyError> {
        let (config, objects) = render(&self.path("rekon.toml"));
        self.cluster()
            .await
            .apply(&config.kustomizations[0], &objects[0])
            .await
    }

    fn object(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.server.object(api_version, kind, "shop", name)
    }

    fn inventory(&self) -> Vec<String> {
        let cm = self
            .server
            .object("v1", "ConfigMap", "rekon-system", "rekon-inventory-shop")
            .expect("the inventory exists");
        let entries: Vec<Value> =
            serde_json::from_str(cm["data"]["entries"].as_str().unwrap()).unwrap();
        entries
            .iter()
            .map(|e| {
                format!(
                    "{}/{}",
                    e["kind"].as_str().unwrap(),
                    e["name"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Non-dry-run writes and deletes since the log was last cleared.
    fn writes(&self) -> Vec<RequestRecord> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| r.is_apply() || r.method == "DELETE")
            .collect()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Quick retries and polls: the double answers in microseconds.
async fn connect(kubeconfig: &Path) -> Cluster {
    Cluster::connect(Some(kubeconfig), None)
        .await
        .unwrap()
        .with_options(Options {
            retry: Retry {
                attempts: 4,
                first_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(40),
            },
            poll_interval: Duration::from_millis(20),
        })
}

/// Every kustomization of `config` rendered (plugins and all).
fn render(config: &Path) -> (Config, Vec<Vec<Value>>) {
    let config = Config::load(config).unwrap();
    let selected = config.select(None).unwrap();
    let renderer = Renderer::load(&config, support::runtime(), &selected).unwrap();
    let objects = selected
        .iter()
        .map(|k| {
            renderer
                .render(&config.source_root, k)
                .unwrap()
                .objects
                .into_iter()
                .map(|o| o.object)
                .collect()
        })
        .collect();
    (config, objects)
}

fn actions(report: &ApplyReport) -> Vec<String> {
    report
        .applied
        .iter()
        .map(|a| format!("{} {}", a.action, a.object))
        .collect()
}

fn position(log: &[RequestRecord], pred: impl Fn(&RequestRecord) -> bool) -> usize {
    log.iter().position(pred).expect("the request was made")
}

#[tokio::test]
async fn first_apply_creates_in_stage_order_and_second_apply_changes_nothing() {
    let site = Site::new("");
    let report = site.apply().await.unwrap();
    assert_eq!(
        actions(&report),
        [
            "created Namespace/shop",
            "created ConfigMap/shop/settings",
            "created Service/shop/web",
            "created Deployment/shop/web",
        ]
    );
    assert_eq!(report.health.len(), 1);
    assert_eq!(report.health[0].state, HealthState::Ready);
    assert_eq!(report.health[0].message, "1/1 replicas available");
    assert!(report.succeeded());

    let log = site.server.requests();
    let namespace_applied = position(&log, |r| {
        r.is_apply() && r.path == "/api/v1/namespaces/shop"
    });
    let deployment_dry_run = position(&log, |r| r.dry_run && r.path.ends_with("/deployments/web"));
    let deployment_applied = position(&log, |r| {
        r.is_apply() && r.path.ends_with("/deployments/web")
    });
    assert!(namespace_applied < deployment_applied, "stage one first");
    assert!(deployment_dry_run < deployment_applied, "dry-run first");
    let patches: Vec<&RequestRecord> = log.iter().filter(|r| r.method == "PATCH").collect();
    assert!(patches
        .iter()
        .all(|r| r.field_manager.as_deref() == Some("rekon")));
    assert!(
        patches
            .iter()
            .filter(|r| !r.path.contains("rekon-system"))
            .all(|r| !r.force),
        "nothing to take over, so no force"
    );

    let deployment = site.object("apps/v1", "Deployment", "web").unwrap();
    assert_eq!(
        deployment["metadata"]["labels"]["rekon.dev/kustomization"],
        "shop"
    );
    assert_eq!(
        site.inventory(),
        [
            "Namespace/shop",
            "ConfigMap/settings",
            "Service/web",
            "Deployment/web"
        ]
    );

    let before = site.server.objects();
    site.server.clear_requests();
    let again = site.apply().await.unwrap();
    assert!(
        again.applied.iter().all(|a| a.action == Action::Unchanged),
        "{:?}",
        actions(&again)
    );
    assert_eq!(
        site.server.objects(),
        before,
        "not even a resourceVersion moved"
    );
    let object_writes: Vec<String> = site
        .writes()
        .into_iter()
        .filter(|r| !r.path.contains("rekon-system"))
        .map(|r| r.path)
        .collect();
    assert!(object_writes.is_empty(), "{object_writes:?}");
}

#[tokio::test]
async fn an_edited_manifest_is_configured_and_nothing_else() {
    let site = Site::new("");
    site.apply().await.unwrap();
    site.edit("site/deployment.yaml", "web:1.0.0", "web:1.1.0");
    site.server.clear_requests();
    let report = site.apply().await.unwrap();
    assert_eq!(report.action("Deployment", "web"), Some(Action::Configured));
    assert_eq!(
        report
            .applied
            .iter()
            .filter(|a| a.action == Action::Unchanged)
            .count(),
        3
    );
    let deployment = site.object("apps/v1", "Deployment", "web").unwrap();
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.lan/shop/web:1.1.0"
    );
    assert_eq!(deployment["metadata"]["generation"], 2);
    assert_eq!(report.health[0].state, HealthState::Ready);
    let writes: Vec<String> = site
        .writes()
        .into_iter()
        .filter(|r| !r.path.contains("rekon-system"))
        .map(|r| r.path)
        .collect();
    assert_eq!(writes, ["/apis/apps/v1/namespaces/shop/deployments/web"]);
}

#[tokio::test]
async fn removed_manifests_are_pruned_but_foreign_and_opted_out_objects_are_kept() {
    let site = Site::new("");
    site.edit(
        "site/kustomization.yaml",
        "  - settings.yaml\n",
        "  - settings.yaml\n  - extra.yaml\n",
    );
    site.apply().await.unwrap();
    // Someone else's object, never in git.
    site.server
        .apply_as(
            "kubectl",
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "foreign", "namespace": "shop"}, "data": {"x": "1"}}),
            false,
        )
        .unwrap();
    // Someone takes `adopted` over: rekon's ownership label is removed.
    site.server
        .edit_as(
            "kubectl-label",
            "v1",
            "ConfigMap",
            "shop",
            "adopted",
            &json!({"metadata": {"labels": {"rekon.dev/kustomization": null}}}),
        )
        .unwrap();

    site.edit("site/kustomization.yaml", "  - extra.yaml\n", "");
    site.server.clear_requests();
    // A fresh client: the inventory comes from the cluster, not from memory.
    let report = site.apply().await.unwrap();
    let pruned: Vec<String> = report
        .pruned
        .iter()
        .map(|p| format!("{} {}", p.object, p.outcome))
        .collect();
    assert_eq!(
        pruned,
        // Reverse apply order.
        [
            "ConfigMap/shop/pinned kept: annotated `rekon.dev/prune: disabled`",
            "ConfigMap/shop/legacy deleted",
            "ConfigMap/shop/adopted kept: no `rekon.dev/kustomization` label, not rekon's",
        ]
    );
    assert!(site.object("v1", "ConfigMap", "legacy").is_none());
    for kept in ["adopted", "pinned", "foreign"] {
        assert!(
            site.object("v1", "ConfigMap", kept).is_some(),
            "{kept} was deleted"
        );
    }
    let deletes: Vec<String> = site
        .writes()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path)
        .collect();
    assert_eq!(deletes, ["/api/v1/namespaces/shop/configmaps/legacy"]);
    assert_eq!(
        site.inventory(),
        [
            "Namespace/shop",
            "ConfigMap/settings",
            "Service/web",
            "Deployment/web"
        ]
    );
}

#[tokio::test]
async fn prune_false_keeps_objects_for_rekon_prune() {
    let site = Site::new("prune = false");
    site.edit(
        "site/kustomization.yaml",
        "  - settings.yaml\n",
        "  - settings.yaml\n  - extra.yaml\n",
    );
    site.apply().await.unwrap();
    site.edit("site/kustomization.yaml", "  - extra.yaml\n", "");
    let report = site.apply().await.unwrap();
    assert!(report.pruned.is_empty());
    assert!(site.object("v1", "ConfigMap", "legacy").is_some());
    assert!(
        site.inventory().contains(&"ConfigMap/legacy".to_string()),
        "still recorded"
    );

    let (config, objects) = render(&site.path("rekon.toml"));
    let k = &config.kustomizations[0];
    let cluster = site.cluster().await;
    let listed = cluster.prune(k, &objects[0], true).await.unwrap();
    let would: Vec<String> = listed
        .iter()
        .filter(|p| p.outcome == PruneOutcome::WouldDelete)
        .map(|p| p.object.to_string())
        .collect();
    assert_eq!(would, ["ConfigMap/shop/adopted", "ConfigMap/shop/legacy"]);
    assert!(
        site.object("v1", "ConfigMap", "legacy").is_some(),
        "a dry-run deletes nothing"
    );
    cluster.prune(k, &objects[0], false).await.unwrap();
    assert!(site.object("v1", "ConfigMap", "legacy").is_none());
    assert!(site.object("v1", "ConfigMap", "pinned").is_some());
    assert!(!site.inventory().contains(&"ConfigMap/legacy".to_string()));
}

#[tokio::test]
async fn a_refused_object_stops_the_whole_apply_and_is_named() {
    let site = Site::new("");
    site.apply().await.unwrap();
    site.edit("site/deployment.yaml", "web:1.0.0", "web:2.0.0");
    site.edit(
        "site/settings.yaml",
        "greeting: hello\n",
        "greeting: hello\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n",
    );
    site.server.reject(Reject::new(
        "ConfigMap",
        "bad",
        "ConfigMaps may not be called bad",
    ));
    let before = site.server.objects();
    site.server.clear_requests();

    let err = site.apply().await.unwrap_err();
    let ApplyError::DryRun { refusals, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].object.to_string(), "ConfigMap/shop/bad");
    let message = err.to_string();
    assert!(message.contains("ConfigMap/shop/bad"), "{message}");
    assert!(
        message.contains("ConfigMaps may not be called bad"),
        "{message}"
    );
    assert!(message.contains("nothing was applied"), "{message}");
    assert_eq!(
        site.server.objects(),
        before,
        "the store is unchanged, inventory included"
    );
    assert!(site.writes().is_empty(), "{:?}", site.writes());
}

#[tokio::test]
async fn a_stuck_rollout_times_out_with_a_clear_report() {
    let site = Site::new("timeout = \"1s\"");
    // `timeout` is set twice otherwise: keep only the test's value.
    site.edit("rekon.toml", "timeout = \"5s\"\n", "");
    site.server.set_rollout("shop", "web", Rollout::Stuck);
    let report = site.apply().await.unwrap();
    assert!(!report.succeeded());
    assert_eq!(report.health.len(), 1);
    let h = &report.health[0];
    assert_eq!(h.object.to_string(), "Deployment/shop/web");
    assert_eq!(h.state, HealthState::TimedOut);
    assert_eq!(h.message, "0/1 replicas available after 1s");
    assert!(
        site.inventory().contains(&"Deployment/web".to_string()),
        "applied, so recorded"
    );

    site.server.set_rollout("shop", "web", Rollout::Failed);
    let report = site.apply().await.unwrap();
    assert_eq!(report.health[0].state, HealthState::Failed);
    assert!(
        report.health[0]
            .message
            .contains("has timed out progressing"),
        "{}",
        report.health[0].message
    );

    site.server.set_rollout("shop", "web", Rollout::Complete);
    assert!(site.apply().await.unwrap().succeeded());
}

#[tokio::test]
async fn transient_faults_are_retried() {
    let site = Site::new("");
    site.server.inject(
        Fault::status(500)
            .method("PATCH")
            .path_contains("/deployments/")
            .dry_run(false)
            .times(2),
    );
    site.server.inject(
        Fault::drop_connection()
            .method("GET")
            .path_contains("/services/")
            .times(1),
    );
    site.server.inject(
        Fault::status(409)
            .method("PATCH")
            .path_contains("/configmaps/settings")
            .times(1),
    );
    site.server.inject(
        Fault::delay(Duration::from_millis(50))
            .path_contains("/namespaces/shop")
            .times(3),
    );
    let report = site.apply().await.unwrap();
    assert_eq!(report.action("Deployment", "web"), Some(Action::Created));
    assert_eq!(site.server.faults_left(), 0, "every fault was hit");
    let log = site.server.requests();
    assert_eq!(
        log.iter().filter(|r| r.fault).count(),
        4,
        "500 twice, one drop, one 409"
    );
    assert!(
        log.iter().any(|r| r.fault && r.status == 0),
        "the dropped connection is logged"
    );
    assert_eq!(
        site.inventory(),
        [
            "Namespace/shop",
            "ConfigMap/settings",
            "Service/web",
            "Deployment/web"
        ]
    );
}

#[tokio::test]
async fn persistent_faults_fail_clearly_and_never_lose_the_inventory() {
    let site = Site::new("");
    site.apply().await.unwrap();
    let inventory = site
        .server
        .object("v1", "ConfigMap", "rekon-system", "rekon-inventory-shop");

    site.edit("site/settings.yaml", "hello", "bonjour");
    site.edit(
        "site/kustomization.yaml",
        "  - settings.yaml\n",
        "  - settings.yaml\n  - extra.yaml\n",
    );
    site.server.inject(
        Fault::status(500)
            .method("PATCH")
            .path_contains("/configmaps/settings")
            .dry_run(false)
            .times(100),
    );
    site.server.clear_requests();
    let err = site.apply().await.unwrap_err().to_string();
    assert!(
        err.starts_with("applying ConfigMap/shop/settings: "),
        "{err}"
    );
    assert!(err.contains("500 InternalError"), "{err}");
    let after = site
        .server
        .object("v1", "ConfigMap", "rekon-system", "rekon-inventory-shop");
    assert_eq!(
        after, inventory,
        "the inventory is written only after a successful apply"
    );

    let requests = site.server.requests();
    let tries = requests
        .iter()
        .filter(|r| r.is_apply() && r.path.ends_with("/configmaps/settings"))
        .count();
    assert_eq!(tries, 4, "retried up to the policy's attempts");

    site.server.inject(
        Fault::drop_connection()
            .method("GET")
            .path_contains("rekon-inventory")
            .times(100),
    );
    let err = site.apply().await.unwrap_err().to_string();
    assert!(
        err.starts_with("reading inventory rekon-system/rekon-inventory-shop: "),
        "{err}"
    );
    assert_eq!(
        site.server
            .object("v1", "ConfigMap", "rekon-system", "rekon-inventory-shop"),
        inventory
    );
}

#[tokio::test]
async fn conflicts_name_the_field_and_manager_and_hand_edits_are_taken_over() {
    let site = Site::new("");
    site.apply().await.unwrap();

    // kubectl edit is drift: git wins, with force.
    site.server
        .edit_as(
            "kubectl-edit",
            "apps/v1",
            "Deployment",
            "shop",
            "web",
            &json!({"spec": {"replicas": 4}}),
        )
        .unwrap();
    site.server.clear_requests();
    let report = site.apply().await.unwrap();
    assert_eq!(report.action("Deployment", "web"), Some(Action::Configured));
    assert_eq!(
        site.object("apps/v1", "Deployment", "web").unwrap()["spec"]["replicas"],
        1
    );
    let forced = site
        .writes()
        .into_iter()
        .find(|r| r.path.ends_with("/deployments/web"))
        .unwrap();
    assert!(forced.force);

    // Another controller's field is reported, not fought over.
    site.server
        .edit_as(
            "helm",
            "apps/v1",
            "Deployment",
            "shop",
            "web",
            &json!({"spec": {"replicas": 3}}),
        )
        .unwrap();
    let before = site.server.objects();
    let err = site.apply().await.unwrap_err();
    let ApplyError::DryRun { refusals, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        refusals[0].reason,
        Reason::Conflict(vec![FieldConflict {
            field: ".spec.replicas".into(),
            manager: "helm".into()
        }])
    );
    let message = err.to_string();
    assert!(
        message.contains(
            "Deployment/shop/web: field `.spec.replicas` is owned by field manager `helm`"
        ),
        "{message}"
    );
    assert_eq!(site.server.objects(), before);
}

#[tokio::test]
async fn immutable_fields_are_named_and_recreated_only_when_allowed() {
    let site = Site::new("");
    site.apply().await.unwrap();
    let uid = site.object("apps/v1", "Deployment", "web").unwrap()["metadata"]["uid"].clone();
    site.edit(
        "site/deployment.yaml",
        "      app: web\n  template",
        "      app: web2\n  template",
    );
    site.edit(
        "site/deployment.yaml",
        "        app: web\n    spec",
        "        app: web2\n    spec",
    );

    site.edit(
        "site/service.yaml",
        "spec:\n",
        "spec:\n  clusterIP: 10.43.9.9\n",
    );

    let err = site.apply().await.unwrap_err();
    let ApplyError::DryRun { refusals, .. } = &err else {
        panic!("{err}")
    };
    let fields: Vec<String> = refusals
        .iter()
        .map(|r| match &r.reason {
            Reason::Immutable { field, .. } => format!("{} {field}", r.object),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        fields,
        [
            "Service/shop/web spec.clusterIP",
            "Deployment/shop/web spec.selector"
        ]
    );
    assert!(
        err.to_string().contains("set `allow-recreate = true`"),
        "{err}"
    );

    site.configure("allow-recreate = true");
    site.server.clear_requests();
    let report = site.apply().await.unwrap();
    assert_eq!(report.action("Deployment", "web"), Some(Action::Recreated));
    assert_eq!(report.action("Service", "web"), Some(Action::Recreated));
    assert_eq!(
        site.object("v1", "Service", "web").unwrap()["spec"]["clusterIP"],
        "10.43.9.9"
    );
    let deployment = site.object("apps/v1", "Deployment", "web").unwrap();
    assert_ne!(deployment["metadata"]["uid"], uid, "a new object");
    assert_eq!(deployment["spec"]["selector"]["matchLabels"]["app"], "web2");
    let log = site.writes();
    let deleted = position(&log, |r| {
        r.method == "DELETE" && r.path.ends_with("/deployments/web")
    });
    let created = position(&log, |r| {
        r.is_apply() && r.path.ends_with("/deployments/web")
    });
    assert!(deleted < created);
}

#[tokio::test]
async fn crds_are_established_before_their_custom_resources_are_applied() {
    let site = Site::new("");
    std::fs::write(
        site.path("rekon.toml"),
        "[[kustomizations]]\nname = \"widgets\"\npath = \"crds\"\ntimeout = \"5s\"\n",
    )
    .unwrap();
    let (config, objects) = render(&site.path("rekon.toml"));
    let cluster = site.cluster().await;
    let report = cluster
        .apply(&config.kustomizations[0], &objects[0])
        .await
        .unwrap();
    assert_eq!(
        actions(&report),
        [
            "created CustomResourceDefinition/widgets.example.org",
            "created Widget/default/gear"
        ]
    );
    let log = site.server.requests();
    let crd = position(&log, |r| {
        r.is_apply() && r.path.ends_with("/widgets.example.org")
    });
    let rediscovery = position(&log, |r| r.path == "/apis/example.org/v1");
    let widget = position(&log, |r| r.is_apply() && r.path.ends_with("/widgets/gear"));
    assert!(crd < rediscovery && rediscovery < widget, "{log:#?}");
    let again = cluster
        .apply(&config.kustomizations[0], &objects[0])
        .await
        .unwrap();
    assert!(again.applied.iter().all(|a| a.action == Action::Unchanged));
}

#[tokio::test]
async fn the_pi_website_example_applies_cleanly_and_a_second_apply_is_a_no_op() {
    let server = ApiServer::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    // k3s ships Traefik with its CRDs; the example's IngressRoute needs them.
    let crd: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(
            support::repo().join("tests/data/apply/traefik-ingressroute-crd.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    server.apply_as("helm-controller", &crd, false).unwrap();

    let (config, objects) = render(&support::repo().join("examples/pi-website/rekon.toml"));
    let cluster = connect(&kubeconfig).await;
    let mut all = Vec::new();
    for (k, objects) in config.kustomizations.iter().zip(&objects) {
        let report = cluster.apply(k, objects).await.unwrap();
        assert!(report.succeeded(), "{report:?}");
        all.extend(actions(&report));
    }
    assert_eq!(
        all,
        [
            "created Namespace/website",
            "created Service/website/frontend",
            "created Deployment/website/frontend",
            "created Endpoints/website/backend",
            "created Service/website/backend",
            "created Ingress/website/site",
            "created IngressRoute/website/api",
        ]
    );
    let route = server
        .object("traefik.io/v1alpha1", "IngressRoute", "website", "api")
        .unwrap();
    assert_eq!(
        route["spec"]["routes"][0]["priority"], 2000,
        "rendered with its plugins"
    );

    let before = server.objects();
    for (k, objects) in config.kustomizations.iter().zip(&objects) {
        let report = cluster.apply(k, objects).await.unwrap();
        assert!(
            report.applied.iter().all(|a| a.action == Action::Unchanged),
            "{:?}",
            actions(&report)
        );
    }
    assert_eq!(server.objects(), before);
}

#[test]
fn an_invalid_timeout_is_an_error_with_its_line() {
    let text = "[[kustomizations]]\nname = \"a\"\npath = \"a\"\ntimeout = \"soon\"\n";
    let err = Config::parse(text, Path::new("rekon.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("rekon.toml:4: kustomization `a`: timeout `soon`:"),
        "{err}"
    );
    let k: &Kustomization = &Config::parse(
        "[[kustomizations]]\nname = \"a\"\npath = \"a\"\n",
        Path::new("r.toml"),
    )
    .unwrap()
    .kustomizations[0];
    assert!(k.prune && k.wait && !k.allow_recreate);
    assert_eq!(k.timeout, Duration::from_secs(300));
}

fn rekon(site: &Site, args: &[&str]) -> Output {
    let kubeconfig = site.path("kubeconfig");
    let config = site.path("rekon.toml");
    Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args(args)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--config")
        .arg(&config)
        .env(
            "REKON_CACHE_DIR",
            support::repo().join("target/rekon-test-cache"),
        )
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_command_line_diffs_applies_and_prunes() {
    let site = Site::new("prune = false");
    site.edit(
        "site/kustomization.yaml",
        "  - settings.yaml\n",
        "  - settings.yaml\n  - extra.yaml\n",
    );

    let diff = rekon(&site, &["diff"]);
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff.stderr));
    let out = text(&diff.stdout);
    assert!(out.contains("► Deployment/shop/web created\n"), "{out}");
    assert!(out.contains("+++ desired/Deployment/shop/web"), "{out}");
    assert!(site.server.objects().len() == 3, "diff changes nothing");

    let apply = rekon(&site, &["apply"]);
    let out = text(&apply.stdout);
    assert_eq!(apply.status.code(), Some(0), "{out}{}", text(&apply.stderr));
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["kustomization", "shop:", "7", "created"], "{out}");
    assert_eq!(rows[1], ["OBJECT", "ACTION"], "{out}");
    assert!(
        rows.contains(&vec!["Deployment/shop/web", "created"]),
        "{out}"
    );
    assert!(rows.contains(&vec!["HEALTH", "STATE", "DETAIL"]), "{out}");
    assert!(
        rows.contains(&vec![
            "Deployment/shop/web",
            "ready",
            "1/1",
            "replicas",
            "available"
        ]),
        "{out}"
    );

    let same = rekon(&site, &["diff", "shop"]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}{}",
        text(&same.stdout),
        text(&same.stderr)
    );
    assert_eq!(text(&same.stdout), "");

    site.edit("site/settings.yaml", "hello", "bonjour");
    site.edit("site/kustomization.yaml", "  - extra.yaml\n", "");
    let drift = rekon(&site, &["diff"]);
    assert_eq!(drift.status.code(), Some(1));
    let out = text(&drift.stdout);
    assert!(
        out.contains("► ConfigMap/shop/settings configured\n"),
        "{out}"
    );
    assert!(
        out.contains("-  greeting: hello\n+  greeting: bonjour\n"),
        "{out}"
    );
    assert!(
        !out.contains("deleted"),
        "prune = false: nothing would be deleted by apply\n{out}"
    );

    let listed = rekon(&site, &["prune", "--dry-run"]);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let out = text(&listed.stdout);
    assert!(
        out.contains("shop: ConfigMap/shop/legacy would delete\n"),
        "{out}"
    );
    assert!(
        out.contains("shop: ConfigMap/shop/pinned kept: annotated `rekon.dev/prune: disabled`\n"),
        "{out}"
    );
    assert!(site.object("v1", "ConfigMap", "legacy").is_some());

    let pruned = rekon(&site, &["prune"]);
    assert_eq!(pruned.status.code(), Some(0), "{}", text(&pruned.stderr));
    assert!(text(&pruned.stdout).contains("shop: ConfigMap/shop/legacy deleted\n"));
    assert!(site.object("v1", "ConfigMap", "legacy").is_none());

    site.server
        .reject(Reject::new("ConfigMap", "settings", "no"));
    let refused = rekon(&site, &["diff"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = text(&refused.stderr);
    assert!(
        err.starts_with("error: diffing kustomization `shop`: the dry-run refused 1 object(s)"),
        "{err}"
    );
    assert!(
        err.contains(
            "  ConfigMap/shop/settings: ConfigMap \"settings\" is invalid: admission webhook"
        ),
        "{err}"
    );

    let help = rekon(&site, &["apply", "--help"]);
    assert!(text(&help.stdout).contains("Examples:"));
}

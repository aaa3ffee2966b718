//! Helm releases on k3s: HelmChart health and `rekon.dev/depends-on` order,
//! applied over real HTTP to the API server double, whose helm-controller
//! model creates k3s's install Jobs (`tests/apiserver-double/src/helm.rs`).

use std::path::Path;
use std::time::Duration;

use rekon::apply::{ApplyError, Cluster, HealthState, Options, Retry};
use rekon::config::{Config, Kustomization};
use rekon_apiserver_double::{ApiServer, Rollout};
use serde_json::{json, Value};

struct Site {
    dir: tempfile::TempDir,
    server: ApiServer,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let server = ApiServer::start();
        server
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        Site { dir, server }
    }

    async fn apply(
        &self,
        timeout: &str,
        objects: &[Value],
    ) -> Result<rekon::apply::ApplyReport, ApplyError> {
        let cluster = Cluster::connect(Some(&self.dir.path().join("kubeconfig")), None)
            .await
            .unwrap()
            .with_options(Options {
                retry: Retry {
                    attempts: 4,
                    first_delay: Duration::from_millis(10),
                    max_delay: Duration::from_millis(40),
                },
                poll_interval: Duration::from_millis(20),
            });
        cluster.apply(&kustomization(timeout), objects).await
    }

    /// Names of the HelmCharts rekon applied (not dry-run), in order.
    fn applied_charts(&self) -> Vec<String> {
        self.server
            .requests()
            .iter()
            .filter(|r| r.is_apply() && !r.dry_run && r.path.contains("/helmcharts/"))
            .map(|r| r.path.rsplit('/').next().unwrap().to_string())
            .collect()
    }
}

fn kustomization(timeout: &str) -> Kustomization {
    let text =
        format!("[[kustomizations]]\nname = \"helm\"\npath = \".\"\ntimeout = \"{timeout}\"\n");
    Config::parse(&text, Path::new("rekon.toml"))
        .unwrap()
        .kustomizations
        .remove(0)
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// A HelmChart as rekon's Helm plugin writes it for HelmRelease `ns/name`.
fn chart(ns: &str, name: &str, version: &str, depends_on: Option<&str>) -> Value {
    let mut c = json!({
        "apiVersion": "helm.cattle.io/v1",
        "kind": "HelmChart",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"helm.rekon.dev/release-name": name, "helm.rekon.dev/release-namespace": ns},
            "annotations": {"rekon.dev/helm-release": format!("{ns}/{name}")},
        },
        "spec": {"chart": name, "repo": "https://charts.example.test", "version": version,
                 "targetNamespace": ns, "valuesContent": "{}", "timeout": "5m"},
    });
    if let Some(d) = depends_on {
        c["metadata"]["annotations"]["rekon.dev/depends-on"] = json!(d);
    }
    c
}

#[tokio::test]
async fn a_helm_chart_is_ready_once_the_install_job_of_its_spec_completes() {
    let site = Site::new();
    let report = site
        .apply(
            "5s",
            &[namespace("apps"), chart("apps", "podinfo", "6.5.4", None)],
        )
        .await
        .unwrap();
    assert!(report.succeeded());
    assert_eq!(report.health.len(), 1);
    assert_eq!(
        report.health[0].object.to_string(),
        "HelmChart/apps/podinfo"
    );
    assert_eq!(
        report.health[0].message,
        "installed podinfo 6.5.4 (Job apps/helm-install-podinfo)"
    );

    // A new version: k3s replaces the Job, which keeps running.
    site.server
        .set_rollout("apps", "helm-install-podinfo", Rollout::Stuck);
    let report = site
        .apply(
            "1s",
            &[namespace("apps"), chart("apps", "podinfo", "6.6.0", None)],
        )
        .await
        .unwrap();
    assert!(!report.succeeded());
    assert_eq!(report.health[0].state, HealthState::TimedOut);
    assert_eq!(
        report.health[0].message,
        "install Job apps/helm-install-podinfo running after 1s"
    );
}

#[tokio::test]
async fn after_a_values_change_the_previous_job_does_not_count() {
    let site = Site::new();
    let set = |values: &str| {
        let mut c = chart("apps", "podinfo", "6.5.4", None);
        c["spec"]["valuesContent"] = json!(values);
        [namespace("apps"), c]
    };
    assert!(site.apply("5s", &set("{}")).await.unwrap().succeeded());
    // Only the values change: the Job's env is the same, but until k3s
    // replaces the Job it is the previous spec's.
    site.server.pause_helm_controller(true);
    let report = site.apply("1s", &set("replicas: 2")).await.unwrap();
    assert_eq!(report.health[0].state, HealthState::TimedOut);
    assert_eq!(
        report.health[0].message,
        "waiting for k3s to replace install Job apps/helm-install-podinfo for the current spec after 1s"
    );
    site.server.pause_helm_controller(false);
    assert!(site
        .apply("5s", &set("replicas: 2"))
        .await
        .unwrap()
        .succeeded());
}

#[tokio::test]
async fn a_failed_install_job_fails_the_apply_with_its_message() {
    let site = Site::new();
    site.server.fail_helm_install(
        "apps",
        "podinfo",
        "Job has reached the specified backoff limit",
    );
    let report = site
        .apply(
            "5s",
            &[namespace("apps"), chart("apps", "podinfo", "6.5.4", None)],
        )
        .await
        .unwrap();
    assert!(!report.succeeded());
    let h = &report.health[0];
    assert_eq!(h.object.to_string(), "HelmChart/apps/podinfo");
    assert_eq!(h.state, HealthState::Failed);
    assert_eq!(
        h.message,
        "install Job apps/helm-install-podinfo failed: Job has reached the specified backoff limit"
    );
}

#[tokio::test]
async fn a_release_is_applied_only_after_the_releases_it_depends_on_are_installed() {
    let site = Site::new();
    let set = [
        namespace("apps"),
        chart(
            "apps",
            "app",
            "1.0.0",
            Some("apps/redis,infra/cert-manager"),
        ),
        chart("apps", "redis", "18.0.0", Some("apps/base")),
        chart("apps", "base", "1.0.0", None),
    ];
    // cert-manager comes from another kustomization: already in the cluster.
    site.server
        .apply_as("rekon", &namespace("infra"), false)
        .unwrap();
    site.server
        .apply_as(
            "rekon",
            &chart("infra", "cert-manager", "1.14.0", None),
            false,
        )
        .unwrap();

    // redis never installs: app is not applied, and the error says why.
    site.server
        .set_rollout("apps", "helm-install-redis", Rollout::Stuck);
    let err = site.apply("1s", &set).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "HelmChart/apps/app was not applied: it depends on Helm release apps/redis, which is not ready after 1s: install Job apps/helm-install-redis running"
    );
    assert_eq!(site.applied_charts(), ["base", "redis"]);
    assert!(site
        .server
        .object("helm.cattle.io/v1", "HelmChart", "apps", "app")
        .is_none());

    site.server
        .set_rollout("apps", "helm-install-redis", Rollout::Complete);
    site.server.clear_requests();
    let report = site.apply("5s", &set).await.unwrap();
    assert!(report.succeeded(), "{:?}", report.health);
    assert_eq!(site.applied_charts(), ["app"]);

    // A failed dependency outside the set stops its dependents too.
    site.server.fail_helm_install(
        "infra",
        "cert-manager",
        "Job has reached the specified backoff limit",
    );
    let err = site
        .apply(
            "5s",
            &[
                namespace("apps"),
                chart("apps", "web", "1.0.0", Some("infra/cert-manager")),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "HelmChart/apps/web was not applied: it depends on Helm release infra/cert-manager, which failed: install Job infra/helm-install-cert-manager failed: Job has reached the specified backoff limit"
    );
}

#[tokio::test]
async fn a_dependency_cycle_is_an_error_before_anything_is_applied() {
    let site = Site::new();
    let err = site
        .apply(
            "5s",
            &[
                namespace("apps"),
                chart("apps", "a", "1.0.0", Some("apps/b")),
                chart("apps", "b", "1.0.0", Some("apps/a")),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "kustomization `helm`: Helm release dependencies form a cycle, nothing was applied: HelmChart/apps/a -> HelmChart/apps/b -> HelmChart/apps/a"
    );
    assert!(!site.server.requests().iter().any(|r| r.is_apply()));
}

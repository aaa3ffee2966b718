//! The translation over fixtures shaped like home-lab repositories
//! (`fixtures/render.yaml`: HelmReleases and ConfigMaps of one render;
//! `fixtures/sources.yaml`: their Flux sources), with the sources and the
//! resolved versions from maps instead of the host.

use helm_k3s::{translate, Sources};
use rekon_plugin_sdk::mutator::Objects;
use rekon_plugin_sdk::sources::Chart;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The documents of a YAML stream as JSON values.
fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|document| Value::deserialize(document).unwrap())
        .collect()
}

/// Sources and resolved versions from maps.
struct Repository {
    sources: Vec<Value>,
    versions: HashMap<(String, String), String>,
    /// The CA the host read for every source's `certSecretRef`, if any.
    ca: Option<String>,
}

impl Repository {
    fn homelab() -> Self {
        let versions = [
            ("ingress-nginx", "ingress-nginx", "4.11.2"),
            ("flux-system", "cert-manager", "v1.15.3"),
            ("monitoring", "kube-prometheus-stack", "61.9.0"),
            ("apps", "podinfo", "6.7.0"),
            ("tools", "wiki", "2.1.0"),
        ];
        Repository {
            sources: documents(include_str!("fixtures/sources.yaml")),
            versions: versions
                .iter()
                .map(|(ns, name, v)| ((ns.to_string(), name.to_string()), v.to_string()))
                .collect(),
            ca: None,
        }
    }
}

impl Sources for Repository {
    fn source(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<Value>, String> {
        Ok(self
            .sources
            .iter()
            .find(|s| {
                s["kind"] == kind
                    && s["metadata"]["namespace"] == namespace
                    && s["metadata"]["name"] == name
            })
            .cloned())
    }

    fn helm_chart(&self, namespace: &str, name: &str) -> Result<Chart, String> {
        let version = self
            .versions
            .get(&(namespace.to_string(), name.to_string()))
            .ok_or_else(|| format!("HelmRelease {namespace}/{name} is not in this render"))?;
        Ok(Chart {
            name: name.into(),
            version: version.clone(),
            digest: None,
            ca: self.ca.clone(),
        })
    }
}

fn render() -> Vec<Value> {
    documents(include_str!("fixtures/render.yaml"))
}

/// The added HelmCharts, by name, after translating `objects`.
fn translated(objects: Vec<Value>, sources: &Repository) -> Result<Vec<Value>, String> {
    let mut objects = Objects::new(objects);
    translate(&mut objects, sources)?;
    Ok(objects.added().to_vec())
}

fn chart<'a>(charts: &'a [Value], name: &str) -> &'a Value {
    charts
        .iter()
        .find(|c| c["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no HelmChart {name}"))
}

/// The one HelmRelease of the render named `name`, to vary in refusal tests.
fn release(name: &str) -> Value {
    render()
        .into_iter()
        .find(|o| o["kind"] == "HelmRelease" && o["metadata"]["name"] == name)
        .unwrap()
}

/// The error of translating the render with HelmRelease `name` changed by `change`.
fn refusal(name: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut objects = render();
    let object = objects
        .iter_mut()
        .find(|o| o["kind"] == "HelmRelease" && o["metadata"]["name"] == name)
        .unwrap();
    change(object);
    translated(objects, &Repository::homelab()).unwrap_err()
}

#[test]
fn every_helm_release_becomes_a_helm_chart_and_configmaps_stay() {
    let objects = render();
    let mut shown = Objects::new(objects.clone());
    translate(&mut shown, &Repository::homelab()).unwrap();
    let removed: Vec<usize> = (0..objects.len())
        .filter(|&i| shown.is_removed(i))
        .collect();
    assert_eq!(removed, [1, 2, 4, 5, 6]);
    let names: Vec<&str> = shown
        .added()
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ingress-nginx",
            "cert-manager",
            "kube-prometheus-stack",
            "podinfo",
            "wiki"
        ]
    );
    // ConfigMaps are read, never changed.
    assert_eq!(&shown[..], &objects[..]);
}

#[test]
fn https_repository_values_from_configmaps_merged_in_flux_order() {
    let charts = translated(render(), &Repository::homelab()).unwrap();
    let chart = chart(&charts, "ingress-nginx");
    assert_eq!(
        chart["metadata"],
        json!({
            "name": "ingress-nginx",
            "namespace": "ingress-nginx",
            "labels": {
                "app.kubernetes.io/part-of": "edge",
                "helm.rekon.dev/release-name": "ingress-nginx",
                "helm.rekon.dev/release-namespace": "ingress-nginx",
            },
            "annotations": {"rekon.dev/helm-release": "ingress-nginx/ingress-nginx"},
        })
    );
    let spec = &chart["spec"];
    assert_eq!(spec["repo"], "https://kubernetes.github.io/ingress-nginx");
    assert_eq!(spec["chart"], "ingress-nginx");
    // The host's resolution of `4.x`, never the range.
    assert_eq!(spec["version"], "4.11.2");
    assert_eq!(spec["targetNamespace"], "ingress-nginx");
    assert_eq!(spec["takeOwnership"], true);
    for absent in [
        "serverSide",
        "timeout",
        "createNamespace",
        "authSecret",
        "valuesSecrets",
    ] {
        assert!(spec.get(absent).is_none(), "{absent}: {spec}");
    }
    // valuesFrom in order (the file, then the targetPath), `values` on top
    // with a deep merge; key order kept; the missing optional ConfigMap skipped.
    let values: Value = serde_json::from_str(spec["valuesContent"].as_str().unwrap()).unwrap();
    assert_eq!(
        serde_json::to_string(&values).unwrap(),
        r#"{"controller":{"replicaCount":3,"service":{"type":"LoadBalancer","annotations":{"metallb.universe.tf/loadBalancerIPs":"192.168.1.240"},"loadBalancerIP":"192.168.1.240","externalTrafficPolicy":"Local"},"metrics":{"enabled":true}}}"#
    );
    // JSON text is YAML: k3s's job hands it to helm as a values file.
    let as_yaml: Value = serde_yaml_ng::from_str(spec["valuesContent"].as_str().unwrap()).unwrap();
    assert_eq!(as_yaml, values);
}

#[test]
fn target_namespace_release_name_and_one_timeout() {
    let charts = translated(render(), &Repository::homelab()).unwrap();
    assert_eq!(
        *chart(&charts, "cert-manager"),
        json!({
            "apiVersion": "helm.cattle.io/v1",
            "kind": "HelmChart",
            "metadata": {
                "name": "cert-manager",
                "namespace": "flux-system",
                "labels": {
                    "helm.rekon.dev/release-name": "cert-manager",
                    "helm.rekon.dev/release-namespace": "flux-system",
                },
                "annotations": {"rekon.dev/helm-release": "flux-system/cert-manager"},
            },
            "spec": {
                "chart": "cert-manager",
                "repo": "https://charts.jetstack.io",
                "version": "v1.15.3",
                "targetNamespace": "cert-manager",
                "createNamespace": true,
                "timeout": "10m",
                "takeOwnership": true,
                "valuesContent": "{\n  \"crds\": {\n    \"enabled\": true\n  },\n  \"prometheus\": {\n    \"enabled\": false\n  }\n}",
            },
        })
    );
}

#[test]
fn oci_helm_repository_depends_on_suspend_and_server_side_off() {
    let charts = translated(render(), &Repository::homelab()).unwrap();
    let chart = chart(&charts, "kube-prometheus-stack");
    assert_eq!(
        chart["metadata"]["annotations"],
        json!({
            "rekon.dev/helm-release": "monitoring/kube-prometheus-stack",
            "rekon.dev/depends-on": "flux-system/cert-manager,monitoring/ingress-nginx-crds",
            "helmcharts.helm.cattle.io/unmanaged": "true",
        })
    );
    let spec = &chart["spec"];
    // The URL's trailing `/` does not double.
    assert_eq!(
        spec["chart"],
        "oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack"
    );
    assert!(spec.get("repo").is_none());
    assert_eq!(spec["version"], "61.9.0");
    assert_eq!(spec["serverSide"], "false");
    assert!(spec.get("takeOwnership").is_none());
    let values: Value = serde_json::from_str(spec["valuesContent"].as_str().unwrap()).unwrap();
    assert_eq!(
        values,
        json!({
            "grafana": {"adminUser": "admin", "persistence": {"enabled": true, "size": "10Gi"}},
            "prometheus": {"prometheusSpec": {"retention": "7d"}},
            "alertmanager": {"enabled": false},
        })
    );
}

#[test]
fn oci_repository_chart_ref_with_registry_secret_and_plain_http() {
    let charts = translated(render(), &Repository::homelab()).unwrap();
    let spec = &chart(&charts, "podinfo")["spec"];
    assert_eq!(
        *spec,
        json!({
            "chart": "oci://registry.lan:5000/charts/podinfo",
            "version": "6.7.0",
            "targetNamespace": "apps",
            "takeOwnership": true,
            "dockerRegistrySecret": {"name": "registry-lan"},
            "plainHTTP": true,
            "valuesContent": "{\n  \"replicaCount\": 2\n}",
        })
    );
}

#[test]
fn a_certificate_the_host_read_becomes_the_inline_repo_ca() {
    let mut objects = render();
    objects
        .iter_mut()
        .find(|o| o["kind"] == "HelmRelease" && o["metadata"]["name"] == "wiki")
        .unwrap()["spec"]["chart"]["spec"]["sourceRef"]["name"] = "internal-ca".into();
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let mut repository = Repository::homelab();
    repository.ca = Some(pem.into());
    let charts = translated(objects, &repository).unwrap();
    let spec = &chart(&charts, "wiki")["spec"];
    assert_eq!(spec["repo"], "https://charts.internal.lan");
    assert_eq!(spec["repoCA"], pem);
    // Sources without a certSecretRef get no CA, whatever the host says.
    assert!(chart(&charts, "cert-manager")["spec"]
        .get("repoCA")
        .is_none());
}

#[test]
fn private_repository_and_values_secrets_listed_last() {
    let charts = translated(render(), &Repository::homelab()).unwrap();
    let chart = chart(&charts, "wiki");
    let spec = &chart["spec"];
    assert_eq!(spec["repo"], "https://charts.example.org/private");
    assert_eq!(spec["authSecret"], json!({"name": "private-charts"}));
    assert_eq!(spec["authPassCredentials"], true);
    assert_eq!(
        spec["valuesSecrets"],
        json!([
            {"name": "wiki-values", "keys": ["values.yaml"]},
            {"name": "wiki-values", "keys": ["smtp.yaml"]},
        ])
    );
    assert!(spec.get("valuesContent").is_none());
}

#[test]
fn release_names_k3s_cannot_run_are_refused() {
    let mut object = release("podinfo");
    object["spec"]["releaseName"] =
        "monitoring-kube-prometheus-stack-with-a-rather-long-release-name".into();
    assert_eq!(
        translated(vec![object], &Repository::homelab()).unwrap_err(),
        "HelmRelease apps/podinfo: spec.releaseName: release name `monitoring-kube-prometheus-stack-with-a--7ea4c1d86eb2` has 53 characters; k3s names its Helm job `helm-install-<release name>`, which Kubernetes limits to 63, so at most 50; set a shorter spec.releaseName"
    );
    let mut object = release("podinfo");
    object["metadata"]["name"] = "p".repeat(64).into();
    object["spec"]["releaseName"] = "podinfo".into();
    assert_eq!(
        translated(vec![object], &Repository::homelab()).unwrap_err(),
        format!("HelmRelease apps/{}: metadata.name: has 64 characters, more than the 63 the label helm.rekon.dev/release-name can carry", "p".repeat(64))
    );
    let mut object = release("podinfo");
    object["spec"]["releaseName"] = "a".repeat(50).into();
    let charts = translated(vec![object], &Repository::homelab()).unwrap();
    assert_eq!(charts[0]["metadata"]["name"], "a".repeat(50));
}

#[test]
fn target_namespace_prefixes_the_default_release_name() {
    let mut object = release("podinfo");
    object["spec"]["targetNamespace"] = "web".into();
    let charts = translated(vec![object], &Repository::homelab()).unwrap();
    assert_eq!(charts[0]["metadata"]["name"], "web-podinfo");
    assert_eq!(charts[0]["metadata"]["namespace"], "apps");
    assert_eq!(charts[0]["spec"]["targetNamespace"], "web");
}

/// A change to one HelmRelease of the render.
type Change = Box<dyn FnOnce(&mut Value)>;

#[test]
fn refusals_name_the_release_and_the_field() {
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "podinfo",
            Box::new(|o| o["spec"]["postRenderers"] = json!([{"kustomize": {"patches": []}}])),
            "HelmRelease apps/podinfo: spec.postRenderers: k3s's Helm job runs no post-renderer",
        ),
        (
            "podinfo",
            Box::new(|o| o["spec"]["install"] = json!({"disableWait": true, "atomic": true})),
            "HelmRelease apps/podinfo: spec.install.atomic: unknown field, refused rather than dropped (helm-k3s knows the fields of HelmRelease v2)",
        ),
        (
            "ingress-nginx",
            Box::new(|o| o["spec"]["upgrade"]["crds"] = "CreateReplace".into()),
            "HelmRelease ingress-nginx/ingress-nginx: spec.upgrade.crds: `CreateReplace`: k3s upgrades as helm upgrade does, which never changes CRDs (only `Skip` translates)",
        ),
        (
            "ingress-nginx",
            Box::new(|o| o["spec"]["upgrade"]["remediation"] = json!({"retries": 3})),
            "HelmRelease ingress-nginx/ingress-nginx: spec.upgrade.remediation.retries: k3s handles failures with its failurePolicy (reinstall by default) and the Helm job's retries; Flux's per-action remediation has no equivalent",
        ),
        (
            "ingress-nginx",
            Box::new(|o| o["spec"]["valuesFrom"][0]["name"] = "typo".into()),
            "HelmRelease ingress-nginx/ingress-nginx: spec.valuesFrom[0]: ConfigMap ingress-nginx/typo is not in this render (rekon reads valuesFrom from the render, not the cluster)",
        ),
        (
            "ingress-nginx",
            Box::new(|o| o["spec"]["valuesFrom"][1]["valuesKey"] = "ip".into()),
            "HelmRelease ingress-nginx/ingress-nginx: spec.valuesFrom[1]: ConfigMap ingress-nginx/ingress-nginx-values has no key `ip`",
        ),
        (
            "ingress-nginx",
            Box::new(|o| o["spec"]["chart"]["spec"]["sourceRef"]["kind"] = "GitRepository".into()),
            "HelmRelease ingress-nginx/ingress-nginx: spec.chart.spec.sourceRef.kind: `GitRepository`: k3s installs charts from Helm and OCI repositories only",
        ),
        (
            "cert-manager",
            Box::new(|o| o["spec"]["storageNamespace"] = "flux-system".into()),
            "HelmRelease flux-system/cert-manager: spec.storageNamespace: k3s keeps the release in its target namespace `cert-manager`, not `flux-system`",
        ),
        (
            "cert-manager",
            Box::new(|o| o["spec"]["upgrade"] = json!({"timeout": "15m"})),
            "HelmRelease flux-system/cert-manager: spec.install.timeout: k3s has one timeout for install and upgrade, and they differ (10m and 15m)",
        ),
        (
            "cert-manager",
            Box::new(|o| o["apiVersion"] = "helm.toolkit.fluxcd.io/v3".into()),
            "HelmRelease flux-system/cert-manager: apiVersion: helm.toolkit.fluxcd.io/v3 is not a HelmRelease version this plugin reads (v2, v2beta2, v2beta1)",
        ),
        (
            "kube-prometheus-stack",
            Box::new(|o| o["spec"]["upgrade"]["serverSideApply"] = "auto".into()),
            "HelmRelease monitoring/kube-prometheus-stack: spec.upgrade.serverSideApply: k3s has one server-side apply mode for install and upgrade; install false with upgrade auto has none",
        ),
        (
            "kube-prometheus-stack",
            Box::new(|o| o["spec"]["chart"]["spec"]["sourceRef"]["name"] = "missing".into()),
            "HelmRelease monitoring/kube-prometheus-stack: spec.chart.spec.sourceRef: HelmRepository flux-system/missing is not defined in the repository",
        ),
        (
            "wiki",
            Box::new(|o| o["spec"]["values"] = json!({"smtp": {"port": 587}})),
            "HelmRelease tools/wiki: spec.valuesFrom[0]: k3s applies valuesSecrets after valuesContent, so the Secret's values would override spec.values, the reverse of Flux's order; move spec.values into a ConfigMap listed before the Secret, or into the Secret",
        ),
        (
            "wiki",
            Box::new(|o| o["spec"]["valuesFrom"][1]["targetPath"] = "smtp.password".into()),
            "HelmRelease tools/wiki: spec.valuesFrom[1]: Secret tools/wiki-values: k3s reads a Secret's key as a whole values file, so a targetPath cannot be kept",
        ),
        (
            "wiki",
            Box::new(|o| {
                o["spec"]["valuesFrom"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"kind": "ConfigMap", "name": "wiki", "optional": true}))
            }),
            "HelmRelease tools/wiki: spec.valuesFrom[2]: k3s applies valuesSecrets after all other values, so this ConfigMap cannot override the Secret at spec.valuesFrom[0] as Flux's order says; list Secrets last",
        ),
        (
            "wiki",
            Box::new(|o| o["spec"]["chart"]["spec"]["sourceRef"] = json!({"kind": "HelmRepository", "name": "private-elsewhere", "namespace": "flux-system"})),
            "HelmRelease tools/wiki: HelmRepository flux-system/private-elsewhere: spec.secretRef: k3s reads Secret `private-charts` from the HelmChart's namespace `tools`, and the source is in `flux-system`; define the source and its Secret in `tools`",
        ),
        (
            "wiki",
            Box::new(|o| o["spec"]["chart"]["spec"]["sourceRef"]["name"] = "internal-ca".into()),
            "HelmRelease tools/wiki: HelmRepository tools/internal-ca: spec.certSecretRef: the host did not give the CA of Secret `internal-ca` (rekon reads it from the cluster; without one it cannot be written as k3s's repoCA)",
        ),
        (
            "podinfo",
            Box::new(|o| o["spec"]["chartRef"]["name"] = "pinned".into()),
            "HelmRelease apps/podinfo: OCIRepository apps/pinned: spec.ref.digest: k3s installs a chart by version; a digest pin cannot be expressed",
        ),
        (
            "podinfo",
            Box::new(|o| o["spec"]["chartRef"]["name"] = "internal-oci".into()),
            "HelmRelease apps/podinfo: OCIRepository apps/internal-oci: spec.ref.commit: unknown field, refused rather than dropped (helm-k3s knows the fields of OCIRepository v1)",
        ),
        (
            "podinfo",
            Box::new(|o| o["spec"]["chartRef"]["name"] = "no-url".into()),
            "HelmRelease apps/podinfo: OCIRepository apps/no-url: spec: missing field `url`",
        ),
        (
            "podinfo",
            Box::new(|o| o["spec"]["kubeConfig"] = json!({"secretRef": {"name": "remote"}})),
            "HelmRelease apps/podinfo: spec.kubeConfig: k3s's Helm controller installs only into its own cluster",
        ),
        (
            "podinfo",
            Box::new(|o| o["spec"]["test"]["enable"] = true.into()),
            "HelmRelease apps/podinfo: spec.test.enable: k3s never runs helm test",
        ),
    ];
    for (name, change, expected) in cases {
        assert_eq!(refusal(name, change), expected);
    }
}

#[test]
fn every_refusal_is_reported_and_nothing_is_replaced() {
    let mut objects = render();
    for object in objects.iter_mut().filter(|o| o["kind"] == "HelmRelease") {
        object["spec"]["postRenderers"] = json!([]);
    }
    let mut shown = Objects::new(objects);
    let error = translate(&mut shown, &Repository::homelab()).unwrap_err();
    assert_eq!(error.lines().count(), 5, "{error}");
    assert!(shown.added().is_empty());
    assert!((0..shown.len()).all(|i| !shown.is_removed(i)));
}

#[test]
fn two_releases_of_one_name_are_refused() {
    let mut second = release("podinfo");
    second["metadata"]["name"] = "podinfo-canary".into();
    second["spec"]["releaseName"] = "podinfo".into();
    let mut sources = Repository::homelab();
    sources
        .versions
        .insert(("apps".into(), "podinfo-canary".into()), "6.7.0".into());
    let error = translated(vec![release("podinfo"), second], &sources).unwrap_err();
    assert_eq!(
        error,
        "HelmRelease apps/podinfo-canary: becomes HelmChart apps/podinfo like HelmRelease apps/podinfo (k3s names the release after the HelmChart); give one a different spec.releaseName"
    );
}

#[test]
fn the_hosts_resolution_error_is_passed_on() {
    let mut sources = Repository::homelab();
    sources.versions.clear();
    let error = translated(vec![release("podinfo")], &sources).unwrap_err();
    assert_eq!(
        error,
        "HelmRelease apps/podinfo: HelmRelease apps/podinfo is not in this render"
    );
}

#[test]
fn older_api_versions_with_the_same_fields_translate() {
    let mut object = release("podinfo");
    object["apiVersion"] = "helm.toolkit.fluxcd.io/v2beta1".into();
    let charts = translated(vec![object], &Repository::homelab()).unwrap();
    assert_eq!(
        charts[0]["spec"]["chart"],
        "oci://registry.lan:5000/charts/podinfo"
    );
    // A v2beta1 field v2 dropped is refused by name.
    let mut object = release("ingress-nginx");
    object["apiVersion"] = "helm.toolkit.fluxcd.io/v2beta1".into();
    object["spec"]["chart"]["spec"]["valuesFile"] = "values-prod.yaml".into();
    assert!(translated(vec![object], &Repository::homelab())
        .unwrap_err()
        .starts_with(
            "HelmRelease ingress-nginx/ingress-nginx: spec.chart.spec.valuesFile: unknown field"
        ));
}

//! One HelmRelease to one HelmChart.

use crate::spec::{
    self, HelmRelease, HelmRepositorySpec, LocalRef, OciRepositorySpec, Source, Spec,
};
use crate::values;
use crate::Sources;
use rekon_plugin_sdk::k8s::ObjectId;
use rekon_plugin_sdk::mutator::Objects;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Label of a HelmChart naming the HelmRelease it was made from, so the host
/// can find a dependency's HelmChart in the cluster.
pub const RELEASE_LABEL_NAME: &str = "helm.rekon.dev/release-name";
/// Label of a HelmChart naming the namespace of the HelmRelease it was made from.
pub const RELEASE_LABEL_NAMESPACE: &str = "helm.rekon.dev/release-namespace";
/// Annotation: `<namespace>/<name>` of the HelmRelease a HelmChart was made from.
const SOURCE_ANNOTATION: &str = "rekon.dev/helm-release";
/// Annotation: the HelmReleases (`ns/name,...`) this one depends on; the host
/// orders applies by it.
const DEPENDS_ON_ANNOTATION: &str = "rekon.dev/depends-on";
/// k3s's helm-controller neither installs, upgrades nor uninstalls a
/// HelmChart with this annotation (`shouldManage` in its chart controller).
const UNMANAGED_ANNOTATION: &str = "helmcharts.helm.cattle.io/unmanaged";
/// The longest release name k3s can run: 63 (a Job name) minus `helm-install-`.
const MAX_RELEASE_NAME: usize = 63 - "helm-install-".len();
/// The media type of a Helm chart in an OCI artifact.
const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// Replaces every HelmRelease of `objects` with its HelmChart. All
/// HelmReleases are checked before any is replaced; the error lists every
/// refusal, one per line.
pub fn translate(objects: &mut Objects, sources: &impl Sources) -> Result<(), String> {
    let mut config_maps = HashMap::new();
    let mut releases = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        let id = ObjectId::of(object);
        if id.kind == "HelmRelease" && id.group() == "helm.toolkit.fluxcd.io" {
            releases.push(index);
        } else if id.kind == "ConfigMap" && id.api_version == "v1" {
            config_maps.insert((id.namespace, id.name), index);
        }
    }
    let lookup = |namespace: &str, name: &str| {
        config_maps
            .get(&(namespace.to_string(), name.to_string()))
            .map(|&i| &objects[i])
    };
    let mut errors = Vec::new();
    let mut charts = Vec::new();
    // HelmChart namespace/name -> the HelmRelease it came from.
    let mut names: HashMap<(String, String), String> = HashMap::new();
    for &index in &releases {
        let release = ObjectId::of(&objects[index]);
        let from = format!("{}/{}", release.namespace, release.name);
        match helm_chart(&objects[index], &lookup, sources) {
            Ok(chart) => {
                let id = ObjectId::of(&chart);
                if let Some(first) = names.get(&(id.namespace.clone(), id.name.clone())) {
                    errors.push(format!(
                        "HelmRelease {from}: becomes HelmChart {}/{} like HelmRelease {first} (k3s names the release after the HelmChart); give one a different spec.releaseName",
                        id.namespace, id.name
                    ));
                } else {
                    names.insert((id.namespace, id.name), from);
                }
                charts.push((index, chart));
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    for (index, chart) in charts {
        objects.remove(index);
        objects.add(chart);
    }
    Ok(())
}

/// A refused field: its path (`spec.postRenderers`) and why.
type Refusal = (String, String);

/// The values of a HelmChart.
struct ChartValues {
    /// `valuesContent`: valuesFrom ConfigMaps and `spec.values`, merged.
    content: Map<String, Value>,
    /// `valuesSecrets`.
    secrets: Vec<Value>,
}

/// Where a chart comes from, in HelmChart terms.
#[derive(Default)]
struct Location {
    chart: String,
    repo: Option<String>,
    auth_secret: Option<String>,
    docker_registry_secret: Option<String>,
    plain_http: bool,
    pass_credentials: bool,
    /// The CA of the source's `certSecretRef` (inline `repoCA`).
    repo_ca: Option<String>,
}

/// The HelmChart of one HelmRelease, or the refusal.
fn helm_chart<'a>(
    object: &Value,
    config_map: &dyn Fn(&str, &str) -> Option<&'a Value>,
    sources: &impl Sources,
) -> Result<Value, String> {
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let id = format!("HelmRelease {namespace}/{name}");
    let refuse = |field: &str, reason: &str| format!("{id}: {field}: {reason}");
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    // v2beta1 and v2beta2 name and mean the fields read here as v2 does; a
    // field of theirs that v2 lacks is refused below as unknown.
    if !matches!(
        api_version,
        "helm.toolkit.fluxcd.io/v2"
            | "helm.toolkit.fluxcd.io/v2beta2"
            | "helm.toolkit.fluxcd.io/v2beta1"
    ) {
        return Err(refuse(
            "apiVersion",
            &format!("{api_version} is not a HelmRelease version this plugin reads (v2, v2beta2, v2beta1)"),
        ));
    }
    if namespace.is_empty() {
        return Err(refuse("metadata.namespace", "not set"));
    }
    // Label values are at most 63 characters.
    if name.len() > 63 {
        return Err(refuse(
            "metadata.name",
            &format!(
                "has {} characters, more than the 63 the label {RELEASE_LABEL_NAME} can carry",
                name.len()
            ),
        ));
    }
    let release: HelmRelease =
        spec::parse(object, "HelmRelease v2").map_err(|e| format!("{id}: {e}"))?;
    let spec = &release.spec;
    refuse_untranslatable(spec).map_err(|(field, reason)| refuse(&field, &reason))?;

    let target_namespace = spec.target_namespace.as_deref().unwrap_or(namespace);
    if let Some(storage) = &spec.storage_namespace {
        if storage != target_namespace {
            return Err(refuse(
                "spec.storageNamespace",
                &format!("k3s keeps the release in its target namespace `{target_namespace}`, not `{storage}`"),
            ));
        }
    }
    let resolved = sources
        .helm_chart(namespace, name)
        .map_err(|e| format!("{id}: {e}"))?;
    let location = location(spec, namespace, sources, resolved.ca.as_deref())
        .map_err(|e| format!("{id}: {e}"))?;
    let version = resolved.version;

    let mut chart_spec = Map::new();
    chart_spec.insert("chart".into(), location.chart.into());
    if let Some(repo) = location.repo {
        chart_spec.insert("repo".into(), repo.into());
    }
    chart_spec.insert("version".into(), version.into());
    chart_spec.insert("targetNamespace".into(), target_namespace.into());
    let (no_install, no_upgrade) = (spec::Install::default(), spec::Upgrade::default());
    let install = spec.install.as_ref().unwrap_or(&no_install);
    let upgrade = spec.upgrade.as_ref().unwrap_or(&no_upgrade);
    if install.create_namespace == Some(true) {
        chart_spec.insert("createNamespace".into(), true.into());
    }
    // k3s has one setting for install and upgrade where Flux has two: both
    // must agree.
    let install_timeout = install.timeout.as_ref().or(spec.timeout.as_ref());
    let upgrade_timeout = upgrade.timeout.as_ref().or(spec.timeout.as_ref());
    if install_timeout != upgrade_timeout {
        return Err(refuse(
            "spec.install.timeout",
            &format!(
                "k3s has one timeout for install and upgrade, and they differ ({} and {})",
                install_timeout.map_or("5m", |s| s.as_str()),
                upgrade_timeout.map_or("5m", |s| s.as_str())
            ),
        ));
    }
    if let Some(timeout) = install_timeout {
        chart_spec.insert("timeout".into(), timeout.clone().into());
    }
    // Flux takes ownership of existing objects unless told not to; k3s only
    // when told to.
    let install_takes = install.disable_take_ownership != Some(true);
    let upgrade_takes = upgrade.disable_take_ownership != Some(true);
    if install_takes != upgrade_takes {
        return Err(refuse(
            "spec.install.disableTakeOwnership",
            "k3s takes ownership on both install and upgrade or on neither, and spec.upgrade.disableTakeOwnership differs",
        ));
    }
    if install_takes {
        chart_spec.insert("takeOwnership".into(), true.into());
    }
    // Server-side apply: Flux's defaults (install true, upgrade auto) are
    // k3s's when serverSide is unset.
    let install_ssa = install.server_side_apply.unwrap_or(true);
    let upgrade_ssa = upgrade.server_side_apply.as_deref().unwrap_or("auto");
    match (install_ssa, upgrade_ssa) {
        (true, "auto") => {}
        (true, "enabled") => {
            chart_spec.insert("serverSide".into(), "true".into());
        }
        (false, "disabled") => {
            chart_spec.insert("serverSide".into(), "false".into());
        }
        _ => {
            return Err(refuse(
                "spec.upgrade.serverSideApply",
                &format!(
                    "k3s has one server-side apply mode for install and upgrade; install {install_ssa} with upgrade {upgrade_ssa} has none"
                ),
            ))
        }
    }
    if let Some(secret) = location.auth_secret {
        chart_spec.insert("authSecret".into(), json!({ "name": secret }));
    }
    if location.pass_credentials {
        chart_spec.insert("authPassCredentials".into(), true.into());
    }
    if let Some(secret) = location.docker_registry_secret {
        chart_spec.insert("dockerRegistrySecret".into(), json!({ "name": secret }));
    }
    if location.plain_http {
        chart_spec.insert("plainHTTP".into(), true.into());
    }
    if let Some(ca) = location.repo_ca {
        chart_spec.insert("repoCA".into(), ca.into());
    }
    let ChartValues { content, secrets } = chart_values(spec, namespace, config_map)
        .map_err(|(field, reason)| refuse(&field, &reason))?;
    if !content.is_empty() {
        let text = serde_json::to_string_pretty(&Value::Object(content))
            .map_err(|e| refuse("spec.values", &format!("cannot be written as JSON: {e}")))?;
        chart_spec.insert("valuesContent".into(), text.into());
    }
    if !secrets.is_empty() {
        chart_spec.insert("valuesSecrets".into(), Value::Array(secrets));
    }

    let mut labels = release.metadata.labels.clone();
    labels.insert(RELEASE_LABEL_NAME.into(), name.into());
    labels.insert(RELEASE_LABEL_NAMESPACE.into(), namespace.into());
    let mut annotations = Map::new();
    annotations.insert(
        SOURCE_ANNOTATION.into(),
        format!("{namespace}/{name}").into(),
    );
    if !spec.depends_on.is_empty() {
        let ids: Vec<String> = spec
            .depends_on
            .iter()
            .map(|d| format!("{}/{}", d.namespace.as_deref().unwrap_or(namespace), d.name))
            .collect();
        annotations.insert(DEPENDS_ON_ANNOTATION.into(), ids.join(",").into());
    }
    if spec.suspend == Some(true) {
        annotations.insert(UNMANAGED_ANNOTATION.into(), "true".into());
    }
    let release_name = release_name(spec, name);
    // k3s runs the release in Job `helm-install-<name>` (`helm-delete-<name>`),
    // and a Job's name becomes a pod label value, at most 63 characters.
    if release_name.len() > MAX_RELEASE_NAME {
        return Err(refuse(
            if spec.release_name.is_some() { "spec.releaseName" } else { "metadata.name" },
            &format!(
                "release name `{release_name}` has {} characters; k3s names its Helm job `helm-install-<release name>`, which Kubernetes limits to 63, so at most {MAX_RELEASE_NAME}; set a shorter spec.releaseName",
                release_name.len()
            ),
        ));
    }
    Ok(json!({
        "apiVersion": "helm.cattle.io/v1",
        "kind": "HelmChart",
        "metadata": {
            "name": release_name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": chart_spec,
    }))
}

/// The Helm release name as Flux computes it: `spec.releaseName`, else
/// `[targetNamespace-]name`, shortened past 53 characters to 40 characters,
/// `-` and the first 12 hex digits of the SHA-256 of the long name
/// (helm-controller's `release.ShortenName`).
fn release_name(spec: &Spec, name: &str) -> String {
    let long = match (&spec.release_name, &spec.target_namespace) {
        (Some(release), _) => release.clone(),
        (None, Some(target)) => format!("{target}-{name}"),
        (None, None) => name.to_string(),
    };
    if long.len() <= 53 {
        return long;
    }
    let digest = format!("{:x}", Sha256::digest(long.as_bytes()));
    // Names are DNS labels (ASCII), so byte 40 is a character boundary.
    format!("{}-{}", &long[..40], &digest[..12])
}

/// Refuses the fields k3s has no faithful equivalent for: `(path, reason)`.
fn refuse_untranslatable(spec: &Spec) -> Result<(), Refusal> {
    let no = |field: &str, reason: &str| Err((field.to_string(), reason.to_string()));
    if spec.kube_config.is_some() {
        return no(
            "spec.kubeConfig",
            "k3s's Helm controller installs only into its own cluster",
        );
    }
    if spec.service_account_name.is_some() {
        return no(
            "spec.serviceAccountName",
            "k3s runs every Helm job as its own service account (bound to cluster-admin); the impersonation cannot be kept",
        );
    }
    if spec.common_metadata.is_some() {
        return no(
            "spec.commonMetadata",
            "k3s cannot add labels or annotations to the chart's objects (Flux does it with a post-renderer)",
        );
    }
    if spec.post_renderers.is_some() {
        return no("spec.postRenderers", "k3s's Helm job runs no post-renderer");
    }
    if spec.test.as_ref().and_then(|t| t.enable) == Some(true) {
        return no("spec.test.enable", "k3s never runs helm test");
    }
    if let Some(mode) = spec
        .drift_detection
        .as_ref()
        .and_then(|d| d.mode.as_deref())
    {
        if mode != "disabled" {
            return no(
                "spec.driftDetection.mode",
                &format!("`{mode}`: k3s neither detects nor corrects drift of the chart's objects (only `disabled` translates)"),
            );
        }
    }
    for (i, dependency) in spec.depends_on.iter().enumerate() {
        if dependency.ready_expr.is_some() {
            return no(
                &format!("spec.dependsOn[{i}].readyExpr"),
                "rekon orders HelmCharts by readiness, not by CEL expressions",
            );
        }
    }
    if let Some(chart) = &spec.chart {
        let s = &chart.spec;
        if let Some(strategy) = s.reconcile_strategy.as_deref() {
            if strategy != "ChartVersion" {
                return no(
                    "spec.chart.spec.reconcileStrategy",
                    &format!("`{strategy}`: k3s installs a chart by version, so a new chart per source revision cannot be expressed"),
                );
            }
        }
        if s.values_files.is_some() {
            return no(
                "spec.chart.spec.valuesFiles",
                "k3s takes values only from the HelmChart, not from other files of the chart",
            );
        }
        if s.verify.is_some() {
            return no(
                "spec.chart.spec.verify",
                "k3s does not verify chart signatures",
            );
        }
        if s.source_ref.kind != "HelmRepository" {
            return no(
                "spec.chart.spec.sourceRef.kind",
                &format!(
                    "`{}`: k3s installs charts from Helm and OCI repositories only",
                    s.source_ref.kind
                ),
            );
        }
    }
    if let Some(chart_ref) = &spec.chart_ref {
        if chart_ref.kind != "OCIRepository" {
            return no(
                "spec.chartRef.kind",
                &format!(
                    "`{}`: k3s installs charts from Helm and OCI repositories only",
                    chart_ref.kind
                ),
            );
        }
    }
    let remediation_reason = "k3s handles failures with its failurePolicy (reinstall by default) and the Helm job's retries; Flux's per-action remediation has no equivalent";
    if let Some(install) = &spec.install {
        let flag = |set: Option<bool>, field: &str, reason: &str| -> Result<(), Refusal> {
            if set == Some(true) {
                return no(&format!("spec.install.{field}"), reason);
            }
            Ok(())
        };
        if install.strategy.is_some() {
            return no("spec.install.strategy", remediation_reason);
        }
        if let Some(r) = &install.remediation {
            check_remediation(r, "spec.install.remediation", remediation_reason)?;
        }
        flag(
            install.disable_hooks,
            "disableHooks",
            "k3s cannot pass helm's --no-hooks",
        )?;
        flag(
            install.disable_open_api_validation,
            "disableOpenAPIValidation",
            "k3s cannot pass helm's --disable-openapi-validation",
        )?;
        flag(
            install.disable_schema_validation,
            "disableSchemaValidation",
            "k3s cannot pass helm's --skip-schema-validation",
        )?;
        flag(
            install.replace,
            "replace",
            "k3s cannot pass helm's --replace",
        )?;
        flag(
            install.skip_crds,
            "skipCRDs",
            "k3s installs CRDs as helm install does (crds: Create)",
        )?;
        if let Some(crds) = install.crds.as_deref() {
            if crds != "Create" {
                return no(
                    "spec.install.crds",
                    &format!("`{crds}`: k3s installs CRDs as helm install does (only `Create` translates)"),
                );
            }
        }
    }
    if let Some(upgrade) = &spec.upgrade {
        let flag = |set: Option<bool>, field: &str, reason: &str| -> Result<(), Refusal> {
            if set == Some(true) {
                return no(&format!("spec.upgrade.{field}"), reason);
            }
            Ok(())
        };
        if upgrade.strategy.is_some() {
            return no("spec.upgrade.strategy", remediation_reason);
        }
        if let Some(r) = &upgrade.remediation {
            check_remediation(r, "spec.upgrade.remediation", remediation_reason)?;
        }
        flag(
            upgrade.disable_hooks,
            "disableHooks",
            "k3s cannot pass helm's --no-hooks",
        )?;
        flag(
            upgrade.disable_open_api_validation,
            "disableOpenAPIValidation",
            "k3s cannot pass helm's --disable-openapi-validation",
        )?;
        flag(
            upgrade.disable_schema_validation,
            "disableSchemaValidation",
            "k3s cannot pass helm's --skip-schema-validation",
        )?;
        flag(upgrade.force, "force", "k3s cannot pass helm's --force")?;
        flag(
            upgrade.preserve_values,
            "preserveValues",
            "k3s passes the HelmChart's values in full on every upgrade",
        )?;
        flag(
            upgrade.cleanup_on_fail,
            "cleanupOnFail",
            "k3s cannot pass helm's --cleanup-on-fail",
        )?;
        if let Some(crds) = upgrade.crds.as_deref() {
            if crds != "Skip" {
                return no(
                    "spec.upgrade.crds",
                    &format!("`{crds}`: k3s upgrades as helm upgrade does, which never changes CRDs (only `Skip` translates)"),
                );
            }
        }
        if upgrade.chart_name_change_strategy.as_deref() == Some("Reinstall") {
            return no(
                "spec.upgrade.chartNameChangeStrategy",
                "`Reinstall`: k3s upgrades in place when the chart's name changes (only `InPlaceUpdate` translates)",
            );
        }
    }
    if let Some(uninstall) = &spec.uninstall {
        let flag = |set: Option<bool>, field: &str, reason: &str| -> Result<(), Refusal> {
            if set == Some(true) {
                return no(&format!("spec.uninstall.{field}"), reason);
            }
            Ok(())
        };
        flag(
            uninstall.keep_history,
            "keepHistory",
            "k3s cannot pass helm's --keep-history",
        )?;
        flag(
            uninstall.disable_hooks,
            "disableHooks",
            "k3s cannot pass helm's --no-hooks",
        )?;
        flag(
            uninstall.disable_wait,
            "disableWait",
            "k3s always uninstalls with --wait",
        )?;
        if uninstall.timeout.is_some() {
            return no("spec.uninstall.timeout", "k3s's uninstall takes no timeout");
        }
        if let Some(propagation) = uninstall.deletion_propagation.as_deref() {
            if propagation != "background" {
                return no(
                    "spec.uninstall.deletionPropagation",
                    &format!("`{propagation}`: k3s uninstalls with helm's default, background"),
                );
            }
        }
    }
    match (&spec.chart, &spec.chart_ref) {
        (Some(_), Some(_)) => no(
            "spec.chartRef",
            "set together with spec.chart; Flux takes one",
        ),
        (None, None) => no("spec.chart", "neither spec.chart nor spec.chartRef is set"),
        _ => Ok(()),
    }
}

fn check_remediation(r: &spec::Remediation, path: &str, reason: &str) -> Result<(), Refusal> {
    if r.retries.is_some_and(|n| n != 0) {
        return Err((format!("{path}.retries"), reason.to_string()));
    }
    if r.remediate_last_failure == Some(true) {
        return Err((format!("{path}.remediateLastFailure"), reason.to_string()));
    }
    if r.strategy.is_some() {
        return Err((format!("{path}.strategy"), reason.to_string()));
    }
    Ok(())
}

/// The chart's location from its HelmRepository or OCIRepository.
///
/// `ca` is the CA the host read for the source's `certSecretRef`: k3s takes a
/// CA inline (`repoCA`) or from a ConfigMap, never from a Secret, so the host
/// reads it and the HelmChart carries it (a CA is public).
fn location(
    spec: &Spec,
    namespace: &str,
    sources: &impl Sources,
    ca: Option<&str>,
) -> Result<Location, String> {
    let (kind, field, source_ref, chart_name) = match (&spec.chart, &spec.chart_ref) {
        (Some(chart), _) => (
            "HelmRepository",
            "spec.chart.spec.sourceRef",
            &chart.spec.source_ref,
            Some(chart.spec.chart.as_str()),
        ),
        (None, Some(chart_ref)) => ("OCIRepository", "spec.chartRef", chart_ref, None),
        (None, None) => unreachable!("refused before"),
    };
    let source_namespace = source_ref.namespace.as_deref().unwrap_or(namespace);
    let source_id = format!("{kind} {source_namespace}/{}", source_ref.name);
    let object = sources
        .source(kind, source_namespace, &source_ref.name)?
        .ok_or_else(|| format!("{field}: {source_id} is not defined in the repository"))?;
    let refuse = |field: &str, reason: &str| format!("{source_id}: {field}: {reason}");
    // Credentials are Secrets k3s reads from the HelmChart's namespace.
    let secret = |secret_ref: &Option<LocalRef>| -> Result<Option<String>, String> {
        match secret_ref {
            Some(secret) if source_namespace != namespace => Err(refuse(
                "spec.secretRef",
                &format!(
                    "k3s reads Secret `{}` from the HelmChart's namespace `{namespace}`, and the source is in `{source_namespace}`; define the source and its Secret in `{namespace}`",
                    secret.name
                ),
            )),
            Some(secret) => Ok(Some(secret.name.clone())),
            None => Ok(None),
        }
    };
    let suspended =
        "a suspended source freezes the chart in Flux; rekon resolves it on every render";
    let provider = |p: &Option<String>| -> Result<(), String> {
        match p.as_deref() {
            None | Some("generic") => Ok(()),
            Some(other) => Err(refuse(
                "spec.provider",
                &format!("`{other}`: k3s's Helm job has no cloud provider login; use a secretRef"),
            )),
        }
    };
    let mut location = Location::default();
    let repo_ca = |cert_secret_ref: &Option<LocalRef>| -> Result<Option<String>, String> {
        match (cert_secret_ref, ca) {
            (None, _) => Ok(None),
            (Some(_), Some(ca)) => Ok(Some(ca.to_string())),
            (Some(secret), None) => Err(refuse(
                "spec.certSecretRef",
                &format!(
                    "the host did not give the CA of Secret `{}` (rekon reads it from the cluster; \
                     without one it cannot be written as k3s's repoCA)",
                    secret.name
                ),
            )),
        }
    };
    if kind == "HelmRepository" {
        let repo = spec::parse::<Source<HelmRepositorySpec>>(&object, "HelmRepository v1")
            .map_err(|e| format!("{source_id}: {e}"))?
            .spec;
        let chart = chart_name.expect("a HelmRepository's chart name");
        provider(&repo.provider)?;
        location.repo_ca = repo_ca(&repo.cert_secret_ref)?;
        if repo.suspend == Some(true) {
            return Err(refuse("spec.suspend", suspended));
        }
        let credentials = secret(&repo.secret_ref)?;
        if repo.type_.as_deref() == Some("oci") {
            location.chart = format!("{}/{chart}", repo.url.trim_end_matches('/'));
            location.docker_registry_secret = credentials;
            location.plain_http = repo.insecure == Some(true);
        } else {
            location.chart = chart.to_string();
            location.repo = Some(repo.url);
            location.auth_secret = credentials;
            location.pass_credentials = repo.pass_credentials == Some(true);
        }
    } else {
        let oci = spec::parse::<Source<OciRepositorySpec>>(&object, "OCIRepository v1")
            .map_err(|e| format!("{source_id}: {e}"))?
            .spec;
        provider(&oci.provider)?;
        if oci.reference.as_ref().is_some_and(|r| r.digest.is_some()) {
            return Err(refuse(
                "spec.ref.digest",
                "k3s installs a chart by version; a digest pin cannot be expressed",
            ));
        }
        if let Some(media_type) = oci
            .layer_selector
            .as_ref()
            .and_then(|l| l.media_type.as_deref())
        {
            if media_type != HELM_CHART_LAYER {
                return Err(refuse(
                    "spec.layerSelector.mediaType",
                    &format!("`{media_type}`: k3s installs the Helm chart layer ({HELM_CHART_LAYER}) only"),
                ));
            }
        }
        if oci.verify.is_some() {
            return Err(refuse(
                "spec.verify",
                "k3s does not verify chart signatures",
            ));
        }
        if oci.service_account_name.is_some() {
            return Err(refuse(
                "spec.serviceAccountName",
                "k3s's Helm job does not use a service account's image pull secrets; use a secretRef",
            ));
        }
        location.repo_ca = repo_ca(&oci.cert_secret_ref)?;
        if oci.proxy_secret_ref.is_some() {
            return Err(refuse(
                "spec.proxySecretRef",
                "k3s's Helm job has no proxy per chart",
            ));
        }
        if oci.suspend == Some(true) {
            return Err(refuse("spec.suspend", suspended));
        }
        location.chart = oci.url;
        location.docker_registry_secret = secret(&oci.secret_ref)?;
        location.plain_http = oci.insecure == Some(true);
    }
    Ok(location)
}

/// `valuesContent` (valuesFrom ConfigMaps and `spec.values` merged in Flux's
/// order) and `valuesSecrets`, or `(path, reason)`.
fn chart_values<'a>(
    spec: &Spec,
    namespace: &str,
    config_map: &dyn Fn(&str, &str) -> Option<&'a Value>,
) -> Result<ChartValues, Refusal> {
    let mut merged = Map::new();
    let mut secrets = Vec::new();
    let mut first_secret = None;
    for (i, reference) in spec.values_from.iter().enumerate() {
        let field = format!("spec.valuesFrom[{i}]");
        let no = |reason: String| Err((field.clone(), reason));
        let key = reference.values_key.as_deref().unwrap_or("values.yaml");
        let id = format!("{} {namespace}/{}", reference.kind, reference.name);
        match reference.kind.as_str() {
            "ConfigMap" => {
                if let Some(secret) = first_secret {
                    return no(format!(
                        "k3s applies valuesSecrets after all other values, so this ConfigMap cannot override the Secret at spec.valuesFrom[{secret}] as Flux's order says; list Secrets last"
                    ));
                }
                let Some(object) = config_map(namespace, &reference.name) else {
                    if reference.optional {
                        continue;
                    }
                    return no(format!(
                        "{id} is not in this render (rekon reads valuesFrom from the render, not the cluster)"
                    ));
                };
                let Some(text) = object["data"][key].as_str() else {
                    if reference.optional {
                        continue;
                    }
                    return no(format!("{id} has no key `{key}`"));
                };
                match &reference.target_path {
                    Some(path) => values::set_path(&mut merged, path, text, reference.literal)
                        .map_err(|e| (field.clone(), format!("{id}: {e}")))?,
                    None => {
                        let file = values::parse_yaml(text)
                            .map_err(|e| (field.clone(), format!("{id} key `{key}`: {e}")))?;
                        values::merge(&mut merged, file);
                    }
                }
            }
            "Secret" => {
                if reference.target_path.is_some() {
                    return no(format!(
                        "{id}: k3s reads a Secret's key as a whole values file, so a targetPath cannot be kept"
                    ));
                }
                if reference.optional {
                    return no(format!(
                        "{id}: k3s's only optional values Secret (ignoreUpdates) also stops upgrading when the Secret changes, which Flux does not"
                    ));
                }
                first_secret.get_or_insert(i);
                secrets.push(json!({ "name": reference.name, "keys": [key] }));
            }
            other => return no(format!("kind `{other}`: only ConfigMap and Secret")),
        }
    }
    match &spec.values {
        None | Some(Value::Null) => {}
        Some(Value::Object(values)) => {
            if let Some(secret) = first_secret {
                if !values.is_empty() {
                    return Err((
                        format!("spec.valuesFrom[{secret}]"),
                        "k3s applies valuesSecrets after valuesContent, so the Secret's values would override spec.values, the reverse of Flux's order; move spec.values into a ConfigMap listed before the Secret, or into the Secret".into(),
                    ));
                }
            }
            values::merge(&mut merged, values.clone());
        }
        Some(_) => return Err(("spec.values".into(), "not a map".into())),
    }
    Ok(ChartValues {
        content: merged,
        secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_are_shortened_as_flux_does() {
        let spec = |release: Option<&str>, target: Option<&str>| Spec {
            release_name: release.map(String::from),
            target_namespace: target.map(String::from),
            ..Spec::default()
        };
        assert_eq!(release_name(&spec(None, None), "podinfo"), "podinfo");
        assert_eq!(
            release_name(&spec(None, Some("web")), "podinfo"),
            "web-podinfo"
        );
        assert_eq!(
            release_name(&spec(Some("info"), Some("web")), "podinfo"),
            "info"
        );
        let long = "monitoring-kube-prometheus-stack-with-a-rather-long-release-name";
        // The first 40 characters, `-`, the first 12 hex digits of its SHA-256.
        assert_eq!(
            release_name(&spec(Some(long), None), "x"),
            "monitoring-kube-prometheus-stack-with-a--7ea4c1d86eb2"
        );
        let exactly = "a".repeat(53);
        assert_eq!(release_name(&spec(Some(&exactly), None), "x"), exactly);
    }
}

//! Helm releases on k3s: the health of `helm.cattle.io/v1` HelmCharts and
//! the `dependsOn` order between releases.
//!
//! # What k3s does (k3s-io/helm-controller v0.17.7)
//!
//! From `pkg/controllers/chart/chart.go` and
//! `pkg/apis/helm.cattle.io/v1/types.go`:
//!
//! - k3s manages a HelmChart with `spec.chart` or `spec.chartContent`
//!   (`shouldManage`). It installs it with a Job named
//!   `helm-install-<name>` (`helm-delete-<name>` while the HelmChart is
//!   being deleted: `jobName()`) in the HelmChart's namespace, labelled
//!   `helmcharts.helm.cattle.io/chart: <name>` (`job()`).
//! - The Job is created suspended and resumed once the Job controller has
//!   seen it (`jobReady`, `setJobSuspended`), so `spec.suspend: true` means
//!   "not started yet".
//! - Its pod template is annotated `helmcharts.helm.cattle.io/configHash:
//!   SHA256=<HEX>`, a hash of the template and the values (`hashObjects()`),
//!   and the helm container's env carries `NAME`, `VERSION` (`spec.version`),
//!   `REPO` (`spec.repo`), `CHART` (`<name>/<spec.chart>` when there is a
//!   repo, else `spec.chart`) and `TARGET_NAMESPACE` (`spec.targetNamespace`,
//!   else the HelmChart's namespace).
//! - A spec change changes the template; wrangler's apply then replaces the
//!   Job (delete and create under the same name: `reconcileJob` answers
//!   `apply.ErrReplace`). So the Job of the current spec is the one whose
//!   env matches the spec. k3s records no `observedGeneration`, and the
//!   config hash cannot be recomputed outside k3s (it hashes Go's encoding
//!   of the pod template and the values Secret). So rekon compares the env,
//!   and when its own apply changes the spec (the dry-run moves the
//!   HelmChart's `metadata.generation`) it notes the install Job's uid
//!   before applying: that Job is the previous spec's even if the env
//!   matches (a change of `valuesContent` alone), until k3s replaces it.
//! - `OnChange` writes `status.jobName` and the conditions `JobCreated`
//!   (`Applying HelmChart using Job <ns>/<job>`) and `Failed` (`False`, or
//!   `True` when the Job failed, could not be generated, or the Helm
//!   version is unsupported, with a message).
//! - Success and failure are the Job's: condition `Complete=True`
//!   (`status.succeeded`) or `Failed=True`, whose message is the Job
//!   controller's (`Job has reached the specified backoff limit`; Helm's
//!   own error is only in the pod log). The default `backoffLimit` is 1000
//!   with `restartPolicy: OnFailure`, so a failing install usually shows as
//!   "still running" until rekon's timeout, not as a failed Job.
//!
//! # What rekon decides
//!
//! A HelmChart is **ready** when the Job named in `status.jobName` (else
//! `helm-install-<name>`) matches the current spec (env above, and is not
//! the Job noted before rekon changed the spec), is not
//! suspended and is `Complete`; **failed** when that Job is `Failed` (the
//! message names the Job and says its message), or when there is no current
//! Job and the HelmChart's `Failed` condition is `True`; otherwise **in
//! progress**.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kube::api::{ApiResource, GroupVersionKind};
use serde_json::Value;

use super::health::HealthState;
use super::object::{annotation, label, ObjectRef};

/// Annotation listing the Helm releases (`namespace/name`, comma separated)
/// an object is applied after.
pub const DEPENDS_ON_ANNOTATION: &str = "rekon.dev/depends-on";
/// Label of a HelmChart: the Helm release's name.
pub const RELEASE_NAME_LABEL: &str = "helm.rekon.dev/release-name";
/// Label of a HelmChart: the Helm release's (HelmRelease's) namespace.
pub const RELEASE_NAMESPACE_LABEL: &str = "helm.rekon.dev/release-namespace";

/// A Helm release, as a Flux HelmRelease id: `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseId {
    /// The HelmRelease's namespace.
    pub namespace: String,
    /// The HelmRelease's name.
    pub name: String,
}

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl ReleaseId {
    /// The label selector of the HelmChart installing this release.
    pub fn selector(&self) -> String {
        format!(
            "{RELEASE_NAMESPACE_LABEL}={},{RELEASE_NAME_LABEL}={}",
            self.namespace, self.name
        )
    }
}

/// Whether `id` is a k3s HelmChart.
pub fn is_helm_chart(id: &ObjectRef) -> bool {
    id.group() == "helm.cattle.io" && id.kind == "HelmChart"
}

/// The HelmChart kind, for reading charts that are not in the apply set.
pub fn chart_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("helm.cattle.io", "v1", "HelmChart"))
}

/// The Job kind.
pub fn job_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("batch", "v1", "Job"))
}

/// The release a HelmChart installs, from its labels.
pub fn release_of(chart: &Value) -> Option<ReleaseId> {
    Some(ReleaseId {
        namespace: label(chart, RELEASE_NAMESPACE_LABEL)?.to_string(),
        name: label(chart, RELEASE_NAME_LABEL)?.to_string(),
    })
}

/// The releases `object` depends on, or the entry that is not `namespace/name`.
pub fn depends_on(object: &Value) -> Result<Vec<ReleaseId>, String> {
    let Some(list) = annotation(object, DEPENDS_ON_ANNOTATION) else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| match entry.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(ReleaseId {
                    namespace: ns.into(),
                    name: name.into(),
                })
            }
            _ => Err(entry.to_string()),
        })
        .collect()
}

/// The name of the HelmChart's install Job.
pub fn job_name(chart: &Value) -> String {
    match chart.pointer("/status/jobName").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.into(),
        _ => format!(
            "helm-install-{}",
            chart
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
    }
}

/// The state of a live HelmChart, given its install Job if it exists and
/// the uid of the Job of its previous spec (`stale`) if rekon just changed it.
pub fn assess(chart: &Value, job: Option<&Value>, stale: Option<&str>) -> (HealthState, String) {
    let s = |p: &str| chart.pointer(p).and_then(Value::as_str).unwrap_or("");
    let namespace = s("/metadata/namespace");
    let job_ref = format!("{namespace}/{}", job_name(chart));
    let current = job.filter(|j| {
        installs_current_spec(chart, j)
            && (stale.is_none() || j.pointer("/metadata/uid").and_then(Value::as_str) != stale)
    });
    let condition = |object: &Value, kind: &str| {
        object
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c["type"] == kind && c["status"] == "True")
            })
            .cloned()
    };
    let Some(job) = current else {
        if job.is_none() {
            if let Some(c) = condition(chart, "Failed") {
                let message = c["message"].as_str().unwrap_or("failed");
                return (HealthState::Failed, format!("k3s: {message}"));
            }
        }
        let waiting = if job.is_some() {
            format!("waiting for k3s to replace install Job {job_ref} for the current spec")
        } else {
            format!("waiting for k3s to create install Job {job_ref}")
        };
        return (HealthState::InProgress, waiting);
    };
    if condition(job, "Complete").is_some() {
        return (
            HealthState::Ready,
            format!(
                "installed {} {} (Job {job_ref})",
                s("/spec/chart"),
                s("/spec/version")
            ),
        );
    }
    if let Some(c) = condition(job, "Failed") {
        let message = c["message"].as_str().unwrap_or("failed");
        return (
            HealthState::Failed,
            format!("install Job {job_ref} failed: {message}"),
        );
    }
    if job.pointer("/spec/suspend") == Some(&Value::Bool(true)) {
        return (
            HealthState::InProgress,
            format!("install Job {job_ref} not started yet"),
        );
    }
    (
        HealthState::InProgress,
        format!("install Job {job_ref} running"),
    )
}

/// Whether `job` installs `chart`'s current spec: its helm container's env
/// says the spec's chart, repo, version and target namespace (see the
/// module documentation).
fn installs_current_spec(chart: &Value, job: &Value) -> bool {
    let s = |p: &str| chart.pointer(p).and_then(Value::as_str).unwrap_or("");
    let name = s("/metadata/name");
    let repo = s("/spec/repo");
    let chart_ref = if repo.is_empty() {
        s("/spec/chart").to_string()
    } else {
        format!("{name}/{}", s("/spec/chart"))
    };
    let target = match s("/spec/targetNamespace") {
        "" => s("/metadata/namespace"),
        t => t,
    };
    let want = [
        ("NAME", name),
        ("VERSION", s("/spec/version")),
        ("REPO", repo),
        ("CHART", chart_ref.as_str()),
        ("TARGET_NAMESPACE", target),
    ];
    let Some(env) = job
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == "helm"))
        .and_then(|c| c["env"].as_array())
    else {
        return false;
    };
    want.iter().all(|(key, value)| {
        env.iter()
            .find(|e| e["name"] == *key)
            .map_or(value.is_empty(), |e| {
                e["value"].as_str().unwrap_or("") == *value
            })
    })
}

/// In which wave each object is applied: 0 without dependencies; otherwise
/// one more than the latest wave of the HelmCharts (of `objects`) it depends
/// on, at least 1 (a release installed by another apply is waited for
/// before wave 1). `objects` are (identity, object); the answer is in their
/// order, or the objects of a dependency cycle, each followed by what it
/// depends on.
pub fn waves(objects: &[(&ObjectRef, &Value)]) -> Result<Vec<usize>, WaveError> {
    let mut charts: BTreeMap<ReleaseId, usize> = BTreeMap::new();
    let mut deps: Vec<Vec<ReleaseId>> = Vec::with_capacity(objects.len());
    for (i, (id, object)) in objects.iter().enumerate() {
        if is_helm_chart(id) {
            if let Some(release) = release_of(object) {
                charts.insert(release, i);
            }
        }
        deps.push(depends_on(object).map_err(|entry| WaveError::Malformed {
            object: (*id).clone(),
            entry,
        })?);
    }
    // Depth-first, memoised; `visiting` holds the current path for cycles.
    fn visit(
        i: usize,
        deps: &[Vec<ReleaseId>],
        charts: &BTreeMap<ReleaseId, usize>,
        wave: &mut [Option<usize>],
        path: &mut Vec<usize>,
    ) -> Result<usize, Vec<usize>> {
        if let Some(w) = wave[i] {
            return Ok(w);
        }
        if let Some(start) = path.iter().position(|&p| p == i) {
            return Err(path[start..].to_vec());
        }
        if deps[i].is_empty() {
            wave[i] = Some(0);
            return Ok(0);
        }
        path.push(i);
        let mut w = 1;
        for d in &deps[i] {
            if let Some(&c) = charts.get(d) {
                w = w.max(visit(c, deps, charts, wave, path)? + 1);
            }
        }
        path.pop();
        wave[i] = Some(w);
        Ok(w)
    }
    let mut wave = vec![None; objects.len()];
    for i in 0..objects.len() {
        visit(i, &deps, &charts, &mut wave, &mut Vec::new()).map_err(|cycle| {
            WaveError::Cycle(cycle.iter().map(|&c| objects[c].0.clone()).collect())
        })?;
    }
    Ok(wave.into_iter().map(|w| w.unwrap_or(0)).collect())
}

/// Why objects cannot be ordered by their dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaveError {
    /// A `rekon.dev/depends-on` entry is not `namespace/name`.
    Malformed {
        /// The object.
        object: ObjectRef,
        /// The entry.
        entry: String,
    },
    /// These objects depend on each other in a circle (each on the next,
    /// the last on the first).
    Cycle(Vec<ObjectRef>),
}

/// The distinct releases the objects of `wave` depend on.
pub fn releases_of_wave(
    objects: &[(&ObjectRef, &Value)],
    waves: &[usize],
    wave: usize,
) -> BTreeSet<ReleaseId> {
    objects
        .iter()
        .zip(waves)
        .filter(|(_, w)| **w == wave)
        .flat_map(|((_, o), _)| depends_on(o).unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chart(version: &str, status: Value) -> Value {
        json!({
            "apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
            "metadata": {"name": "podinfo", "namespace": "apps",
                "labels": {RELEASE_NAME_LABEL: "podinfo", RELEASE_NAMESPACE_LABEL: "apps"}},
            "spec": {"chart": "podinfo", "repo": "https://charts.test", "version": version},
            "status": status,
        })
    }

    fn job(version: &str, status: Value) -> Value {
        json!({
            "kind": "Job",
            "spec": {"template": {"spec": {"containers": [{"name": "helm", "env": [
                {"name": "NAME", "value": "podinfo"},
                {"name": "VERSION", "value": version},
                {"name": "REPO", "value": "https://charts.test"},
                {"name": "CHART", "value": "podinfo/podinfo"},
                {"name": "TARGET_NAMESPACE", "value": "apps"},
            ]}]}}},
            "status": status,
        })
    }

    fn check(chart: &Value, job: Option<&Value>) -> (HealthState, String) {
        assess(chart, job, None)
    }

    #[test]
    fn the_job_of_the_spec_before_rekon_changed_it_does_not_count() {
        let c = chart("6.5.4", json!({"jobName": "helm-install-podinfo"}));
        let mut old = job(
            "6.5.4",
            json!({"conditions": [{"type": "Complete", "status": "True"}]}),
        );
        old["metadata"] = json!({"uid": "old"});
        assert_eq!(
            assess(&c, Some(&old), Some("old")).0,
            HealthState::InProgress
        );
        assert_eq!(assess(&c, Some(&old), Some("older")).0, HealthState::Ready);
    }

    #[test]
    fn a_chart_is_ready_when_the_job_of_its_spec_completed() {
        let c = chart("6.5.4", json!({"jobName": "helm-install-podinfo"}));
        let complete = json!({"conditions": [{"type": "Complete", "status": "True"}]});
        assert_eq!(
            check(&c, Some(&job("6.5.4", complete.clone()))),
            (
                HealthState::Ready,
                "installed podinfo 6.5.4 (Job apps/helm-install-podinfo)".into()
            )
        );
        // The Job of the previous spec does not count.
        assert_eq!(
            check(&c, Some(&job("6.5.3", complete))),
            (
                HealthState::InProgress,
                "waiting for k3s to replace install Job apps/helm-install-podinfo for the current spec".into()
            )
        );
        assert_eq!(
            check(&c, Some(&job("6.5.4", json!({"active": 1})))).1,
            "install Job apps/helm-install-podinfo running"
        );
        assert_eq!(
            check(&c, None).1,
            "waiting for k3s to create install Job apps/helm-install-podinfo"
        );
    }

    #[test]
    fn a_failed_job_or_chart_fails_with_its_message() {
        let c = chart("6.5.4", json!({"jobName": "helm-install-podinfo"}));
        let failed = json!({"conditions": [{"type": "Failed", "status": "True", "message": "Job has reached the specified backoff limit"}]});
        assert_eq!(
            check(&c, Some(&job("6.5.4", failed))),
            (
                HealthState::Failed,
                "install Job apps/helm-install-podinfo failed: Job has reached the specified backoff limit".into()
            )
        );
        let refused = chart(
            "6.5.4",
            json!({"conditions": [{"type": "Failed", "status": "True", "message": "Only Helm v3 charts are supported"}]}),
        );
        assert_eq!(
            check(&refused, None),
            (
                HealthState::Failed,
                "k3s: Only Helm v3 charts are supported".into()
            )
        );
    }

    #[test]
    fn waves_follow_dependencies_and_name_cycles() {
        let object = |kind: &str, name: &str, deps: Option<&str>| {
            let mut o = json!({"apiVersion": if kind == "HelmChart" { "helm.cattle.io/v1" } else { "v1" }, "kind": kind,
                "metadata": {"name": name, "namespace": "apps",
                    "labels": {RELEASE_NAME_LABEL: name, RELEASE_NAMESPACE_LABEL: "apps"}}});
            if let Some(d) = deps {
                o["metadata"]["annotations"] = json!({DEPENDS_ON_ANNOTATION: d});
            }
            (ObjectRef::of(&o).unwrap(), o)
        };
        let set = [
            object("HelmChart", "app", Some("apps/redis, infra/cert-manager")),
            object("HelmChart", "redis", Some("apps/base")),
            object("HelmChart", "base", None),
            object("ConfigMap", "plain", None),
        ];
        let refs: Vec<(&ObjectRef, &Value)> = set.iter().map(|(i, o)| (i, o)).collect();
        assert_eq!(waves(&refs).unwrap(), vec![2, 1, 0, 0]);
        assert_eq!(
            releases_of_wave(&refs, &[2, 1, 0, 0], 2)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["apps/redis", "infra/cert-manager"]
        );

        let cycle = [
            object("HelmChart", "a", Some("apps/b")),
            object("HelmChart", "b", Some("apps/a")),
        ];
        let refs: Vec<(&ObjectRef, &Value)> = cycle.iter().map(|(i, o)| (i, o)).collect();
        let Err(WaveError::Cycle(objects)) = waves(&refs) else {
            panic!("a cycle")
        };
        assert_eq!(
            objects.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["HelmChart/apps/a", "HelmChart/apps/b"]
        );

        let bad = [object("ConfigMap", "x", Some("no-slash"))];
        let refs: Vec<(&ObjectRef, &Value)> = bad.iter().map(|(i, o)| (i, o)).collect();
        assert!(
            matches!(waves(&refs), Err(WaveError::Malformed { entry, .. }) if entry == "no-slash")
        );
    }
}

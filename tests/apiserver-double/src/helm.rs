//! k3s's embedded helm-controller, as far as rekon's health checks see it
//! (k3s-io/helm-controller v0.17.7, `pkg/controllers/chart/chart.go`):
//!
//! - A HelmChart with `spec.chart` or `spec.chartContent` is managed; its
//!   install Job is `helm-install-<name>` in the HelmChart's namespace
//!   (`jobName`), labelled `helmcharts.helm.cattle.io/chart: <name>` on the
//!   Job and its pod template (`job()`).
//! - The pod template carries `helmcharts.helm.cattle.io/configHash:
//!   SHA256=<HEX>` (`hashObjects()`: a hash of the template and of the values
//!   Secret and chart ConfigMap); the helm container's env says `NAME`,
//!   `VERSION`, `REPO`, `CHART` (`<name>/<chart>` with a repo),
//!   `TARGET_NAMESPACE` (the HelmChart's namespace when unset), and
//!   `CONFIG_HASH` (the hash without `SHA256=`, at most 63 characters).
//! - The Job is applied with wrangler's apply (set id
//!   `helm-controller-chart-registration`, owner annotations
//!   `objectset.rio.cattle.io/owner-*`); wrangler sets no ownerReference
//!   for it (`generic.ConfigureApplyForObject` without `NoOwnerReference`).
//!   When the spec changes the template changes, and wrangler replaces the
//!   Job (`reconcileJob` answers `apply.ErrReplace`): delete, then create.
//! - `OnChange` sets `status.jobName` and the conditions `JobCreated=True`
//!   (`Applying HelmChart using Job <ns>/<job>`) and `Failed=False`; when
//!   the Job has a `Failed=True` condition it sets `Failed=True` (`Job has
//!   reached configured number of retries without succeeding`).
//!
//! Not modelled: the Job is created complete (or as the test's rollout mode
//! says) at once, not suspended and then resumed; there is no values
//! Secret, chart ConfigMap, ServiceAccount or ClusterRoleBinding, no Helm
//! release Secret, no `helm-delete-` Job (deleting a HelmChart deletes its
//! install Job at once, as k3s does once the delete Job is done), no
//! `helmcharts.cattle.io/managed-by` annotation, no HelmChartConfig.

use serde_json::{json, Value};

/// The annotation tying a Job to the spec it installs.
pub const CONFIG_HASH: &str = "helmcharts.helm.cattle.io/configHash";

/// Whether k3s manages the HelmChart (`shouldManage`: a chart to install).
pub fn managed(chart: &Value) -> bool {
    let set = |p: &str| {
        chart
            .pointer(p)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    set("/spec/chart") || set("/spec/chartContent")
}

/// `helm-install-<name>`.
pub fn install_job_name(chart_name: &str) -> String {
    format!("helm-install-{chart_name}")
}

/// The install Job k3s would create for `chart`.
pub fn install_job(chart: &Value) -> Value {
    let s = |p: &str| chart.pointer(p).and_then(Value::as_str).unwrap_or("");
    let (name, namespace) = (s("/metadata/name"), s("/metadata/namespace"));
    let repo = s("/spec/repo");
    let chart_ref = if repo.is_empty() {
        s("/spec/chart").to_string()
    } else {
        format!("{name}/{}", s("/spec/chart"))
    };
    let target = match s("/spec/targetNamespace") {
        "" => namespace,
        t => t,
    };
    // k3s hashes the pod template and the values; the double hashes the spec.
    let hash = format!("{:064X}", fnv(&chart["spec"].to_string()));
    let mut args = vec![json!("install")];
    if !s("/spec/targetNamespace").is_empty() {
        args.extend([json!("--namespace"), json!(target)]);
    }
    if !s("/spec/version").is_empty() {
        args.extend([json!("--version"), json!(s("/spec/version"))]);
    }
    let env = |n: &str, v: &str| json!({"name": n, "value": v});
    let label = json!({"helmcharts.helm.cattle.io/chart": name});
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": install_job_name(name),
            "namespace": namespace,
            "labels": label,
            "annotations": {
                "objectset.rio.cattle.io/id": "helm-controller-chart-registration",
                "objectset.rio.cattle.io/owner-gvk": "helm.cattle.io/v1, Kind=HelmChart",
                "objectset.rio.cattle.io/owner-name": name,
                "objectset.rio.cattle.io/owner-namespace": namespace,
            },
        },
        "spec": {
            "backoffLimit": chart.pointer("/spec/backOffLimit").cloned().unwrap_or(json!(1000)),
            "template": {
                "metadata": {
                    "labels": label,
                    "annotations": {CONFIG_HASH: format!("SHA256={hash}")},
                },
                "spec": {
                    "restartPolicy": "OnFailure",
                    "serviceAccountName": format!("helm-{name}"),
                    "containers": [{
                        "name": "helm",
                        "image": "rancher/klipper-helm:latest",
                        "args": args,
                        "env": [
                            env("NAME", name),
                            env("VERSION", s("/spec/version")),
                            env("REPO", repo),
                            env("HELM_DRIVER", "secret"),
                            env("CHART_NAMESPACE", namespace),
                            env("CHART", &chart_ref),
                            env("TARGET_NAMESPACE", target),
                            env("CONFIG_HASH", &hash[..63]),
                        ],
                    }],
                },
            },
        },
    })
}

/// The HelmChart's status once its install Job `job` exists.
pub fn chart_status(namespace: &str, job: &Value) -> Value {
    let job_name = job
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let failed = job
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Failed" && c["status"] == "True")
        });
    let failed = if failed {
        json!({"type": "Failed", "status": "True", "reason": "Job failed",
               "message": "Job has reached configured number of retries without succeeding"})
    } else {
        json!({"type": "Failed", "status": "False"})
    };
    json!({
        "jobName": job_name,
        "conditions": [
            {"type": "JobCreated", "status": "True", "reason": "Job created",
             "message": format!("Applying HelmChart using Job {namespace}/{job_name}")},
            failed,
        ],
    })
}

/// A failed Job's status, with the message a test chose.
pub fn failed_job_status(message: &str) -> Value {
    json!({
        "failed": 1,
        "conditions": [{
            "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
            "message": message,
        }],
    })
}

/// FNV-1a, widened: a stable stand-in for k3s's SHA-256 (the double needs
/// only "changes when the spec changes"; no crate for one line).
fn fnv(text: &str) -> u128 {
    text.bytes()
        .fold(0x6c62272e07bb014262b821756295c58d, |h: u128, b| {
            (h ^ u128::from(b)).wrapping_mul(0x0000000001000000000000000000013B)
        })
}

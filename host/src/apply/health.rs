//! Health of applied workloads: when a Deployment, StatefulSet, DaemonSet or
//! Job has finished rolling out, read from its status the way kstatus (and
//! so Flux) reads it.

use serde_json::Value;

/// Where a workload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Rolled out (a Job: complete).
    Ready,
    /// Still rolling out (only while waiting: a report holds final states).
    InProgress,
    /// Failed for good (deadline exceeded, Job failed).
    Failed,
    /// Still rolling out when the timeout ran out.
    TimedOut,
}

impl std::fmt::Display for HealthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HealthState::Ready => "ready",
            HealthState::InProgress => "in progress",
            HealthState::Failed => "failed",
            HealthState::TimedOut => "timed out",
        })
    }
}

/// Whether rekon checks the health of `kind`.
pub fn has_health(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "Job")
}

/// The state of a live workload, with what it is waiting for.
pub fn assess(object: &Value) -> (HealthState, String) {
    let int = |p: &str| object.pointer(p).and_then(Value::as_i64);
    let status = |p: &str| int(&format!("/status/{p}")).unwrap_or(0);
    let condition = |kind: &str| {
        object
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
    };
    let kind = object["kind"].as_str().unwrap_or("");
    if kind == "Job" {
        if condition("Complete").is_some_and(|c| c["status"] == "True") {
            return (HealthState::Ready, "complete".into());
        }
        if let Some(c) = condition("Failed").filter(|c| c["status"] == "True") {
            let message = c["message"].as_str().unwrap_or("failed");
            return (HealthState::Failed, message.into());
        }
        return (
            HealthState::InProgress,
            format!("running ({} active)", status("active")),
        );
    }
    let generation = int("/metadata/generation").unwrap_or(0);
    let observed = status("observedGeneration");
    if observed < generation {
        return (
            HealthState::InProgress,
            format!("waiting for the controller to observe generation {generation}"),
        );
    }
    let progress = |done: i64, want: i64, what: &str| {
        (done < want).then(|| (HealthState::InProgress, format!("{done}/{want} {what}")))
    };
    match kind {
        "Deployment" => {
            if let Some(c) =
                condition("Progressing").filter(|c| c["reason"] == "ProgressDeadlineExceeded")
            {
                let message = c["message"]
                    .as_str()
                    .unwrap_or("progress deadline exceeded");
                return (HealthState::Failed, message.into());
            }
            let want = int("/spec/replicas").unwrap_or(1);
            let updated = status("updatedReplicas");
            progress(updated, want, "replicas updated")
                .or_else(|| {
                    let old = status("replicas") - updated;
                    (old > 0).then(|| {
                        (
                            HealthState::InProgress,
                            format!("{old} old replicas pending termination"),
                        )
                    })
                })
                .or_else(|| progress(status("availableReplicas"), want, "replicas available"))
                .unwrap_or((
                    HealthState::Ready,
                    format!("{want}/{want} replicas available"),
                ))
        }
        "StatefulSet" => {
            let want = int("/spec/replicas").unwrap_or(1);
            let on_delete = object
                .pointer("/spec/updateStrategy/type")
                .and_then(Value::as_str)
                == Some("OnDelete");
            progress(status("readyReplicas"), want, "replicas ready")
                .or_else(|| {
                    let (current, update) = (
                        object.pointer("/status/currentRevision"),
                        object.pointer("/status/updateRevision"),
                    );
                    (!on_delete && current != update).then(|| {
                        (
                            HealthState::InProgress,
                            format!("{}/{want} replicas updated", status("updatedReplicas")),
                        )
                    })
                })
                .unwrap_or((HealthState::Ready, format!("{want}/{want} replicas ready")))
        }
        "DaemonSet" => {
            let want = status("desiredNumberScheduled");
            progress(status("updatedNumberScheduled"), want, "pods updated")
                .or_else(|| progress(status("numberAvailable"), want, "pods available"))
                .unwrap_or((HealthState::Ready, format!("{want}/{want} pods available")))
        }
        // Other kinds (a Flux `healthChecks` entry may name any): kstatus's
        // generic reading, a `Ready` condition when there is one.
        _ => match condition("Ready") {
            Some(c) if c["status"] == "True" => (HealthState::Ready, "ready".into()),
            Some(c) => (
                HealthState::InProgress,
                c["message"].as_str().unwrap_or("not ready").into(),
            ),
            None => (HealthState::Ready, String::new()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(status: Value) -> Value {
        json!({"kind": "Deployment", "metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": status})
    }

    #[test]
    fn other_kinds_follow_their_ready_condition() {
        let cert = |status: &str| json!({"kind": "Certificate", "status": {"conditions": [{"type": "Ready", "status": status, "message": "issuing"}]}});
        assert_eq!(assess(&cert("True")).0, HealthState::Ready);
        assert_eq!(
            assess(&cert("False")),
            (HealthState::InProgress, "issuing".into())
        );
        assert_eq!(assess(&json!({"kind": "ConfigMap"})).0, HealthState::Ready);
    }

    #[test]
    fn deployment_states() {
        let (s, m) = assess(&deployment(json!({"observedGeneration": 1})));
        assert_eq!(
            (s, m.as_str()),
            (
                HealthState::InProgress,
                "waiting for the controller to observe generation 2"
            )
        );
        let (s, m) = assess(&deployment(
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}),
        ));
        assert_eq!(
            (s, m.as_str()),
            (HealthState::InProgress, "1/2 replicas available")
        );
        let (s, m) = assess(&deployment(
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}),
        ));
        assert_eq!(
            (s, m.as_str()),
            (
                HealthState::InProgress,
                "1 old replicas pending termination"
            )
        );
        let (s, _) = assess(&deployment(
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}),
        ));
        assert_eq!(s, HealthState::Ready);
        let failed = deployment(
            json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "too slow"}]}),
        );
        assert_eq!(assess(&failed), (HealthState::Failed, "too slow".into()));
    }

    #[test]
    fn job_states() {
        let job = |status: Value| json!({"kind": "Job", "status": status});
        assert_eq!(
            assess(&job(
                json!({"conditions": [{"type": "Complete", "status": "True"}]})
            ))
            .0,
            HealthState::Ready
        );
        assert_eq!(assess(&job(json!({"active": 1}))).1, "running (1 active)");
        assert_eq!(
            assess(&job(
                json!({"conditions": [{"type": "Failed", "status": "True", "message": "backoff"}]})
            )),
            (HealthState::Failed, "backoff".into())
        );
    }
}

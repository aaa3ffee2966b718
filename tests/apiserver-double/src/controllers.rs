//! What controllers would do: the status the double writes after each stored
//! change. There is no kubelet and no ReplicaSet: a workload's status is
//! computed at once from its spec and the rollout mode the test chose.

use serde_json::{json, Value};

/// How workloads (Deployment, StatefulSet, DaemonSet, Job) of a given name
/// roll out. Set with [`crate::ApiServer::set_rollout`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Rollout {
    /// Every replica is updated and available (a Job completes).
    #[default]
    Complete,
    /// Updated replicas never become available (a Job keeps running);
    /// `observedGeneration` is current, so only a timeout ends the wait.
    Stuck,
    /// A Deployment reports `ProgressDeadlineExceeded`; a Job fails.
    Failed,
}

/// Set `object`'s status as its controller would after a write.
pub fn reconcile(kind: &str, object: &mut Value, rollout: Rollout) {
    let generation = object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let replicas = object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let ok = rollout == Rollout::Complete;
    let ready = if ok { replicas } else { 0 };
    let condition = |kind: &str, status: bool, reason: &str| json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason});
    let status = match kind {
        "Deployment" => {
            let progressing = match rollout {
                Rollout::Complete => condition("Progressing", true, "NewReplicaSetAvailable"),
                Rollout::Stuck => condition("Progressing", true, "ReplicaSetUpdated"),
                Rollout::Failed => json!({
                    "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                    "message": format!("ReplicaSet \"{name}-{generation}\" has timed out progressing."),
                }),
            };
            let available = if ok {
                condition("Available", true, "MinimumReplicasAvailable")
            } else {
                condition("Available", false, "MinimumReplicasUnavailable")
            };
            json!({
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "unavailableReplicas": replicas - ready,
                "conditions": [available, progressing],
            })
        }
        "StatefulSet" => json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": ready,
            "updatedReplicas": replicas,
            "currentRevision": format!("{name}-{}", if ok { generation } else { generation - 1 }),
            "updateRevision": format!("{name}-{generation}"),
        }),
        "DaemonSet" => json!({
            "observedGeneration": generation,
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1,
            "updatedNumberScheduled": 1,
            "numberReady": i64::from(ok),
            "numberAvailable": i64::from(ok),
            "numberUnavailable": i64::from(!ok),
        }),
        "Job" => match rollout {
            Rollout::Complete => json!({
                "succeeded": 1,
                "conditions": [condition("Complete", true, "CompletionsReached")],
            }),
            Rollout::Stuck => json!({"active": 1}),
            Rollout::Failed => json!({
                "failed": 1,
                "conditions": [{
                    "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit",
                }],
            }),
        },
        "CustomResourceDefinition" => {
            let storage: Vec<Value> = object
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter()
                        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                        .filter_map(|v| v.get("name").cloned())
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "conditions": [
                    condition("NamesAccepted", true, "NoConflicts"),
                    condition("Established", true, "InitialNamesAccepted"),
                ],
                "acceptedNames": object.pointer("/spec/names").cloned().unwrap_or(Value::Null),
                "storedVersions": storage,
            })
        }
        "Namespace" => json!({"phase": "Active"}),
        _ => return,
    };
    object["status"] = status;
}

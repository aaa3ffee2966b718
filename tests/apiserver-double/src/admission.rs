//! What the real server's admission and validation would do to a write, as
//! far as the double models it: a few defaults, the immutable fields rekon
//! must handle, and reject rules the test sets.

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::resources::Resource;

/// A rule that refuses writes of one object, as a validating admission
/// webhook would (also in dry-run). Set with [`crate::ApiServer::reject`].
#[derive(Debug, Clone)]
pub struct Reject {
    /// Kind of the refused object.
    pub kind: String,
    /// Name of the refused object.
    pub name: String,
    /// The webhook's message.
    pub message: String,
}

impl Reject {
    /// Refuse every write of `kind` named `name` with `message`.
    pub fn new(kind: &str, name: &str, message: &str) -> Reject {
        Reject {
            kind: kind.into(),
            name: name.into(),
            message: message.into(),
        }
    }

    /// The 422 this rule answers for `object`, if it matches.
    pub fn check(&self, r: &Resource, name: &str) -> Option<ApiError> {
        (self.kind == r.kind && self.name == name).then(|| {
            ApiError::invalid(
                r,
                name,
                "",
                &format!(
                    "admission webhook \"deny.apiserver-double\" denied the request: {}",
                    self.message
                ),
            )
        })
    }
}

/// Fields that cannot change once set: (kind, path).
const IMMUTABLE: &[(&str, &[&str])] = &[
    ("Deployment", &["spec", "selector"]),
    ("ReplicaSet", &["spec", "selector"]),
    ("DaemonSet", &["spec", "selector"]),
    ("StatefulSet", &["spec", "selector"]),
    ("StatefulSet", &["spec", "serviceName"]),
    ("StatefulSet", &["spec", "volumeClaimTemplates"]),
    ("Job", &["spec", "selector"]),
    ("Job", &["spec", "template"]),
    ("Service", &["spec", "clusterIP"]),
];

/// Refuse a change of an immutable field, naming it as the real server does.
pub fn check_immutable(
    r: &Resource,
    name: &str,
    live: &Value,
    new: &Value,
) -> Result<(), ApiError> {
    for (kind, path) in IMMUTABLE {
        if *kind != r.kind {
            continue;
        }
        let at = |v: &Value| path.iter().try_fold(v, |v, k| v.get(*k)).cloned();
        let (old, now) = (at(live), at(new));
        if old.is_some() && old != now {
            let value = now.unwrap_or(Value::Null);
            return Err(ApiError::invalid(
                r,
                name,
                &path.join("."),
                &format!("Invalid value: {value}: field is immutable"),
            ));
        }
    }
    Ok(())
}

/// Defaults the real server's defaulting and allocators would set. `next_ip`
/// is the last octets of the next free ClusterIP (k3s's 10.43.0.0/16).
pub fn default(r: &Resource, object: &mut Value, next_ip: &mut u32) {
    match r.kind.as_str() {
        "Service" => {
            let spec = &mut object["spec"];
            if spec.get("type").is_none() {
                spec["type"] = json!("ClusterIP");
            }
            let external = spec["type"] == "ExternalName";
            if !external && spec.get("clusterIP").is_none() {
                *next_ip += 1;
                let ip = format!("10.43.{}.{}", *next_ip / 256, *next_ip % 256);
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            }
            if spec.get("sessionAffinity").is_none() {
                spec["sessionAffinity"] = json!("None");
            }
        }
        "Deployment" | "StatefulSet" | "ReplicaSet"
            if object.pointer("/spec/replicas").is_none() =>
        {
            object["spec"]["replicas"] = json!(1);
        }
        "Namespace" if object.pointer("/spec/finalizers").is_none() => {
            object["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        _ => {}
    }
}

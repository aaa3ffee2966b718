//! Why applying, diffing or pruning failed. Every error names the object and
//! the server's reason.

use std::fmt;
use std::time::Duration;

use super::object::ObjectRef;

/// One object the dry-run refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The object.
    pub object: ObjectRef,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.reason)
    }
}

/// Why the dry-run refused an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The server (validation, admission) refused it: its message.
    Rejected(String),
    /// An immutable field changed and the kustomization does not allow
    /// delete-and-recreate.
    Immutable {
        /// The field, as the server names it (`spec.selector`).
        field: String,
        /// The server's message.
        message: String,
    },
    /// Other field managers own fields the apply would change.
    Conflict(Vec<FieldConflict>),
    /// The cluster serves no resource for the object's apiVersion and kind.
    UnknownKind,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Rejected(message) => f.write_str(message),
            Reason::Immutable { field, message } => write!(
                f,
                "field `{field}` is immutable ({message}); set `allow-recreate = true` on the kustomization to delete and recreate the object"
            ),
            Reason::Conflict(conflicts) => {
                for (i, c) in conflicts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "field `{}` is owned by field manager `{}`", c.field, c.manager)?;
                }
                f.write_str("; rekon takes fields over only from kubectl and Flux, not from other controllers: drop the field from git or have that manager release it")
            }
            Reason::UnknownKind => f.write_str(
                "the cluster serves no such apiVersion and kind (is its CustomResourceDefinition installed?)",
            ),
        }
    }
}

/// A field another field manager owns and the apply would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// The field, as the server names it (`.spec.replicas`).
    pub field: String,
    /// The manager that owns it.
    pub manager: String,
}

/// Why an operation on the cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// No kubeconfig or in-cluster configuration could be loaded.
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    /// A rendered object lacks its identity.
    #[error("object {index} of kustomization `{kustomization}`: {message}")]
    Malformed {
        /// The kustomization.
        kustomization: String,
        /// Position in the render.
        index: usize,
        /// What is missing.
        message: String,
    },
    /// The server-side dry-run refused objects: nothing was applied.
    #[error("the dry-run refused {} object(s), nothing was applied:\n{}", refusals.len(), list(refusals))]
    DryRun {
        /// The kustomization.
        kustomization: String,
        /// Every refused object.
        refusals: Vec<Refusal>,
    },
    /// Objects that can only be checked after the CRDs and Namespaces of
    /// their set exist were refused by their dry-run: stage one was applied,
    /// nothing else.
    #[error("after the CustomResourceDefinitions and Namespaces were applied, the dry-run refused {} object(s); nothing else was applied:\n{}", refusals.len(), list(refusals))]
    LateDryRun {
        /// The kustomization.
        kustomization: String,
        /// Every refused object.
        refusals: Vec<Refusal>,
    },
    /// A request failed (after retries, when the failure was transient).
    #[error("{action} {object}: {reason}")]
    Request {
        /// What rekon was doing (`applying`, `reading`, `deleting`).
        action: &'static str,
        /// The object (or the inventory's ConfigMap).
        object: String,
        /// The server's or the transport's message.
        reason: String,
    },
    /// A CRD did not become `Established` in time.
    #[error("CustomResourceDefinition {name} is not Established after {timeout:?}: {last}")]
    NotEstablished {
        /// The CRD.
        name: String,
        /// How long rekon waited.
        timeout: Duration,
        /// Its last conditions.
        last: String,
    },
    /// An object being recreated was not gone in time.
    #[error(
        "{object} was deleted to be recreated but still exists after {timeout:?} (finalizers?)"
    )]
    NotDeleted {
        /// The object.
        object: ObjectRef,
        /// How long rekon waited.
        timeout: Duration,
    },
    /// A `rekon.dev/depends-on` entry is not a Helm release id.
    #[error("{object}: annotation `rekon.dev/depends-on`: `{entry}` is not `namespace/name` (a HelmRelease id)")]
    BadDependsOn {
        /// The object.
        object: ObjectRef,
        /// The entry.
        entry: String,
    },
    /// Objects depend on each other's Helm releases in a circle: nothing was applied.
    #[error("kustomization `{kustomization}`: Helm release dependencies form a cycle, nothing was applied: {}", cycle.iter().chain(cycle.first()).map(ToString::to_string).collect::<Vec<_>>().join(" -> "))]
    DependencyCycle {
        /// The kustomization.
        kustomization: String,
        /// The objects, each depending on the next and the last on the first.
        cycle: Vec<ObjectRef>,
    },
    /// A Helm release an object depends on failed or was not ready in time:
    /// the object (and everything after it) was not applied.
    #[error("{object} was not applied: it depends on Helm release {release}, which {why}")]
    Dependency {
        /// The dependent object (boxed: it keeps `ApplyError` small).
        object: Box<ObjectRef>,
        /// The release (`namespace/name`).
        release: String,
        /// What the release's HelmChart said (`failed: ...`, `is not ready after 5m: ...`).
        why: String,
    },
    /// The inventory ConfigMap holds something rekon cannot read.
    #[error("inventory {name}: {message}")]
    Inventory {
        /// `rekon-system/rekon-inventory-<name>`.
        name: String,
        /// What is wrong.
        message: String,
    },
}

fn list(refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .map(|r| format!("  {r}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The message of a kube error, as short as it can be and still complete.
pub(crate) fn reason(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => {
            format!("{} ({} {})", status.message, status.code, status.reason)
        }
        other => {
            // Transport errors nest their cause; the chain says what happened.
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                let s_text = s.to_string();
                if !text.contains(&s_text) {
                    text.push_str(": ");
                    text.push_str(&s_text);
                }
                source = s.source();
            }
            text
        }
    }
}

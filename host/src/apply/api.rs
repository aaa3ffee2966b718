//! Talking to the API server: the client, retries of transient failures,
//! and reading the server's answers (conflicts, immutable fields, missing
//! namespaces).

use std::future::Future;
use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::error::{ApplyError, FieldConflict};

/// Retries of API calls; [`Retry::CLUSTER`] by default.
pub use crate::retry::Retry;

/// A client for the cluster of `kubeconfig` (a file), else of `$KUBECONFIG`
/// or `~/.kube/config`, else the in-cluster service account; `context`
/// picks a kubeconfig context other than the current one.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<(Client, Config), ApplyError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let mut config = match (kubeconfig, context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| ApplyError::Config(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| ApplyError::Config(format!("{}: {e}", path.display())))?
        }
        (None, Some(_)) => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| ApplyError::Config(e.to_string()))?,
        (None, None) => Config::infer()
            .await
            .map_err(|e| ApplyError::Config(e.to_string()))?,
    };
    // kube retries only 429/503/504, up to 15 times; rekon retries every
    // transient failure itself, with one bounded policy.
    config.default_retry = false;
    let client = Client::try_from(config.clone()).map_err(|e| ApplyError::Config(e.to_string()))?;
    Ok((client, config))
}

/// Whether retrying `err` can help.
pub(crate) fn transient(err: &kube::Error) -> bool {
    match err {
        kube::Error::Api(status) => {
            status.code >= 500
                || status.code == 429
                // An optimistic-concurrency conflict, not a field-manager one.
                || (status.code == 409 && field_conflicts(err).is_none())
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Run `call` until it succeeds, fails for good, or `retry` is spent.
pub(crate) async fn with_retry<T, F, Fut>(
    retry: &Retry,
    what: &str,
    mut call: F,
) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = retry.first_delay;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(err) if attempt < retry.attempts && transient(&err) => {
                tracing::warn!(
                    "{what}: {} (try {attempt} of {}, retrying in {delay:?})",
                    super::error::reason(&err),
                    retry.attempts
                );
                tokio::time::sleep(delay).await;
                delay = retry.next_delay(delay);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The fields of a server-side apply conflict (409 with
/// `FieldManagerConflict` causes), or `None` for any other error.
pub(crate) fn field_conflicts(err: &kube::Error) -> Option<Vec<FieldConflict>> {
    let kube::Error::Api(status) = err else {
        return None;
    };
    if status.code != 409 {
        return None;
    }
    let conflicts: Vec<FieldConflict> = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .filter(|c| c.reason == "FieldManagerConflict")
        .map(|c| FieldConflict {
            field: c.field.clone(),
            // `conflict with "kubectl-edit" using apps/v1`
            manager: c
                .message
                .split('"')
                .nth(1)
                .unwrap_or(&c.message)
                .to_string(),
        })
        .collect();
    (!conflicts.is_empty()).then_some(conflicts)
}

/// Field managers whose fields rekon takes over with `force=true`.
///
/// Flux forces every apply: git always wins. rekon forces only over hand
/// edits (kubectl and the pre-server-side-apply `before-first-apply`) and
/// over Flux itself (`kustomize-controller`, so a cluster migrating from
/// Flux converges). Fields of any other manager (an HPA, Helm, an operator)
/// are a conflict that is reported: silently taking them over would make
/// two controllers fight over the field forever.
pub(crate) fn takes_over(manager: &str) -> bool {
    manager == "kubectl"
        || manager.starts_with("kubectl-")
        || manager == "before-first-apply"
        || manager == "kustomize-controller"
}

/// `(field, message)` of an immutable-field refusal (422 naming a field that
/// cannot change), or `None`.
pub(crate) fn immutable_field(err: &kube::Error) -> Option<(String, String)> {
    let kube::Error::Api(status) = err else {
        return None;
    };
    let immutable = |text: &str| {
        text.contains("immutable")
            || text.contains("may not change once set")
            || text.contains("cannot change")
    };
    if status.code != 422 || !immutable(&status.message) {
        return None;
    }
    let from_cause = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .find(|c| immutable(&c.message) && !c.field.is_empty())
        .map(|c| c.field.clone());
    // `Deployment.apps "x" is invalid: spec.selector: Invalid value: ...`
    let from_message = || {
        status
            .message
            .split_once(" is invalid: ")
            .and_then(|(_, rest)| rest.split_once(": "))
            .map(|(field, _)| field.to_string())
    };
    let field = from_cause
        .or_else(from_message)
        .unwrap_or_else(|| "(unnamed)".into());
    Some((field, status.message.clone()))
}

/// The namespace a 404 says is missing (a namespaced write into a
/// namespace that does not exist yet), or `None`.
pub(crate) fn missing_namespace(err: &kube::Error) -> Option<String> {
    let kube::Error::Api(status) = err else {
        return None;
    };
    let details = status.details.as_ref()?;
    (status.code == 404 && details.kind == "namespaces" && details.group.is_empty())
        .then(|| details.name.clone())
}

/// Whether `err` is a 404.
pub(crate) fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::{StatusCause, StatusDetails};
    use kube::core::Status;

    fn api(code: u16, message: &str, details: Option<StatusDetails>) -> kube::Error {
        let mut status = Status::failure(message, "").with_code(code);
        status.details = details;
        kube::Error::Api(status.boxed())
    }

    fn details(causes: Vec<StatusCause>) -> Option<StatusDetails> {
        Some(StatusDetails {
            name: String::new(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes,
            retry_after_seconds: 0,
        })
    }

    fn cause(reason: &str, message: &str, field: &str) -> StatusCause {
        StatusCause {
            reason: reason.into(),
            message: message.into(),
            field: field.into(),
        }
    }

    #[test]
    fn conflicts_name_manager_and_field_and_are_not_retried() {
        let err = api(
            409,
            "Apply failed with 1 conflict: conflict with \"helm\" using apps/v1: .spec.replicas",
            details(vec![cause(
                "FieldManagerConflict",
                "conflict with \"helm\" using apps/v1",
                ".spec.replicas",
            )]),
        );
        assert_eq!(
            field_conflicts(&err).unwrap(),
            [FieldConflict {
                field: ".spec.replicas".into(),
                manager: "helm".into()
            }]
        );
        assert!(!transient(&err));
        assert!(transient(&api(409, "the object has been modified", None)));
        assert!(transient(&api(500, "boom", None)));
        assert!(!transient(&api(422, "invalid", None)));
    }

    #[test]
    fn immutable_field_from_cause_or_message() {
        let with_cause = api(
            422,
            "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: {}: field is immutable",
            details(vec![cause("FieldValueInvalid", "Invalid value: {}: field is immutable", "spec.selector")]),
        );
        assert_eq!(immutable_field(&with_cause).unwrap().0, "spec.selector");
        let message_only = api(422, "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"None\"}: may not change once set", None);
        assert_eq!(
            immutable_field(&message_only).unwrap().0,
            "spec.clusterIPs[0]"
        );
        assert!(immutable_field(&api(422, "x is invalid: spec: Required value", None)).is_none());
    }

    #[test]
    fn take_over_only_hand_edits_and_flux() {
        for m in [
            "kubectl",
            "kubectl-edit",
            "kubectl-client-side-apply",
            "before-first-apply",
            "kustomize-controller",
        ] {
            assert!(takes_over(m), "{m}");
        }
        for m in [
            "helm",
            "hpa-controller",
            "kube-controller-manager",
            "argocd-controller",
        ] {
            assert!(!takes_over(m), "{m}");
        }
    }
}

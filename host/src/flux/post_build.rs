//! What kustomize-controller does between the build and the apply: sort
//! out Flux's objects, substitute `postBuild` variables, add
//! `commonMetadata`.

use std::collections::BTreeSet;

use rekon_kustomize::Resource;
use serde_json::Value;

use super::substitute::substitute;
use super::{
    is_flux_component, is_flux_object, FluxError, FluxKustomization, SUBSTITUTE_ANNOTATION,
};

/// A build after Flux's post-build steps.
#[derive(Debug, Default)]
pub struct PostBuilt {
    /// The objects to apply.
    pub objects: Vec<Resource>,
    /// Flux objects: configuration for rekon, never applied.
    pub flux: Vec<Resource>,
    /// Flux's own controllers and CRDs, left out.
    pub left_out: Vec<Resource>,
    /// One line per object that used variables without a value (they
    /// became `""`, as in Flux): `file:line: Kind/name: ${A}, ${B}`.
    pub unresolved: Vec<String>,
}

/// Sort `resources` (the build of `k`, or of the entry when `None`) and,
/// for a Kustomization, substitute its variables into each object (unless
/// labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled`)
/// and add its `commonMetadata` to the objects to apply.
pub fn post_build(
    k: Option<&FluxKustomization>,
    resources: Vec<Resource>,
) -> Result<PostBuilt, FluxError> {
    let mut out = PostBuilt::default();
    // As Flux: no variables, no substitution (a `${x}` stays as written),
    // unless some `substituteFrom` could not be read, so its variables are named.
    let substituting =
        k.filter(|k| k.post_build.is_some() && (!k.vars.is_empty() || !k.unread.is_empty()));
    for mut r in resources {
        if let Some(k) = substituting {
            let disabled = |place: &str| {
                r.object
                    .pointer(&format!(
                        "/metadata/{place}/{}",
                        SUBSTITUTE_ANNOTATION.replace('/', "~1")
                    ))
                    .and_then(Value::as_str)
                    == Some("disabled")
            };
            if !disabled("labels") && !disabled("annotations") {
                let (object, unresolved) = substitute_object(k, &r)?;
                r.object = object;
                if !unresolved.is_empty() {
                    out.unresolved.push(format!(
                        "{}:{}: {}: {} {} no value{}",
                        r.origin.file.display(),
                        r.origin.line,
                        crate::render::identity(&r.object),
                        unresolved
                            .iter()
                            .map(|v| format!("${{{v}}}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        if unresolved.len() == 1 { "has" } else { "have" },
                        if k.unread.is_empty() {
                            String::new()
                        } else {
                            format!(" (not read: {})", k.unread.join(", "))
                        }
                    ));
                }
            }
        }
        // A HelmRelease stays in the render for a plugin to translate
        // (see `crate::charts`); the other Flux objects are configuration.
        if is_flux_object(&r.object) && !crate::charts::is_helm_release(&r.object) {
            out.flux.push(r);
        } else if is_flux_component(&r.object) {
            out.left_out.push(r);
        } else {
            if let Some(k) = k {
                add_common_metadata(&mut r.object, k);
            }
            out.objects.push(r);
        }
    }
    Ok(out)
}

/// Substitute over the object's YAML and read it back, as Flux does (so
/// `replicas: ${n}` becomes a number).
fn substitute_object(
    k: &FluxKustomization,
    r: &Resource,
) -> Result<(Value, BTreeSet<String>), FluxError> {
    let object = crate::render::identity(&r.object);
    let fail = |message: String| FluxError::Object {
        file: r.origin.file.clone(),
        line: r.origin.line,
        object: object.clone(),
        message,
    };
    let yaml = rekon_kustomize::to_yaml(std::slice::from_ref(&r.object));
    let done = substitute(&yaml, &k.vars).map_err(|e| {
        // A Secret's text may be decrypted SOPS values: not quoted.
        let near = if r.object["kind"] == "Secret" {
            format!("at line {} of the Secret (its text is not shown)", e.line)
        } else {
            format!("near `{}`", e.near)
        };
        fail(format!(
            "postBuild substitution of Kustomization {}/{}: bad substitution {near}",
            k.namespace, k.name
        ))
    })?;
    let mut documents = rekon_kustomize::parse_yaml_documents(&done.text, &r.origin.file)
        .map_err(|e| fail(format!("after postBuild substitution: {e}")))?;
    match documents.len() {
        1 => Ok((documents.remove(0).0, done.unresolved)),
        n => Err(fail(format!(
            "after postBuild substitution the object is {n} YAML documents"
        ))),
    }
}

/// `commonMetadata`: labels and annotations on the object's metadata only
/// (no selectors or templates), the Kustomization's values winning.
fn add_common_metadata(object: &mut Value, k: &FluxKustomization) {
    for (field, values) in [
        ("labels", &k.common_metadata.labels),
        ("annotations", &k.common_metadata.annotations),
    ] {
        if values.is_empty() {
            continue;
        }
        let metadata = &mut object["metadata"];
        if !metadata[field].is_object() {
            metadata[field] = Value::Object(Default::default());
        }
        for (key, value) in values {
            metadata[field][key] = Value::String(value.clone());
        }
    }
}

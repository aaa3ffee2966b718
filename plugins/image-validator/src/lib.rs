//! `image-validator`: a rekon manifest validator for the images of workloads.
//!
//! * `:latest` and untagged images are errors (they move under you), unless
//!   pinned by digest;
//! * optionally every image must be pinned by digest (`requireDigest`) and come
//!   from an allowed registry (`allowedRegistries`);
//! * containers without `resources.limits.memory` are reported
//!   (`requireLimits`: a warning by default, or an error, or off): on a small
//!   node one leaking container can take all memory.
//!
//! See [`Settings`] and the README.

#![warn(missing_docs)]

mod reference;

pub use reference::{Reference, DOCKER_HUB};

use rekon_plugin_sdk::k8s::{self, ContainerKind};
use rekon_plugin_sdk::validator::violation;
use rekon_plugin_sdk::{Description, Severity, Validator, Value, Violation};
use serde::Deserialize;

/// Settings of the image-validator plugin; `{}` gives the defaults.
///
/// ```json
/// {"allowedRegistries": ["harbor.lan", "docker.io/library"], "requireDigest": false,
///  "requireLimits": "error"}
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// Every image must carry a digest (`@sha256:...`). Default `false`.
    pub require_digest: bool,
    /// Registries, or registry paths, images may come from: `harbor.lan`,
    /// `harbor.lan:5000`, `docker.io/library`, `ghcr.io/my-org`. An entry
    /// covers images whose `registry/path` equals it or continues it after a
    /// `/`; Docker Hub images are `docker.io/...` (`nginx` is
    /// `docker.io/library/nginx`). Empty (default): any registry.
    pub allowed_registries: Vec<String>,
    /// Containers without `resources.limits.memory`: `false` ignores them,
    /// `true` or `"warning"` (default) reports a warning, `"error"` an error
    /// (which stops the render), `"info"` an info finding.
    pub require_limits: RequireLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            require_digest: false,
            allowed_registries: Vec::new(),
            require_limits: RequireLimits(Some(Severity::Warning)),
        }
    }
}

/// `requireLimits`: off (`None`) or the severity of a missing memory limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequireLimits(pub Option<Severity>);

impl<'de> Deserialize<'de> for RequireLimits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RequireLimits;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"true, false, "error", "warning" or "info""#)
            }

            fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<RequireLimits, E> {
                Ok(RequireLimits(on.then_some(Severity::Warning)))
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<RequireLimits, E> {
                let severity = match text {
                    "error" => Severity::Error,
                    "warning" => Severity::Warning,
                    "info" => Severity::Info,
                    _ => return Err(E::invalid_value(serde::de::Unexpected::Str(text), &self)),
                };
                Ok(RequireLimits(Some(severity)))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Settings {
    /// Checks the allowed registries; errors start with the field path.
    pub fn check(&self) -> Result<(), String> {
        for (i, entry) in self.allowed_registries.iter().enumerate() {
            let trimmed = entry.trim_end_matches('/');
            if trimmed.is_empty()
                || trimmed.contains(['@', ' '])
                || trimmed.split('/').any(str::is_empty)
            {
                return Err(format!(
                    "allowedRegistries[{i}]: `{entry}` is not a registry or registry path (like `harbor.lan` or `docker.io/library`)"
                ));
            }
        }
        Ok(())
    }

    /// Whether `reference` comes from an allowed registry.
    fn allows(&self, reference: &Reference) -> bool {
        if self.allowed_registries.is_empty() {
            return true;
        }
        let repository = reference.repository();
        self.allowed_registries.iter().any(|entry| {
            let entry = normalize_entry(entry);
            repository == entry
                || repository
                    .strip_prefix(entry.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// An allowed-registry entry as a repository prefix: no trailing `/`, and
/// `index.docker.io` spelt `docker.io` like parsed references.
fn normalize_entry(entry: &str) -> String {
    let entry = entry.trim_end_matches('/');
    match entry.strip_prefix("index.docker.io") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{DOCKER_HUB}{rest}"),
        _ => entry.to_string(),
    }
}

/// The plugin: [`Validator`] over [`Settings`].
pub struct ImageValidator;

impl Validator for ImageValidator {
    type Settings = Settings;

    fn describe() -> Description {
        Description {
            name: "image-validator".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Refuses :latest and untagged images, optionally requires digests and \
                      allowed registries, and reports containers without a memory limit."
                .into(),
            settings_example: r#"{"allowedRegistries": ["harbor.lan", "docker.io/library"], "requireDigest": false, "requireLimits": "error"}"#
                .into(),
        }
    }

    fn check(settings: &Settings) -> Result<(), String> {
        settings.check()
    }

    fn validate(settings: &Settings, objects: &[Value]) -> Result<Vec<Violation>, String> {
        let mut found = Vec::new();
        for (index, object) in objects.iter().enumerate() {
            for container in k8s::containers(object) {
                check_container(settings, index, object, &container, &mut found);
            }
        }
        Ok(found)
    }
}

fn check_container(
    settings: &Settings,
    index: usize,
    object: &Value,
    container: &k8s::ContainerRef<'_>,
    found: &mut Vec<Violation>,
) {
    let name = container.name();
    let image_path = container.path.clone().key("image");
    let mut report =
        |path: &rekon_plugin_sdk::json::FieldPath, severity: Severity, message: String| {
            found.push(violation(index, object, path, severity, message));
        };
    match container.value.get("image").and_then(Value::as_str) {
        None | Some("") => report(
            &image_path,
            Severity::Error,
            format!("container `{name}` has no image"),
        ),
        Some(image) => match Reference::parse(image) {
            Err(problem) => report(
                &image_path,
                Severity::Error,
                format!(
                    "image `{image}` of container `{name}` is not a valid reference: it {problem}"
                ),
            ),
            Ok(reference) => {
                for (severity, message) in image_findings(settings, image, &reference) {
                    report(&image_path, severity, message);
                }
            }
        },
    }
    // Ephemeral (debug) containers may not have resources at all.
    let limits = settings.require_limits.0;
    if let Some(severity) = limits.filter(|_| container.kind != ContainerKind::Ephemeral) {
        let limit = container
            .value
            .get("resources")
            .and_then(|r| r.get("limits"))
            .and_then(|l| l.get("memory"));
        if limit.is_none_or(Value::is_null) {
            report(
                &container.path.clone().key("resources").key("limits").key("memory"),
                severity,
                format!(
                    "container `{name}` has no memory limit; set resources.limits.memory so it cannot take all of the node's memory"
                ),
            );
        }
    }
}

/// What is wrong with a parsed image reference.
fn image_findings(
    settings: &Settings,
    image: &str,
    reference: &Reference,
) -> Vec<(Severity, String)> {
    let mut findings = Vec::new();
    let pinned = reference.digest.is_some();
    match reference.tag.as_deref() {
        None if !pinned => findings.push((
            Severity::Error,
            format!(
                "image `{image}` has no tag, which means `latest`; pin a version tag or a digest"
            ),
        )),
        Some("latest") if !pinned => findings.push((
            Severity::Error,
            format!(
                "image `{image}` uses the tag `latest`, which moves; pin a version tag or a digest"
            ),
        )),
        _ => {}
    }
    if settings.require_digest && !pinned {
        findings.push((
            Severity::Error,
            format!("image `{image}` is not pinned by digest; add `@sha256:...`"),
        ));
    }
    if !settings.allows(reference) {
        findings.push((
            Severity::Error,
            format!(
                "image `{image}` ({}) is not from an allowed registry ({})",
                reference.repository(),
                settings.allowed_registries.join(", ")
            ),
        ));
    }
    findings
}

// The workloads `k8s::containers` finds containers in (the kinds
// `k8s::pod_template_path` knows): the only objects with images to check.
rekon_plugin_sdk::declare_interest! {
    { groups: ["apps", "extensions"], kinds: ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] },
    { groups: ["batch"], kinds: ["Job", "CronJob"] },
    { groups: [""], kinds: ["ReplicationController", "Pod"] },
}

// Only the component exports the world, so native binaries can link several plugins.
#[cfg(target_arch = "wasm32")]
rekon_plugin_sdk::export_validator!(ImageValidator);

// Every call runs in a fresh instance, so a bump allocator (nothing freed
// until the instance goes) is safe and faster (docs/PERFORMANCE.md).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: rekon_plugin_sdk::alloc::Bump = rekon_plugin_sdk::alloc::Bump::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_example_is_accepted() {
        let example = ImageValidator::describe().settings_example;
        rekon_plugin_sdk::validator::check_settings::<ImageValidator>(&example).unwrap();
    }
}

//! Flux's own objects as rekon's configuration.
//!
//! A repository laid out for Flux (`flux bootstrap`: `clusters/NAME/` with
//! `flux-system/{gotk-components,gotk-sync,kustomization}.yaml`, then
//! Kustomizations, GitRepositories and image automation objects) describes
//! everything rekon needs: what to fetch, what to build and apply, in which
//! order, and how to update images. Reading those objects, instead of
//! asking the user to restate them in `rekon.toml`, lets the same
//! repository run on Flux and on rekon unchanged; `rekon.toml` keeps only
//! what Flux has no place for (cluster access, plugins, state and cache
//! directories, the HTTP server).
//!
//! [`expand`] does what Flux's controllers would do with the objects and
//! writes the result into rekon's one configuration model
//! ([`crate::config::Config`]), so the daemon, render, apply and image code
//! work unchanged:
//!
//! - **Discovery**: the entry path is built with rekon's kustomize build;
//!   every `*.toolkit.fluxcd.io` object in it is read; each Kustomization is
//!   built as kustomize-controller would (with its `targetNamespace`,
//!   `patches`, `components`, ..., and `postBuild` substitution) and the Flux
//!   objects in its output are read in turn. The GitRepository the entry's
//!   own Kustomization points at (`flux-system` after `flux bootstrap`) is
//!   the source rekon already has; other GitRepositories are fetched as
//!   `[sources.NAME]` are.
//! - **GitRepository** → a source (`ref` with Flux's precedence, `secretRef`
//!   read from the cluster, `ignore` and `.sourceignore`).
//! - **Kustomization** → a kustomization ([`FluxKustomization`] carries what
//!   rekon's own kustomizations lack: the build overlay, post-build
//!   substitution, `commonMetadata`, the service account).
//! - **Kustomization `decryption`** (SOPS) → the `*.agekey` entries of its
//!   `secretRef` (from the cluster, else the repository's own Secrets),
//!   read at discovery into [`crate::config::Decryption`]; the build then
//!   decrypts with them ([`crate::sops`], in [`crate::render`]).
//! - **ImageRepository + ImagePolicy** → `[images."NS:NAME"]` and a
//!   registry; **ImageUpdateAutomation** → `[git]` (one per repository).
//!   **Receiver** → a webhook at Flux's own path (`/hook/` + sha256 of its
//!   token, name and namespace), triggering what its `resources` name.
//! - **Alert + Provider** (v1beta3) → alerts ([`crate::alerts`]), the
//!   Provider's `secretRef` read from the cluster.
//!
//! - **HelmRepository + OCIRepository** → chart sources
//!   ([`crate::charts`]), for a plugin (`helm-k3s`) that turns the
//!   **HelmReleases** of a render into k3s HelmCharts; a HelmRelease stays
//!   in its Kustomization's render for that plugin (one left there fails
//!   the render).
//!
//! Flux objects are never applied (the cluster has no Flux CRDs), nor are
//! Flux's own controllers and CRDs (`gotk-components.yaml`); every other
//! object is. Buckets, OCIRepository as a Kustomization's source and
//! source-controller's own HelmChart objects are refused by name (file,
//! line, object), as is every unknown field, and a `decryption` provider
//! other than `sops` or without a `secretRef` (cloud KMS).

mod discover;
pub mod objects;
mod post_build;
pub mod substitute;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rekon_kustomize::{Origin, Overlay};
use serde_json::Value;

pub use discover::{expand, Access, Graph, GraphItem};
pub use post_build::{post_build, PostBuilt};
pub use values::{refresh_vars, RepoObjects};

/// The API group suffix of Flux's objects.
pub const GROUP_SUFFIX: &str = ".toolkit.fluxcd.io";
/// Per object: `disabled` keeps it from being pruned.
pub const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";
/// Per object: `enabled` recreates it when an immutable field changed.
pub const FORCE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/force";
/// Per object (label or annotation): `disabled` skips substitution.
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";
/// Per Kustomization: mutator plugins, comma-separated, in order.
pub const MUTATORS_ANNOTATION: &str = "rekon.dev/mutators";
/// Per Kustomization: validator plugins, comma-separated.
pub const VALIDATORS_ANNOTATION: &str = "rekon.dev/validators";
/// Per ImagePolicy: the image-policy plugin (default `flux-policy`).
pub const POLICY_PLUGIN_ANNOTATION: &str = "rekon.dev/policy-plugin";
/// Per ImagePolicy: a platform every chosen tag must offer.
pub const PLATFORM_ANNOTATION: &str = "rekon.dev/platform";

/// What a Flux Kustomization adds to a rekon kustomization.
#[derive(Debug, Clone, PartialEq)]
pub struct FluxKustomization {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// Where it is defined.
    pub origin: Origin,
    /// `targetNamespace`, `namePrefix`, `nameSuffix`, `patches`, `images`,
    /// `components`: written into the kustomization at its path.
    pub overlay: Overlay,
    /// `postBuild`.
    pub post_build: Option<objects::PostBuild>,
    /// The variables of `postBuild`, resolved (`substituteFrom` in order,
    /// then `substitute`), newlines removed as Flux does.
    pub vars: BTreeMap<String, String>,
    /// `substituteFrom` entries that could not be read (without a cluster,
    /// those the repository does not define): their variables are named
    /// when they stay unresolved.
    pub unread: Vec<String>,
    /// `commonMetadata`.
    pub common_metadata: objects::CommonMetadata,
    /// `serviceAccountName`.
    pub service_account: Option<String>,
    /// `retryInterval`.
    pub retry_interval: Duration,
    /// `healthChecks`: waited for after applying, like its workloads.
    pub health_checks: Vec<crate::apply::ObjectRef>,
    /// The GitRepository it reads, `namespace/name`.
    pub source: String,
    /// `decryption`: its Secret's age identities, read at discovery.
    pub decryption: Option<crate::config::Decryption>,
}

impl FluxKustomization {
    /// The user to impersonate when applying (`serviceAccountName`).
    pub fn impersonate(&self) -> Option<String> {
        self.service_account
            .as_ref()
            .map(|sa| format!("system:serviceaccount:{}:{sa}", self.namespace))
    }
}

/// Why the Flux objects could not be turned into a configuration.
#[derive(Debug, thiserror::Error)]
pub enum FluxError {
    /// An object (or a field of it) is wrong or not supported.
    #[error("{}:{line}: {object}: {message}", file.display())]
    Object {
        /// Its file (relative to its repository; other repositories than
        /// the entry's are prefixed with `GitRepository NS/NAME:`).
        file: PathBuf,
        /// The line of the object, or of the field.
        line: usize,
        /// `Kind namespace/name`.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// A build failed.
    #[error("{object}: {error}")]
    Build {
        /// What was built (`Kustomization NS/NAME`, `the entry PATH`).
        object: String,
        /// The build error (names file and line).
        error: Box<rekon_kustomize::Error>,
    },
    /// A source could not be fetched.
    #[error("{object}: {error}")]
    Fetch {
        /// `GitRepository NS/NAME`.
        object: String,
        /// Why.
        error: Box<crate::source::SourceError>,
    },
    /// Something Flux reads from the cluster could not be read.
    #[error("{object}: {error}")]
    Cluster {
        /// The object that needs it.
        object: String,
        /// Why.
        error: Box<crate::apply::ApplyError>,
    },
    /// The configuration has no `[flux]`.
    #[error("no [flux] table and no --flux: there are no Flux objects to read")]
    NotFlux,
}

/// Whether `object` is a Flux object (configuration, never applied).
pub fn is_flux_object(object: &Value) -> bool {
    object["apiVersion"]
        .as_str()
        .and_then(|v| v.split_once('/'))
        .is_some_and(|(group, _)| group.ends_with(GROUP_SUFFIX))
}

/// Whether `object` is part of Flux itself (`gotk-components.yaml`: labelled
/// `app.kubernetes.io/part-of: flux`, or a toolkit CRD): rekon does Flux's
/// job, so Flux's controllers are not installed.
pub fn is_flux_component(object: &Value) -> bool {
    object
        .pointer("/metadata/labels/app.kubernetes.io~1part-of")
        .and_then(Value::as_str)
        == Some("flux")
        || (object["kind"] == "CustomResourceDefinition"
            && object
                .pointer("/spec/group")
                .and_then(Value::as_str)
                .is_some_and(|g| g.ends_with(GROUP_SUFFIX)))
}

/// Flux's default exclusions of a GitRepository without `ignore`
/// (source-controller's `sourceignore` defaults): VCS files, CI
/// configuration, archives and images.
pub const DEFAULT_IGNORE: &str = "\
/.git/
/.gitignore
/.gitmodules
/.gitattributes
*.jpg
*.jpeg
*.gif
*.png
*.wmv
*.flv
*.tar.gz
*.zip
/.github/
/.circleci/
/.travis.yml
/.gitlab-ci.yml
/appveyor.yml
/.drone.yml
/cloudbuild.yaml
/codeship-services.yml
/codeship-steps.yml
**/.goreleaser.yml
**/.sops.yaml
**/.flux.yaml
";

/// Remove from the checkout `dir` what source-controller leaves out of a
/// GitRepository's artifact: files matching `patterns` (gitignore syntax,
/// from the root) or a `.sourceignore` file of their directory or above.
/// rekon owns the checkout and resets it on every fetch, so removing is
/// how the artifact is made.
pub fn remove_ignored(dir: &Path, patterns: &str) -> Result<(), String> {
    let mut builder = ignore::gitignore::GitignoreBuilder::new(dir);
    for line in patterns.lines() {
        builder
            .add_line(None, line)
            .map_err(|e| format!("ignore pattern `{line}`: {e}"))?;
    }
    let root = builder.build().map_err(|e| e.to_string())?;
    let mut stack: Vec<(PathBuf, Vec<ignore::gitignore::Gitignore>)> =
        vec![(dir.to_path_buf(), vec![root])];
    while let Some((current, mut matchers)) = stack.pop() {
        let sourceignore = current.join(".sourceignore");
        if sourceignore.is_file() {
            let (m, err) = ignore::gitignore::Gitignore::new(&sourceignore);
            if let Some(e) = err {
                return Err(format!("{}: {e}", sourceignore.display()));
            }
            matchers.push(m);
        }
        let entries =
            std::fs::read_dir(&current).map_err(|e| format!("{}: {e}", current.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if path == dir.join(".git") {
                continue;
            }
            // The innermost file that has a say decides (a later `!` re-includes).
            let ignored = matchers
                .iter()
                .rev()
                .map(|m| m.matched(&path, is_dir))
                .find(|m| !m.is_none())
                .is_some_and(|m| m.is_ignore());
            if ignored {
                let removed = if is_dir {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(|e| format!("{}: {e}", path.display()))?;
            } else if is_dir {
                stack.push((path, matchers.clone()));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_files_leave_the_checkout() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "apps/a.yaml",
            "apps/logo.png",
            "apps/.sourceignore",
            "apps/drafts/b.yaml",
            "apps/keep.yaml",
            ".github/workflows/ci.yaml",
            "README.md",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "x").unwrap();
        }
        std::fs::write(dir.path().join("apps/.sourceignore"), "drafts/\n").unwrap();
        remove_ignored(dir.path(), DEFAULT_IGNORE).unwrap();
        let left = |f: &str| dir.path().join(f).exists();
        assert!(left("apps/a.yaml") && left("apps/keep.yaml") && left("README.md"));
        assert!(!left("apps/logo.png") && !left("apps/drafts") && !left(".github"));
        // `ignore` replaces the defaults.
        remove_ignored(dir.path(), "*.md\n!keep.yaml\n*.yaml\n").unwrap();
        assert!(!left("README.md") && !left("apps/a.yaml"));
    }

    #[test]
    fn flux_objects_and_components_are_recognised() {
        let ks = serde_json::json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "a"}});
        assert!(is_flux_object(&ks));
        let kz = serde_json::json!({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "metadata": {"name": "a"}});
        assert!(!is_flux_object(&kz));
        let crd = serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x"}, "spec": {"group": "source.toolkit.fluxcd.io"}});
        assert!(is_flux_component(&crd));
        let dep = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "source-controller", "labels": {"app.kubernetes.io/part-of": "flux"}}});
        assert!(is_flux_component(&dep));
    }
}

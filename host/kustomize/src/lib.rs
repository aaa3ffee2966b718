//! A kustomize-compatible build of one path inside a source tree.
//!
//! rekon reconciles what a git checkout describes. This crate turns one path
//! of that checkout into the Kubernetes objects to apply, the way
//! `kustomize build` (v5) would, with two deliberate limits: it only reads
//! files inside the checkout, and it refuses what it does not implement
//! rather than ignoring it.
//!
//! ```no_run
//! # fn main() -> Result<(), rekon_kustomize::Error> {
//! let root = rekon_kustomize::open_root("/var/lib/rekon/sources/website".as_ref())?;
//! let resources = rekon_kustomize::build(&root, "flux/clusters/production".as_ref())?;
//! let objects: Vec<_> = resources.into_iter().map(|r| r.object).collect();
//! print!("{}", rekon_kustomize::to_yaml(&objects));
//! # Ok(())
//! # }
//! ```
//!
//! # What a path means
//!
//! * A directory with a `kustomization.yaml` (or `kustomization.yml`, or
//!   `Kustomization`) is built as a kustomization.
//! * A directory without one stands for all its `*.yaml`/`*.yml` files and
//!   subdirectories, in name order, hidden entries (`.git`, ...) skipped;
//!   subdirectories are built the same way (their kustomization if they have
//!   one). This is what Flux does with such a directory (it generates a
//!   kustomization listing them); kustomize itself would refuse it.
//! * A file is read as multi-document YAML.
//!
//! In YAML files empty documents are skipped, any `...List` kind with `items`
//! (such as `v1/List`) is flattened, and every other document must be a
//! mapping with `apiVersion`, `kind` and `metadata.name`.
//!
//! ## Scalars
//!
//! Unquoted scalars are typed as in kustomize's output, which is what Flux
//! applies: kustomize reads resources with go-yaml v3 and prints them through
//! JSON. So `0755` is 493, `1_000` is 1000, `1.0` is 1, `2026-01-01` is the
//! string `"2026-01-01T00:00:00Z"`, and `on`, `yes`, `y` are strings (YAML 1.1,
//! and so `kubectl apply -f` on the file itself, would make them booleans).
//! Quoted scalars are strings; `!!str`, `!!int`... set the type. [`to_yaml`]
//! quotes every string that a YAML 1.1 or 1.2 reader would read as something
//! else.
//!
//! # Supported kustomization fields
//!
//! `apiVersion` (`kustomize.config.k8s.io/v1beta1`), `kind` (`Kustomization`),
//! `metadata` (accepted, no effect, as in kustomize), `resources` and its old
//! alias `bases`, `namespace`, `namePrefix`, `nameSuffix`, `commonLabels`,
//! `labels` (`pairs`, `includeSelectors`, `includeTemplates`,
//! `includeVolumeClaimTemplates`), `commonAnnotations`, `images` (`name`,
//! `newName`, `newTag`, `digest`), `replicas`, `patches` (`path` or `patch`,
//! optional `target` with `group`, `version`, `kind`, `name`, `namespace`,
//! `labelSelector`, `annotationSelector`), `patchesStrategicMerge`,
//! `patchesJson6902`. Any other field is an [`Error::UnsupportedField`].
//!
//! Within one kustomization, resources are built first (each
//! sub-kustomization completely), then, as kustomize orders its built-in
//! transformers: `patchesStrategicMerge`, `patches`, `namespace`,
//! `namePrefix`/`nameSuffix` (and the references that follow them), `labels`,
//! `commonLabels`, `commonAnnotations`, `patchesJson6902`, `replicas`,
//! `images`. The result of [`build`] is sorted in kustomize's legacy order.
//!
//! ## Namespaces
//!
//! `namespace` is set on namespaced objects only; built-in cluster-scoped
//! kinds (Namespace, ClusterRole, CRD, PersistentVolume, StorageClass,
//! webhooks, ...) are left alone, except that, as in kustomize, a `v1`
//! Namespace object is renamed to the namespace, (Cluster)RoleBinding
//! subjects named `default` get the namespace, and so do the service
//! references of APIServices and CRD conversion webhooks.
//!
//! ## Renames and references
//!
//! `namePrefix`/`nameSuffix` rename every object except Namespaces, CRDs and
//! APIServices. When a kustomization renames or moves an object of its own
//! build, references to it from objects of the same build follow:
//!
//! * ConfigMap: pod `volumes[].configMap`, projected volume sources,
//!   `env[].valueFrom.configMapKeyRef`, `envFrom[].configMapRef` (containers
//!   and initContainers);
//! * Secret: pod `volumes[].secret`, projected sources,
//!   `env[].valueFrom.secretKeyRef`, `envFrom[].secretRef`,
//!   `imagePullSecrets`; Ingress `tls[].secretName`; ServiceAccount
//!   `imagePullSecrets`;
//! * ServiceAccount: `serviceAccountName`; (Cluster)RoleBinding `subjects`
//!   (name and namespace);
//! * PersistentVolumeClaim: pod `volumes[].persistentVolumeClaim`;
//! * PriorityClass: `priorityClassName`;
//! * Service: StatefulSet `serviceName`; Ingress backends; webhook
//!   configuration and APIService `service` (name and namespace);
//! * Role/ClusterRole: (Cluster)RoleBinding `roleRef`;
//! * Deployment/StatefulSet/ReplicaSet/ReplicationController:
//!   HorizontalPodAutoscaler `scaleTargetRef`.
//!
//! Pod specs are found in Pod, PodTemplate, Deployment, ReplicaSet,
//! DaemonSet, StatefulSet, Job, ReplicationController and CronJob.
//!
//! Not updated (kustomize updates some of these): Role `rules[].resourceNames`,
//! StorageClass, PersistentVolume and IngressClass references, Ingress
//! annotations naming secrets, Knative services, ValidatingAdmissionPolicy
//! bindings, references from a parent kustomization to objects renamed by a
//! sub-kustomization, and renames made by patches.
//!
//! ## Patches
//!
//! A patch is a JSON 6902 operation list (YAML or JSON) or strategic-merge
//! patch objects (see the [strategic merge rules](#strategic-merge)). Without
//! a `target`, a strategic-merge patch applies to the object with its group,
//! kind and name (current or before renames), and its namespace if it names
//! one. A patch, or `replicas` entry, that matches nothing is an error.
//!
//! ## Strategic merge
//!
//! Mappings merge and `null` deletes. Lists merge by key for well-known
//! fields (`containers`, `initContainers`, `ephemeralContainers`, `env`,
//! `volumes`, `imagePullSecrets` by `name`; `volumeMounts` by `mountPath`;
//! `ports` by `containerPort` or `port`, and `protocol`; ...), otherwise by
//! `name` when every element has one, otherwise they are replaced
//! (`args`, `command`, `tolerations` always are). As in kustomize, merged
//! lists start with the patch's elements. `$patch: delete|replace|merge` are
//! supported on mappings and list elements; `$patch: delete` at the top
//! removes the object.
//!
//! ## Images
//!
//! `images` rewrites `image` in every `containers`/`initContainers` list of
//! any object (all workload kinds, CronJob included) and pod image volumes,
//! matching by image name with or without tag or digest, as kustomize does.
//!
//! # Loading restrictions
//!
//! Every file is read through the [`cap_std::fs::Dir`] of the source root.
//! Entries are joined to their kustomization's directory and normalized
//! lexically; an entry that climbs out of the root, is absolute, or reaches
//! outside through a symlink is an error naming the kustomization and the
//! entry (like kustomize's `LoadRestrictionsRootOnly`). Remote resources
//! (URLs, `github.com/...`) are refused. Kustomizations that include each
//! other in a loop are an error.
//!
//! # Known gaps versus kustomize
//!
//! Generators (`configMapGenerator`, `secretGenerator`, `helmCharts`),
//! `components`, `replacements`, `vars`, `transformers`, `generators`,
//! `configurations`, `crds`, `openapi`, `sortOptions`, `buildMetadata`, patch
//! `options`, image `tagSuffix`, label `fields` are refused. Field order is
//! kept as written (kustomize sorts keys). Primitive lists with a merge
//! strategy (`finalizers`) are replaced, not merged; `$retainKeys` and
//! `$deleteFromPrimitiveList` are refused. A `target`ed patch matching nothing
//! is an error here, where kustomize skips it. Cluster-scoped custom
//! resources get a namespace, as in kustomize.

mod build;
mod error;
mod fs;
mod kustomization;
mod object;
mod order;
mod patch;
mod transform;
mod yaml;

use std::path::{Path, PathBuf};

pub use error::{Error, JsonPatchFailure, PatchRef};
pub use order::kind_rank;
pub use yaml::{parse_yaml_documents, to_yaml, to_yaml_document};

/// One rendered Kubernetes object.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The object: a JSON mapping with `apiVersion`, `kind` and
    /// `metadata.name`, keys in the order they were written.
    pub object: serde_json::Value,
    /// Where the object was defined (before any patch or transformer).
    pub origin: Origin,
}

/// Where an object was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The YAML file, relative to the source root.
    pub file: PathBuf,
    /// The 1-based line where the object's document starts (its first line
    /// that is not blank or a comment).
    pub line: usize,
}

/// Opens `path` as a source root.
///
/// This is the one place that uses ambient authority: everything a build
/// reads afterwards goes through the returned directory handle and cannot
/// leave it.
pub fn open_root(path: &Path) -> Result<cap_std::fs::Dir, Error> {
    cap_std::fs::Dir::open_ambient_dir(path, cap_std::ambient_authority()).map_err(|source| {
        Error::Io {
            file: path.to_path_buf(),
            source,
        }
    })
}

/// Builds the kustomization (or plain directory, or YAML file) at `path`,
/// relative to `root`, and returns its objects in kustomize's legacy order.
pub fn build(root: &cap_std::fs::Dir, path: &Path) -> Result<Vec<Resource>, Error> {
    let requested = path.to_string_lossy();
    let entry = fs::resolve(root, Path::new(""), path, "build path", &requested).map_err(
        |err| match err {
            Error::MissingEntry { file, .. } => Error::NotFound { file },
            other => other,
        },
    )?;
    let mut items = build::Builder::new(root).entry(&entry)?;
    for item in &items {
        object::check_object(&item.object, &item.origin)?;
    }
    object::check_duplicates(&items)?;
    order::sort(&mut items);
    Ok(items
        .into_iter()
        .map(|item| Resource {
            object: item.object,
            origin: item.origin,
        })
        .collect())
}

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
//! # Supported kustomization fields
//!
//! `apiVersion` (`kustomize.config.k8s.io/v1beta1`), `kind` (`Kustomization`),
//! `metadata` (accepted, no effect, as in kustomize), `resources` and its old
//! alias `bases`, `namespace`, `namePrefix`, `nameSuffix`, `commonLabels`,
//! `labels` (`pairs`, `includeSelectors`, `includeTemplates`, `fields`),
//! `commonAnnotations`, `images` (`name`, `newName`, `newTag`, `digest`),
//! `replicas`, `patches` (`path` or `patch`, optional `target` with `group`,
//! `version`, `kind`, `name`, `namespace`, `labelSelector`,
//! `annotationSelector`), `patchesStrategicMerge`, `patchesJson6902`,
//! `configurations`. Any other field is an [`Error::UnsupportedField`].
//! As in kustomize, label and annotation values, names, namespaces and
//! image fields must be strings: an unquoted number or boolean is refused
//! (`null` is `""`).
//! `labels` (`pairs`, `includeSelectors`, `includeTemplates`,
//! `includeVolumeClaimTemplates`), `commonAnnotations`, `images` (`name`,
//! `newName`, `newTag`, `digest`), `replicas`, `patches` (`path` or `patch`,
//! optional `target` with `group`, `version`, `kind`, `name`, `namespace`,
//! `labelSelector`, `annotationSelector`, optional `options` with
//! `allowNameChange`, `allowKindChange`), `patchesStrategicMerge`,
//! `patchesJson6902`, `replacements`, `sortOptions`, `buildMetadata`. Any
//! other field is an [`Error::UnsupportedField`].
//!
//! Within one kustomization, resources are built first (each
//! sub-kustomization completely), then, as kustomize orders its built-in
//! transformers: `patchesStrategicMerge`, `patches`, `namespace`,
//! `namePrefix`, `nameSuffix`, `labels`, `commonLabels`,
//! `commonAnnotations`, `patchesJson6902`, `replicas`, `images`. Name
//! references are updated once, at the end of the whole build. The result
//! of [`build`] is sorted in kustomize's legacy order.
//!
//! ## Transformer configuration
//!
//! Where each transformer writes is data: kustomize v5.5's built-in field
//! specs (`namePrefix`, `nameSuffix`, `namespace`, `commonLabels`,
//! `templateLabels`, `commonAnnotations`, `images`, `replicas`,
//! `nameReference`), merged with the kustomization's `configurations` files
//! (same format; unknown keys refused; a spec repeated with a different
//! `create` is an error) and, as in kustomize, with the configurations of
//! everything the kustomization includes: a base's `configurations` apply
//! to its overlays' transformers and to the final name-reference pass.
//! Paths are `/`-separated (`\/` for a slash in a key); lists on the way are
//! entered element by element; `key[]` is never created; `create: false`
//! fields are only set when present. `varReference` is accepted and has no
//! effect (`vars` are refused). A plain directory has the built-in
//! configuration, as the kustomization Flux generates for it.
//! `namePrefix`/`nameSuffix` (and the references that follow them), `labels`,
//! `commonLabels`, `commonAnnotations`, `patchesJson6902`, `replicas`,
//! `images`, `replacements`. The result of [`build`] is sorted in kustomize's
//! legacy order, unless the built kustomization's `sortOptions` say
//! otherwise (see [Sort order](#sort-order)).
//!
//! ## Namespaces
//!
//! `namespace` is set on namespaced objects only; cluster-scoped kinds are
//! those kyaml (kustomize v5.5) knows by apiVersion (Namespace, ClusterRole,
//! CRD, PersistentVolume, StorageClass, webhook configurations, ...; not
//! ValidatingAdmissionPolicy, which kustomize namespaces). As in kustomize,
//! a `v1` Namespace object is renamed to the namespace, (Cluster)RoleBinding
//! subjects named `default` get the namespace, an APIService gets
//! `spec.service.namespace` (created), and a CRD conversion webhook's
//! service its namespace (when present). Two objects ending with the same
//! identity is an [`Error::NamespaceConflict`].
//!
//! ## Renames and references
//!
//! `namePrefix`/`nameSuffix` rename every object except Namespaces, CRDs and
//! APIServices. Each object keeps, as kustomize does in its build
//! annotations (never written out), its earlier identities and the prefixes
//! and suffixes added to it. At the end of the build, one pass updates
//! every field of kustomize's `nameReference` table (and of
//! `configurations`) that names a renamed or moved object, across
//! kustomizations: ConfigMaps and Secrets in every pod spec (volumes,
//! projected sources, env, envFrom, imagePullSecrets), Role/ClusterRole
//! `rules[].resourceNames`, Ingress TLS and nginx annotations, StorageClass
//! parameters, ServiceAccount imagePullSecrets; ServiceAccounts in pod specs
//! and (Cluster)RoleBinding `subjects` (name and namespace); Roles and
//! ClusterRoles in `roleRef` (by its kind); PersistentVolumeClaims,
//! PersistentVolumes, StorageClasses, PriorityClasses; Services in
//! StatefulSet `serviceName`, Ingress backends, webhook `clientConfig.service`
//! and APIService `spec.service`; ValidatingAdmissionPolicies in bindings;
//! workloads in HPA `scaleTargetRef`. Candidates are chosen as kustomize
//! does (previous names, kinds, namespaces, then the prefix/suffix sieve
//! that keeps two renamed copies of one base apart); a name that could mean
//! several objects is an [`Error::AmbiguousReference`] naming them all. As
//! in kustomize, IngressClass references are not updated (its table entry
//! names a group that matches nothing).
//!
//! ## Patches
//!
//! A patch is a JSON 6902 operation list (YAML or JSON) or strategic-merge
//! patch objects (see the [strategic merge rules](#strategic-merge)). Without
//! a `target`, a strategic-merge patch applies to the object with its group,
//! kind and name (current or before renames), and its namespace if it names
//! one; such a patch, or a `replicas` entry, that matches nothing is an
//! error, as in kustomize. A patch with a `target` that selects nothing is
//! skipped, as kustomize does, with a `tracing` warning naming the
//! kustomization, the patch and its target (kustomize says nothing).
//!
//! A strategic-merge patch never changes the namespace of what it patches,
//! nor its name or kind unless its entry's `options` say `allowNameChange`
//! or `allowKindChange`: without them kustomize silently keeps the old
//! ones, and so does rekon. A JSON 6902 patch may change anything, options
//! or not. When an object is renamed or re-kinded, its previous identity is
//! kept so later patches and selectors can still use it.
//!
//! ## Replacements
//!
//! `replacements` entries are inline or `path:` files (inside the source
//! root) holding one replacement or a list. They follow kustomize v5.5
//! exactly, see the `transform::replacements` module: one source object
//! (none or several is an error naming the entry and selector), `select` and
//! `reject` by exact group/version/kind/name/namespace (current or earlier
//! identity) and `labelSelector`/`annotationSelector`, kyaml field paths
//! (`a.b`, `a\.b`, `[a.b/c]`, `0`, `*`, `[key=pattern]` where the pattern is
//! an unanchored regular expression, as in kustomize), `options` with
//! `delimiter`, `index` and `create`. A target field that is missing
//! without `create` is an error; a scalar target keeps its type.
//!
//! ## Sort order
//!
//! Only the built kustomization's `sortOptions` count (kustomize ignores
//! those of included kustomizations): `order: fifo` keeps load order,
//! `order: legacy` (the default) sorts by kind with kustomize's lists or
//! with `legacySortOptions.orderFirst`/`orderLast`.
//!
//! ## Build metadata
//!
//! `buildMetadata` (of the built kustomization; kustomize applies it to
//! everything included) adds `config.kubernetes.io/origin` (`path:` from the
//! built kustomization's directory), `alpha.config.kubernetes.io/transformations`
//! (one entry per built-in transformer configured in each kustomization the
//! object went through) and the `app.kubernetes.io/managed-by` label. The
//! label is `kustomize-v5.5.0`, what the kustomize v5.5.0 release prints;
//! `kubectl kustomize` prints `kustomize-(devel)`, which is not a valid label
//! value.
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
//! `crds`, `openapi`, `sortOptions`, `buildMetadata`, patch `options`, image
//! `tagSuffix`, label `includeVolumeClaimTemplates` (not in v5.5) are
//! refused. Field order is
//! `components`, `vars`, `transformers`, `generators`, `configurations`,
//! `crds`, `openapi`, image `tagSuffix`, label `fields`, replacement
//! `options.encoding` (not implemented by kustomize either) are refused. Field order is
//! kept as written (kustomize sorts keys). Primitive lists with a merge
//! strategy (`finalizers`) are replaced, not merged; `$retainKeys` and
//! `$deleteFromPrimitiveList` are refused. Cluster-scoped custom resources
//! get a namespace, as in kustomize.

mod build;
mod error;
mod fs;
mod kustomization;
mod metadata;
mod object;
mod order;
mod patch;
mod transform;
mod yaml;

use std::path::{Path, PathBuf};

pub use error::{Error, JsonPatchFailure, PatchRef};
pub use order::kind_rank;
pub use yaml::{parse_yaml_documents, to_yaml};

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
            error: source,
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
    let mut builder = build::Builder::new(root);
    let build::Built { mut items, config } = builder.entry(&entry)?;
    transform::nameref::fix_back_references(&mut items, &config)?;
    for item in &items {
        object::check_object(&item.object, &item.origin)?;
    }
    object::check_duplicates(&items)?;
    order::sort(&mut items, &builder.order);
    metadata::finish(&mut items, &builder.build_metadata);
    Ok(items
        .into_iter()
        .map(|item| Resource {
            object: item.object,
            origin: item.origin,
        })
        .collect())
}

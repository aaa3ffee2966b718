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
//! else. Annotation values keep the text they were written with
//! (`note: 0755` is `"0755"`), as kustomize rewrites annotations from their
//! text, unless a JSON 6902 patch turned the object into JSON first (then
//! `"493"`); so do `data` values a generator `merge` rewrites.
//!
//! A kustomization file itself is read as Kubernetes' decoder reads YAML
//! (YAML 1.1), as kustomize does: a number or boolean where a string is
//! expected (`newTag: 1.10`, `commonLabels: {a: on}`) is refused, as
//! kustomize refuses it ("cannot unmarshal number into ... of type
//! string"); quote it. A key such as `on:` or `n:` is a boolean there and
//! refused too.
//!
//! # Supported kustomization fields
//!
//! `apiVersion` (`kustomize.config.k8s.io/v1beta1`; `v1alpha1` for a
//! Component), `kind` (`Kustomization` or `Component`), `metadata` (accepted,
//! no effect, as in kustomize), `resources` and its old alias `bases`,
//! `components`, `configMapGenerator`, `secretGenerator`, `generatorOptions`
//! (see [Generators](#generators)), `configurations`, `namespace`,
//! `namePrefix`, `nameSuffix`, `commonLabels`, `labels` (`pairs`,
//! `includeSelectors`, `includeTemplates`, `fields`), `commonAnnotations`,
//! `images` (`name`, `newName`, `newTag`, `digest`), `replicas`, `patches`
//! (`path` or `patch`, optional `target` with `group`, `version`, `kind`,
//! `name`, `namespace`, `labelSelector`, `annotationSelector`, optional
//! `options` with `allowNameChange`, `allowKindChange`),
//! `patchesStrategicMerge`, `patchesJson6902`, `replacements`,
//! `sortOptions`, `buildMetadata`. Any other field (`helmCharts`, `vars`,
//! `transformers`, `generators`, `validators`, `crds`, `openapi`, ...) is an
//! [`Error::UnsupportedField`] naming it and its line. Label and annotation
//! values, names, namespaces and image fields must be strings.
//!
//! Within one kustomization, as kustomize v5's `accumulateTarget`: its
//! resources are built (each sub-kustomization completely) and its
//! `configurations` merged in, its generators run, its components apply (each
//! a kustomization of kind `Component` working on what was accumulated so
//! far: its resources, generators and transformers, in the order listed),
//! then its built-in transformers run in kustomize's order:
//! `patchesStrategicMerge`, `patches`, `namespace`, `namePrefix`,
//! `nameSuffix`, `labels`, `commonLabels`, `commonAnnotations`,
//! `patchesJson6902`, `replicas`, `images`, `replacements`. At the end of the
//! whole build generated names get their hash, then every name reference
//! follows every rename, once. The result of [`build`] is sorted in
//! kustomize's legacy order unless the built kustomization's `sortOptions`
//! say otherwise (see [Sort order](#sort-order)). A Component may be the
//! build path itself; a Component listed as a resource, or a Kustomization
//! listed as a component, is refused as kustomize refuses it.
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
//!
//! ## Generators
//!
//! `configMapGenerator` and `secretGenerator` entries take `name`,
//! `namespace`, `behavior` (`create`, `merge`, `replace`), `envs` (and the
//! old single `env`), `literals`, `files` (`path` or `key=path`), `options`
//! (`labels`, `annotations`, `disableNameSuffixHash`, `immutable`), and for
//! Secrets `type` (default `Opaque`). `generatorOptions` holds the same
//! options for all generators of its kustomization: a generator's own labels
//! and annotations win, and a `true` on either side wins.
//!
//! Keys come from env files, then literals, then files; a key given twice is
//! an error. Env files hold `KEY=value` lines, split at the first `=` with
//! nothing trimmed but leading white space and no quote handling; blank
//! lines and `#` comments are skipped, a line without `=` is the key with an
//! empty value (kustomize v5 does not read the environment, and neither does
//! rekon), a UTF-8 byte order mark on the first line is dropped. Literals
//! lose one pair of matching surrounding quotes. Keys are not validated, as
//! in kustomize. ConfigMap values that are valid UTF-8 go to `data`, others
//! base64-encoded to `binaryData`; Secret values are base64 in `data`
//! (broken into lines of 70 from 70 characters on, as kustomize writes
//! them). Files are read like every other file: inside the root only.
//!
//! A caller may pass the bytes of every `secretGenerator` file through a
//! callback ([`build_filtered`]): rekon decrypts SOPS-encrypted files
//! there, in memory.
//!
//! `behavior: merge` or `replace` acts on the object of the same kind, name
//! and namespace (current, or before renames) built so far, normally a
//! base's: it keeps its name and namespace and the union of labels and
//! annotations; `merge` unites `data` and `binaryData` (the generator wins
//! per key), `replace` takes the generator's; other fields (a Secret's
//! `type`, `immutable`) are the generator's. `create` of an existing object,
//! and `merge`/`replace` of a missing one, are errors.
//!
//! Generated names get a `-<hash>` suffix once, at the end of the whole
//! build, after every transformer, unless `disableNameSuffixHash` is set (a
//! merged object keeps a hash only if both sides want one). The hash is
//! kustomize's: it covers the kind, the data and a Secret's type, not the
//! name, namespace, labels or annotations. References to the generated
//! objects follow the hashed names.
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
//! # Where rekon differs from kustomize
//!
//! On purpose:
//! * files are read only inside the source root (kustomize's
//!   `LoadRestrictionsRootOnly`, but a generator file may be anywhere inside
//!   the root, as with Flux, where kustomize wants it under the
//!   kustomization's directory), and remote resources are refused;
//! * a directory without a kustomization file is built as Flux builds it
//!   (kustomize refuses it);
//! * a targeted patch that matches nothing is skipped as in kustomize, with a
//!   warning kustomize does not give;
//! * an unknown generator `behavior` (kustomize treats it as `create`) and
//!   an env file line of 64 KiB or more (kustomize drops it and the rest of
//!   the file) are errors;
//! * `.inf` and `.nan` scalars are refused where they are read; kustomize
//!   fails on them only if they reach its output;
//! * the `app.kubernetes.io/managed-by` label of `buildMetadata` is
//!   `kustomize-v5.5.0`, not `kubectl kustomize`'s `kustomize-(devel)`.
//!
//! Not built yet:
//! * kustomize shares one YAML node between every place a `labels` or
//!   `commonLabels` entry created a key, so a later `labels` entry that
//!   changes that key's value (even without `includeSelectors`) also
//!   changes the selectors the first one set. rekon changes only the fields
//!   the later entry names (the golden case
//!   `labels-overlay-relabels-base-selector` is pending on it);
//! * field order is kept as written (kustomize sorts keys; it does not
//!   change what is applied); primitive lists with a merge strategy
//!   (`finalizers`) are replaced, not merged; `$retainKeys` and
//!   `$deleteFromPrimitiveList` are refused; image `tagSuffix` and
//!   replacement `options.encoding` (which kustomize does not implement
//!   either) are refused.
//!
//! # How it is held to kustomize
//!
//! `tests/golden/` holds trees with what `kubectl kustomize` (kustomize
//! v5.5.0) printed for them (`tests/golden.sh` regenerates them), compared
//! as parsed objects; a differential test builds a few hundred random trees
//! with both where kubectl is installed (`tests/kustomize/differential.rs`).

mod build;
mod error;
mod fs;
mod generate;
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
pub use yaml::{parse_yaml_documents, to_yaml, to_yaml_document};

/// One rendered Kubernetes object.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The object: a JSON mapping with `apiVersion`, `kind` and
    /// `metadata.name`, keys in the order they were written.
    pub object: serde_json::Value,
    /// Where the object was defined (before any patch or transformer); for
    /// a generated object, its kustomization file at the line of the
    /// generator field.
    pub origin: Origin,
}

/// Where an object was defined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// Fields added to the kustomization at the build path before it is built,
/// the way Flux's kustomize-controller edits (or generates) the
/// `kustomization.yaml` at a Flux Kustomization's `spec.path`: `namespace`,
/// `namePrefix` and `nameSuffix` replace the file's, `patches` and
/// `components` are appended, `images` entries merge by `name` with the
/// file's (`newName` when given; `newTag` and `digest` together). A plain
/// directory gets them as the kustomization Flux generates for it.
///
/// This is an edit of the built kustomization, not an overlay above it: a
/// prefix replaces the file's own, as with Flux.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overlay {
    /// `targetNamespace`.
    pub namespace: Option<String>,
    /// `namePrefix`.
    pub name_prefix: Option<String>,
    /// `nameSuffix`.
    pub name_suffix: Option<String>,
    /// `patches` entries as kustomize reads them (inline `patch`, optional
    /// `target`; a `path` is refused, as Flux has none).
    pub patches: Vec<serde_json::Value>,
    /// `images` entries as kustomize reads them.
    pub images: Vec<serde_json::Value>,
    /// `components`, relative to the build path.
    pub components: Vec<String>,
    /// Where these fields are written (errors about them name it).
    pub origin: Origin,
}

impl Overlay {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.namespace.is_none()
            && self.name_prefix.is_none()
            && self.name_suffix.is_none()
            && self.patches.is_empty()
            && self.images.is_empty()
            && self.components.is_empty()
    }
}

/// What a build does with a file a `secretGenerator` reads (`envs`,
/// `files`), given its root-relative path, whether it is an env file, and
/// its bytes: the bytes the generator uses, or why it cannot be used (the
/// message is given with the file and the generator). rekon decrypts
/// SOPS-encrypted files here, in memory, as Flux's kustomize-controller
/// does before its build; the checkout on disk is never changed.
pub type SecretFiles<'a> = dyn Fn(&Path, bool, Vec<u8>) -> Result<Vec<u8>, String> + 'a;

/// Builds the kustomization (or plain directory, or YAML file) at `path`,
/// relative to `root`, and returns its objects in kustomize's legacy order.
pub fn build(root: &cap_std::fs::Dir, path: &Path) -> Result<Vec<Resource>, Error> {
    build_with(root, path, &Overlay::default())
}

/// [`build`] with `overlay`'s fields added to the kustomization at `path`
/// (a directory).
pub fn build_with(
    root: &cap_std::fs::Dir,
    path: &Path,
    overlay: &Overlay,
) -> Result<Vec<Resource>, Error> {
    build_filtered(root, path, overlay, &|_, _, bytes| Ok(bytes))
}

/// [`build_with`], the files of `secretGenerator`s passed through
/// `secret_files`.
pub fn build_filtered(
    root: &cap_std::fs::Dir,
    path: &Path,
    overlay: &Overlay,
    secret_files: &SecretFiles<'_>,
) -> Result<Vec<Resource>, Error> {
    let requested = path.to_string_lossy();
    let entry = fs::resolve(root, Path::new(""), path, "build path", &requested).map_err(
        |err| match err {
            Error::MissingEntry { file, .. } => Error::NotFound { file },
            other => other,
        },
    )?;
    let mut builder = build::Builder::new(root, secret_files);
    if !overlay.is_empty() {
        if !entry.is_dir {
            return Err(Error::InvalidKustomization {
                file: overlay.origin.file.clone(),
                line: Some(overlay.origin.line),
                message: format!(
                    "path '{requested}' is a file; targetNamespace, namePrefix, nameSuffix, \
                     patches, images and components need a directory"
                ),
            });
        }
        builder.overlay = Some(overlay.clone());
    }
    let build::Built { mut items, config } = builder.entry(&entry)?;
    // As kustomize's makeCustomizedResMap: hash suffixes once the whole
    // build is done, then every reference follows every rename.
    generate::apply_hashes(&mut items)?;
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

//! Render a kustomization: build it from the source tree, run its mutators in
//! order, then its validators. Nothing is applied here; the result is the
//! final object list plus what each plugin changed or found.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rekon_kustomize::Origin;
use serde_json::Value;

use crate::charts::{self, SourceContext};
use crate::config::{Config, Kustomization, PluginUse};
use crate::explain::{self, FieldChange};
use crate::plugin::{
    Capability, Plugin, PluginError, PluginSource, Runtime, Severity, Texts, Violation, World,
};
use crate::sops;

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The kustomize build failed.
    #[error("kustomization `{kustomization}`: {error}")]
    Build {
        /// The kustomization.
        kustomization: String,
        /// The build error (names file and line); boxed, as it is large.
        error: Box<rekon_kustomize::Error>,
    },
    /// A plugin failed to load, refused its settings, or failed a call.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// An `oci://` plugin could not be pulled or failed its digest check.
    #[error(transparent)]
    Oci(#[from] crate::plugin::oci::OciError),
    /// A plugin the kustomization uses is not loaded (`rekon run`: its file
    /// is missing or every version so far was refused).
    #[error(
        "kustomization `{kustomization}`: plugin `{plugin}` is not loaded (see `rekon status`)"
    )]
    NotLoaded {
        /// The kustomization.
        kustomization: String,
        /// The plugin.
        plugin: String,
    },
    /// A SOPS-encrypted object could not be decrypted (names the file).
    #[error("kustomization `{kustomization}`: {error}")]
    Sops {
        /// The kustomization.
        kustomization: String,
        /// Why (never holds a decrypted value).
        error: crate::sops::SopsError,
    },
    /// Flux's post-build steps failed (a bad substitution).
    #[error("kustomization `{kustomization}`: {error}")]
    Flux {
        /// The kustomization.
        kustomization: String,
        /// What failed (names file and line).
        error: Box<crate::flux::FluxError>,
    },
    /// A HelmRelease is still in the render after the mutators: nothing
    /// applies it (rekon applies no Flux object and runs no Helm).
    #[error(
        "kustomization `{kustomization}`: HelmRelease {release}{} is left in the render: rekon \
         applies no Flux object and has no Helm controller; translate it with the `helm-k3s` plugin \
         (`rekon.dev/mutators: helm-k3s` on the Kustomization; see the README, \"Helm on k3s\")",
        origin.as_ref().map(|o| format!(" ({}:{})", o.file.display(), o.line)).unwrap_or_default()
    )]
    HelmRelease {
        /// The kustomization.
        kustomization: String,
        /// `namespace/name`.
        release: String,
        /// Where it was built from.
        origin: Option<Origin>,
    },
    /// Validators found error-severity violations.
    #[error(
        "kustomization `{kustomization}` was denied by its validators:\n{}",
        list(findings)
    )]
    Denied {
        /// The kustomization.
        kustomization: String,
        /// All findings (errors and others).
        findings: Vec<Finding>,
    },
}

fn list(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An object of the final render, with where it came from.
#[derive(Debug, Clone)]
pub struct RenderedObject {
    /// The object.
    pub object: Value,
    /// The file and line it was built from (`None` if a mutator added it).
    pub origin: Option<Origin>,
    /// The mutator that added it, if one did.
    pub added_by: Option<String>,
}

/// One field a mutator changed, or an object it added or removed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    /// The plugin (name in the configuration).
    pub plugin: String,
    /// `Kind/namespace/name` of the object.
    pub object: String,
    /// A changed field, or the whole object added or removed.
    pub change: ChangeKind,
    /// The field (empty path for an added or removed object).
    #[serde(flatten)]
    pub field: FieldChange,
}

/// What a [`Change`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// One field of an object changed.
    Field,
    /// The plugin added the object (granted `create`).
    Added,
    /// The plugin removed the object (granted `delete`).
    Removed,
}

impl Change {
    fn whole(plugin: &str, object: &Value, change: ChangeKind) -> Change {
        Change {
            plugin: plugin.to_string(),
            object: identity(object),
            change,
            field: FieldChange {
                path: String::new(),
                before: None,
                after: None,
            },
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.change {
            ChangeKind::Added => return write!(f, "{}: {} added", self.plugin, self.object),
            ChangeKind::Removed => return write!(f, "{}: {} removed", self.plugin, self.object),
            ChangeKind::Field => {}
        }
        write!(
            f,
            "{}: {} {}: {} -> {}",
            self.plugin,
            self.object,
            self.field.path,
            explain::short(&self.field.before),
            explain::short(&self.field.after)
        )
    }
}

/// One validator finding, with the plugin and the object's origin.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The validator (name in the configuration).
    pub plugin: String,
    /// What it found.
    pub violation: Violation,
    /// Where the object came from.
    pub origin: Option<Origin>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.violation;
        let severity = match v.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        let o = &v.object;
        let object = if o.namespace.is_empty() {
            format!("{}/{}", o.kind, o.name)
        } else {
            format!("{}/{}/{}", o.kind, o.namespace, o.name)
        };
        write!(f, "{severity}: {object}")?;
        if let Some(origin) = &self.origin {
            write!(f, " ({}:{})", origin.file.display(), origin.line)?;
        }
        if !v.path.is_empty() {
            write!(f, " {}", v.path)?;
        }
        write!(f, ": {} [{}]", v.message, self.plugin)
    }
}

/// The result of rendering one kustomization.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The kustomization's name.
    pub kustomization: String,
    /// The final objects, in build order.
    pub objects: Vec<RenderedObject>,
    /// Every field the mutators changed, in chain order.
    pub changes: Vec<Change>,
    /// Validator findings below error severity (errors fail the render).
    pub findings: Vec<Finding>,
    /// Flux variables used without a value, one line per object (they
    /// became `""`, as in Flux).
    pub unresolved: Vec<String>,
    /// The kustomization decrypts SOPS files: [`to_yaml`] masks its
    /// Secrets' values (as [`Rendered::changes`] already are).
    pub masked: bool,
}

/// The plugins of a configuration, loaded and with their settings checked.
pub struct Renderer {
    plugins: HashMap<String, Plugin>,
    /// The chart sources plugins with `sources` read ([`crate::charts`]).
    charts: Arc<charts::Sources>,
    resolver: Arc<charts::Resolver>,
}

impl Renderer {
    /// Load every plugin the selected kustomizations use, and check every
    /// (plugin, settings) pair once, before anything is rendered.
    pub fn load(
        config: &Config,
        runtime: &Runtime,
        selected: &[&Kustomization],
    ) -> Result<Self, RenderError> {
        let mut plugins = HashMap::new();
        for k in selected {
            for (u, world) in k
                .mutators
                .iter()
                .map(|u| (u, World::ManifestMutator))
                .chain(k.validators.iter().map(|u| (u, World::ManifestValidator)))
            {
                if !plugins.contains_key(&u.plugin) {
                    let declared = &config.plugins[&u.plugin];
                    let path = crate::plugin::oci::resolve_blocking(
                        &u.plugin,
                        declared,
                        &config.registries,
                        config.cache_dir.as_deref(),
                    )?;
                    let plugin = runtime.load(&PluginSource {
                        name: u.plugin.clone(),
                        path,
                        sha256: declared.sha256.clone(),
                        limits: declared.limits.clone(),
                    })?;
                    plugins.insert(u.plugin.clone(), plugin);
                }
                let plugin = &plugins[&u.plugin];
                if plugin.world() != world {
                    return Err(PluginError::WrongWorld {
                        plugin: u.plugin.clone(),
                        actual: plugin.world(),
                        wanted: world,
                    }
                    .into());
                }
                plugin.check_settings(&u.settings)?;
            }
        }
        Ok(Renderer {
            plugins,
            charts: Arc::clone(&config.charts),
            resolver: Arc::new(charts::Resolver::new()),
        })
    }

    /// A renderer over plugins loaded elsewhere (the daemon's current
    /// versions), for kustomization `k`: every plugin it uses must be there.
    /// Settings were checked when the plugins were loaded.
    pub fn with_plugins(
        plugins: HashMap<String, Plugin>,
        k: &Kustomization,
    ) -> Result<Renderer, RenderError> {
        if let Some(u) = k
            .mutators
            .iter()
            .chain(&k.validators)
            .find(|u| !plugins.contains_key(&u.plugin))
        {
            return Err(RenderError::NotLoaded {
                kustomization: k.name.clone(),
                plugin: u.plugin.clone(),
            });
        }
        Ok(Renderer {
            plugins,
            charts: Arc::default(),
            resolver: Arc::new(charts::Resolver::new()),
        })
    }

    /// Use `charts` and `resolver` (whose listings outlive one render) for
    /// the plugins that read sources.
    pub fn with_charts(
        mut self,
        charts: Arc<charts::Sources>,
        resolver: Arc<charts::Resolver>,
    ) -> Renderer {
        self.charts = charts;
        self.resolver = resolver;
        self
    }

    /// Render one kustomization whose source's files are in `root` (see
    /// [`crate::source::Roots`]).
    pub fn render(&self, root: &Path, k: &Kustomization) -> Result<Rendered, RenderError> {
        let build_err = |error| RenderError::Build {
            kustomization: k.name.clone(),
            error: Box::new(error),
        };
        let dir = rekon_kustomize::open_root(root).map_err(build_err)?;
        let keys = std::cell::OnceCell::new();
        let secret_files = |path: &Path, env: bool, bytes: Vec<u8>| {
            let format = if env {
                sops::Format::Dotenv
            } else {
                sops::Format::of_path(path)
            };
            if !sops::is_encrypted_file(&bytes, format) {
                return Ok(bytes);
            }
            let keys = decryption_keys(k, &keys).map_err(|e| format!("SOPS-encrypted: {e}"))?;
            match sops::decrypt_file(&bytes, format, path, keys) {
                Ok(clear) => Ok(clear.unwrap_or(bytes)),
                Err(e) => Err(format!("SOPS: {}", e.message)),
            }
        };
        let mut unresolved = Vec::new();
        let overlay = k
            .flux
            .as_ref()
            .map(|f| f.overlay.clone())
            .unwrap_or_default();
        let mut built = rekon_kustomize::build_filtered(&dir, &k.path, &overlay, &secret_files)
            .map_err(build_err)?;
        for r in &mut built {
            if sops::is_encrypted(&r.object) {
                decrypt_object(root, k, &keys, r).map_err(|error| RenderError::Sops {
                    kustomization: k.name.clone(),
                    error,
                })?;
            }
        }
        let resources = match &k.flux {
            None => built,
            Some(flux) => {
                let post = crate::flux::post_build(Some(flux), built).map_err(|error| {
                    RenderError::Flux {
                        kustomization: k.name.clone(),
                        error: Box::new(error),
                    }
                })?;
                unresolved = post.unresolved;
                post.objects
            }
        };
        let mut objects: Vec<RenderedObject> = resources
            .into_iter()
            .map(|r| RenderedObject {
                object: r.object,
                origin: Some(r.origin),
                added_by: None,
            })
            .collect();

        // Charts are resolved (network, cached) only for a chain that has a
        // plugin reading them, and before it runs: its call has a deadline.
        let sources = k
            .mutators
            .iter()
            .any(|u| {
                self.plugin(u)
                    .admission()
                    .effective
                    .contains(Capability::Sources)
            })
            .then(|| {
                let values: Vec<&Value> = objects.iter().map(|o| &o.object).collect();
                Arc::new(self.resolver.context(&self.charts, &values))
            });
        let mut changes = Vec::new();
        let mut texts = Texts::new(objects.len());
        for u in &k.mutators {
            self.mutate(u, &mut objects, &mut texts, &mut changes, sources.as_ref())?;
        }
        if let Some(left) = objects.iter().find(|o| charts::is_helm_release(&o.object)) {
            return Err(RenderError::HelmRelease {
                kustomization: k.name.clone(),
                release: format!(
                    "{}/{}",
                    left.object
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .unwrap_or("default"),
                    left.object
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                ),
                origin: left.origin.clone(),
            });
        }

        if k.decryption.is_some() {
            // `--explain`, `/status` and the status page show changes.
            for c in &mut changes {
                if c.object.starts_with("Secret/")
                    && ["data", "stringData"]
                        .iter()
                        .any(|f| c.field.path.starts_with(f))
                {
                    let mask = |v: &mut Option<Value>| {
                        if v.is_some() {
                            *v = Some(Value::String(MASK.into()));
                        }
                    };
                    mask(&mut c.field.before);
                    mask(&mut c.field.after);
                }
            }
        }
        let values: Vec<&Value> = objects.iter().map(|o| &o.object).collect();
        let mut findings = Vec::new();
        for u in &k.validators {
            for violation in self
                .plugin(u)
                .validate_objects_in(&u.settings, &values, &texts)?
            {
                let origin = objects
                    .get(violation.object.index as usize)
                    .and_then(|o| o.origin.clone());
                findings.push(Finding {
                    plugin: u.plugin.clone(),
                    violation,
                    origin,
                });
            }
        }
        if findings
            .iter()
            .any(|f| f.violation.severity == Severity::Error)
        {
            return Err(RenderError::Denied {
                kustomization: k.name.clone(),
                findings,
            });
        }
        Ok(Rendered {
            kustomization: k.name.clone(),
            objects,
            changes,
            findings,
            unresolved,
            masked: k.decryption.is_some(),
        })
    }

    fn plugin(&self, u: &PluginUse) -> &Plugin {
        &self.plugins[&u.plugin]
    }

    /// Run mutator `u` over `objects`: it sees what its interest and grant
    /// allow, and its checked answer is put back in place (see
    /// [`crate::plugin::scope`]).
    fn mutate(
        &self,
        u: &PluginUse,
        objects: &mut Vec<RenderedObject>,
        texts: &mut Texts,
        changes: &mut Vec<Change>,
        sources: Option<&Arc<SourceContext>>,
    ) -> Result<(), RenderError> {
        let values: Vec<&Value> = objects.iter().map(|o| &o.object).collect();
        let mutation = self
            .plugin(u)
            .mutate_objects_in(&u.settings, &values, texts, sources)?;
        texts.follow(&mutation);
        for (at, after) in mutation.replaced {
            let before = &objects[at].object;
            let object = identity(before);
            changes.extend(
                explain::diff(before, &after)
                    .into_iter()
                    .map(|field| Change {
                        plugin: u.plugin.clone(),
                        object: object.clone(),
                        change: ChangeKind::Field,
                        field,
                    }),
            );
            objects[at].object = after;
        }
        for at in mutation.removed.into_iter().rev() {
            let removed = objects.remove(at);
            changes.push(Change::whole(
                &u.plugin,
                &removed.object,
                ChangeKind::Removed,
            ));
        }
        for object in mutation.added {
            changes.push(Change::whole(&u.plugin, &object, ChangeKind::Added));
            objects.push(RenderedObject {
                object,
                origin: None,
                added_by: Some(u.plugin.clone()),
            });
        }
        Ok(())
    }
}

/// The identities of `k`, read once per render.
fn decryption_keys<'a>(
    k: &Kustomization,
    keys: &'a std::cell::OnceCell<Result<sops::Keys, String>>,
) -> Result<&'a sops::Keys, String> {
    keys.get_or_init(|| match &k.decryption {
        None => Err(format!(
            "kustomization `{}` has no decryption ({})",
            k.name,
            if k.flux.is_some() {
                "spec.decryption with provider sops and a secretRef"
            } else {
                "decryption = { age-key-file = \"...\" } or { age-key-env = \"VAR\" }"
            }
        )),
        Some(d) => d.keys(),
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Decrypt the built object `r` (it has a top-level `sops` key).
fn decrypt_object(
    root: &Path,
    k: &Kustomization,
    keys: &std::cell::OnceCell<Result<sops::Keys, String>>,
    r: &mut rekon_kustomize::Resource,
) -> Result<(), sops::SopsError> {
    let keys = decryption_keys(k, keys).map_err(|e| sops::SopsError {
        file: r.origin.file.clone(),
        message: format!("SOPS-encrypted: {e}"),
    })?;
    sops::decrypt_resource(root, r, keys)
}

/// What a masked Secret value shows: `**SOPS**`, as `flux build` prints
/// decrypted Secrets (base64 in `data`).
pub const MASK: &str = "**SOPS**";

/// Mask the values of `object`'s `data` and `stringData` if it is a Secret.
pub fn mask_secret(object: &mut Value) {
    if object["kind"] != "Secret" {
        return;
    }
    for (field, mask) in [("data", "KipTT1BTKio="), ("stringData", MASK)] {
        if let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) {
            for v in map.values_mut() {
                *v = Value::String(mask.into());
            }
        }
    }
}

/// `Kind/namespace/name` (or `Kind/name` when cluster-scoped).
pub fn identity(object: &Value) -> String {
    let s = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    match s("/metadata/namespace") {
        "" => format!("{}/{}", s("/kind"), s("/metadata/name")),
        ns => format!("{}/{}/{}", s("/kind"), ns, s("/metadata/name")),
    }
}

/// Refuse an object without apiVersion, kind or name.
pub(crate) fn check_object(object: &Value) -> Result<(), String> {
    for (pointer, field) in [
        ("/apiVersion", "apiVersion"),
        ("/kind", "kind"),
        ("/metadata/name", "metadata.name"),
    ] {
        if object
            .pointer(pointer)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(format!("missing `{field}`"));
        }
    }
    Ok(())
}

/// Multi-document YAML of rendered objects, the Secrets of kustomizations
/// that decrypt SOPS files masked (see [`mask_secret`]).
pub fn to_yaml(rendered: &[Rendered]) -> String {
    let objects: Vec<Value> = rendered
        .iter()
        .flat_map(|r| {
            r.objects.iter().map(|o| {
                let mut object = o.object.clone();
                if r.masked {
                    mask_secret(&mut object);
                }
                object
            })
        })
        .collect();
    rekon_kustomize::to_yaml(&objects)
}

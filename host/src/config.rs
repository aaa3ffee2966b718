//! `rekon.toml`: where the source is, which plugins exist and how each
//! kustomization chains them.
//!
//! ```toml
//! [source]
//! path = "."                                  # the checkout, relative to this file
//!
//! [plugins.readiness-probe]
//! path = "plugins/readiness-probe.wasm"       # relative to this file
//! sha256 = "…"                                # optional pin
//! timeout-ms = 1000                           # per call (default 1000)
//! memory-mib = 64                             # per call (default 64)
//! grant = ["clock"]                           # what it may use or do (default none; see below)
//! settings = { readinessProbe = { initialDelaySeconds = 10 } }   # default settings
//! # source = "website"                        # path is inside that git source's checkout
//! # tests = "readiness-probe/rekon-test.yaml" # `rekon run` swaps a new version in only if it passes
//!
//! [render]
//! sensitive = ["bitnami.com/SealedSecret"]    # shown, like Secrets, only to plugins granted `secrets`
//!
//! [[kustomizations]]
//! name = "frontend"
//! path = "flux/clusters/production/frontend"  # inside the source
//! mutators = ["readiness-probe"]              # or { plugin = "…", settings = { … } }
//! validators = ["image-validator"]
//! # source = "website"                        # a [sources.NAME] (default: [source] path)
//! # interval = "5m"; depends-on = ["crds"]; suspend = true   # for `rekon run`
//! ```
//!
//! Image automation adds `state-dir`, `[registries.NAME]` and
//! `[images."NS:NAME"]` (described in `config/images.rs`), and `rekon images
//! update` a `[git]` table (described in `config/git.rs`). `rekon run` reads
//! `[server]` and `[receivers.NAME]` (described in `config/server.rs`),
//! `[sources.NAME]` and `[run]` (described in `config/sources.rs`), and
//! `[alerts.NAME]` (described in `config/alerts.rs`).
//!
//! With `[flux]` (described in `config/flux.rs`), kustomizations, sources,
//! images and `[git]` come from the Flux objects of a repository instead
//! (see [`crate::flux`]).
//!
//! `grant` entries: `clock`, `random` (what the sandbox returns), `secrets`
//! (shown Secrets and `[render] sensitive` kinds), `create`, `delete` (each
//! may be limited to kinds: `"create:HelmChart,core/Namespace"`), `rename`
//! (a new namespace or name). A plugin must declare what it is granted and
//! be granted what it declares (see [`crate::plugin::capabilities`]).
//!
//! Unknown fields are errors; every error names the file and, where it can,
//! the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::plugin::{oci, Limits};

pub mod alerts;
pub mod flux;
mod git;
mod images;
mod server;
mod sources;
pub use alerts::{AlertConfig, AlertsConfig, EventSource, ProviderConfig, ProviderKind, Severity};
pub use flux::FluxSettings;
pub use git::{AutomationName, GitAuth, GitConfig, DEFAULT_MESSAGE};
pub use images::{
    default_state_dir, Credentials, DigestReflection, ImageConfig, RegistryConfig, Secret,
    DEFAULT_EXCLUDE,
};
pub use server::{Receiver, ReceiverKind, ServerConfig, DEFAULT_LISTEN};
pub use sources::{GitReference, RunConfig, SourceConfig};

/// A configuration problem, naming the file and line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A semantic problem at a known line.
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The parsed, checked configuration with paths made absolute.
#[derive(Debug, Clone)]
pub struct Config {
    /// The configuration file.
    pub file: PathBuf,
    /// Root of the source tree.
    pub source_root: PathBuf,
    /// Where compiled plugins are cached (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Declared plugins by name.
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Kustomizations in file order.
    pub kustomizations: Vec<Kustomization>,
    /// Where scans keep tag lists (`state-dir`, default [`default_state_dir`]).
    pub state_dir: Option<PathBuf>,
    /// `[registries.NAME]` by name.
    pub registries: BTreeMap<String, RegistryConfig>,
    /// `[images."NS:NAME"]` by policy name.
    pub images: BTreeMap<String, ImageConfig>,
    /// `[git]`: where `rekon images update` commits and pushes.
    pub git: Option<GitConfig>,
    /// `[server]`: where `rekon run` serves health, metrics, status and webhooks.
    pub server: ServerConfig,
    /// `[receivers.NAME]` in name order: the webhooks `rekon run` takes.
    pub receivers: Vec<Receiver>,
    /// `[sources.NAME]`: git repositories kustomizations and plugins read from.
    pub sources: BTreeMap<String, SourceConfig>,
    /// `[run]`: how `rekon run` schedules.
    pub run: RunConfig,
    /// `[flux]` (or `--flux`): kustomizations, sources, images and `[git]`
    /// come from the Flux objects there ([`crate::flux::expand`] fills them in).
    pub flux: Option<FluxSettings>,
    /// `[alerts.NAME]`, then the Flux Alerts [`crate::flux::expand`] adds:
    /// where `rekon run` sends its events.
    pub alerts: AlertsConfig,
    /// The HelmRepositories and OCIRepositories [`crate::flux::expand`]
    /// found, for plugins that translate HelmReleases (see [`crate::charts`]).
    pub charts: std::sync::Arc<crate::charts::Sources>,
}

/// One `[plugins.NAME]` table.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// The component file, or an `oci://` reference as written (turned
    /// into a file by [`crate::plugin::oci::resolve`]).
    pub path: PathBuf,
    /// Optional pinned sha256.
    pub sha256: Option<String>,
    /// Per-call limits, and the capabilities granted (`grant`).
    pub limits: Limits,
    /// Default settings (JSON), used where a chain entry gives none.
    pub settings: serde_json::Value,
    /// The `[sources.NAME]` the file is in (then `path` is relative to its
    /// checkout, so a git push can change the plugin); `None`: a local file.
    pub source: Option<String>,
    /// A `rekon-test.yaml` suite a new version must pass before `rekon run`
    /// swaps it in (same base as `path`).
    pub tests: Option<PathBuf>,
}

/// One `[[kustomizations]]` entry.
#[derive(Debug, Clone)]
pub struct Kustomization {
    /// Its name.
    pub name: String,
    /// Path inside the source.
    pub path: PathBuf,
    /// Mutators, in order.
    pub mutators: Vec<PluginUse>,
    /// Validators.
    pub validators: Vec<PluginUse>,
    /// `prune` (default true): delete objects rekon applied that left git.
    pub prune: bool,
    /// `wait` (default true): wait for workloads to roll out after applying.
    pub wait: bool,
    /// `timeout` (default `5m`): how long to wait for CRDs, rollouts and deletions.
    pub timeout: Duration,
    /// `allow-recreate` (default false): delete and recreate an object whose
    /// immutable field changed (e.g. a Deployment's selector).
    pub allow_recreate: bool,
    /// `source`: the `[sources.NAME]` whose checkout `path` is in; `None`:
    /// the local `[source]` directory.
    pub source: Option<String>,
    /// `interval` (default `5m`): how often `rekon run` reconciles it even
    /// when its source did not change (drift correction).
    pub interval: Duration,
    /// `depends-on`: kustomizations that must be applied (at the same source
    /// revision, when they share a source) before this one.
    pub depends_on: Vec<String>,
    /// `suspend`: `rekon run` leaves it alone.
    pub suspend: bool,
    /// What a Flux Kustomization adds to the build, after it and to the
    /// apply (`None`: a `[[kustomizations]]` entry).
    pub flux: Option<Box<crate::flux::FluxKustomization>>,
    /// `decryption`: the age identities that decrypt its SOPS-encrypted
    /// files (`None`: such files are built as they are).
    pub decryption: Option<Decryption>,
}

/// Where a kustomization's age identities come from (see [`crate::sops`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Decryption {
    /// `decryption = { age-key-file = "..." }`: a file of identities (as
    /// `age-keygen` writes it), relative to rekon.toml's directory; read at
    /// each build, so a rotated key needs no restart.
    AgeKeyFile(PathBuf),
    /// `decryption = { age-key-env = "VAR" }`: an environment variable
    /// holding identities.
    AgeKeyEnv(String),
    /// A Flux Kustomization's `decryption.secretRef`: the `*.agekey`
    /// entries of Secret `namespace/name`, read at discovery, or why they
    /// could not be (said when the kustomization is built).
    Flux {
        /// `namespace/name`.
        secret: String,
        /// The identities.
        keys: Result<crate::sops::Keys, String>,
    },
}

impl Decryption {
    /// The identities (an error says where they were looked for).
    pub fn keys(&self) -> Result<crate::sops::Keys, String> {
        let mut keys = crate::sops::Keys::default();
        match self {
            Decryption::AgeKeyFile(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("decryption age-key-file {}: {e}", path.display()))?;
                keys.add(&text, &format!("age-key-file {}", path.display()))?;
            }
            Decryption::AgeKeyEnv(var) => {
                let text = std::env::var(var).map_err(|_| {
                    format!("decryption age-key-env: ${var} is not set (or not UTF-8)")
                })?;
                keys.add(&text, &format!("${var}"))?;
            }
            Decryption::Flux { keys: found, .. } => keys = found.clone()?,
        }
        if keys.is_empty() {
            return Err(format!(
                "{}: no age identity (AGE-SECRET-KEY-1...)",
                self.describe()
            ));
        }
        Ok(keys)
    }

    fn describe(&self) -> String {
        match self {
            Decryption::AgeKeyFile(p) => format!("age-key-file {}", p.display()),
            Decryption::AgeKeyEnv(v) => format!("age-key-env ${v}"),
            Decryption::Flux { secret, .. } => format!("decryption Secret {secret}"),
        }
    }
}

impl Kustomization {
    /// The name as the cluster sees it: the ownership label's value and the
    /// inventory's name (a Flux `namespace/name` becomes `namespace.name`,
    /// unambiguous since namespaces have no dot).
    pub fn owner(&self) -> String {
        self.name.replace('/', ".")
    }
}

/// A plugin in a chain, with the settings for this use.
#[derive(Debug, Clone)]
pub struct PluginUse {
    /// The plugin's name under `[plugins]`.
    pub plugin: String,
    /// Settings for this use.
    pub settings: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    #[serde(default)]
    source: RawSource,
    #[serde(default)]
    cache_dir: Option<PathBuf>,
    #[serde(default)]
    plugins: BTreeMap<String, RawPlugin>,
    #[serde(default)]
    kustomizations: Vec<Spanned<RawKustomization>>,
    #[serde(default)]
    state_dir: Option<PathBuf>,
    #[serde(default)]
    registries: BTreeMap<String, Spanned<images::RawRegistry>>,
    #[serde(default)]
    images: BTreeMap<String, Spanned<images::RawImage>>,
    #[serde(default)]
    git: Option<Spanned<git::RawGit>>,
    #[serde(default)]
    server: Option<Spanned<server::RawServer>>,
    #[serde(default)]
    receivers: BTreeMap<String, Spanned<server::RawReceiver>>,
    #[serde(default)]
    sources: BTreeMap<String, Spanned<sources::RawSource>>,
    #[serde(default)]
    run: Option<Spanned<sources::RawRun>>,
    #[serde(default)]
    flux: Option<Spanned<flux::RawFlux>>,
    #[serde(default)]
    alerts: BTreeMap<String, Spanned<alerts::RawAlert>>,
    #[serde(default)]
    render: RawRender,
}

/// `[render]`: what every plugin of a render is subject to.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRender {
    /// Kinds shown only to plugins granted `secrets`, besides `v1` Secrets
    /// (`"bitnami.com/SealedSecret"`, `"Kind"`, `"core/ConfigMap"`).
    #[serde(default)]
    sensitive: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    path: PathBuf,
}

impl Default for RawSource {
    fn default() -> Self {
        RawSource {
            path: PathBuf::from("."),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPlugin {
    path: PathBuf,
    sha256: Option<String>,
    timeout_ms: Option<u64>,
    memory_mib: Option<usize>,
    max_output_mib: Option<usize>,
    settings: Option<toml::Value>,
    source: Option<String>,
    tests: Option<PathBuf>,
    /// What is granted (`grant = ["clock", "create:HelmChart"]`); spans name
    /// the line of a bad entry.
    #[serde(default)]
    grant: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKustomization {
    name: String,
    path: PathBuf,
    #[serde(default)]
    mutators: Vec<RawUse>,
    #[serde(default)]
    validators: Vec<RawUse>,
    prune: Option<bool>,
    wait: Option<bool>,
    timeout: Option<String>,
    #[serde(default, rename = "allow-recreate")]
    allow_recreate: bool,
    source: Option<String>,
    interval: Option<String>,
    #[serde(default, rename = "depends-on")]
    depends_on: Vec<String>,
    #[serde(default)]
    suspend: bool,
    decryption: Option<Spanned<RawDecryption>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDecryption {
    age_key_file: Option<PathBuf>,
    age_key_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawUse {
    Name(String),
    Table {
        plugin: String,
        settings: Option<toml::Value>,
    },
}

/// The largest memory cap a plugin may ask for (the instance pool's slot size).
pub const MAX_MEMORY_MIB: usize = 256;

impl Config {
    /// Read and check `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            error: source,
        })?;
        Self::parse(&text, path)
    }

    /// Parse `text` as the contents of `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        // Spans do not survive serde's untagged enums, so a chain entry's line
        // is found by looking for its quoted name inside its kustomization.
        // (The span of an array-of-tables entry covers only its header, so
        // the search runs to the next table header.)
        let line_of = |span: std::ops::Range<usize>, needle: &str| {
            let rest = &text[span.end..];
            let end = rest.find("\n[").map_or(text.len(), |i| span.end + i);
            let start = text[span.start..end]
                .find(&format!("\"{needle}\""))
                .map_or(span.start, |i| span.start + i);
            text[..start].matches('\n').count() + 1
        };
        let cx = images::Context {
            path,
            text,
            base: &base,
        };
        let sources = sources::sources(&cx, raw.sources)?;
        let run = sources::run(&cx, raw.run)?;
        // `[plugins.NAME]` tables carry no span; their header's line is found instead.
        let table_line = |header: &str| {
            text.find(header)
                .map_or(1, |i| text[..i].matches('\n').count() + 1)
        };
        let unknown_source = |source: &str| {
            format!(
                "source `{source}` is not declared under [sources] (declared: {})",
                if sources.is_empty() {
                    "none".to_string()
                } else {
                    sources.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            )
        };

        let mut sensitive = crate::plugin::Sensitive::default();
        for kind in &raw.render.sensitive {
            sensitive
                .kinds
                .push(kind.get_ref().parse().map_err(|e| ConfigError::Invalid {
                    path: path.to_path_buf(),
                    line: text[..kind.span().start].matches('\n').count() + 1,
                    message: format!("render.sensitive: {e}"),
                })?);
        }
        let mut plugins = BTreeMap::new();
        for (name, p) in raw.plugins {
            let memory = p.memory_mib.unwrap_or(64);
            if memory == 0 || memory > MAX_MEMORY_MIB {
                return Err(ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: format!(
                        "plugins.{name}.memory-mib: {memory} is out of range 1..={MAX_MEMORY_MIB}"
                    ),
                });
            }
            let defaults = Limits::default();
            let mut grant = crate::plugin::Grant::none();
            for entry in &p.grant {
                grant
                    .add(entry.get_ref())
                    .map_err(|e| ConfigError::Invalid {
                        path: path.to_path_buf(),
                        line: text[..entry.span().start].matches('\n').count() + 1,
                        message: format!("plugins.{name}.grant: {e}"),
                    })?;
            }
            let limits = Limits {
                timeout: p
                    .timeout_ms
                    .map(Duration::from_millis)
                    .unwrap_or(defaults.timeout),
                memory_bytes: memory << 20,
                max_output_bytes: p
                    .max_output_mib
                    .map(|m| m << 20)
                    .unwrap_or(defaults.max_output_bytes),
                max_log_bytes: defaults.max_log_bytes,
                grant,
                sensitive: sensitive.clone(),
            };
            let settings = to_json(p.settings);
            let invalid = |message: String| ConfigError::Invalid {
                path: path.to_path_buf(),
                line: table_line(&format!("[plugins.{name}]")),
                message: format!("plugins.{name}: {message}"),
            };
            // A plugin in a source is named relative to its checkout; a local
            // one relative to this file.
            let locate = |file: PathBuf| match &p.source {
                None => Ok(base.join(file)),
                Some(_) if is_inside(&file) => Ok(file),
                Some(source) => Err(invalid(format!(
                    "`{}` must be relative to the checkout of source `{source}`, without `..`",
                    file.display()
                ))),
            };
            if let Some(source) = &p.source {
                if !sources.contains_key(source) {
                    return Err(invalid(unknown_source(source)));
                }
            }
            // `oci://REGISTRY/REPO:TAG` names an artifact, pulled by plugin::oci.
            let file = match p.path.to_str().filter(|s| s.starts_with(oci::SCHEME)) {
                Some(_) if p.source.is_some() => {
                    return Err(invalid("an oci:// plugin cannot be in a source".into()))
                }
                Some(reference) => {
                    let parsed = reference.parse::<oci::ArtifactRef>();
                    parsed.map_err(|e| invalid(e.to_string()))?;
                    p.path.clone()
                }
                None => locate(p.path.clone())?,
            };
            let tests = p.tests.clone().map(locate).transpose()?;
            plugins.insert(
                name.clone(),
                PluginConfig {
                    path: file,
                    sha256: p.sha256,
                    limits,
                    settings,
                    source: p.source,
                    tests,
                },
            );
        }

        let mut kustomizations = Vec::new();
        let mut depends = Vec::new();
        for spanned in raw.kustomizations {
            let span = spanned.span();
            let k = spanned.into_inner();
            let chain = |uses: Vec<RawUse>, role: &str| -> Result<Vec<PluginUse>, ConfigError> {
                uses.into_iter()
                    .map(|u| {
                        let (name, settings) = match u {
                            RawUse::Name(n) => (n, None),
                            RawUse::Table { plugin, settings } => (plugin, settings),
                        };
                        let Some(declared) = plugins.get(&name) else {
                            return Err(ConfigError::Invalid {
                                path: path.to_path_buf(),
                                line: line_of(span.clone(), &name),
                                message: format!(
                                    "kustomization `{}`: {role} `{name}` is not declared under [plugins] (declared: {})",
                                    k.name,
                                    plugins.keys().cloned().collect::<Vec<_>>().join(", ")
                                ),
                            });
                        };
                        let settings = settings.map(|s| to_json(Some(s))).unwrap_or_else(|| declared.settings.clone());
                        Ok(PluginUse { plugin: name, settings })
                    })
                    .collect()
            };
            let mutators = chain(k.mutators, "mutator")?;
            let validators = chain(k.validators, "validator")?;
            let timeout = match &k.timeout {
                None => Duration::from_secs(300),
                Some(t) => humantime::parse_duration(t).map_err(|e| ConfigError::Invalid {
                    path: path.to_path_buf(),
                    line: line_of(span.clone(), t),
                    message: format!(
                        "kustomization `{}`: timeout `{t}`: {e} (write e.g. \"90s\" or \"5m\")",
                        k.name
                    ),
                })?,
            };
            if let Some(source) = &k.source {
                if !sources.contains_key(source) {
                    return Err(ConfigError::Invalid {
                        path: path.to_path_buf(),
                        line: line_of(span.clone(), source),
                        message: format!("kustomization `{}`: {}", k.name, unknown_source(source)),
                    });
                }
            }
            let interval = match &k.interval {
                None => Duration::from_secs(300),
                Some(t) => {
                    sources::duration("interval", t).map_err(|message| ConfigError::Invalid {
                        path: path.to_path_buf(),
                        line: line_of(span.clone(), t),
                        message: format!("kustomization `{}`: {message}", k.name),
                    })?
                }
            };
            let decryption = match k.decryption {
                None => None,
                Some(d) => {
                    let line = text[..d.span().start].matches('\n').count() + 1;
                    match d.into_inner() {
                        RawDecryption {
                            age_key_file: Some(file),
                            age_key_env: None,
                        } => Some(Decryption::AgeKeyFile(base.join(file))),
                        RawDecryption {
                            age_key_file: None,
                            age_key_env: Some(var),
                        } => Some(Decryption::AgeKeyEnv(var)),
                        _ => {
                            return Err(ConfigError::Invalid {
                                path: path.to_path_buf(),
                                line,
                                message: format!(
                                    "kustomization `{}`: decryption takes one of age-key-file and age-key-env",
                                    k.name
                                ),
                            })
                        }
                    }
                }
            };
            depends.push((k.name.clone(), span.clone(), k.depends_on.clone()));
            kustomizations.push(Kustomization {
                flux: None,
                decryption,
                source: k.source,
                interval,
                depends_on: k.depends_on,
                suspend: k.suspend,
                name: k.name,
                path: k.path,
                mutators,
                validators,
                prune: k.prune.unwrap_or(true),
                wait: k.wait.unwrap_or(true),
                timeout,
                allow_recreate: k.allow_recreate,
            });
        }
        let mut seen = std::collections::HashSet::new();
        for k in &kustomizations {
            if !seen.insert(&k.name) {
                return Err(ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: format!("kustomization `{}` is declared twice", k.name),
                });
            }
        }
        check_depends_on(&depends, |span, needle, message| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of(span.clone(), needle),
            message,
        })?;
        let has_flux_items = [
            (!kustomizations.is_empty(), "[[kustomizations]]"),
            (!raw.images.is_empty(), "[images]"),
            (raw.git.is_some(), "[git]"),
        ];
        let flux = flux::flux(&cx, raw.flux, &plugins, &sources)?;
        if let (Some(_), Some((_, table))) = (&flux, has_flux_items.iter().find(|(has, _)| *has)) {
            return Err(ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!(
                    "{table}: with [flux], kustomizations, images and [git] come from the Flux objects; \
                     remove {table} (plugins attach by annotation or [flux.kustomizations.\"NS/NAME\"])"
                ),
            });
        }
        let registries = images::registries(&cx, raw.registries)?;
        let images = images::images(&cx, raw.images, &registries, &plugins)?;
        let git = git::git(&cx, raw.git)?;
        let server = server::server(&cx, raw.server)?;
        let source_names: Vec<&str> = sources.keys().map(String::as_str).collect();
        let kustomization_names: Vec<&str> =
            kustomizations.iter().map(|k| k.name.as_str()).collect();
        let receivers = server::receivers(
            &cx,
            raw.receivers,
            &images,
            &source_names,
            &kustomization_names,
        )?;
        let alerts = AlertsConfig {
            alerts: alerts::alerts(&cx, raw.alerts)?,
            labels: BTreeMap::new(),
        };
        Ok(Config {
            alerts,
            charts: Default::default(),
            server,
            receivers,
            state_dir: raw
                .state_dir
                .map(|d| base.join(d))
                .or_else(default_state_dir),
            registries,
            images,
            git,
            file: path.to_path_buf(),
            source_root: base.join(raw.source.path),
            cache_dir: raw
                .cache_dir
                .map(|d| base.join(d))
                .or_else(default_cache_dir),
            plugins,
            kustomizations,
            sources,
            run,
            flux,
        })
    }

    /// The configuration of `rekon ... --flux PATH`: the Flux objects at
    /// `path` inside `source_root` (`--source`, default the current
    /// directory), with no plugins and default state and cache directories.
    pub fn for_flux(source_root: &Path, path: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::parse("", &source_root.join("rekon.toml"))?;
        config.file = PathBuf::from(format!("--flux {}", path.display()));
        config.source_root = source_root.to_path_buf();
        if !is_inside(path) {
            return Err(ConfigError::Parse {
                path: config.file.clone(),
                message: format!(
                    "`{}` must be relative to the source ({}), without `..`",
                    path.display(),
                    source_root.display()
                ),
            });
        }
        config.flux = Some(FluxSettings {
            path: path.to_path_buf(),
            ..Default::default()
        });
        Ok(config)
    }

    /// The kustomizations selected by `name` (all when `None`).
    pub fn select(&self, name: Option<&str>) -> Result<Vec<&Kustomization>, ConfigError> {
        match name {
            None => Ok(self.kustomizations.iter().collect()),
            Some(name) => self
                .kustomizations
                .iter()
                .find(|k| k.name == name)
                .map(|k| vec![k])
                .ok_or_else(|| ConfigError::Parse {
                    path: self.file.clone(),
                    message: format!(
                        "no kustomization named `{name}` (known: {})",
                        self.kustomizations
                            .iter()
                            .map(|k| k.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
        }
    }
}

/// Whether `path` stays inside the directory it is relative to.
fn is_inside(path: &Path) -> bool {
    !path.is_absolute()
        && !path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
}

/// Every `depends-on` names another declared kustomization, and the graph
/// has no cycle (which would leave its members waiting for ever).
fn check_depends_on(
    depends: &[(String, std::ops::Range<usize>, Vec<String>)],
    invalid: impl Fn(&std::ops::Range<usize>, &str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    let names: std::collections::HashSet<&str> = depends.iter().map(|(n, ..)| n.as_str()).collect();
    for (name, span, deps) in depends {
        for dep in deps {
            if dep == name {
                return Err(invalid(
                    span,
                    dep,
                    format!("kustomization `{name}`: depends-on names itself"),
                ));
            }
            if !names.contains(dep.as_str()) {
                return Err(invalid(
                    span,
                    dep,
                    format!("kustomization `{name}`: depends-on `{dep}` is not a declared kustomization"),
                ));
            }
        }
    }
    // Depth-first search for a cycle; the graph is tiny (a handful of kustomizations).
    fn visit<'a>(
        name: &'a str,
        edges: &std::collections::HashMap<&'a str, &'a [String]>,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::HashSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(i) = path.iter().position(|n| *n == name) {
            let mut cycle = path[i..].to_vec();
            cycle.push(name);
            return Some(cycle);
        }
        if !done.insert(name) {
            return None;
        }
        path.push(name);
        for dep in edges[name] {
            if let Some(cycle) = visit(dep, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let edges = depends
        .iter()
        .map(|(n, _, d)| (n.as_str(), d.as_slice()))
        .collect();
    let mut done = std::collections::HashSet::new();
    for (name, span, _) in depends {
        if let Some(cycle) = visit(name, &edges, &mut Vec::new(), &mut done) {
            return Err(invalid(
                span,
                name,
                format!("depends-on forms a cycle: {}", cycle.join(" -> ")),
            ));
        }
    }
    Ok(())
}

fn to_json(value: Option<toml::Value>) -> serde_json::Value {
    match value {
        Some(v) => serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
        None => serde_json::Value::Object(Default::default()),
    }
}

/// `$REKON_CACHE_DIR`, else `$XDG_CACHE_HOME/rekon`, else `~/.cache/rekon`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("REKON_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("rekon"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/rekon"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[plugins.probe]
path = "plugins/probe.wasm"
timeout-ms = 250
settings = { readinessProbe = { initialDelaySeconds = 10 } }

[[kustomizations]]
name = "frontend"
path = "flux/frontend"
mutators = ["probe", { plugin = "probe", settings = { x = 1 } }]
"#;

    #[test]
    fn parses_paths_limits_and_settings() {
        let c = Config::parse(GOOD, Path::new("/repo/rekon.toml")).unwrap();
        assert_eq!(c.source_root, PathBuf::from("/repo/."));
        let p = &c.plugins["probe"];
        assert_eq!(p.path, PathBuf::from("/repo/plugins/probe.wasm"));
        assert_eq!(p.limits.timeout, Duration::from_millis(250));
        assert_eq!(p.limits.memory_bytes, 64 << 20);
        let k = &c.kustomizations[0];
        assert_eq!(
            k.mutators[0].settings,
            serde_json::json!({"readinessProbe": {"initialDelaySeconds": 10}})
        );
        assert_eq!(k.mutators[1].settings, serde_json::json!({"x": 1}));
    }

    #[test]
    fn unknown_plugin_is_named_with_its_line() {
        let text = GOOD.replace("mutators = [\"probe\"", "mutators = [\"nope\"");
        let err = Config::parse(&text, Path::new("rekon.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "rekon.toml:10: kustomization `frontend`: mutator `nope` is not declared"
            ),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_errors_with_line() {
        let err = Config::parse(
            "[plugins.a]\npath = \"a.wasm\"\ntimeout = 3\n",
            Path::new("r.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 3") && err.contains("timeout"), "{err}");
    }

    #[test]
    fn memory_cap_is_bounded() {
        let err = Config::parse(
            "[plugins.a]\npath = \"a.wasm\"\nmemory-mib = 4096\n",
            Path::new("r.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("plugins.a.memory-mib"), "{err}");
    }

    #[test]
    fn sources_schedules_and_dependencies() {
        let text = r#"
[sources.website]
url = "git://git.lan/site.git"
interval = "30s"

[plugins.probe]
source = "website"
path = "plugins/probe.wasm"
tests = "plugins/probe-test.yaml"

[[kustomizations]]
name = "crds"
source = "website"
path = "crds"

[[kustomizations]]
name = "apps"
source = "website"
path = "apps"
interval = "2m"
depends-on = ["crds"]
suspend = true
"#;
        let c = Config::parse(text, Path::new("/r/rekon.toml")).unwrap();
        assert_eq!(c.sources["website"].interval, Duration::from_secs(30));
        assert_eq!(c.sources["website"].git.branch, "main");
        // Relative to the checkout, not to the config file.
        assert_eq!(c.plugins["probe"].path, PathBuf::from("plugins/probe.wasm"));
        assert_eq!(c.plugins["probe"].source.as_deref(), Some("website"));
        let apps = &c.kustomizations[1];
        assert_eq!(apps.interval, Duration::from_secs(120));
        assert_eq!(apps.depends_on, ["crds"]);
        assert!(apps.suspend);
        assert_eq!(c.kustomizations[0].interval, Duration::from_secs(300));
        assert_eq!(c.run.concurrency, 2);

        let err = |text: String| {
            Config::parse(&text, Path::new("r.toml"))
                .unwrap_err()
                .to_string()
        };
        let e = err(text.replace("depends-on = [\"crds\"]", "depends-on = [\"nope\"]"));
        assert!(
            e.starts_with("r.toml:21: kustomization `apps`: depends-on `nope`"),
            "{e}"
        );
        let e = err(text.replace(
            "name = \"crds\"\nsource = \"website\"\npath = \"crds\"",
            "name = \"crds\"\nsource = \"website\"\npath = \"crds\"\ndepends-on = [\"apps\"]",
        ));
        assert!(
            e.contains("depends-on forms a cycle: crds -> apps -> crds"),
            "{e}"
        );
        let e = err(text.replace(
            "source = \"website\"\npath = \"apps\"",
            "source = \"web\"\npath = \"apps\"",
        ));
        assert!(
            e.contains("source `web` is not declared under [sources] (declared: website)"),
            "{e}"
        );
        let e = err(text.replace("path = \"plugins/probe.wasm\"", "path = \"../probe.wasm\""));
        assert!(
            e.starts_with("r.toml:6: plugins.probe:") && e.contains("without `..`"),
            "{e}"
        );
        let e = err(text.replace("interval = \"2m\"", "interval = \"soon\""));
        assert!(e.contains("interval `soon`"), "{e}");
        let e = err(format!("{text}\n[run]\nconcurrency = 0\n"));
        assert!(e.contains("run: concurrency 0 is out of range"), "{e}");
    }
}

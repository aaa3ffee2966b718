//! Discovery: from the entry path to every Flux object, as Flux's
//! controllers would reach them, then the objects turned into rekon's
//! configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use rekon_kustomize::{Origin, Overlay, Resource};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::objects::{self, CrossRef, GitRepositorySpec, KustomizationSpec, Object};
use super::values::{self, Lookup, RepoObjects};
use super::{post_build, FluxError, FluxKustomization, DEFAULT_IGNORE};
use crate::apply::Cluster;
use crate::config::flux::chain;
use crate::config::{
    AutomationName, Config, Credentials, DigestReflection, GitAuth, GitConfig, GitReference,
    ImageConfig, Kustomization, Receiver, ReceiverKind, RegistryConfig, Secret, SourceConfig,
    DEFAULT_EXCLUDE, DEFAULT_MESSAGE,
};
use crate::source::Roots;

/// What discovery may reach.
pub struct Access<'a> {
    /// The cluster, for the Secrets Flux objects name (credentials) and
    /// `substituteFrom`; `None`: `substituteFrom` reads the repository's
    /// own ConfigMaps and Secrets, and a `secretRef` is an error.
    pub cluster: Option<&'a Cluster>,
    /// Fetch the GitRepositories other than the entry's (`false`: `rekon
    /// check --offline`; what they hold is skipped and said so).
    pub fetch: bool,
}

/// One discovered object, for `rekon check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphItem {
    /// Its kind.
    pub kind: String,
    /// `namespace/name`.
    pub name: String,
    /// Where it is defined (`GitRepository NS/NAME:` prefixed for other
    /// repositories than the entry's).
    pub file: PathBuf,
    /// The line.
    pub line: usize,
    /// What rekon makes of it (`depends on ...`, `url@ref`).
    pub detail: String,
}

/// What discovery found.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Every Flux object, in discovery order.
    pub items: Vec<GraphItem>,
    /// What is not applied or not done, and why (Flux's own components,
    /// GitRepositories not fetched, receivers, ...).
    pub notes: Vec<String>,
    /// Problems that do not stop rendering and applying (an ImagePolicy
    /// whose plugin is not declared): `rekon check` fails on them.
    pub problems: Vec<String>,
}

/// A parsed Flux object with where it came from.
struct Parsed<S> {
    object: Object<S>,
    namespace: String,
    file: PathBuf,
    line: usize,
    /// The GitRepository whose checkout holds it (`None`: the entry's).
    repo: Option<String>,
}

impl<S> Parsed<S> {
    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.object.metadata.name)
    }

    fn describe(&self) -> String {
        format!("{} {}", self.object.kind, self.key())
    }

    fn error(&self, message: impl Into<String>) -> FluxError {
        FluxError::Object {
            file: self.file.clone(),
            line: self.line,
            object: self.describe(),
            message: message.into(),
        }
    }
}

struct Discovery<'a> {
    access: Access<'a>,
    state_dir: Option<PathBuf>,
    /// Checkout roots of the GitRepositories fetched so far.
    roots: BTreeMap<String, PathBuf>,
    entry_root: PathBuf,
    repo_objects: RepoObjects,
    /// Kind, namespace, name → file and line (duplicates are errors).
    seen: BTreeMap<(String, String, String), (PathBuf, usize)>,
    git: BTreeMap<String, Parsed<GitRepositorySpec>>,
    kustomizations: Vec<(Parsed<KustomizationSpec>, Option<FluxKustomization>)>,
    image_repositories: BTreeMap<String, Parsed<objects::ImageRepositorySpec>>,
    policies: Vec<Parsed<objects::ImagePolicySpec>>,
    automations: Vec<Parsed<objects::ImageUpdateAutomationSpec>>,
    receivers: Vec<Parsed<objects::ReceiverSpec>>,
    alerts: Vec<Parsed<objects::AlertSpec>>,
    providers: BTreeMap<String, Parsed<objects::ProviderSpec>>,
    helm_repositories: Vec<Parsed<objects::HelmRepositorySpec>>,
    oci_repositories: Vec<Parsed<objects::OciRepositorySpec>>,
    /// The Helm chart sources as written, by `Kind/namespace/name`.
    chart_objects: BTreeMap<String, Value>,
    /// HelmReleases (`namespace/name`) and the name of the HelmChart that
    /// stands for each, for `healthChecks` naming them.
    helm_releases: BTreeMap<String, String>,
    /// `Kind namespace/name` → labels, for Alerts' `matchLabels`.
    labels: BTreeMap<String, BTreeMap<String, String>>,
    graph: Graph,
}

/// Read the Flux objects of `config.flux` and fill in `config`'s
/// kustomizations, sources, images and `[git]` (fetching, into `roots`,
/// the GitRepositories their Kustomizations read).
pub async fn expand(
    config: &mut Config,
    roots: &mut Roots,
    access: Access<'_>,
) -> Result<Graph, FluxError> {
    let settings = config.flux.clone().ok_or(FluxError::NotFlux)?;
    let entry_root = roots
        .dir(settings.source.as_deref())
        .map(Path::to_path_buf)
        .ok_or_else(|| FluxError::Object {
            file: config.file.clone(),
            line: 1,
            object: "[flux]".into(),
            message: format!(
                "source `{}` has not been fetched",
                settings.source.as_deref().unwrap_or_default()
            ),
        })?;
    let mut d = Discovery {
        access,
        state_dir: config.state_dir.clone(),
        // Checkouts rekon already has (the daemon's, when it reads the
        // objects again) are read as they are: fetching them here would
        // reset a checkout a render may be reading, and fetch it twice.
        roots: roots
            .checkouts()
            .map(|(name, dir)| (name.to_string(), dir.to_path_buf()))
            .collect(),
        entry_root: entry_root.clone(),
        repo_objects: RepoObjects::default(),
        seen: BTreeMap::new(),
        git: BTreeMap::new(),
        kustomizations: Vec::new(),
        image_repositories: BTreeMap::new(),
        policies: Vec::new(),
        automations: Vec::new(),
        receivers: Vec::new(),
        alerts: Vec::new(),
        providers: BTreeMap::new(),
        helm_repositories: Vec::new(),
        oci_repositories: Vec::new(),
        chart_objects: BTreeMap::new(),
        helm_releases: BTreeMap::new(),
        labels: BTreeMap::new(),
        graph: Graph::default(),
    };
    let entry_path = normalize(&settings.path.to_string_lossy());
    let entry = format!("the entry {}", settings.path.display());
    let built = build(&entry_root, &entry_path, &Overlay::default(), &entry)?;
    d.add_build(None, None, built)?;

    // The GitRepository rekon already has: the one a Kustomization at the
    // entry's path reads (`flux-system` after `flux bootstrap`).
    let entry_repo = d
        .kustomizations
        .iter()
        .filter(|(k, _)| k.repo.is_none())
        .find(|(k, _)| normalize(k.object.spec.path.as_deref().unwrap_or("")) == entry_path)
        .and_then(|(k, _)| {
            k.object
                .spec
                .source_ref
                .as_ref()
                .map(|s| cross_key(s, &k.namespace))
        });

    // Build each Kustomization once its GitRepository is known, as
    // kustomize-controller reconciles what the previous ones applied.
    let mut done = BTreeSet::new();
    loop {
        let mut progress = false;
        for index in 0..d.kustomizations.len() {
            if done.contains(&index) {
                continue;
            }
            let k = &d.kustomizations[index].0;
            let Some(source) = &k.object.spec.source_ref else {
                return Err(k.error("spec.sourceRef is required"));
            };
            let kind = source.kind.as_deref().unwrap_or("");
            if kind != "GitRepository" {
                return Err(k.error(match kind {
                    "OCIRepository" => {
                        "sourceRef: OCIRepository sources are not built yet (only GitRepository)"
                            .to_string()
                    }
                    "Bucket" => {
                        "sourceRef: Bucket sources are not built in rekon (only GitRepository)"
                            .to_string()
                    }
                    other => format!("sourceRef.kind `{other}`: only GitRepository is built"),
                }));
            }
            let key = cross_key(source, &k.namespace);
            if !d.git.contains_key(&key) {
                continue;
            }
            done.insert(index);
            progress = true;
            let repo = (Some(&key) != entry_repo.as_ref()).then(|| key.clone());
            let mut flux = flux_kustomization(k, &key)?;
            let decryption_secret = k
                .object
                .spec
                .decryption
                .as_ref()
                .and_then(|d| d.secret_ref.as_ref())
                .map(|s| s.name.clone());
            let name = k.key();
            let path = normalize(k.object.spec.path.as_deref().unwrap_or(""));
            let root = match &repo {
                None => Some(d.entry_root.clone()),
                Some(key) => d.checkout(key).await?,
            };
            let Some(root) = root else {
                d.graph.notes.push(format!(
                    "Kustomization {name} not built: GitRepository {key} was not fetched (--offline)"
                ));
                continue;
            };
            let lookup = match d.access.cluster {
                Some(cluster) => Lookup::Both(cluster, &d.repo_objects),
                None => Lookup::Repository(&d.repo_objects),
            };
            values::resolve(&mut flux, lookup).await?;
            if let Some(secret) = &decryption_secret {
                let lookup = match d.access.cluster {
                    Some(cluster) => Lookup::Both(cluster, &d.repo_objects),
                    None => Lookup::Repository(&d.repo_objects),
                };
                flux.decryption = Some(crate::config::Decryption::Flux {
                    secret: format!("{}/{secret}", flux.namespace),
                    keys: values::age_keys(&flux.namespace, secret, lookup).await,
                });
            }
            if d.kustomizations[index]
                .0
                .object
                .spec
                .ignore_missing_components
            {
                let dir = root.join(&path);
                flux.overlay.components.retain(|c| dir.join(c).exists());
            }
            let what = format!("Kustomization {name}");
            let mut built = build(&root, &path, &flux.overlay, &what)?;
            decrypt_for_discovery(&root, &flux, &mut built);
            d.kustomizations[index].1 = Some(flux.clone());
            d.add_build(repo.as_deref(), Some(&flux), built)?;
        }
        if !progress {
            break;
        }
    }
    for (index, (k, _)) in d.kustomizations.iter().enumerate() {
        if !done.contains(&index) {
            let source = k.object.spec.source_ref.as_ref().expect("checked above");
            return Err(k.error(format!(
                "sourceRef: GitRepository {} is not defined in the repository",
                cross_key(source, &k.namespace)
            )));
        }
    }
    d.into_config(config, roots, &settings, entry_repo.as_deref())
        .await
}

/// `./apps/` → `apps`; the root is `.`.
fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn cross_key(r: &CrossRef, namespace: &str) -> String {
    format!("{}/{}", r.namespace.as_deref().unwrap_or(namespace), r.name)
}

fn build(
    root: &Path,
    path: &str,
    overlay: &Overlay,
    what: &str,
) -> Result<Vec<Resource>, FluxError> {
    let wrap = |error| FluxError::Build {
        object: what.to_string(),
        error: Box::new(error),
    };
    let dir = rekon_kustomize::open_root(root).map_err(wrap)?;
    rekon_kustomize::build_with(&dir, Path::new(path), overlay).map_err(wrap)
}

/// Decrypt the SOPS-encrypted objects of a Kustomization's build, so the
/// Secrets it defines serve `substituteFrom` without a cluster as they
/// would once applied. What cannot be decrypted yet stays encrypted (and
/// is not read as variables: see [`RepoObjects::collect`]); rendering the
/// Kustomization says why.
fn decrypt_for_discovery(root: &Path, flux: &FluxKustomization, built: &mut [Resource]) {
    let Some(Ok(keys)) = flux.decryption.as_ref().map(|d| d.keys()) else {
        return;
    };
    for r in built
        .iter_mut()
        .filter(|r| crate::sops::is_encrypted(&r.object))
    {
        let _ = crate::sops::decrypt_resource(root, r, &keys);
    }
}

fn duration(field: &str, text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{field} `{text}`: {e}"))
}

/// The line of `field` (the last part of a serde path) in the object's
/// document, or the document's first line.
fn field_line(root: &Path, origin: &Origin, path: &str) -> usize {
    let key = path
        .rsplit('.')
        .find(|p| !p.starts_with('['))
        .unwrap_or("")
        .split('[')
        .next()
        .unwrap_or("");
    let Ok(text) = std::fs::read_to_string(root.join(&origin.file)) else {
        return origin.line;
    };
    text.lines()
        .enumerate()
        .skip(origin.line.saturating_sub(1))
        .take_while(|(i, l)| *i + 1 == origin.line || !l.starts_with("---"))
        .find(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ");
            !key.is_empty()
                && t.strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .map_or(origin.line, |(i, _)| i + 1)
}

impl Discovery<'_> {
    fn display_file(&self, repo: Option<&str>, file: &Path) -> PathBuf {
        match repo {
            None => file.to_path_buf(),
            Some(repo) => PathBuf::from(format!("GitRepository {repo}: {}", file.display())),
        }
    }

    fn root_of(&self, repo: Option<&str>) -> PathBuf {
        match repo {
            None => self.entry_root.clone(),
            Some(r) => self.roots.get(r).cloned().unwrap_or_default(),
        }
    }

    /// Sort a build's objects: Flux objects are read, ConfigMaps and
    /// Secrets remembered, Flux's own components noted.
    fn add_build(
        &mut self,
        repo: Option<&str>,
        k: Option<&FluxKustomization>,
        built: Vec<Resource>,
    ) -> Result<(), FluxError> {
        self.repo_objects.collect(built.iter().map(|r| &r.object));
        // Variables without a value are named when the kustomization is rendered.
        let sorted = post_build(k, built)?;
        let mut files: BTreeMap<PathBuf, usize> = BTreeMap::new();
        for r in &sorted.left_out {
            *files
                .entry(self.display_file(repo, &r.origin.file))
                .or_default() += 1;
        }
        for (file, count) in files {
            let note = format!(
                "{}: {count} object(s) of Flux itself (controllers, CRDs) not applied: rekon does their job",
                file.display()
            );
            // The entry and the Kustomization at its path build the same files.
            if !self.graph.notes.contains(&note) {
                self.graph.notes.push(note);
            }
        }
        // HelmReleases stay among the objects to apply (a plugin translates
        // them), and are read here too.
        let releases = sorted
            .objects
            .into_iter()
            .filter(|r| crate::charts::is_helm_release(&r.object));
        for r in sorted.flux.into_iter().chain(releases) {
            self.add_object(repo, r)?;
        }
        Ok(())
    }

    fn parse<S: DeserializeOwned>(
        &self,
        repo: Option<&str>,
        r: &Resource,
    ) -> Result<Parsed<S>, FluxError> {
        let file = self.display_file(repo, &r.origin.file);
        let describe = format!(
            "{} {}/{}",
            r.object["kind"].as_str().unwrap_or(""),
            r.object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default"),
            r.object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
        );
        let object: Object<S> = serde_path_to_error::deserialize(&r.object).map_err(|e| {
            let path = e.path().to_string();
            FluxError::Object {
                line: field_line(&self.root_of(repo), &r.origin, &path),
                file: file.clone(),
                object: describe.clone(),
                message: format!("{path}: {}", e.into_inner()),
            }
        })?;
        Ok(Parsed {
            namespace: object
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            object,
            file,
            line: r.origin.line,
            repo: repo.map(str::to_string),
        })
    }

    fn add_object(&mut self, repo: Option<&str>, r: Resource) -> Result<(), FluxError> {
        let api_version = r.object["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = r.object["kind"].as_str().unwrap_or("").to_string();
        let ns = r
            .object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let name = r
            .object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let file = self.display_file(repo, &r.origin.file);
        let line = r.origin.line;
        let refuse = |message: String| FluxError::Object {
            file: file.clone(),
            line,
            object: format!("{kind} {ns}/{name}"),
            message,
        };
        let id = (kind.clone(), ns.clone(), name.clone());
        if let Some((first_file, first_line)) = self.seen.get(&id) {
            // The same object reached twice (the entry and the Kustomization
            // at the entry's path build the same files): read once.
            if *first_file == file && *first_line == line {
                return Ok(());
            }
            return Err(refuse(format!(
                "defined twice (also at {}:{first_line})",
                first_file.display()
            )));
        }
        self.seen.insert(id, (file.clone(), line));
        if let Some(labels) = r
            .object
            .pointer("/metadata/labels")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
        {
            self.labels.insert(format!("{kind} {ns}/{name}"), labels);
        }
        let group = api_version.split('/').next().unwrap_or("");
        let version = api_version.split('/').nth(1).unwrap_or("");
        let supported = |versions: &[&str]| -> Result<(), FluxError> {
            if versions.contains(&version) {
                Ok(())
            } else {
                Err(refuse(format!(
                    "apiVersion {api_version}: rekon reads {}",
                    versions
                        .iter()
                        .map(|v| format!("{group}/{v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        };
        match (group, kind.as_str()) {
            ("source.toolkit.fluxcd.io", "GitRepository") => {
                supported(&["v1"])?;
                let g: Parsed<GitRepositorySpec> = self.parse(repo, &r)?;
                check_git(&g)?;
                let reference = describe_ref(&g.object.spec);
                self.item(
                    &g,
                    format!("{}@{reference}", crate::git::redact(&g.object.spec.url)),
                );
                self.git.insert(g.key(), g);
            }
            ("kustomize.toolkit.fluxcd.io", "Kustomization") => {
                supported(&["v1"])?;
                let k: Parsed<KustomizationSpec> = self.parse(repo, &r)?;
                let spec = &k.object.spec;
                let mut detail = format!(
                    "path {} from {}",
                    normalize(spec.path.as_deref().unwrap_or("")),
                    spec.source_ref
                        .as_ref()
                        .map(|s| format!(
                            "{} {}",
                            s.kind.as_deref().unwrap_or("?"),
                            cross_key(s, &k.namespace)
                        ))
                        .unwrap_or_else(|| "(no sourceRef)".into())
                );
                if !spec.depends_on.is_empty() {
                    detail += &format!(
                        ", depends on {}",
                        spec.depends_on
                            .iter()
                            .map(|d| cross_key(d, &k.namespace))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                self.item(&k, detail);
                self.kustomizations.push((k, None));
            }
            ("image.toolkit.fluxcd.io", "ImageRepository") => {
                supported(&["v1beta2", "v1"])?;
                let i: Parsed<objects::ImageRepositorySpec> = self.parse(repo, &r)?;
                self.item(&i, i.object.spec.image.clone());
                self.image_repositories.insert(i.key(), i);
            }
            ("image.toolkit.fluxcd.io", "ImagePolicy") => {
                supported(&["v1beta2", "v1"])?;
                let p: Parsed<objects::ImagePolicySpec> = self.parse(repo, &r)?;
                self.item(
                    &p,
                    format!(
                        "image repository {}",
                        cross_key(&p.object.spec.image_repository_ref, &p.namespace)
                    ),
                );
                self.policies.push(p);
            }
            ("image.toolkit.fluxcd.io", "ImageUpdateAutomation") => {
                supported(&["v1beta2", "v1"])?;
                let a: Parsed<objects::ImageUpdateAutomationSpec> = self.parse(repo, &r)?;
                self.item(
                    &a,
                    format!(
                        "writes to {}",
                        cross_key(&a.object.spec.source_ref, &a.namespace)
                    ),
                );
                self.automations.push(a);
            }
            ("notification.toolkit.fluxcd.io", "Alert") => {
                supported(&["v1beta3"])?;
                let a: Parsed<objects::AlertSpec> = self.parse(repo, &r)?;
                self.item(
                    &a,
                    format!(
                        "sends {} events to Provider {}/{}",
                        a.object.spec.event_severity.as_deref().unwrap_or("info"),
                        a.namespace,
                        a.object.spec.provider_ref.name
                    ),
                );
                self.alerts.push(a);
            }
            ("notification.toolkit.fluxcd.io", "Provider") => {
                supported(&["v1beta3"])?;
                let p: Parsed<objects::ProviderSpec> = self.parse(repo, &r)?;
                self.item(&p, format!("type {}", p.object.spec.kind));
                self.providers.insert(p.key(), p);
            }
            ("notification.toolkit.fluxcd.io", "Receiver") => {
                supported(&["v1", "v1beta2"])?;
                let r: Parsed<objects::ReceiverSpec> = self.parse(repo, &r)?;
                self.item(&r, format!("{} webhook", r.object.spec.kind));
                self.receivers.push(r);
            }
            ("source.toolkit.fluxcd.io", "HelmRepository") => {
                supported(&["v1"])?;
                let h: Parsed<objects::HelmRepositorySpec> = self.parse(repo, &r)?;
                let mut source = r.object.clone();
                source.as_object_mut().map(|o| o.remove("status"));
                self.item(&h, crate::git::redact(&h.object.spec.url));
                self.helm_repositories.push(h);
                self.chart_objects
                    .insert(crate::charts::key(&kind, &ns, &name), source);
            }
            ("source.toolkit.fluxcd.io", "OCIRepository") => {
                supported(&["v1beta2", "v1"])?;
                let o: Parsed<objects::OciRepositorySpec> = self.parse(repo, &r)?;
                let mut source = r.object.clone();
                source.as_object_mut().map(|o| o.remove("status"));
                self.item(&o, crate::git::redact(&o.object.spec.url));
                self.oci_repositories.push(o);
                self.chart_objects
                    .insert(crate::charts::key(&kind, &ns, &name), source);
            }
            ("helm.toolkit.fluxcd.io", "HelmRelease") => {
                // Not configuration: it stays in its Kustomization's render,
                // where a plugin (helm-k3s) translates it; a render that
                // keeps one fails (see `crate::render`).
                let chart = &r.object["spec"]["chart"]["spec"];
                let detail = match (
                    chart["chart"].as_str(),
                    r.object["spec"]["chartRef"]["name"].as_str(),
                ) {
                    (Some(c), _) => format!(
                        "chart {c} {} from {} {}",
                        chart["version"].as_str().unwrap_or("*"),
                        chart["sourceRef"]["kind"].as_str().unwrap_or("?"),
                        chart["sourceRef"]["name"].as_str().unwrap_or("?"),
                    ),
                    (None, Some(n)) => format!(
                        "chart from {} {n}",
                        r.object["spec"]["chartRef"]["kind"].as_str().unwrap_or("?")
                    ),
                    (None, None) => "no chart".into(),
                };
                // The HelmChart that will stand for it is named after the
                // release (helm-k3s: `releaseName`, else Flux's default).
                let spec = &r.object["spec"];
                let chart_name = match (
                    spec["releaseName"].as_str(),
                    spec["targetNamespace"].as_str(),
                ) {
                    (Some(release), _) => release.to_string(),
                    (None, Some(target)) => format!("{target}-{name}"),
                    (None, None) => name.clone(),
                };
                self.helm_releases
                    .insert(format!("{ns}/{name}"), chart_name);
                self.graph.items.push(GraphItem {
                    kind: kind.clone(),
                    name: format!("{ns}/{name}"),
                    file: file.clone(),
                    line,
                    detail,
                });
            }
            ("source.toolkit.fluxcd.io", "HelmChart") => {
                return Err(refuse(
                    "source.toolkit.fluxcd.io HelmChart objects are not read: name the chart in a \
                     HelmRelease's spec.chart (rekon resolves it from the HelmRepository)"
                        .into(),
                ));
            }
            ("helm.toolkit.fluxcd.io", _) => {
                return Err(refuse(format!(
                    "{kind} is not read (rekon reads HelmRelease of {api_version})"
                )));
            }
            _ => {
                return Err(refuse(format!(
                    "{api_version} {kind} is not built in rekon (it reads GitRepository, Kustomization, \
                     ImageRepository, ImagePolicy, ImageUpdateAutomation, Receiver, Alert, Provider)"
                )));
            }
        }
        Ok(())
    }

    /// `flux` with its `healthChecks` naming HelmReleases turned into the
    /// HelmCharts that stand for them (what the cluster has).
    fn helm_health_checks(
        &self,
        k: &Parsed<KustomizationSpec>,
        flux: &FluxKustomization,
    ) -> Result<FluxKustomization, FluxError> {
        let mut flux = flux.clone();
        for (i, check) in flux.health_checks.iter_mut().enumerate() {
            if !(check.kind == "HelmRelease"
                && check.api_version.starts_with("helm.toolkit.fluxcd.io/"))
            {
                continue;
            }
            let release = format!(
                "{}/{}",
                check.namespace.as_deref().unwrap_or(&k.namespace),
                check.name
            );
            let chart = self.helm_releases.get(&release).ok_or_else(|| {
                k.error(format!(
                    "spec.healthChecks[{i}]: HelmRelease {release} is not defined in the repository"
                ))
            })?;
            check.api_version = "helm.cattle.io/v1".into();
            check.kind = "HelmChart".into();
            check.name = chart.clone();
        }
        Ok(flux)
    }

    fn item<S>(&mut self, p: &Parsed<S>, detail: String) {
        self.graph.items.push(GraphItem {
            kind: p.object.kind.clone(),
            name: p.key(),
            file: p.file.clone(),
            line: p.line,
            detail,
        });
    }

    /// The checkout of GitRepository `key`, fetched once (`None` when not fetching).
    async fn checkout(&mut self, key: &str) -> Result<Option<PathBuf>, FluxError> {
        if let Some(root) = self.roots.get(key) {
            return Ok(Some(root.clone()));
        }
        if !self.access.fetch {
            return Ok(None);
        }
        let g = &self.git[key];
        let source = source_config(g, self.access.cluster, self.state_dir.as_deref()).await?;
        let Some(state_dir) = &self.state_dir else {
            return Err(
                g.error("no state directory to fetch it into (set state-dir or $REKON_STATE_DIR)")
            );
        };
        let checkout =
            crate::source::sync(state_dir, &source).map_err(|error| FluxError::Fetch {
                object: g.describe(),
                error: Box::new(error),
            })?;
        self.roots.insert(key.to_string(), checkout.dir.clone());
        Ok(Some(checkout.dir))
    }

    async fn into_config(
        mut self,
        config: &mut Config,
        roots: &mut Roots,
        settings: &crate::config::FluxSettings,
        entry_repo: Option<&str>,
    ) -> Result<Graph, FluxError> {
        let cluster = self.access.cluster;
        let state_dir = self.state_dir.clone();
        // Sources: every GitRepository but the entry's, which rekon has.
        for (key, g) in &self.git {
            let ignore = Some(
                g.object
                    .spec
                    .ignore
                    .clone()
                    .unwrap_or_else(|| DEFAULT_IGNORE.into()),
            );
            if Some(key.as_str()) == entry_repo {
                if let Some(source) = settings
                    .source
                    .as_ref()
                    .and_then(|s| config.sources.get_mut(s))
                {
                    source.ignore = ignore;
                }
                continue;
            }
            if !self.access.fetch {
                self.graph
                    .notes
                    .push(format!("GitRepository {key}: not fetched (--offline)"));
                continue;
            }
            let source = source_config(g, cluster, state_dir.as_deref()).await?;
            if let Some(dir) = self.roots.get(key) {
                let revision = git2::Repository::open(dir)
                    .ok()
                    .and_then(|r| {
                        r.head()
                            .ok()?
                            .peel_to_commit()
                            .ok()
                            .map(|c| c.id().to_string())
                    })
                    .unwrap_or_default();
                roots.set(
                    key,
                    crate::source::Checkout {
                        dir: dir.clone(),
                        revision,
                    },
                );
            }
            config.sources.insert(key.clone(), source);
        }
        if entry_repo.is_none() {
            self.graph.notes.push(
                "no Kustomization reads the entry's path: every GitRepository is fetched, the entry's own repository too".into(),
            );
        }

        // Kustomizations.
        let names: BTreeSet<String> = self.kustomizations.iter().map(|(k, _)| k.key()).collect();
        let mut depends: Vec<(String, Vec<String>)> = Vec::new();
        for (k, flux) in &self.kustomizations {
            let Some(flux) = flux else { continue };
            let spec = &k.object.spec;
            let deps: Vec<String> = spec
                .depends_on
                .iter()
                .map(|d| cross_key(d, &k.namespace))
                .collect();
            for dep in &deps {
                if *dep == k.key() {
                    return Err(k.error("spec.dependsOn names the Kustomization itself"));
                }
                if !names.contains(dep) {
                    return Err(k.error(format!(
                        "spec.dependsOn: Kustomization {dep} is not defined in the repository"
                    )));
                }
            }
            depends.push((k.key(), deps.clone()));
            let key = k.key();
            let (mutators, validators) = match settings.kustomizations.get(&key) {
                Some(c) => (c.mutators.clone(), c.validators.clone()),
                None => {
                    let list = |annotation: &str| -> Vec<String> {
                        k.object
                            .metadata
                            .annotations
                            .get(annotation)
                            .map_or(Vec::new(), |v| {
                                v.split(',')
                                    .map(str::trim)
                                    .filter(|s| !s.is_empty())
                                    .map(str::to_string)
                                    .collect()
                            })
                    };
                    let m =
                        chain(&list(super::MUTATORS_ANNOTATION), &config.plugins).map_err(|e| {
                            k.error(format!("annotation {}: {e}", super::MUTATORS_ANNOTATION))
                        })?;
                    let v = chain(&list(super::VALIDATORS_ANNOTATION), &config.plugins).map_err(
                        |e| k.error(format!("annotation {}: {e}", super::VALIDATORS_ANNOTATION)),
                    )?;
                    (m, v)
                }
            };
            let interval =
                duration("interval", &spec.interval).map_err(|e| k.error(format!("spec.{e}")))?;
            let timeout = match &spec.timeout {
                Some(t) => duration("timeout", t).map_err(|e| k.error(format!("spec.{e}")))?,
                None => interval,
            };
            let source = if Some(flux.source.as_str()) == entry_repo {
                settings.source.clone()
            } else {
                Some(flux.source.clone())
            };
            config.kustomizations.push(Kustomization {
                name: key,
                path: PathBuf::from(normalize(spec.path.as_deref().unwrap_or(""))),
                mutators,
                validators,
                prune: spec.prune,
                // Flux waits for `healthChecks` even without `wait`.
                wait: spec.wait || !spec.health_checks.is_empty(),
                timeout,
                allow_recreate: spec.force,
                source,
                interval,
                depends_on: deps,
                suspend: spec.suspend,
                decryption: flux.decryption.clone(),
                flux: Some(Box::new(self.helm_health_checks(k, flux)?)),
            });
        }
        if let Some(cycle) = find_cycle(&depends) {
            let (first, _) = self
                .kustomizations
                .iter()
                .find(|(k, _)| k.key() == cycle[0])
                .expect("a kustomization of the cycle");
            return Err(first.error(format!(
                "spec.dependsOn forms a cycle: {}",
                cycle.join(" -> ")
            )));
        }

        // Images: an ImagePolicy and its ImageRepository.
        for p in &self.policies {
            let repo_key = cross_key(&p.object.spec.image_repository_ref, &p.namespace);
            let Some(repo) = self.image_repositories.get(&repo_key) else {
                return Err(p.error(format!(
                    "spec.imageRepositoryRef: ImageRepository {repo_key} is not defined in the repository"
                )));
            };
            let key = p.key();
            let overrides = settings.policies.get(&key).cloned().unwrap_or_default();
            let annotations = &p.object.metadata.annotations;
            let plugin = overrides
                .plugin
                .or_else(|| annotations.get(super::POLICY_PLUGIN_ANNOTATION).cloned())
                .unwrap_or_else(|| "flux-policy".into());
            if !config.plugins.contains_key(&plugin) {
                self.graph.problems.push(format!(
                    "{}:{}: {}: not scanned: policy plugin `{plugin}` is not declared under [plugins]",
                    p.file.display(),
                    p.line,
                    p.describe()
                ));
                continue;
            }
            let platform = overrides
                .platform
                .or_else(|| annotations.get(super::PLATFORM_ANNOTATION).cloned())
                .map(|s| s.parse().map_err(|e| p.error(format!("platform: {e}"))))
                .transpose()?;
            let (image, note) = image_config(
                p,
                repo,
                plugin,
                platform,
                cluster,
                &config.registries,
                state_dir.as_deref(),
            )
            .await?;
            self.graph.notes.extend(note);
            config.images.insert(image.policy_name.clone(), image);
        }

        // [git]: the one ImageUpdateAutomation.
        if let [first, second, ..] = &self.automations[..] {
            return Err(second.error(format!(
                "rekon runs one ImageUpdateAutomation (also {} at {}:{})",
                first.key(),
                first.file.display(),
                first.line
            )));
        }
        if let Some(a) = self.automations.first() {
            let key = cross_key(&a.object.spec.source_ref, &a.namespace);
            let Some(g) = self.git.get(&key) else {
                return Err(a.error(format!(
                    "spec.sourceRef: GitRepository {key} is not defined in the repository"
                )));
            };
            // Without a cluster its Secret cannot be read: commands that
            // push (`rekon images update`, `rekon run`) have one.
            let remote =
                if cluster.is_some() || (self.access.fetch && g.object.spec.secret_ref.is_none()) {
                    source_config(g, cluster, state_dir.as_deref()).await?.git
                } else {
                    GitConfig {
                        url: g.object.spec.url.clone(),
                        branch: "master".into(),
                        push_branch: "master".into(),
                        path: ".".into(),
                        author_name: String::new(),
                        author_email: String::new(),
                        message: String::new(),
                        auth: GitAuth::None,
                        message_template: None,
                        message_template_values: Default::default(),
                        automation: Default::default(),
                        policies: None,
                    }
                };
            config.git = Some(automation(a, remote, &self.policies, &config.images)?);
        }

        // Receivers, at Flux's paths.
        for r in std::mem::take(&mut self.receivers) {
            let Some(receiver) = self.receiver(&r, config, settings, entry_repo).await? else {
                continue;
            };
            if let Some(item) = self
                .graph
                .items
                .iter_mut()
                .find(|i| i.kind == "Receiver" && i.name == r.key())
            {
                item.detail = format!(
                    "{} webhook at POST /hook/{}",
                    r.object.spec.kind, receiver.path
                );
            }
            config.receivers.push(receiver);
        }
        // Alerts, with their Providers.
        for a in &self.alerts {
            let key = format!("{}/{}", a.namespace, a.object.spec.provider_ref.name);
            let Some(p) = self.providers.get(&key) else {
                return Err(a.error(format!(
                    "spec.providerRef: Provider {key} is not defined in the repository"
                )));
            };
            if p.object.spec.secret_ref.is_some() && cluster.is_none() {
                self.graph.notes.push(format!(
                    "Alert {}: not sent: Provider {key}'s secretRef is read from the cluster, and there is none",
                    a.key()
                ));
                continue;
            }
            config
                .alerts
                .alerts
                .push(alert_config(a, p, cluster).await?);
        }
        config.alerts.labels = std::mem::take(&mut self.labels);
        let mut charts = crate::charts::Sources::new();
        for h in &self.helm_repositories {
            let (source, note) =
                helm_repository(h, &self.chart_objects, cluster, state_dir.as_deref()).await?;
            self.graph.notes.extend(note);
            charts.insert(source.key(), source);
        }
        for o in &self.oci_repositories {
            let (source, note) =
                oci_repository(o, &self.chart_objects, cluster, state_dir.as_deref()).await?;
            self.graph.notes.extend(note);
            charts.insert(source.key(), source);
        }
        config.charts = std::sync::Arc::new(charts);
        Ok(self.graph)
    }

    /// A Receiver as rekon serves it: its token read from its Secret, its
    /// `resources` as the sources, kustomizations and image policies they
    /// name. `None` (with a note) when it is not served.
    async fn receiver(
        &mut self,
        r: &Parsed<objects::ReceiverSpec>,
        config: &Config,
        settings: &crate::config::FluxSettings,
        entry_repo: Option<&str>,
    ) -> Result<Option<Receiver>, FluxError> {
        let spec = &r.object.spec;
        let kind = ReceiverKind::parse(&spec.kind).ok_or_else(|| {
            r.error(format!(
                "spec.type `{}` is not built in rekon (it serves {})",
                spec.kind,
                ReceiverKind::ALL.map(|k| k.to_string()).join(", ")
            ))
        })?;
        if spec.resource_filter.is_some() {
            return Err(r.error("spec.resourceFilter: CEL filters are not supported"));
        }
        if !spec.events.is_empty() && !kind.has_events() {
            return Err(r.error(format!("spec.events: {kind} deliveries name no event")));
        }
        let mut receiver = Receiver {
            name: r.key(),
            path: String::new(),
            flux: true,
            kind,
            token: crate::config::Secret::Env(String::new()),
            events: spec.events.clone(),
            images: Vec::new(),
            sources: Vec::new(),
            kustomizations: Vec::new(),
        };
        for (i, res) in spec.resources.iter().enumerate() {
            let field = format!("spec.resources[{i}]");
            let namespace = res.namespace.clone().unwrap_or_else(|| r.namespace.clone());
            if !res.match_labels.is_empty() && res.name != "*" {
                return Err(r.error(format!("{field}: with matchLabels, name must be `*`")));
            }
            let wanted = |key: &str, labels: &BTreeMap<String, String>| {
                let (ns, name) = key.split_once('/').expect("keys are NS/NAME");
                ns == namespace
                    && (name == res.name || res.name == "*")
                    && res
                        .match_labels
                        .iter()
                        .all(|(k, v)| labels.get(k) == Some(v))
            };
            let mut found = false;
            match res.kind.as_str() {
                "GitRepository" => {
                    for (key, g) in &self.git {
                        if !wanted(key, &g.object.metadata.labels) {
                            continue;
                        }
                        found = true;
                        match (Some(key.as_str()) == entry_repo, &settings.source) {
                            (true, Some(source)) => receiver.sources.push(source.clone()),
                            (true, None) => self.graph.notes.push(format!(
                                "Receiver {}: GitRepository {key} is the local directory rekon reads: nothing to fetch",
                                r.key()
                            )),
                            (false, _) if config.sources.contains_key(key) => {
                                receiver.sources.push(key.clone())
                            }
                            (false, _) => {}
                        }
                    }
                }
                "Kustomization" => {
                    for (k, _) in &self.kustomizations {
                        if wanted(&k.key(), &k.object.metadata.labels) {
                            found = true;
                            receiver.kustomizations.push(k.key());
                        }
                    }
                }
                "ImageRepository" | "ImagePolicy" => {
                    for p in &self.policies {
                        let repo_key = cross_key(&p.object.spec.image_repository_ref, &p.namespace);
                        let hit = if res.kind == "ImagePolicy" {
                            wanted(&p.key(), &p.object.metadata.labels)
                        } else {
                            self.image_repositories
                                .get(&repo_key)
                                .is_some_and(|ir| wanted(&repo_key, &ir.object.metadata.labels))
                        };
                        let policy = format!("{}:{}", p.namespace, p.object.metadata.name);
                        found |= hit;
                        if hit && config.images.contains_key(&policy) {
                            receiver.images.push(policy);
                        }
                    }
                }
                // rekon commits after every scan that changes a choice.
                "ImageUpdateAutomation" => continue,
                other => {
                    return Err(r.error(format!(
                    "{field}: {other} is not built in rekon (a Receiver reconciles GitRepository, \
                         Kustomization, ImageRepository, ImagePolicy)"
                )))
                }
            }
            if !found && res.name != "*" {
                return Err(r.error(format!(
                    "{field}: {} {namespace}/{} is not defined in the repository",
                    res.kind, res.name
                )));
            }
        }
        if spec.suspend {
            self.graph
                .notes
                .push(format!("Receiver {}: suspended, not served", r.key()));
            return Ok(None);
        }
        let Some(cluster) = self.access.cluster else {
            self.graph.notes.push(format!(
                "Receiver {}: its path needs the token of Secret {}/{}, read from the cluster",
                r.key(),
                r.namespace,
                spec.secret_ref.name
            ));
            return Ok(None);
        };
        // As in Flux, a Receiver without its token is not served, and
        // nothing else stops: a problem `rekon check` counts.
        let at = format!("{}:{}: {}", r.file.display(), r.line, r.describe());
        let secret = format!("{}/{}", r.namespace, spec.secret_ref.name);
        let token = match read_secret(
            Some(cluster),
            &r.describe(),
            &r.namespace,
            &spec.secret_ref.name,
        )
        .await
        {
            Ok(data) => data
                .get("token")
                .and_then(|t| String::from_utf8(t.clone()).ok()),
            Err(m) => {
                self.graph
                    .problems
                    .push(format!("{at}: not served: spec.secretRef: {m}"));
                return Ok(None);
            }
        };
        let Some(token) = token else {
            self.graph.problems.push(format!(
                "{at}: not served: spec.secretRef: Secret {secret} has no `token`"
            ));
            return Ok(None);
        };
        receiver.path =
            crate::server::receivers::flux_path(&token, &r.object.metadata.name, &r.namespace);
        receiver.token = crate::config::Secret::Value {
            from: format!("{}/{}[token]", r.namespace, spec.secret_ref.name),
            value: token,
        };
        Ok(Some(receiver))
    }
}

/// A Flux Alert and its Provider as rekon's alert; the Provider's Secret is
/// read now, its values kept as [`Secret::Value`] (never shown).
async fn alert_config(
    a: &Parsed<objects::AlertSpec>,
    p: &Parsed<objects::ProviderSpec>,
    cluster: Option<&Cluster>,
) -> Result<crate::config::AlertConfig, FluxError> {
    use crate::config::alerts::regexes;
    use crate::config::{AlertConfig, EventSource, ProviderConfig, ProviderKind};
    let spec = &p.object.spec;
    let unsupported = [
        (
            spec.timeout.is_some(),
            "spec.timeout is not supported yet (rekon waits 15s per request)",
        ),
        (
            spec.cert_secret_ref.is_some(),
            "spec.certSecretRef: client certificates and CAs are not supported yet",
        ),
        (
            spec.commit_status_expr.is_some(),
            "spec.commitStatusExpr is not supported yet (the status is named KIND/NAME)",
        ),
        (
            spec.service_account_name.is_some(),
            "spec.serviceAccountName: workload identity is not supported",
        ),
    ];
    if let Some((_, message)) = unsupported.iter().find(|(bad, _)| *bad) {
        return Err(p.error(*message));
    }
    let kind: ProviderKind = spec
        .kind
        .parse()
        .map_err(|e: String| p.error(format!("spec.{e}")))?;
    let value = |from: String, value: String| Secret::Value { from, value };
    let mut provider = ProviderConfig {
        kind,
        address: spec
            .address
            .clone()
            .map(|v| value(format!("Provider {}: spec.address", p.key()), v)),
        channel: spec.channel.clone(),
        username: spec.username.clone(),
        token: None,
        password: None,
        headers: Vec::new(),
        proxy: spec
            .proxy
            .clone()
            .map(|v| value(format!("Provider {}: spec.proxy", p.key()), v)),
    };
    if let Some(secret) = &spec.secret_ref {
        let data = read_secret(cluster, &p.describe(), &p.namespace, &secret.name)
            .await
            .map_err(|m| p.error(format!("spec.secretRef: {m}")))?;
        let name = format!("{}/{}", p.namespace, secret.name);
        let text = |key: &str| -> Result<Option<Secret>, FluxError> {
            data.get(key)
                .map(|v| {
                    String::from_utf8(v.clone())
                        .map(|v| value(format!("{name}[{key}]"), v.trim_end().to_string()))
                        .map_err(|_| {
                            p.error(format!("spec.secretRef: Secret {name}: {key} is not UTF-8"))
                        })
                })
                .transpose()
        };
        let plain = |s: Option<Secret>| s.and_then(|s| s.read().ok());
        provider.address = text("address")?.or(provider.address);
        provider.proxy = text("proxy")?.or(provider.proxy);
        provider.token = text("token")?;
        provider.password = text("password")?;
        provider.username = plain(text("username")?).or(provider.username);
        if let Some(headers) = plain(text("headers")?) {
            let map: BTreeMap<String, String> =
                serde_yaml_ng::from_str(&headers).map_err(|_| {
                    p.error(format!(
                        "spec.secretRef: Secret {name}: headers is not a YAML map of strings"
                    ))
                })?;
            provider.headers = map
                .into_iter()
                .map(|(k, v)| {
                    let from = format!("{name}[headers.{k}]");
                    (k, value(from, v))
                })
                .collect();
        }
    }
    let missing = [
        (
            kind.needs_address() && provider.address.is_none(),
            "an address (spec.address or the Secret's address)",
        ),
        (
            kind.needs_token() && provider.token.is_none(),
            "a token (the Secret's token)",
        ),
        (
            kind.needs_channel() && provider.channel.is_none(),
            "spec.channel",
        ),
    ];
    if let Some((_, what)) = missing.iter().find(|(bad, _)| *bad) {
        return Err(p.error(format!("a {kind} provider needs {what}")));
    }
    let spec = &a.object.spec;
    let severity = match spec.event_severity.as_deref() {
        None => Default::default(),
        Some(s) => s
            .parse()
            .map_err(|e| a.error(format!("spec.eventSeverity: {e}")))?,
    };
    let compile = |field: &str, list: &[String]| {
        regexes(list.iter().map(String::as_str))
            .map_err(|(i, e)| a.error(format!("spec.{field}[{i}]: {e}")))
    };
    Ok(AlertConfig {
        name: a.key(),
        severity,
        sources: spec
            .event_sources
            .iter()
            .map(|s| EventSource {
                kind: s.kind.clone(),
                name: s.name.clone(),
                namespace: Some(s.namespace.clone().unwrap_or_else(|| a.namespace.clone())),
                match_labels: s.match_labels.clone(),
            })
            .collect(),
        inclusions: compile("inclusionList", &spec.inclusion_list)?,
        exclusions: compile("exclusionList", &spec.exclusion_list)?,
        summary: spec.summary.clone(),
        metadata: spec.event_metadata.clone(),
        suspend: spec.suspend || p.object.spec.suspend,
        provider,
    })
}

/// Refuse what a GitRepository asks and rekon does not do.
fn check_git(g: &Parsed<GitRepositorySpec>) -> Result<(), FluxError> {
    let spec = &g.object.spec;
    let unsupported = [
        (
            spec.verify.is_some(),
            "spec.verify: commit signature verification is not supported yet",
        ),
        (
            spec.proxy_secret_ref.is_some(),
            "spec.proxySecretRef: proxies are not supported yet",
        ),
        (
            spec.recurse_submodules,
            "spec.recurseSubmodules: submodules are not supported yet",
        ),
        (
            spec.include.is_some(),
            "spec.include: including other GitRepositories is not supported yet",
        ),
        (
            spec.sparse_checkout.is_some(),
            "spec.sparseCheckout is not supported yet",
        ),
        (
            spec.provider.as_deref().is_some_and(|p| p != "generic"),
            "spec.provider: only `generic` is supported",
        ),
    ];
    if let Some((_, message)) = unsupported.iter().find(|(bad, _)| *bad) {
        return Err(g.error(*message));
    }
    duration("interval", &spec.interval).map_err(|e| g.error(format!("spec.{e}")))?;
    git_reference(g)?;
    Ok(())
}

/// The branch and reference a GitRepository checks out, with Flux's
/// precedence: commit > name > semver > tag > branch (default `master`).
fn git_reference(g: &Parsed<GitRepositorySpec>) -> Result<(String, GitReference), FluxError> {
    let r = g.object.spec.reference.clone().unwrap_or_default();
    let branch = r.branch.clone().unwrap_or_else(|| "master".into());
    let reference = if let Some(commit) = r.commit {
        if commit.len() != 40 || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(g.error(format!("spec.ref.commit `{commit}` is not a full SHA-1")));
        }
        GitReference::Commit(commit)
    } else if let Some(name) = r.name {
        if !name.starts_with("refs/") {
            return Err(g.error(format!(
                "spec.ref.name `{name}` must be a full reference (refs/...)"
            )));
        }
        GitReference::Name(name)
    } else if let Some(range) = r.semver {
        crate::git::semver_range(&range).map_err(|e| g.error(format!("spec.ref.{e}")))?;
        GitReference::Semver(range)
    } else if let Some(tag) = r.tag {
        GitReference::Tag(tag)
    } else {
        GitReference::Branch
    };
    Ok((branch, reference))
}

fn describe_ref(spec: &GitRepositorySpec) -> String {
    let r = spec.reference.clone().unwrap_or_default();
    match (r.commit, r.name, r.semver, r.tag, r.branch) {
        (Some(c), ..) => format!("commit {c}"),
        (None, Some(n), ..) => n,
        (None, None, Some(s), ..) => format!("semver {s}"),
        (None, None, None, Some(t), _) => format!("tag {t}"),
        (None, None, None, None, b) => b.unwrap_or_else(|| "master".into()),
    }
}

/// The Kustomization's build and apply settings (`vars` still to resolve).
fn flux_kustomization(
    k: &Parsed<KustomizationSpec>,
    source: &str,
) -> Result<FluxKustomization, FluxError> {
    let spec = &k.object.spec;
    let unsupported = [
        (
            spec.kube_config.is_some(),
            "spec.kubeConfig: remote clusters are not supported",
        ),
        (
            spec.health_check_exprs.is_some(),
            "spec.healthCheckExprs are not supported yet",
        ),
        (
            spec.deletion_policy.is_some(),
            "spec.deletionPolicy is not supported yet",
        ),
    ];
    if let Some((_, message)) = unsupported.iter().find(|(bad, _)| *bad) {
        return Err(k.error(*message));
    }
    if let Some(d) = &spec.decryption {
        if d.provider != "sops" {
            return Err(k.error(format!(
                "spec.decryption.provider `{}`: only sops is supported",
                d.provider
            )));
        }
        if d.secret_ref.is_none() {
            return Err(k.error(
                "spec.decryption.secretRef is required: rekon reads age identities from the Secret's *.agekey entries (cloud KMS is not supported)",
            ));
        }
    }
    let interval =
        duration("interval", &spec.interval).map_err(|e| k.error(format!("spec.{e}")))?;
    let retry_interval = match &spec.retry_interval {
        Some(t) => duration("retryInterval", t).map_err(|e| k.error(format!("spec.{e}")))?,
        None => interval,
    };
    let mut health_checks = Vec::new();
    for (i, h) in spec.health_checks.iter().enumerate() {
        let field = format!("spec.healthChecks[{i}]");
        let (Some(api_version), Some(kind)) = (&h.api_version, &h.kind) else {
            return Err(k.error(format!("{field}: apiVersion and kind are required")));
        };
        let helm_release =
            api_version.starts_with("helm.toolkit.fluxcd.io/") && kind == "HelmRelease";
        if api_version.contains(super::GROUP_SUFFIX) && !helm_release {
            return Err(k.error(format!(
                "{field}: {kind} {}: Flux objects are rekon's configuration, not in the cluster; \
                 name the objects they apply instead",
                h.name
            )));
        }
        health_checks.push(crate::apply::ObjectRef {
            api_version: api_version.clone(),
            kind: kind.clone(),
            namespace: Some(h.namespace.clone().unwrap_or_else(|| k.namespace.clone())),
            name: h.name.clone(),
        });
    }
    let origin = Origin {
        file: k.file.clone(),
        line: k.line,
    };
    Ok(FluxKustomization {
        namespace: k.namespace.clone(),
        name: k.object.metadata.name.clone(),
        origin: origin.clone(),
        overlay: Overlay {
            namespace: spec.target_namespace.clone(),
            name_prefix: spec.name_prefix.clone(),
            name_suffix: spec.name_suffix.clone(),
            patches: spec.patches.clone(),
            images: spec.images.clone(),
            components: spec.components.clone(),
            origin,
        },
        post_build: spec.post_build.clone(),
        vars: BTreeMap::new(),
        unread: Vec::new(),
        common_metadata: spec.common_metadata.clone().unwrap_or_default(),
        service_account: spec.service_account_name.clone(),
        retry_interval,
        health_checks,
        source: source.to_string(),
        decryption: None,
    })
}

/// Secret `namespace/name` from the cluster, for `object`.
async fn read_secret(
    cluster: Option<&Cluster>,
    object: &str,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let Some(cluster) = cluster else {
        return Err(format!(
            "Secret {namespace}/{name} is read from the cluster, and there is none (give a kubeconfig)"
        ));
    };
    match cluster.read_data("Secret", namespace, name).await {
        Ok(Some(data)) => Ok(data),
        Ok(None) => Err(format!("Secret {namespace}/{name} does not exist")),
        Err(e) => Err(format!("{object}: {e}")),
    }
}

/// Write a secret value rekon must hand to a library as a file (an ssh key,
/// a CA), readable by rekon only, under the state directory.
fn secret_file(
    state_dir: Option<&Path>,
    secret: &str,
    key: &str,
    value: &[u8],
) -> Result<PathBuf, String> {
    let dir = state_dir
        .ok_or("no state directory to keep it in (set state-dir or $REKON_STATE_DIR)")?
        .join("flux-secrets")
        .join(secret.replace('/', "."));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(key);
    crate::atomic::write(&path, value).map_err(|e| format!("{}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// A GitRepository as a source: remote, reference, credentials from its Secret.
async fn source_config(
    g: &Parsed<GitRepositorySpec>,
    cluster: Option<&Cluster>,
    state_dir: Option<&Path>,
) -> Result<SourceConfig, FluxError> {
    let spec = &g.object.spec;
    let (branch, reference) = git_reference(g)?;
    let auth = match &spec.secret_ref {
        None => GitAuth::None,
        Some(secret) => {
            let data = read_secret(cluster, &g.describe(), &g.namespace, &secret.name)
                .await
                .map_err(|m| g.error(format!("spec.secretRef: {m}")))?;
            let text = |key: &str| {
                data.get(key)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            };
            let from = |key: &str| format!("{}/{}[{key}]", g.namespace, secret.name);
            let name = format!("{}/{}", g.namespace, secret.name);
            if let Some(identity) = data.get("identity") {
                let file = |key: &str, value: &[u8]| {
                    secret_file(state_dir, &name, key, value)
                        .map_err(|m| g.error(format!("spec.secretRef: {m}")))
                };
                GitAuth::Ssh {
                    key: file("identity", identity)?,
                    known_hosts: data
                        .get("known_hosts")
                        .map(|k| file("known_hosts", k))
                        .transpose()?,
                }
            } else if let (Some(username), Some(password)) = (text("username"), text("password")) {
                GitAuth::Basic {
                    username,
                    password: Secret::Value {
                        from: from("password"),
                        value: password,
                    },
                }
            } else if let Some(token) = text("bearerToken") {
                GitAuth::Token(Secret::Value {
                    from: from("bearerToken"),
                    value: token,
                })
            } else {
                return Err(g.error(format!(
                    "spec.secretRef: Secret {name} has none of identity, username and password, bearerToken"
                )));
            }
        }
    };
    let interval =
        duration("interval", &spec.interval).map_err(|e| g.error(format!("spec.{e}")))?;
    Ok(SourceConfig {
        name: g.key(),
        git: GitConfig {
            url: spec.url.clone(),
            push_branch: branch.clone(),
            branch,
            path: ".".into(),
            author_name: String::new(),
            author_email: String::new(),
            message: String::new(),
            auth,
            message_template: None,
            message_template_values: Default::default(),
            automation: Default::default(),
            policies: None,
        },
        interval,
        suspend: spec.suspend,
        reference,
        ignore: Some(spec.ignore.clone().unwrap_or_else(|| DEFAULT_IGNORE.into())),
    })
}

/// `nginx` → `docker.io/library/nginx`, `org/app` → `docker.io/org/app`,
/// as Flux (go-containerregistry) reads an image without a registry host.
fn normalize_image(image: &str) -> String {
    let first = image.split('/').next().unwrap_or("");
    let has_host = image.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    match (has_host, image.contains('/')) {
        (true, _) => image.to_string(),
        (false, true) => format!("docker.io/{image}"),
        (false, false) => format!("docker.io/library/{image}"),
    }
}

async fn image_config(
    p: &Parsed<objects::ImagePolicySpec>,
    repo: &Parsed<objects::ImageRepositorySpec>,
    plugin: String,
    platform: Option<crate::images::platform::Platform>,
    cluster: Option<&Cluster>,
    registries: &BTreeMap<String, RegistryConfig>,
    state_dir: Option<&Path>,
) -> Result<(ImageConfig, Option<String>), FluxError> {
    let spec = &repo.object.spec;
    let mut note = None;
    let unsupported = [
        (
            spec.service_account_name.is_some(),
            "spec.serviceAccountName: image pull secrets of service accounts are not supported yet",
        ),
        (
            spec.proxy_secret_ref.is_some(),
            "spec.proxySecretRef: proxies are not supported yet",
        ),
        (
            spec.provider.as_deref().is_some_and(|p| p != "generic"),
            "spec.provider: only `generic` is supported",
        ),
    ];
    if let Some((_, message)) = unsupported.iter().find(|(bad, _)| *bad) {
        return Err(repo.error(*message));
    }
    let repository = normalize_image(&spec.image);
    let (host, _) = repository.split_once('/').expect("normalized");
    let mut registry = registries
        .values()
        .find(|r| r.url == host)
        .cloned()
        .unwrap_or_else(|| RegistryConfig::anonymous(host));
    registry.insecure |= spec.insecure;
    if let Some(t) = &spec.timeout {
        registry.timeout = duration("timeout", t).map_err(|e| repo.error(format!("spec.{e}")))?;
    }
    if let (Some(secret), None) = (&spec.secret_ref, cluster) {
        // Rendering and checking offline need no registry: say what a scan
        // without a cluster would lack rather than refuse the repository.
        note = Some(format!(
            "{}: spec.secretRef {}/{} is not read without a cluster: scans use [registries] or no credentials",
            repo.describe(),
            repo.namespace,
            secret.name
        ));
    } else if let Some(secret) = &spec.secret_ref {
        let data = read_secret(cluster, &repo.describe(), &repo.namespace, &secret.name)
            .await
            .map_err(|m| repo.error(format!("spec.secretRef: {m}")))?;
        registry.credentials =
            docker_credentials(&data, host, &format!("{}/{}", repo.namespace, secret.name))
                .map_err(|m| repo.error(format!("spec.secretRef: {m}")))?;
    }
    if let Some(secret) = &spec.cert_secret_ref {
        let name = format!("{}/{}", repo.namespace, secret.name);
        let data = read_secret(cluster, &repo.describe(), &repo.namespace, &secret.name)
            .await
            .map_err(|m| repo.error(format!("spec.certSecretRef: {m}")))?;
        if data.contains_key("tls.crt") || data.contains_key("certFile") {
            return Err(repo.error(
                "spec.certSecretRef: client certificates are not supported yet (only ca.crt)",
            ));
        }
        let ca = data
            .get("ca.crt")
            .or_else(|| data.get("caFile"))
            .ok_or_else(|| {
                repo.error(format!("spec.certSecretRef: Secret {name} has no ca.crt"))
            })?;
        registry.ca_file = Some(
            secret_file(state_dir, &name, "ca.crt", ca)
                .map_err(|m| repo.error(format!("spec.certSecretRef: {m}")))?,
        );
    }
    let exclude = spec
        .exclusion_list
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_EXCLUDE.to_string()])
        .iter()
        .map(|e| {
            regex::Regex::new(e)
                .map_err(|err| repo.error(format!("spec.exclusionList `{e}`: {err}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut settings = serde_json::Map::new();
    if let Some(filter) = &p.object.spec.filter_tags {
        settings.insert("filterTags".into(), filter.clone());
    }
    settings.insert("policy".into(), p.object.spec.policy.clone());
    let digest_reflection = match p.object.spec.digest_reflection_policy.as_deref() {
        None | Some("Never") => DigestReflection::Never,
        Some("IfNotPresent") => DigestReflection::IfNotPresent,
        Some("Always") => DigestReflection::Always,
        Some(other) => {
            return Err(p.error(format!(
                "spec.digestReflectionPolicy `{other}`: write Never, IfNotPresent or Always"
            )))
        }
    };
    let image = ImageConfig {
        policy_name: format!("{}:{}", p.namespace, p.object.metadata.name),
        repository,
        registry,
        policy: plugin,
        settings: Value::Object(settings),
        platform,
        exclude,
        interval: duration("interval", &spec.interval)
            .map_err(|e| repo.error(format!("spec.{e}")))?,
        suspend: spec.suspend,
        digest_reflection,
    };
    Ok((image, note))
}

/// The default `interval` of a chart source that gives none.
const CHART_SOURCE_INTERVAL: Duration = Duration::from_secs(600);

/// A HelmRepository as a chart source: its index or OCI registry, and the
/// credentials of its Secrets (read from the cluster; without one a note
/// says the listing goes without them).
async fn helm_repository(
    h: &Parsed<objects::HelmRepositorySpec>,
    objects: &BTreeMap<String, Value>,
    cluster: Option<&Cluster>,
    state_dir: Option<&Path>,
) -> Result<(crate::charts::ChartSource, Option<String>), FluxError> {
    let spec = &h.object.spec;
    if spec.provider.as_deref().is_some_and(|p| p != "generic") {
        return Err(h.error("spec.provider: only `generic` is supported"));
    }
    let oci = match spec.kind.as_deref() {
        None | Some("default") => false,
        Some("oci") => true,
        Some(other) => {
            return Err(h.error(format!("spec.type `{other}`: write `default` or `oci`")))
        }
    };
    let (fetch, ca, note) = if oci {
        let (registry, path, ca, note) = oci_registry(
            h,
            &spec.url,
            spec.insecure,
            spec.timeout.as_deref(),
            spec.secret_ref.as_ref(),
            spec.cert_secret_ref.as_ref(),
            cluster,
            state_dir,
        )
        .await?;
        (
            crate::charts::Fetch::Oci {
                registry,
                path,
                reference: None,
            },
            ca,
            note,
        )
    } else {
        if !spec.url.starts_with("https://") && !spec.url.starts_with("http://") {
            return Err(h.error(format!(
                "spec.url `{}`: an index is read over http(s) (or set type: oci)",
                spec.url
            )));
        }
        let mut note = None;
        let credentials = match (&spec.secret_ref, cluster) {
            (None, _) => Credentials::Anonymous,
            (Some(secret), None) => {
                note = Some(no_cluster_note(h, &secret.name));
                Credentials::Anonymous
            }
            (Some(secret), Some(_)) => {
                let data = read_secret(cluster, &h.describe(), &h.namespace, &secret.name)
                    .await
                    .map_err(|m| h.error(format!("spec.secretRef: {m}")))?;
                let field = |k: &str| {
                    data.get(k)
                        .map(|v| String::from_utf8_lossy(v).trim_end().to_string())
                        .ok_or_else(|| {
                            h.error(format!(
                                "spec.secretRef: Secret {}/{} has no `{k}`",
                                h.namespace, secret.name
                            ))
                        })
                };
                Credentials::Basic {
                    username: field("username")?,
                    password: Secret::Value {
                        from: format!("{}/{}[password]", h.namespace, secret.name),
                        value: field("password")?,
                    },
                }
            }
        };
        let (ca_file, ca, ca_note) =
            chart_ca(h, spec.cert_secret_ref.as_ref(), cluster, state_dir).await?;
        let note = note.or(ca_note);
        (
            crate::charts::Fetch::Index {
                url: spec.url.clone(),
                credentials,
                ca_file,
                timeout: chart_timeout(h, spec.timeout.as_deref())?,
            },
            ca,
            note,
        )
    };
    Ok((
        chart_source(h, objects, fetch, ca, spec.interval.as_deref())?,
        note,
    ))
}

/// An OCIRepository as a chart source (a HelmRelease's `chartRef`).
async fn oci_repository(
    o: &Parsed<objects::OciRepositorySpec>,
    objects: &BTreeMap<String, Value>,
    cluster: Option<&Cluster>,
    state_dir: Option<&Path>,
) -> Result<(crate::charts::ChartSource, Option<String>), FluxError> {
    let spec = &o.object.spec;
    let unsupported = [
        (
            spec.verify.is_some(),
            "spec.verify: signature verification is not supported yet",
        ),
        (
            spec.service_account_name.is_some(),
            "spec.serviceAccountName: image pull secrets of service accounts are not supported yet",
        ),
        (
            spec.proxy_secret_ref.is_some(),
            "spec.proxySecretRef: proxies are not supported yet",
        ),
        (
            spec.provider.as_deref().is_some_and(|p| p != "generic"),
            "spec.provider: only `generic` is supported",
        ),
    ];
    if let Some((_, message)) = unsupported.iter().find(|(bad, _)| *bad) {
        return Err(o.error(*message));
    }
    let (registry, path, ca, note) = oci_registry(
        o,
        &spec.url,
        spec.insecure,
        spec.timeout.as_deref(),
        spec.secret_ref.as_ref(),
        spec.cert_secret_ref.as_ref(),
        cluster,
        state_dir,
    )
    .await?;
    let fetch = crate::charts::Fetch::Oci {
        registry,
        path,
        reference: Some(spec.reference.clone().unwrap_or_default()),
    };
    Ok((
        chart_source(o, objects, fetch, ca, spec.interval.as_deref())?,
        note,
    ))
}

fn chart_source<S>(
    p: &Parsed<S>,
    objects: &BTreeMap<String, Value>,
    fetch: crate::charts::Fetch,
    ca: Option<String>,
    interval: Option<&str>,
) -> Result<crate::charts::ChartSource, FluxError> {
    let key = crate::charts::key(&p.object.kind, &p.namespace, &p.object.metadata.name);
    Ok(crate::charts::ChartSource {
        kind: p.object.kind.clone(),
        namespace: p.namespace.clone(),
        name: p.object.metadata.name.clone(),
        object: objects.get(&key).cloned().unwrap_or_default(),
        fetch,
        ca,
        interval: match interval {
            Some(i) => duration("interval", i).map_err(|e| p.error(format!("spec.{e}")))?,
            None => CHART_SOURCE_INTERVAL,
        },
    })
}

fn chart_timeout<S>(p: &Parsed<S>, timeout: Option<&str>) -> Result<Duration, FluxError> {
    match timeout {
        Some(t) => duration("timeout", t).map_err(|e| p.error(format!("spec.{e}"))),
        None => Ok(Duration::from_secs(60)),
    }
}

fn no_cluster_note<S>(p: &Parsed<S>, secret: &str) -> String {
    format!(
        "{}: spec.secretRef {}/{secret} is not read without a cluster: charts are listed without credentials",
        p.describe(),
        p.namespace
    )
}

/// The CA of a chart source's `certSecretRef`: kept as a file (for the
/// host's own requests) and as PEM text (for the HelmChart's `repoCA`).
/// Without a cluster there is none, and a note says so.
async fn chart_ca<S>(
    p: &Parsed<S>,
    secret: Option<&objects::LocalRef>,
    cluster: Option<&Cluster>,
    state_dir: Option<&Path>,
) -> Result<(Option<PathBuf>, Option<String>, Option<String>), FluxError> {
    let Some(secret) = secret else {
        return Ok((None, None, None));
    };
    let name = format!("{}/{}", p.namespace, secret.name);
    if cluster.is_none() {
        return Ok((
            None,
            None,
            Some(format!(
                "{}: spec.certSecretRef {name} is not read without a cluster: charts are listed \
                 without its CA, and a HelmChart cannot carry it",
                p.describe()
            )),
        ));
    }
    let data = read_secret(cluster, &p.describe(), &p.namespace, &secret.name)
        .await
        .map_err(|m| p.error(format!("spec.certSecretRef: {m}")))?;
    let ca = data
        .get("ca.crt")
        .or_else(|| data.get("caFile"))
        .ok_or_else(|| p.error(format!("spec.certSecretRef: Secret {name} has no ca.crt")))?;
    let pem = String::from_utf8(ca.clone())
        .ok()
        .filter(|t| t.contains("-----BEGIN CERTIFICATE"))
        .ok_or_else(|| {
            p.error(format!(
                "spec.certSecretRef: Secret {name}: ca.crt is not a PEM certificate"
            ))
        })?;
    let file = secret_file(state_dir, &name, "ca.crt", ca)
        .map_err(|m| p.error(format!("spec.certSecretRef: {m}")))?;
    Ok((Some(file), Some(pem), None))
}

/// The registry and path of an `oci://host/path` chart source.
#[allow(clippy::too_many_arguments)]
async fn oci_registry<S>(
    p: &Parsed<S>,
    url: &str,
    insecure: bool,
    timeout: Option<&str>,
    secret: Option<&objects::LocalRef>,
    cert: Option<&objects::LocalRef>,
    cluster: Option<&Cluster>,
    state_dir: Option<&Path>,
) -> Result<(RegistryConfig, String, Option<String>, Option<String>), FluxError> {
    let Some((host, path)) = url
        .strip_prefix("oci://")
        .and_then(|rest| rest.trim_end_matches('/').split_once('/'))
    else {
        return Err(p.error(format!("spec.url `{url}`: write oci://HOST/PATH")));
    };
    let mut registry = RegistryConfig::anonymous(host);
    registry.insecure = insecure;
    registry.timeout = chart_timeout(p, timeout)?;
    let mut note = None;
    match (secret, cluster) {
        (None, _) => {}
        (Some(s), None) => note = Some(no_cluster_note(p, &s.name)),
        (Some(s), Some(_)) => {
            let data = read_secret(cluster, &p.describe(), &p.namespace, &s.name)
                .await
                .map_err(|m| p.error(format!("spec.secretRef: {m}")))?;
            registry.credentials =
                docker_credentials(&data, host, &format!("{}/{}", p.namespace, s.name))
                    .map_err(|m| p.error(format!("spec.secretRef: {m}")))?;
        }
    }
    let (ca_file, ca, ca_note) = chart_ca(p, cert, cluster, state_dir).await?;
    registry.ca_file = ca_file;
    Ok((registry, path.to_string(), ca, note.or(ca_note)))
}

/// The credentials for `host` in a `kubernetes.io/dockerconfigjson` Secret.
fn docker_credentials(
    data: &BTreeMap<String, Vec<u8>>,
    host: &str,
    secret: &str,
) -> Result<Credentials, String> {
    let json = data
        .get(".dockerconfigjson")
        .ok_or_else(|| format!("Secret {secret} has no .dockerconfigjson"))?;
    let config: Value = serde_json::from_slice(json)
        .map_err(|e| format!("Secret {secret}: .dockerconfigjson: {e}"))?;
    let auths = config["auths"].as_object().cloned().unwrap_or_default();
    let entry = auths
        .iter()
        .find(|(key, _)| {
            let key = key
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            let key = key.split('/').next().unwrap_or("");
            key == host || (host == "docker.io" && key == "index.docker.io")
        })
        .map(|(_, v)| v)
        .ok_or_else(|| format!("Secret {secret} has no credentials for {host}"))?;
    let (username, password) = match (entry["username"].as_str(), entry["password"].as_str()) {
        (Some(u), Some(p)) => (u.to_string(), p.to_string()),
        _ => {
            let auth = entry["auth"].as_str().unwrap_or_default();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth)
                .map_err(|e| format!("Secret {secret}: auth of {host}: {e}"))?;
            let decoded = String::from_utf8_lossy(&decoded).into_owned();
            let (u, p) = decoded
                .split_once(':')
                .ok_or_else(|| format!("Secret {secret}: auth of {host} is not user:password"))?;
            (u.to_string(), p.to_string())
        }
    };
    Ok(Credentials::Basic {
        username,
        password: Secret::Value {
            from: format!("{secret}[.dockerconfigjson]"),
            value: password,
        },
    })
}

/// An ImageUpdateAutomation as `[git]`.
fn automation(
    a: &Parsed<objects::ImageUpdateAutomationSpec>,
    remote: GitConfig,
    policies: &[Parsed<objects::ImagePolicySpec>],
    images: &BTreeMap<String, ImageConfig>,
) -> Result<GitConfig, FluxError> {
    let spec = &a.object.spec;
    let git = spec.git.clone().unwrap_or_default();
    let Some(commit) = git.commit else {
        return Err(a.error("spec.git.commit is required (author name and email)"));
    };
    if commit.signing_key.is_some() {
        return Err(a.error("spec.git.commit.signingKey: signed commits are not supported yet"));
    }
    if git.push.as_ref().is_some_and(|p| p.options.is_some()) {
        return Err(a.error("spec.git.push.options are not supported yet"));
    }
    if let Some(strategy) = spec.update.as_ref().and_then(|u| u.strategy.as_deref()) {
        if strategy != "Setters" {
            return Err(a.error(format!(
                "spec.update.strategy `{strategy}`: only Setters exists"
            )));
        }
    }
    let branch = match git.checkout.map(|c| c.reference) {
        Some(r)
            if r.tag.is_some() || r.semver.is_some() || r.commit.is_some() || r.name.is_some() =>
        {
            return Err(a.error("spec.git.checkout.ref: only a branch is supported"))
        }
        Some(r) => r.branch.unwrap_or_else(|| remote.branch.clone()),
        None => remote.branch.clone(),
    };
    let push_branch = match git.push {
        Some(p) => match (p.branch, p.refspec) {
            (Some(b), None) => b,
            (None, Some(refspec)) => {
                let dst = refspec.split_once(':').map(|(_, d)| d).unwrap_or(&refspec);
                dst.strip_prefix("refs/heads/").map(str::to_string).ok_or_else(|| {
                    a.error(format!("spec.git.push.refspec `{refspec}`: only refs/heads/... destinations are supported"))
                })?
            }
            (Some(_), Some(_)) => {
                return Err(a.error("spec.git.push: give branch or refspec, not both"))
            }
            (None, None) => branch.clone(),
        },
        None => branch.clone(),
    };
    let path = spec
        .update
        .as_ref()
        .and_then(|u| u.path.as_deref())
        .map(normalize)
        .unwrap_or_else(|| ".".into());
    let selected = spec.policy_selector.as_ref().map(|selector| {
        policies
            .iter()
            .filter(|p| p.namespace == a.namespace && selector.matches(&p.object.metadata.labels))
            .map(|p| format!("{}:{}", p.namespace, p.object.metadata.name))
            .filter(|key| images.contains_key(key))
            .collect::<Vec<_>>()
    });
    let message_template = match commit.message_template {
        None => None,
        Some(template) => {
            crate::images::gotemplate::Template::parse(&template)
                .map_err(|e| a.error(format!("spec.git.commit.messageTemplate: template {e}")))?;
            Some(template)
        }
    };
    Ok(GitConfig {
        branch,
        push_branch,
        path: PathBuf::from(path),
        author_name: commit.author.name,
        author_email: commit.author.email,
        message: DEFAULT_MESSAGE.into(),
        message_template,
        message_template_values: commit.message_template_values.unwrap_or_default(),
        automation: AutomationName {
            namespace: a.namespace.clone(),
            name: a.object.metadata.name.clone(),
        },
        policies: selected,
        ..remote
    })
}

fn find_cycle(depends: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    fn visit(
        name: &str,
        edges: &BTreeMap<&str, &[String]>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == name) {
            let mut cycle = path[i..].to_vec();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if !done.insert(name.to_string()) {
            return None;
        }
        path.push(name.to_string());
        for dep in edges.get(name).copied().unwrap_or(&[]) {
            if let Some(c) = visit(dep, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let edges: BTreeMap<&str, &[String]> = depends
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let mut done = BTreeSet::new();
    depends
        .iter()
        .find_map(|(n, _)| visit(n, &edges, &mut Vec::new(), &mut done))
}

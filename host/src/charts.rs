//! Helm chart sources: the HelmRepositories and OCIRepositories of a Flux
//! repository, and the chart version each HelmRelease of a render resolves to.
//!
//! rekon has no Helm controller of its own: a mutator plugin (first-party
//! `helm-k3s`) translates HelmReleases into what the cluster's controller
//! takes (k3s's `HelmChart`). Two things the plugin needs are not in its
//! render, and this module provides them through the `rekon:sources` host
//! import (`wit/sources/flux.wit`, gated by the `sources` capability):
//!
//! * **The source objects**, which usually sit in another Kustomization
//!   than the HelmRelease (`infrastructure/sources`). Flux discovery reads
//!   every Kustomization's output anyway ([`crate::flux`]), so it keeps the
//!   HelmRepository and OCIRepository objects it meets ([`ChartSource`]).
//! * **The chart version a range resolves to.** That is network work (a
//!   repository's `index.yaml`, or the tags of an OCI repository), and a
//!   plugin has neither network nor time for it: a call has a deadline of a
//!   second or two and the index of a large public repository is megabytes
//!   of YAML. So the host resolves, with the clients it already has (reqwest
//!   for indexes; [`crate::images::registry::RegistryClient`] for tags, with
//!   its token exchange, paging and back-off), before the render's plugins
//!   run ([`Resolver::context`]); the plugin only reads the answers. An index
//!   or tag list is reused for the source's `interval` (as source-controller
//!   refetches at its interval), so a daemon rendering every minute does not
//!   download it every minute.
//!
//! Version rules follow Flux (Masterminds/semver): an exact version matches
//! only itself, a range picks the highest version it allows, no version (or
//! `*`) picks the highest release; pre-releases only when the range names
//! one. OCI tags carry Helm's `_` for SemVer's `+`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::config::{Credentials, RegistryConfig};
use crate::flux::objects::OciReference;
use crate::images::registry::{RegistryClient, Retry};

/// A Flux source object a HelmRelease can name, read at discovery.
#[derive(Debug, Clone)]
pub struct ChartSource {
    /// `HelmRepository` or `OCIRepository`.
    pub kind: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// The object as written in git, for plugins (`rekon:sources/flux.source`).
    pub object: Value,
    /// How its charts' versions are listed.
    pub fetch: Fetch,
    /// The PEM CA of its `certSecretRef` (read from the cluster), for the
    /// plugin to write into what it makes (k3s's `repoCA`).
    pub ca: Option<String>,
    /// How long a listing is reused.
    pub interval: Duration,
}

impl ChartSource {
    /// `Kind/namespace/name`, the key of [`Sources`].
    pub fn key(&self) -> String {
        key(&self.kind, &self.namespace, &self.name)
    }

    fn describe(&self) -> String {
        format!(
            "{} {}/{} ({})",
            self.kind,
            self.namespace,
            self.name,
            self.fetch.url()
        )
    }
}

/// Where a source's chart versions are listed.
#[derive(Debug, Clone)]
pub enum Fetch {
    /// A Helm repository over HTTP(S): `<url>/index.yaml`.
    Index {
        /// The repository URL.
        url: String,
        /// Basic credentials from its `secretRef`.
        credentials: Credentials,
        /// A CA (PEM) from its `certSecretRef`.
        ca_file: Option<PathBuf>,
        /// Bound on each request.
        timeout: Duration,
    },
    /// An OCI registry: the tags of `path` (plus `/<chart>` for an OCI
    /// HelmRepository).
    Oci {
        /// The registry, with credentials from the source's `secretRef`.
        registry: RegistryConfig,
        /// The repository path below the registry.
        path: String,
        /// `OCIRepository.spec.ref` (`None` for a HelmRepository).
        reference: Option<OciReference>,
    },
}

impl Fetch {
    fn url(&self) -> String {
        match self {
            Fetch::Index { url, .. } => url.clone(),
            Fetch::Oci { registry, path, .. } => format!("oci://{}/{path}", registry.url),
        }
    }
}

/// The chart sources of a repository, by `Kind/namespace/name`.
pub type Sources = BTreeMap<String, ChartSource>;

/// `Kind/namespace/name`.
pub fn key(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind}/{namespace}/{name}")
}

/// A chart version the host resolved (`rekon:sources/flux.chart`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// The chart's name.
    pub name: String,
    /// The exact version.
    pub version: String,
    /// The archive's digest (`sha256:...`), when the index or registry says.
    pub digest: Option<String>,
    /// The PEM CA of the source's `certSecretRef`, when the host read one.
    pub ca: Option<String>,
}

/// What one render's plugins may read through `rekon:sources`: every source
/// object, and the chart of each HelmRelease in the render.
#[derive(Debug, Default)]
pub struct SourceContext {
    /// By `Kind/namespace/name`.
    objects: BTreeMap<String, Value>,
    /// By HelmRelease `namespace/name`.
    charts: BTreeMap<String, Result<Chart, String>>,
}

impl SourceContext {
    /// A context given whole (`rekon test` suites state the sources and the
    /// charts the host would have resolved): `objects` are Flux source
    /// objects, `charts` by HelmRelease `namespace/name`.
    pub fn given(objects: &[Value], charts: BTreeMap<String, Result<Chart, String>>) -> Self {
        let objects = objects
            .iter()
            .map(|o| {
                let field = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or("");
                let ns = Some(field("/metadata/namespace"))
                    .filter(|n| !n.is_empty())
                    .unwrap_or("default");
                (key(field("/kind"), ns, field("/metadata/name")), o.clone())
            })
            .collect();
        SourceContext { objects, charts }
    }

    /// Source `kind` `namespace/name` as JSON text.
    pub fn source(&self, kind: &str, namespace: &str, name: &str) -> Option<String> {
        self.objects
            .get(&key(kind, namespace, name))
            .map(Value::to_string)
    }

    /// The chart of HelmRelease `namespace/name`.
    pub fn helm_chart(&self, namespace: &str, name: &str) -> Result<Chart, String> {
        self.charts
            .get(&format!("{namespace}/{name}"))
            .cloned()
            .unwrap_or_else(|| {
                Err(format!(
                    "HelmRelease {namespace}/{name} is not in this render: the host resolves \
                     the charts of the HelmReleases a render holds"
                ))
            })
    }
}

/// Lists chart versions and keeps each listing for its source's interval.
/// One per process (the daemon shares it between renders).
#[derive(Debug, Default)]
pub struct Resolver {
    /// By source key (plus `#chart` for OCI, where each chart is a
    /// repository of its own): when listed, and the versions by chart.
    cache: Mutex<HashMap<String, (Instant, Arc<Listing>)>>,
}

/// What one listing found: versions by chart name.
type Listing = BTreeMap<String, Vec<Listed>>;

/// One version a source lists for a chart.
#[derive(Debug, Clone)]
struct Listed {
    /// As written (an OCI tag with `_` already turned into `+`).
    version: String,
    digest: Option<String>,
}

/// A HelmRelease's chart, as far as the host reads it.
struct Wanted {
    source: String,
    chart: String,
    version: Option<String>,
}

impl Resolver {
    /// A resolver with nothing cached.
    pub fn new() -> Resolver {
        Resolver::default()
    }

    /// Resolve the chart of every HelmRelease among `objects` against
    /// `sources`; blocks (on a thread of its own, so it also works inside an
    /// async runtime). A release that cannot be resolved gets its error,
    /// given to the plugin that asks for it.
    pub fn context(&self, sources: &Arc<Sources>, objects: &[&Value]) -> SourceContext {
        let releases: Vec<(String, Result<Wanted, String>)> = objects
            .iter()
            .filter(|o| is_helm_release(o))
            .map(|o| {
                let release = release_key(o);
                let ns = release.split('/').next().unwrap_or("default").to_string();
                (release, wanted(o, &ns))
            })
            .collect();
        let mut charts = BTreeMap::new();
        if !releases.is_empty() {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build();
                        for (release, wanted) in releases {
                            let chart = match (&runtime, wanted) {
                                (Err(e), _) => Err(format!("cannot start the async runtime: {e}")),
                                (_, Err(e)) => Err(e),
                                (Ok(rt), Ok(w)) => rt.block_on(self.resolve(sources, &w)),
                            };
                            if let Err(e) = &chart {
                                tracing::warn!(%release, "chart not resolved: {e}");
                            }
                            charts.insert(release, chart);
                        }
                    })
                    .join()
                    .expect("the resolving thread does not panic")
            });
        }
        SourceContext {
            objects: sources
                .iter()
                .map(|(key, s)| (key.clone(), s.object.clone()))
                .collect(),
            charts,
        }
    }

    async fn resolve(&self, sources: &Sources, w: &Wanted) -> Result<Chart, String> {
        let source = sources.get(&w.source).ok_or_else(|| {
            let mut parts = w.source.splitn(3, '/');
            let (kind, ns, name) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            format!("{kind} {ns}/{name} is not defined in the repository")
        })?;
        let what = source.describe();
        if let Fetch::Oci {
            reference: Some(r), ..
        } = &source.fetch
        {
            if r.digest.is_some() {
                return Err(format!(
                    "{what}: spec.ref.digest: k3s's HelmChart installs a chart version, not a digest; \
                     use ref.tag or ref.semver"
                ));
            }
            if let Some(tag) = r.tag.as_ref().filter(|_| r.semver.is_none()) {
                return Ok(Chart {
                    name: w.chart.clone(),
                    version: tag.replace('_', "+"),
                    digest: None,
                    ca: source.ca.clone(),
                });
            }
        }
        // An OCIRepository's range is its `ref.semver`; a HelmRepository's
        // the release's `version`.
        let (range, filter) = match &source.fetch {
            Fetch::Oci {
                reference: Some(r), ..
            } => match &r.semver {
                Some(s) => (Some(s.clone()), r.semver_filter.clone()),
                None => {
                    return Err(format!(
                    "{what}: spec.ref has no tag or semver: k3s's HelmChart needs a chart version"
                ))
                }
            },
            _ => (w.version.clone(), None),
        };
        let listed = self.list(source, &w.chart).await?;
        let filter = filter
            .map(|f| {
                regex::Regex::new(&f).map_err(|e| format!("{what}: spec.ref.semverFilter: {e}"))
            })
            .transpose()?;
        let candidates = listed
            .iter()
            .filter(|l| filter.as_ref().is_none_or(|f| f.is_match(&l.version)));
        let best = pick(candidates, range.as_deref()).map_err(|e| format!("{what}: {e}"))?;
        let Some(best) = best else {
            let newest = pick(listed.iter(), None).ok().flatten();
            return Err(format!(
                "{what}: no version of chart `{}` matches `{}`{}",
                w.chart,
                range.as_deref().unwrap_or("*"),
                match newest {
                    Some(n) => format!(" (newest: {})", n.version),
                    None => format!(" (it lists {} versions, none a release)", listed.len()),
                }
            ));
        };
        Ok(Chart {
            name: w.chart.clone(),
            version: best.version.clone(),
            digest: best.digest.clone(),
            ca: source.ca.clone(),
        })
    }

    /// The versions `source` lists for `chart`, from the cache when fresh.
    /// An index is one download for all its charts (kept whole, so a chart
    /// it lacks is not a reason to download it again).
    async fn list(&self, source: &ChartSource, chart: &str) -> Result<Vec<Listed>, String> {
        let what = source.describe();
        let cache_key = match &source.fetch {
            Fetch::Index { .. } => source.key(),
            Fetch::Oci { .. } => format!("{}#{chart}", source.key()),
        };
        let cached = self
            .cache
            .lock()
            .expect("cache lock")
            .get(&cache_key)
            .filter(|(at, _)| at.elapsed() < source.interval)
            .map(|(_, listing)| Arc::clone(listing));
        let listing = match cached {
            Some(listing) => listing,
            None => {
                let listing = Arc::new(self.fetch(source, chart).await?);
                self.cache
                    .lock()
                    .expect("cache lock")
                    .insert(cache_key, (Instant::now(), Arc::clone(&listing)));
                listing
            }
        };
        listing
            .get(chart)
            .cloned()
            .ok_or_else(|| format!("{what}: the index has no chart `{chart}`"))
    }

    async fn fetch(&self, source: &ChartSource, chart: &str) -> Result<Listing, String> {
        let what = source.describe();
        match &source.fetch {
            Fetch::Index {
                url,
                credentials,
                ca_file,
                timeout,
            } => {
                let index = fetch_index(url, credentials, ca_file.as_ref(), *timeout)
                    .await
                    .map_err(|e| format!("{what}: {e}"))?;
                Ok(index
                    .entries
                    .into_iter()
                    .map(|(name, entries)| {
                        let listed = entries
                            .into_iter()
                            .map(|e| Listed {
                                version: e.version,
                                digest: e
                                    .digest
                                    .filter(|d| !d.is_empty())
                                    .map(|d| format!("sha256:{}", d.trim_start_matches("sha256:"))),
                            })
                            .collect();
                        (name, listed)
                    })
                    .collect())
            }
            Fetch::Oci { registry, path, .. } => {
                let path = if source.kind == "HelmRepository" {
                    format!("{path}/{chart}")
                } else {
                    path.clone()
                };
                let client = RegistryClient::new(registry)
                    .map_err(|e| format!("{what}: {e}"))?
                    .with_retry(Retry::REMOTE);
                let tags = client
                    .list_tags(&path)
                    .await
                    .map_err(|e| format!("{what}: {e}"))?;
                let listed = tags
                    .into_iter()
                    .map(|t| Listed {
                        version: t.replace('_', "+"),
                        digest: None,
                    })
                    .collect();
                Ok(BTreeMap::from([(chart.to_string(), listed)]))
            }
        }
    }
}

/// Whether `object` is a Flux HelmRelease.
pub fn is_helm_release(object: &Value) -> bool {
    object["kind"] == "HelmRelease"
        && object["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("helm.toolkit.fluxcd.io/"))
}

/// A HelmRelease's `namespace/name` (namespace `default` when unset).
pub fn release_key(release: &Value) -> String {
    let field = |p: &str| release.pointer(p).and_then(Value::as_str).unwrap_or("");
    let ns = Some(field("/metadata/namespace"))
        .filter(|n| !n.is_empty())
        .unwrap_or("default");
    format!("{ns}/{}", field("/metadata/name"))
}

/// The name of the chart a HelmRelease installs: `spec.chart.spec.chart`,
/// or the name of the OCIRepository of its `spec.chartRef`.
pub fn chart_name(release: &Value) -> Option<String> {
    release
        .pointer("/spec/chart/spec/chart")
        .or_else(|| release.pointer("/spec/chartRef/name"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The chart a HelmRelease asks for (namespace `ns`).
fn wanted(release: &Value, ns: &str) -> Result<Wanted, String> {
    let source_key = |r: &Value, field: &str| -> Result<String, String> {
        let kind = r["kind"]
            .as_str()
            .ok_or_else(|| format!("{field}.kind is missing"))?;
        let name = r["name"]
            .as_str()
            .ok_or_else(|| format!("{field}.name is missing"))?;
        let namespace = r["namespace"].as_str().unwrap_or(ns);
        Ok(key(kind, namespace, name))
    };
    let spec = &release["spec"];
    if let Some(r) = spec.get("chartRef") {
        if r["kind"] != "OCIRepository" {
            return Err(format!(
                "spec.chartRef.kind `{}`: rekon resolves OCIRepository chart references only",
                r["kind"].as_str().unwrap_or("")
            ));
        }
        let key = source_key(r, "spec.chartRef")?;
        return Ok(Wanted {
            chart: key.rsplit('/').next().unwrap_or("").to_string(),
            source: key,
            version: None,
        });
    }
    let chart = &spec["chart"]["spec"];
    let name = chart["chart"]
        .as_str()
        .ok_or("spec.chart.spec.chart is missing (and there is no spec.chartRef)")?;
    let source = &chart["sourceRef"];
    if source["kind"] != "HelmRepository" {
        return Err(format!(
            "spec.chart.spec.sourceRef.kind `{}`: rekon resolves charts of HelmRepositories only",
            source["kind"].as_str().unwrap_or("")
        ));
    }
    Ok(Wanted {
        source: source_key(source, "spec.chart.spec.sourceRef")?,
        chart: name.to_string(),
        version: chart["version"].as_str().map(str::to_string),
    })
}

/// The best of `listed` under `range` (Flux's rules, see the module docs).
fn pick<'a>(
    listed: impl Iterator<Item = &'a Listed>,
    range: Option<&str>,
) -> Result<Option<&'a Listed>, String> {
    let parse = |v: &str| semver::Version::parse(v.strip_prefix('v').unwrap_or(v)).ok();
    let range = range.map(str::trim).filter(|r| !r.is_empty() && *r != "*");
    let exact = range.and_then(parse);
    let req = match (range, &exact) {
        (Some(r), None) => Some(crate::git::semver_range(r)?),
        _ => None,
    };
    Ok(listed
        .filter_map(|l| parse(&l.version).map(|v| (v, l)))
        .filter(|(v, _)| match (&exact, &req) {
            (Some(e), _) => v == e,
            (None, Some(req)) => req.matches(v),
            (None, None) => v.pre.is_empty(),
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, l)| l))
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    entries: BTreeMap<String, Vec<IndexEntry>>,
}

#[derive(Deserialize)]
struct IndexEntry {
    version: String,
    #[serde(default)]
    digest: Option<String>,
}

/// `GET <url>/index.yaml`, retried on transient failures.
async fn fetch_index(
    url: &str,
    credentials: &Credentials,
    ca_file: Option<&PathBuf>,
    timeout: Duration,
) -> Result<Index, String> {
    let ca = ca_file
        .map(|p| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display())))
        .transpose()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client =
        crate::images::registry::http_client(timeout, ca.as_deref()).map_err(
            |e| match ca_file {
                Some(file) => format!(
                    "the CA of spec.certSecretRef ({}) is not usable: {e}",
                    file.display()
                ),
                None => e,
            },
        )?;
    let index_url = format!("{}/index.yaml", url.trim_end_matches('/'));
    let retry = Retry::REMOTE;
    let mut delay = retry.first_delay;
    let mut attempt = 1;
    loop {
        let mut request = client.get(&index_url);
        match credentials {
            Credentials::Anonymous => {}
            Credentials::Basic { username, password } => {
                let password = password.read().map_err(|e| format!("secret from {e}"))?;
                request = request.basic_auth(username, Some(password));
            }
            Credentials::Token(token) => {
                request =
                    request.bearer_auth(token.read().map_err(|e| format!("secret from {e}"))?);
            }
        }
        let outcome: Result<Index, (bool, String)> = match request.send().await {
            Ok(r) if r.status().is_success() => match r.bytes().await {
                // A body that is not an index is not retried.
                Ok(body) => serde_yaml_ng::from_slice(&body).map_err(|e| {
                    (
                        false,
                        format!("{index_url}: not a Helm repository index: {e}"),
                    )
                }),
                Err(e) => Err((true, format!("GET {index_url}: {e}"))),
            },
            Ok(r) => {
                let status = r.status();
                let transient = status.is_server_error() || status.as_u16() == 429;
                Err((transient, format!("GET {index_url}: {status}")))
            }
            Err(e) => Err((
                e.is_timeout() || e.is_connect(),
                format!("GET {index_url}: {}", error_chain(&e)),
            )),
        };
        let (transient, message) = match outcome {
            Ok(index) => return Ok(index),
            Err(e) => e,
        };
        if !transient || attempt >= retry.attempts {
            return Err(message);
        }
        tokio::time::sleep(delay).await;
        delay = retry.next_delay(delay);
        attempt += 1;
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text += &format!(": {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(versions: &[&str]) -> Vec<Listed> {
        versions
            .iter()
            .map(|v| Listed {
                version: v.to_string(),
                digest: None,
            })
            .collect()
    }

    fn best(versions: &[&str], range: Option<&str>) -> Option<String> {
        let l = listed(versions);
        pick(l.iter(), range).unwrap().map(|l| l.version.clone())
    }

    #[test]
    fn versions_are_picked_as_flux_picks_them() {
        let v = [
            "6.4.0",
            "6.5.4",
            "6.5.10",
            "7.0.0-rc.1",
            "v5.2.1",
            "not-a-version",
        ];
        // No version, or `*`: the newest release (pre-releases left out).
        assert_eq!(best(&v, None).as_deref(), Some("6.5.10"));
        assert_eq!(best(&v, Some("*")).as_deref(), Some("6.5.10"));
        // An exact version is that version only (Masterminds, not Cargo's caret).
        assert_eq!(best(&v, Some("6.4.0")).as_deref(), Some("6.4.0"));
        assert_eq!(best(&v, Some("5.2.1")).as_deref(), Some("v5.2.1"));
        assert_eq!(best(&v, Some("6.4.1")), None);
        // Ranges as Flux writes them.
        assert_eq!(best(&v, Some(">=6.0.0 <6.5.0")).as_deref(), Some("6.4.0"));
        assert_eq!(best(&v, Some("6.5.x")).as_deref(), Some("6.5.10"));
        assert_eq!(best(&v, Some("~6.5")).as_deref(), Some("6.5.10"));
        assert_eq!(best(&v, Some("^5")).as_deref(), Some("v5.2.1"));
        // A pre-release only when the range names one.
        assert_eq!(best(&v, Some(">=7.0.0-0")).as_deref(), Some("7.0.0-rc.1"));
        assert!(pick(listed(&v).iter(), Some("1.x || 2.x")).is_err());
    }

    #[test]
    fn an_oci_repository_tag_needs_no_listing_and_no_tag_is_refused() {
        let source = |reference: OciReference| ChartSource {
            kind: "OCIRepository".into(),
            namespace: "apps".into(),
            name: "podinfo".into(),
            object: Value::Null,
            // Nothing listens there: a listing would fail differently.
            fetch: Fetch::Oci {
                registry: RegistryConfig::anonymous("127.0.0.1:1"),
                path: "charts/podinfo".into(),
                reference: Some(reference),
            },
            ca: None,
            interval: Duration::from_secs(600),
        };
        let release = serde_json::json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": "apps"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "podinfo"}}
        });
        let resolve = |reference| {
            let s = source(reference);
            let sources = Arc::new(Sources::from([(s.key(), s)]));
            Resolver::new()
                .context(&sources, &[&release])
                .helm_chart("apps", "podinfo")
                .map(|c| c.version)
        };
        let tagged = OciReference {
            tag: Some("6.5.4_build.1".into()),
            ..OciReference::default()
        };
        assert_eq!(resolve(tagged).as_deref(), Ok("6.5.4+build.1"));
        assert_eq!(
            resolve(OciReference::default()).unwrap_err(),
            "OCIRepository apps/podinfo (oci://127.0.0.1:1/charts/podinfo): spec.ref has no tag or \
             semver: k3s's HelmChart needs a chart version"
        );
    }

    #[test]
    fn a_release_names_its_chart_and_source() {
        let release: Value = serde_json::json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "podinfo", "namespace": "apps"},
            "spec": {"chart": {"spec": {"chart": "podinfo", "version": "6.5.x",
                "sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux-system"}}}}
        });
        assert!(is_helm_release(&release));
        let w = wanted(&release, "apps").unwrap();
        assert_eq!(w.source, "HelmRepository/flux-system/podinfo");
        assert_eq!(
            (w.chart.as_str(), w.version.as_deref()),
            ("podinfo", Some("6.5.x"))
        );
        let by_ref: Value =
            serde_json::json!({"spec": {"chartRef": {"kind": "OCIRepository", "name": "podinfo"}}});
        assert_eq!(
            wanted(&by_ref, "apps").unwrap().source,
            "OCIRepository/apps/podinfo"
        );
        let git: Value = serde_json::json!({"spec": {"chart": {"spec": {"chart": "./charts/x",
            "sourceRef": {"kind": "GitRepository", "name": "repo"}}}}});
        assert_eq!(
            wanted(&git, "apps").err().unwrap(),
            "spec.chart.spec.sourceRef.kind `GitRepository`: rekon resolves charts of HelmRepositories only"
        );
    }
}

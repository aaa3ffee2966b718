//! Plugins stored in an OCI registry, next to the images.
//!
//! The artifact is laid out as the CNCF TAG Runtime's "Wasm OCI Artifact"
//! layout that wkg (wasm-pkg-tools) and oci-wasm write, so other tools read
//! rekon's plugins and rekon reads theirs: an image manifest whose config
//! has the media type `application/vnd.wasm.config.v0+json` (architecture
//! `wasm`, os `wasip2`, the layer digests and the component's exports and
//! imports) and exactly one layer, `application/wasm`, holding the
//! component's bytes.
//!
//! `rekon.toml` names such a plugin as `path = "oci://REGISTRY/REPO:TAG"` or
//! `"oci://REGISTRY/REPO@sha256:…"`. [`resolve`] turns that into a local
//! file: pulled into `CACHE/oci/` (content-addressed by the layer digest,
//! written atomically), checked against the manifest digest (when the
//! reference pins one), the layer digest (always) and the plugin's
//! `sha256` pin (against the wasm bytes), then loaded like any file. When
//! the registry cannot be reached, a tag reference uses the copy pulled
//! last for it and says so (a warning); a digest reference whose copy is
//! on disk never needs the registry.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use oci_client::errors::{DigestError, OciDistributionError};
use oci_client::{Reference, RegistryOperation};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::{Credentials, PluginConfig, RegistryConfig, Secret};
use crate::images::registry::{ErrorKind, RegistryClient, RegistryError};

/// The config media type of a Wasm OCI artifact.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of its one layer.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The manifest media type (a plain OCI image manifest).
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The scheme of a plugin `path` naming an artifact.
pub const SCHEME: &str = "oci://";

/// The variables holding registry credentials when no `[registries.NAME]`
/// table matches the host.
pub const USERNAME_ENV: &str = "REKON_REGISTRY_USERNAME";
/// See [`USERNAME_ENV`].
pub const PASSWORD_ENV: &str = "REKON_REGISTRY_PASSWORD";

/// What went wrong with a plugin artifact; every variant names the reference.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The reference is not `REGISTRY/REPO:TAG` or `REGISTRY/REPO@sha256:HEX`.
    #[error("`{reference}` is not an OCI reference: {message} (write oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:HEX)")]
    Reference {
        /// What was given.
        reference: String,
        /// Why it does not parse.
        message: String,
    },
    /// A registry request failed.
    #[error("{reference}: {error}")]
    Registry {
        /// The artifact.
        reference: String,
        /// The failure, naming the registry (boxed: it is large).
        error: Box<RegistryError>,
    },
    /// The artifact is not a Wasm OCI artifact.
    #[error("{reference}: not a Wasm plugin artifact: {message}")]
    NotWasm {
        /// The artifact.
        reference: String,
        /// What does not fit the layout.
        message: String,
    },
    /// A digest did not match: the bytes are not the ones named.
    #[error("plugin `{plugin}` ({reference}): {what} digest mismatch: expected {expected}, got {actual}; refusing to use it")]
    DigestMismatch {
        /// The plugin's name in the configuration (or the reference).
        plugin: String,
        /// The artifact.
        reference: String,
        /// Which digest: `manifest`, `layer` or `sha256 pin`.
        what: &'static str,
        /// The digest named.
        expected: String,
        /// The digest of the bytes.
        actual: String,
    },
    /// The registry could not be read and no earlier copy is on disk.
    // `error` names the reference already.
    #[error("plugin `{plugin}`: {error} (and no earlier pulled copy is in {})", cache.display())]
    Unavailable {
        /// The plugin's name in the configuration.
        plugin: String,
        /// The artifact.
        reference: String,
        /// Where copies are kept.
        cache: PathBuf,
        /// Why the registry could not be read.
        error: Box<OciError>,
    },
    /// No directory to keep pulled plugins in.
    #[error("plugin `{plugin}` ({reference}): no cache directory to pull it into (set cache-dir in the config, or $REKON_CACHE_DIR)")]
    NoCache {
        /// The plugin's name.
        plugin: String,
        /// The artifact.
        reference: String,
    },
    /// The thread resolving for blocking callers could not start its runtime.
    #[error("cannot start the async runtime to pull plugins: {0}")]
    Runtime(std::io::Error),
    /// A file of the cache could not be read or written.
    #[error("plugin cache {}: {error}", path.display())]
    Cache {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// `REGISTRY/REPO:TAG` or `REGISTRY/REPO@sha256:HEX` (optionally with the
/// `oci://` scheme in front).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactRef {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path, e.g. `rekon/flux-policy`.
    pub repository: String,
    /// The tag, when named by tag.
    pub tag: Option<String>,
    /// The manifest digest `sha256:HEX`, when pinned.
    pub digest: Option<String>,
}

impl FromStr for ArtifactRef {
    type Err = OciError;

    fn from_str(text: &str) -> Result<ArtifactRef, OciError> {
        let bad = |message: &str| OciError::Reference {
            reference: text.to_string(),
            message: message.to_string(),
        };
        let rest = text.strip_prefix(SCHEME).unwrap_or(text);
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("no registry host before the repository"))?;
        if !is_host_port(registry) {
            return Err(bad("the registry must be host[:port]"));
        }
        let (name, digest) = match path.split_once('@') {
            Some((name, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("only sha256 digests are supported"))?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    return Err(bad("a sha256 digest is 64 lowercase hex digits"));
                }
                (name, Some(digest.to_string()))
            }
            None => (path, None),
        };
        // A tag follows the last `:` after the last `/`.
        let (repository, tag) = match name.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag.to_string())),
            _ => (name, None),
        };
        if tag.is_none() && digest.is_none() {
            return Err(bad("name a tag (:TAG) or a digest (@sha256:HEX)"));
        }
        if tag.is_some() && digest.is_some() {
            return Err(bad("name a tag or a digest, not both"));
        }
        let valid_repo = !repository.is_empty()
            && repository.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !valid_repo {
            return Err(bad(
                "the repository is lowercase letters, digits, `._-` and `/`",
            ));
        }
        if let Some(tag) = &tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !valid {
                return Err(bad("a tag is up to 128 letters, digits, `._-`"));
            }
        }
        Ok(ArtifactRef {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }
}

/// `host` or `host:port`, without a user part.
fn is_host_port(text: &str) -> bool {
    let host = match text.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        Some(_) => return false,
        None => text,
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-".contains(&b))
}

impl fmt::Display for ArtifactRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match (&self.tag, &self.digest) {
            (_, Some(digest)) => write!(f, "@{digest}"),
            (Some(tag), None) => write!(f, ":{tag}"),
            (None, None) => Ok(()),
        }
    }
}

impl ArtifactRef {
    /// The reference in a plugin's `path`, when it names an artifact.
    pub fn of_plugin(config: &PluginConfig) -> Option<Result<ArtifactRef, OciError>> {
        let text = config.path.to_str()?;
        text.starts_with(SCHEME).then(|| text.parse())
    }

    fn oci_reference(&self) -> Reference {
        match (&self.tag, &self.digest) {
            (_, Some(digest)) => Reference::with_digest(
                self.registry.clone(),
                self.repository.clone(),
                digest.clone(),
            ),
            (tag, None) => Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                tag.clone().unwrap_or_default(),
            ),
        }
    }
}

/// The registry settings for `host`: the `[registries.NAME]` table with
/// that url, else anonymous HTTPS, with basic credentials from
/// [`USERNAME_ENV`]/[`PASSWORD_ENV`] when those are set.
pub fn registry_for(host: &str, registries: &BTreeMap<String, RegistryConfig>) -> RegistryConfig {
    if let Some(config) = registries.values().find(|r| r.url == host) {
        return config.clone();
    }
    let mut config = RegistryConfig::anonymous(host);
    if let Ok(username) = std::env::var(USERNAME_ENV) {
        config.credentials = Credentials::Basic {
            username,
            password: Secret::Env(PASSWORD_ENV.to_string()),
        };
    }
    config
}

/// What a component offers, recorded in the artifact's config.
#[derive(Debug, Clone, Default)]
pub struct ComponentInfo {
    /// Its exported interfaces, e.g. `rekon:plugin/plugin@0.1.0`.
    pub exports: Vec<String>,
    /// Its imports.
    pub imports: Vec<String>,
}

/// An artifact read from a registry.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The manifest's digest, `sha256:HEX`.
    pub manifest_digest: String,
    /// The layer's digest (checked against the bytes).
    pub layer_digest: String,
    /// The component.
    pub wasm: Vec<u8>,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The registry calls about one artifact: its client, and what errors name.
struct Session<'a> {
    client: RegistryClient,
    reference: &'a ArtifactRef,
    config: &'a RegistryConfig,
    /// The plugin's name in digest mismatches.
    plugin: &'a str,
}

impl<'a> Session<'a> {
    fn open(
        reference: &'a ArtifactRef,
        config: &'a RegistryConfig,
        plugin: &'a str,
    ) -> Result<Session<'a>, OciError> {
        let client = RegistryClient::new(config).map_err(|source| OciError::Registry {
            reference: reference.to_string(),
            error: Box::new(source),
        })?;
        Ok(Session {
            client,
            reference,
            config,
            plugin,
        })
    }

    fn mismatch(&self, what: &'static str, expected: String, actual: String) -> OciError {
        OciError::DigestMismatch {
            plugin: self.plugin.to_string(),
            reference: self.reference.to_string(),
            what,
            expected,
            actual,
        }
    }

    /// Run `call` (doing `what`) within the registry's timeout; a digest
    /// oci-client found wrong is a mismatch of the `checked` digest
    /// (`manifest`, `config` or `layer`).
    async fn call<T>(
        &self,
        what: &str,
        checked: &'static str,
        call: impl std::future::Future<Output = Result<T, OciDistributionError>>,
    ) -> Result<T, OciError> {
        let kind = match tokio::time::timeout(self.client.timeout(), call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(OciDistributionError::DigestError(DigestError::VerificationError {
                expected,
                actual,
            }))) => return Err(self.mismatch(checked, expected, actual)),
            Ok(Err(e)) => ErrorKind::from_oci(e),
            Err(_) => ErrorKind::Timeout(self.client.timeout()),
        };
        Err(OciError::Registry {
            reference: self.reference.to_string(),
            error: Box::new(RegistryError {
                registry: self.config.name.clone(),
                url: self.config.url.clone(),
                what: what.to_string(),
                kind,
            }),
        })
    }
}

/// Push `wasm` as a Wasm OCI artifact to `reference` (a tag); the manifest
/// digest.
pub async fn push(
    reference: &ArtifactRef,
    config: &RegistryConfig,
    wasm: &[u8],
    info: &ComponentInfo,
    title: &str,
) -> Result<String, OciError> {
    let name = reference.to_string();
    let session = Session::open(reference, config, &name)?;
    let (oci, auth) = session.client.oci_parts();
    let target = reference.oci_reference();
    let layer_digest = sha256(wasm);
    let wasm_config = serde_json::to_vec(&json!({
        "created": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
        "component": { "exports": info.exports, "imports": info.imports },
    }))
    .expect("JSON of plain values");
    let config_digest = sha256(&wasm_config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": { "mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": wasm_config.len() },
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": layer_digest,
            "size": wasm.len(),
            "annotations": { "org.opencontainers.image.title": title },
        }],
    }))
    .expect("JSON of plain values");
    session
        .call(
            "authenticating for push",
            "layer",
            oci.auth(&target, auth, RegistryOperation::Push),
        )
        .await?;
    session
        .call(
            "pushing the component",
            "layer",
            oci.push_blob(&target, wasm.to_vec(), &layer_digest),
        )
        .await?;
    session
        .call(
            "pushing the config",
            "config",
            oci.push_blob(&target, wasm_config, &config_digest),
        )
        .await?;
    let content_type = reqwest::header::HeaderValue::from_static(MANIFEST_MEDIA_TYPE);
    session
        .call(
            "pushing the manifest",
            "manifest",
            oci.push_manifest_raw(&target, manifest.clone(), content_type),
        )
        .await?;
    Ok(sha256(&manifest))
}

/// Pull the artifact at `reference`, checking that it is a Wasm OCI
/// artifact, that the manifest has the digest the reference pins (if it
/// does) and that the layer has its digest. `plugin` names it in errors.
pub async fn pull(
    reference: &ArtifactRef,
    config: &RegistryConfig,
    plugin: &str,
) -> Result<Pulled, OciError> {
    let session = Session::open(reference, config, plugin)?;
    let (oci, auth) = session.client.oci_parts();
    let target = reference.oci_reference();
    let (manifest, _) = session
        .call(
            "reading the manifest",
            "manifest",
            oci.pull_manifest_raw(&target, auth, &[MANIFEST_MEDIA_TYPE]),
        )
        .await?;
    let manifest_digest = sha256(&manifest);
    if let Some(pinned) = &reference.digest {
        if *pinned != manifest_digest {
            return Err(session.mismatch("manifest", pinned.clone(), manifest_digest));
        }
    }
    let not_wasm = |message: String| OciError::NotWasm {
        reference: reference.to_string(),
        message,
    };
    let parsed: Value = serde_json::from_slice(&manifest)
        .map_err(|e| not_wasm(format!("manifest is not JSON: {e}")))?;
    let config_type = parsed
        .pointer("/config/mediaType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if config_type != CONFIG_MEDIA_TYPE {
        return Err(not_wasm(format!(
            "config media type `{config_type}`, expected `{CONFIG_MEDIA_TYPE}`"
        )));
    }
    let layers = parsed
        .get("layers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let [layer] = &layers[..] else {
        return Err(not_wasm(format!(
            "{} layers, expected one `{LAYER_MEDIA_TYPE}` layer",
            layers.len()
        )));
    };
    let layer_type = layer.get("mediaType").and_then(Value::as_str).unwrap_or("");
    if layer_type != LAYER_MEDIA_TYPE {
        return Err(not_wasm(format!(
            "layer media type `{layer_type}`, expected `{LAYER_MEDIA_TYPE}`"
        )));
    }
    let layer_digest = layer
        .get("digest")
        .and_then(Value::as_str)
        .filter(|d| d.starts_with("sha256:"))
        .ok_or_else(|| not_wasm("the layer has no sha256 digest".into()))?
        .to_string();
    // oci-client checks the digest while streaming; the check here does not
    // depend on that.
    let mut wasm = Vec::new();
    session
        .call("reading the component", "layer", async {
            oci.store_auth_if_needed(target.resolve_registry(), auth)
                .await;
            oci.pull_blob(&target, layer_digest.as_str(), &mut wasm)
                .await
        })
        .await?;
    let actual = sha256(&wasm);
    if actual != layer_digest {
        return Err(session.mismatch("layer", layer_digest, actual));
    }
    Ok(Pulled {
        manifest_digest,
        layer_digest,
        wasm,
    })
}

/// The local file of a configured plugin: its `path` as is for a file; for
/// an `oci://` reference, the verified copy in `cache_dir/oci` (pulled now
/// unless the reference is a digest already on disk; the last pulled copy
/// when the registry cannot be reached and the reference is a tag).
pub async fn resolve(
    name: &str,
    config: &PluginConfig,
    registries: &BTreeMap<String, RegistryConfig>,
    cache_dir: Option<&Path>,
) -> Result<PathBuf, OciError> {
    let reference = match ArtifactRef::of_plugin(config) {
        None => return Ok(config.path.clone()),
        Some(parsed) => parsed?,
    };
    let Some(cache_dir) = cache_dir else {
        return Err(OciError::NoCache {
            plugin: name.to_string(),
            reference: reference.to_string(),
        });
    };
    let dir = cache_dir.join("oci");
    let pin = config.sha256.as_ref().map(|p| {
        format!(
            "sha256:{}",
            p.trim_start_matches("sha256:").to_ascii_lowercase()
        )
    });
    // A digest names immutable bytes: a copy on disk needs no registry.
    if reference.digest.is_some() {
        if let Some(path) = cached(&dir, &reference, name, pin.as_deref())? {
            return Ok(path);
        }
    }
    let registry = registry_for(&reference.registry, registries);
    match pull(&reference, &registry, name).await {
        Ok(pulled) => {
            if let Some(pin) = &pin {
                if *pin != pulled.layer_digest {
                    return Err(OciError::DigestMismatch {
                        plugin: name.to_string(),
                        reference: reference.to_string(),
                        what: "sha256 pin",
                        expected: pin.clone(),
                        actual: pulled.layer_digest,
                    });
                }
            }
            let path = blob_path(&dir, &pulled.layer_digest);
            if !path.exists() {
                write(&path, &pulled.wasm)?;
            }
            write(&ref_path(&dir, &reference), pulled.layer_digest.as_bytes())?;
            tracing::debug!(plugin = name, %reference, manifest = %pulled.manifest_digest, "plugin pulled");
            Ok(path)
        }
        // Only an outage falls back; a wrong digest or artifact never does.
        Err(OciError::Registry { error: failure, .. }) if failure.kind.is_transient() => {
            let error = OciError::Registry {
                reference: reference.to_string(),
                error: failure,
            };
            match cached(&dir, &reference, name, pin.as_deref())? {
                Some(path) => {
                    tracing::warn!(
                        "plugin `{name}`: {error}; using the copy pulled earlier ({})",
                        path.display()
                    );
                    Ok(path)
                }
                None => Err(OciError::Unavailable {
                    plugin: name.to_string(),
                    reference: reference.to_string(),
                    cache: dir,
                    error: Box::new(error),
                }),
            }
        }
        Err(e) => Err(e),
    }
}

/// [`resolve`] for code without an async runtime (the CLI's plugin loads):
/// runs it on a thread of its own, so it also works when called from
/// inside a runtime.
pub fn resolve_blocking(
    name: &str,
    config: &PluginConfig,
    registries: &BTreeMap<String, RegistryConfig>,
    cache_dir: Option<&Path>,
) -> Result<PathBuf, OciError> {
    if ArtifactRef::of_plugin(config).is_none() {
        return Ok(config.path.clone());
    }
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(OciError::Runtime)?
                    .block_on(resolve(name, config, registries, cache_dir))
            })
            .join()
            .expect("the resolving thread does not panic")
    })
}

fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join(format!("{}.wasm", digest.replace(':', "-")))
}

/// The file recording which layer a reference named when last pulled.
fn ref_path(dir: &Path, reference: &ArtifactRef) -> PathBuf {
    dir.join("refs").join(hex::encode(
        &Sha256::digest(reference.to_string().as_bytes())[..16],
    ))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), OciError> {
    super::write_atomically(path, bytes).map_err(|e| OciError::Cache {
        path: path.to_path_buf(),
        error: match e {
            super::PluginError::Cache { error, .. } => error,
            other => std::io::Error::other(other.to_string()),
        },
    })
}

/// The copy last pulled for `reference`, re-checked against its digest and
/// the pin; `None` when there is none.
fn cached(
    dir: &Path,
    reference: &ArtifactRef,
    plugin: &str,
    pin: Option<&str>,
) -> Result<Option<PathBuf>, OciError> {
    let record = ref_path(dir, reference);
    let digest = match std::fs::read_to_string(&record) {
        Ok(d) => d.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(OciError::Cache {
                path: record,
                error: source,
            })
        }
    };
    let path = blob_path(dir, &digest);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(OciError::Cache {
                path,
                error: source,
            })
        }
    };
    let actual = sha256(&bytes);
    for (what, expected) in [("layer", Some(digest.as_str())), ("sha256 pin", pin)] {
        if let Some(expected) = expected {
            if actual != expected {
                return Err(OciError::DigestMismatch {
                    plugin: plugin.to_string(),
                    reference: reference.to_string(),
                    what,
                    expected: expected.to_string(),
                    actual,
                });
            }
        }
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_parse_and_print() {
        let r: ArtifactRef = "oci://127.0.0.1:5000/rekon/flux-policy:1.2.0"
            .parse()
            .unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "rekon/flux-policy");
        assert_eq!(r.tag.as_deref(), Some("1.2.0"));
        assert_eq!(r.to_string(), "127.0.0.1:5000/rekon/flux-policy:1.2.0");
        let r: ArtifactRef = format!("harbor.lan/p/x@sha256:{HEX}").parse().unwrap();
        assert_eq!(r.digest, Some(format!("sha256:{HEX}")));
        assert_eq!(r.tag, None);
        for bad in [
            "oci://harbor.lan/x",
            "oci://x:1",
            "oci://harbor.lan/X:1",
            "oci://harbor.lan/x@sha256:abc",
            "oci://harbor.lan/x@md5:abc",
            "oci://harbor.lan/x:a/b",
            "oci://user@harbor.lan/x:1",
        ] {
            let err = bad.parse::<ArtifactRef>().unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("`{bad}` is not an OCI reference")),
                "{err}"
            );
        }
    }

    #[test]
    fn the_config_keeps_oci_paths_and_refuses_bad_ones_by_line() {
        let parse = |path: &str| {
            crate::config::Config::parse(
                &format!("[plugins.p]\npath = \"{path}\"\n"),
                Path::new("/r/rekon.toml"),
            )
        };
        let config = parse("oci://harbor.lan/rekon/p:1").unwrap();
        let plugin = &config.plugins["p"];
        assert_eq!(plugin.path, PathBuf::from("oci://harbor.lan/rekon/p:1"));
        let reference = ArtifactRef::of_plugin(plugin).unwrap().unwrap();
        assert_eq!(reference.tag.as_deref(), Some("1"));
        let err = parse("oci://harbor.lan/rekon/p").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "/r/rekon.toml:1: plugins.p: `oci://harbor.lan/rekon/p` is not an OCI reference"
            ),
            "{err}"
        );
        // A file path is not a reference.
        let config = parse("p.wasm").unwrap();
        assert!(ArtifactRef::of_plugin(&config.plugins["p"]).is_none());
    }

    #[test]
    fn a_cached_copy_is_checked_against_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let r: ArtifactRef = "h/r:1".parse().unwrap();
        assert!(cached(dir.path(), &r, "p", None).unwrap().is_none());
        let digest = sha256(b"wasm");
        write(&blob_path(dir.path(), &digest), b"wasm").unwrap();
        write(&ref_path(dir.path(), &r), digest.as_bytes()).unwrap();
        assert!(cached(dir.path(), &r, "p", None).unwrap().is_some());
        assert!(cached(dir.path(), &r, "p", Some(&digest))
            .unwrap()
            .is_some());
        let err = cached(dir.path(), &r, "p", Some(&sha256(b"other")))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("plugin `p` (h/r:1): sha256 pin digest mismatch"),
            "{err}"
        );
        // A copy changed on disk is refused.
        std::fs::write(blob_path(dir.path(), &digest), b"tampered").unwrap();
        let err = cached(dir.path(), &r, "p", None).unwrap_err().to_string();
        assert!(err.contains("layer digest mismatch"), "{err}");
    }
}

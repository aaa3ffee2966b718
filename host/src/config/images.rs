//! `[registries.NAME]` and `[images."NS:NAME"]`: where image automation finds
//! tags and how it ranks them.
//!
//! ```toml
//! [registries.harbor]
//! url = "harbor.lan"                  # host[:port], no scheme
//! insecure = false                    # true: plain HTTP (a local registry)
//! ca-file = "certs/harbor-ca.pem"     # extra CA to trust, relative to this file
//! username = "robot$website+rekon"    # Harbor robot account ...
//! password-env = "HARBOR_PASSWORD"    # ... its secret from the environment or a file
//! # password-file = "/run/secrets/harbor"; or token-env / token-file for a bearer token
//! timeout = "30s"                     # per request (default 30s)
//! page-size = 1000                    # tags per tags/list page (default 1000)
//!
//! [images."flux-system:frontend"]     # the policy named in the YAML markers
//! repository = "harbor.lan/website/frontend"
//! registry = "harbor"                 # optional: default, anonymous HTTPS to the repository's host
//! policy = "flux-policy"              # an image-policy plugin from [plugins] (default flux-policy)
//! settings = { … }                    # the plugin's settings for this image (default: the plugin's)
//! platform = "linux/arm64"            # optional: skip tags without this platform
//! exclude = ['^.*\.sig$']             # regexes of tags never considered (this is the default)
//! interval = "5m"                     # `rekon run` scans this often (a webhook scans at once)
//! digest-reflection = "Never"         # or "IfNotPresent" / "Always": write `name:tag@digest`
//! # suspend = true                    # `rekon run` leaves it alone
//! ```
//!
//! Images are keyed by the policy name of the `$imagepolicy` markers, so the
//! table that ranks an image is found by the same string the manifests carry.
//! Secrets are never inline: only the names of variables or files holding
//! them, read when a scan starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{to_json, ConfigError, PluginConfig};
use crate::images::platform::Platform;

/// The default exclusion list: cosign signature tags.
pub const DEFAULT_EXCLUDE: &str = r"^.*\.sig$";

/// One `[registries.NAME]` table.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Its name in the configuration (used in every message).
    pub name: String,
    /// `host[:port]`, e.g. `harbor.lan` or `127.0.0.1:5000`.
    pub url: String,
    /// Plain HTTP instead of HTTPS.
    pub insecure: bool,
    /// An extra CA certificate (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// How to authenticate.
    pub credentials: Credentials,
    /// Bound on each request.
    pub timeout: Duration,
    /// Tags asked for per `tags/list` page.
    pub page_size: usize,
}

impl RegistryConfig {
    /// Anonymous HTTPS to `host`: used for images naming no registry.
    pub fn anonymous(host: &str) -> RegistryConfig {
        RegistryConfig {
            name: host.to_string(),
            url: host.to_string(),
            insecure: false,
            ca_file: None,
            credentials: Credentials::Anonymous,
            timeout: Duration::from_secs(30),
            page_size: 1000,
        }
    }
}

/// How rekon authenticates to a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials (public registries, a local `docker-registry`).
    Anonymous,
    /// HTTP basic, exchanged for a token where the registry asks (Harbor robot accounts).
    Basic {
        /// The user name.
        username: String,
        /// Where the password is.
        password: Secret,
    },
    /// A bearer token sent as is.
    Token(Secret),
}

/// Where a secret (a password, a token) is read from when it is needed.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// An environment variable.
    Env(String),
    /// A file (trailing newline removed).
    File(PathBuf),
    /// A value read from a Kubernetes Secret a Flux object names (never
    /// from `rekon.toml`); `Debug` does not show it.
    Value {
        /// `namespace/name[key]` of the Secret, for messages.
        from: String,
        /// The value.
        value: String,
    },
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Env(var) => f.debug_tuple("Env").field(var).finish(),
            Secret::File(path) => f.debug_tuple("File").field(path).finish(),
            Secret::Value { from, .. } => f
                .debug_struct("Value")
                .field("from", from)
                .finish_non_exhaustive(),
        }
    }
}

impl Secret {
    /// Read it now (each use, so a rotated secret is picked up without a
    /// restart). A file's trailing newline is removed. The error names the
    /// variable or file, never the value.
    pub fn read(&self) -> Result<String, String> {
        match self {
            Secret::Env(var) => std::env::var(var).map_err(|e| format!("${var}: {e}")),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| format!("{}: {e}", path.display())),
            Secret::Value { value, .. } => Ok(value.clone()),
        }
    }
}

/// One `[images."NS:NAME"]` table.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// The policy name of the markers, `NS:NAME`.
    pub policy_name: String,
    /// The repository, `host[:port]/path`.
    pub repository: String,
    /// The registry it is read from.
    pub registry: RegistryConfig,
    /// The image-policy plugin's name under `[plugins]`.
    pub policy: String,
    /// The plugin's settings for this image.
    pub settings: serde_json::Value,
    /// A platform every chosen tag must offer.
    pub platform: Option<Platform>,
    /// Tags matching any of these are never considered.
    pub exclude: Vec<regex::Regex>,
    /// How often `rekon run` scans (default 5m; a webhook scans at once).
    pub interval: Duration,
    /// `rekon run` does not scan it (its markers keep their value).
    pub suspend: bool,
    /// Whether the chosen tag's manifest digest is looked up and written.
    pub digest_reflection: DigestReflection,
}

/// When a scan looks up the digest of the chosen tag: Flux's
/// `ImagePolicy.spec.digestReflectionPolicy`, same names and meaning.
///
/// With a digest, full-image markers get `name:tag@digest` and `:digest`
/// markers the digest; without one (`Never`), a `:digest` marker is an error
/// and full-image markers get `name:tag`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum DigestReflection {
    /// No digest (the default).
    #[default]
    Never,
    /// Look it up when the chosen tag changes; keep the one recorded for the
    /// same tag otherwise (a tag pushed again keeps its old digest).
    IfNotPresent,
    /// Look it up on every scan, so a tag pushed again moves to the new image.
    Always,
}

impl ImageConfig {
    /// The repository's path inside its registry (`website/frontend`).
    pub fn path(&self) -> &str {
        self.repository
            .split_once('/')
            .map_or(self.repository.as_str(), |(_, path)| path)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRegistry {
    url: String,
    #[serde(default)]
    insecure: bool,
    ca_file: Option<PathBuf>,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    timeout: Option<String>,
    page_size: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawImage {
    repository: String,
    registry: Option<String>,
    policy: Option<String>,
    settings: Option<toml::Value>,
    platform: Option<String>,
    exclude: Option<Vec<String>>,
    interval: Option<String>,
    #[serde(default)]
    suspend: bool,
    #[serde(default)]
    digest_reflection: DigestReflection,
}

/// Where these tables are checked: the file, its text (for lines) and the
/// directory relative paths start from.
pub(super) struct Context<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub base: &'a Path,
}

impl Context<'_> {
    pub(super) fn invalid(&self, span: &std::ops::Range<usize>, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: self.text[..span.start.min(self.text.len())]
                .matches('\n')
                .count()
                + 1,
            message,
        }
    }
}

pub(super) fn registries(
    cx: &Context<'_>,
    raw: BTreeMap<String, Spanned<RawRegistry>>,
) -> Result<BTreeMap<String, RegistryConfig>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, spanned) in raw {
        let span = spanned.span();
        let r = spanned.into_inner();
        let bad = |m: String| cx.invalid(&span, format!("registries.{name}: {m}"));
        if r.url.contains("://") || r.url.contains('/') || r.url.is_empty() {
            return Err(bad(format!(
                "url `{}`: write host[:port] only (e.g. `harbor.lan` or `127.0.0.1:5000`); \
                 `insecure = true` selects plain HTTP",
                r.url
            )));
        }
        let secret = |env: Option<String>, file: Option<PathBuf>, what: &str| match (env, file) {
            (Some(_), Some(_)) => Err(bad(format!("give {what}-env or {what}-file, not both"))),
            (Some(v), None) => Ok(Some(Secret::Env(v))),
            (None, Some(f)) => Ok(Some(Secret::File(cx.base.join(f)))),
            (None, None) => Ok(None),
        };
        let password = secret(r.password_env, r.password_file, "password")?;
        let token = secret(r.token_env, r.token_file, "token")?;
        let credentials = match (r.username, password, token) {
            (None, None, None) => Credentials::Anonymous,
            (Some(username), Some(password), None) => Credentials::Basic { username, password },
            (None, None, Some(token)) => Credentials::Token(token),
            (Some(_), None, None) => {
                return Err(bad(
                    "username needs password-env or password-file (secrets are never inline)"
                        .into(),
                ))
            }
            (None, Some(_), None) => {
                return Err(bad("password-env/password-file needs a username".into()))
            }
            _ => {
                return Err(bad(
                    "give either username with a password, or a token, not both".into(),
                ))
            }
        };
        let timeout = match &r.timeout {
            None => Duration::from_secs(30),
            Some(t) => humantime::parse_duration(t)
                .map_err(|e| bad(format!("timeout `{t}`: {e} (write e.g. \"30s\")")))?,
        };
        let page_size = r.page_size.unwrap_or(1000);
        if page_size == 0 {
            return Err(bad("page-size must be at least 1".into()));
        }
        out.insert(
            name.clone(),
            RegistryConfig {
                name,
                url: r.url,
                insecure: r.insecure,
                ca_file: r.ca_file.map(|f| cx.base.join(f)),
                credentials,
                timeout,
                page_size,
            },
        );
    }
    Ok(out)
}

pub(super) fn images(
    cx: &Context<'_>,
    raw: BTreeMap<String, Spanned<RawImage>>,
    registries: &BTreeMap<String, RegistryConfig>,
    plugins: &BTreeMap<String, PluginConfig>,
) -> Result<BTreeMap<String, ImageConfig>, ConfigError> {
    let mut out = BTreeMap::new();
    for (key, spanned) in raw {
        let span = spanned.span();
        let i = spanned.into_inner();
        let bad = |m: String| cx.invalid(&span, format!("images.\"{key}\": {m}"));
        match key.split(':').collect::<Vec<_>>()[..] {
            [ns, name] if !ns.is_empty() && !name.is_empty() => {}
            _ => {
                return Err(bad(
                    "the key must be the markers' policy name NAMESPACE:NAME, \
                     e.g. [images.\"flux-system:frontend\"]"
                        .into(),
                ))
            }
        }
        let Some((host, path)) = i.repository.split_once('/') else {
            return Err(bad(format!(
                "repository `{}` must name its registry host, e.g. `harbor.lan/website/frontend`",
                i.repository
            )));
        };
        if path.is_empty() || path.contains([':', '@']) {
            return Err(bad(format!(
                "repository `{}` must be host[:port]/path without tag or digest",
                i.repository
            )));
        }
        let registry = match &i.registry {
            None => registries
                .values()
                .find(|r| r.url == host)
                .cloned()
                .unwrap_or_else(|| RegistryConfig::anonymous(host)),
            Some(name) => {
                let Some(r) = registries.get(name) else {
                    return Err(bad(format!(
                        "registry `{name}` is not declared under [registries] (declared: {})",
                        registries.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                };
                if r.url != host {
                    return Err(bad(format!(
                        "repository `{}` is not on registry `{name}` ({})",
                        i.repository, r.url
                    )));
                }
                r.clone()
            }
        };
        let policy = i.policy.unwrap_or_else(|| "flux-policy".to_string());
        let Some(declared) = plugins.get(&policy) else {
            return Err(bad(format!(
                "policy plugin `{policy}` is not declared under [plugins] (declared: {})",
                plugins.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        };
        let settings = match i.settings {
            Some(s) => to_json(Some(s)),
            None => declared.settings.clone(),
        };
        let platform = match &i.platform {
            None => None,
            Some(p) => Some(p.parse::<Platform>().map_err(|e| bad(e.to_string()))?),
        };
        let exclude = i
            .exclude
            .unwrap_or_else(|| vec![DEFAULT_EXCLUDE.to_string()])
            .iter()
            .map(|p| regex::Regex::new(p).map_err(|e| bad(format!("exclude `{p}`: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let interval = match &i.interval {
            Some(t) => super::sources::duration("interval", t).map_err(bad)?,
            None => Duration::from_secs(300),
        };
        out.insert(
            key.clone(),
            ImageConfig {
                policy_name: key,
                repository: i.repository,
                registry,
                policy,
                settings,
                platform,
                exclude,
                interval,
                suspend: i.suspend,
                digest_reflection: i.digest_reflection,
            },
        );
    }
    Ok(out)
}

/// `$REKON_STATE_DIR`, else `$XDG_STATE_HOME/rekon`, else `~/.local/state/rekon`.
pub fn default_state_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("REKON_STATE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return Some(PathBuf::from(dir).join("rekon"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state/rekon"))
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, Credentials, DigestReflection, Secret};
    use std::path::{Path, PathBuf};

    const PLUGIN: &str = "[plugins.flux-policy]\npath = \"f.wasm\"\nsettings = { a = 1 }\n";

    fn parse(extra: &str) -> Result<Config, String> {
        Config::parse(&format!("{PLUGIN}{extra}"), Path::new("/r/rekon.toml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn images_and_registries_parse() {
        let c = parse(
            "[registries.harbor]\nurl = \"harbor.lan\"\nusername = \"robot$w\"\npassword-file = \"pw\"\n\
             [images.\"flux-system:frontend\"]\nrepository = \"harbor.lan/website/frontend\"\n\
             platform = \"linux/arm64\"\n\
             [images.\"flux-system:other\"]\nrepository = \"ghcr.io/o/x\"\nsettings = { b = 2 }\n",
        )
        .unwrap();
        let f = &c.images["flux-system:frontend"];
        assert_eq!(f.registry.name, "harbor");
        assert_eq!(
            f.registry.credentials,
            Credentials::Basic {
                username: "robot$w".into(),
                password: Secret::File(PathBuf::from("/r/pw"))
            }
        );
        assert_eq!(f.path(), "website/frontend");
        assert_eq!(f.settings, serde_json::json!({"a": 1}));
        assert_eq!(f.platform.as_ref().unwrap().to_string(), "linux/arm64");
        assert!(f.exclude[0].is_match("main-abc.sig"));
        assert_eq!(f.digest_reflection, DigestReflection::Never);
        let o = &c.images["flux-system:other"];
        assert_eq!(o.registry.credentials, Credentials::Anonymous);
        assert_eq!(o.registry.url, "ghcr.io");
        assert_eq!(o.settings, serde_json::json!({"b": 2}));
    }

    #[test]
    fn digest_reflection_takes_flux_names() {
        for (name, want) in [
            ("Never", DigestReflection::Never),
            ("IfNotPresent", DigestReflection::IfNotPresent),
            ("Always", DigestReflection::Always),
        ] {
            let c = parse(&format!(
                "[images.\"a:b\"]\nrepository = \"h/x\"\ndigest-reflection = \"{name}\"\n"
            ))
            .unwrap();
            assert_eq!(c.images["a:b"].digest_reflection, want);
        }
        let err = parse("[images.\"a:b\"]\nrepository = \"h/x\"\ndigest-reflection = \"always\"\n")
            .unwrap_err();
        assert!(
            err.contains("line 6") && err.contains("IfNotPresent"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("\n[images.\"flux-system:frontend\"]\nrepository = \"harbor.lan/w/f\"\nregistry = \"nope\"\n")
            .unwrap_err();
        assert!(
            err.starts_with(
                "/r/rekon.toml:5: images.\"flux-system:frontend\": registry `nope` is not declared"
            ),
            "{err}"
        );
        let err = parse("[registries.h]\nurl = \"https://h\"\n").unwrap_err();
        assert!(err.contains(":4: registries.h: url `https://h`"), "{err}");
        let err =
            parse("[registries.h]\nurl = \"h\"\nusername = \"u\"\npassword = \"x\"\n").unwrap_err();
        assert!(err.contains("line 7") && err.contains("password"), "{err}");
        let err = parse("[images.frontend]\nrepository = \"h/x\"\n").unwrap_err();
        assert!(err.contains("NAMESPACE:NAME"), "{err}");
        let err =
            parse("[images.\"a:b\"]\nrepository = \"h/x\"\nplatform = \"arm64\"\n").unwrap_err();
        assert!(err.contains("platform `arm64`"), "{err}");
    }
}

//! Reading a repository's tags and a tag's platforms over the OCI
//! distribution API, with [`oci_client`].
//!
//! - Pagination: `tags/list?n=PAGE&last=TAG`. oci-client does not expose the
//!   `Link` header, so the listing asks again from the last tag until a page
//!   adds nothing: one request more than needed, but correct whether the
//!   registry honours `n`, caps it lower (Docker Hub, Harbor) or ignores it.
//! - Auth: anonymous, basic (exchanged for a bearer token when the registry
//!   challenges with one, as Harbor does for robot accounts) or a bearer token;
//!   secrets are read from the environment or a file when the client is made.
//! - Transport: HTTPS with the system roots plus an optional CA file, or plain
//!   HTTP for `insecure` registries; connect and read timeouts, and a bound on
//!   every whole request.
//! - Back-off: oci-client reports status codes but hides headers, so
//!   `Retry-After` cannot be read; 429, 5xx, refused connections and timeouts
//!   are retried here a bounded number of times with doubling delays.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::platform::{config_platform, Manifest, Platform};
use crate::config::{Credentials, RegistryConfig, Secret};

/// Manifest media types the platform check reads.
const MANIFEST_TYPES: &[&str] = &[
    oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    oci_client::manifest::OCI_IMAGE_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_MEDIA_TYPE,
];

/// A registry request that failed, naming the registry.
#[derive(Debug, thiserror::Error)]
#[error("registry `{registry}` ({url}): {what}: {kind}")]
pub struct RegistryError {
    /// The registry's name in the configuration.
    pub registry: String,
    /// Its `host[:port]`.
    pub url: String,
    /// What was being done, e.g. `listing tags of website/frontend`.
    pub what: String,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// Why a registry request failed.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// A secret could not be read.
    #[error("cannot read the {0}")]
    Secret(String),
    /// The CA file could not be read or is not PEM.
    #[error("CA file: {0}")]
    Ca(String),
    /// The client could not be built.
    #[error("{0}")]
    Setup(String),
    /// 401: the credentials were refused (or none were given).
    #[error("401 unauthorized: the registry refused the credentials (check username and password-env/password-file, or the token)")]
    Unauthorized,
    /// The registry answered with an error status.
    #[error("HTTP {}: {message}", status.map_or("error".to_string(), |s| s.to_string()))]
    Status {
        /// The status, when oci-client reports it.
        status: Option<u16>,
        /// The registry's message.
        message: String,
    },
    /// The registry could not be reached.
    #[error("cannot connect: {0}")]
    Unreachable(String),
    /// No complete answer within the timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The answer is not what the API promises (e.g. not JSON).
    #[error("invalid answer: {0}")]
    Invalid(String),
    /// Anything else oci-client reported.
    #[error("{0}")]
    Other(String),
}

impl ErrorKind {
    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        match self {
            ErrorKind::Status {
                status: Some(s), ..
            } => *s == 429 || *s >= 500,
            ErrorKind::Unreachable(_) | ErrorKind::Timeout(_) => true,
            _ => false,
        }
    }

    fn from_oci(e: OciDistributionError) -> ErrorKind {
        use OciDistributionError as E;
        match e {
            E::UnauthorizedError { .. } => ErrorKind::Unauthorized,
            E::AuthenticationFailure(m) => ErrorKind::Status {
                status: None,
                message: format!("authentication failed: {m}"),
            },
            E::ServerError { code, message, .. } => ErrorKind::Status {
                status: Some(code),
                message: short(&message),
            },
            E::RegistryError { envelope, .. } => {
                // Error bodies carry a code but oci-client drops the status;
                // TOOMANYREQUESTS is the one that says "back off".
                let status = envelope
                    .errors
                    .iter()
                    .any(|e| e.code == OciErrorCode::Toomanyrequests)
                    .then_some(429);
                ErrorKind::Status {
                    status,
                    message: short(&envelope.to_string()),
                }
            }
            E::RequestError(e) if e.is_timeout() => ErrorKind::Timeout(Duration::ZERO),
            E::RequestError(e) if e.is_connect() => ErrorKind::Unreachable(chain(&e)),
            E::RequestError(e) if e.is_decode() || e.is_body() => ErrorKind::Invalid(chain(&e)),
            E::JsonError(e) => ErrorKind::Invalid(e.to_string()),
            e @ (E::ManifestEncodingError(_)
            | E::SpecViolationError(_)
            | E::ManifestParsingError(_)
            | E::VersionedParsingError(_)
            | E::DigestError(_)) => ErrorKind::Invalid(e.to_string()),
            e => ErrorKind::Other(chain(&e)),
        }
    }
}

/// An error and its sources, `a: b: c` (reqwest hides the cause otherwise).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let cause = s.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = s.source();
    }
    text
}

/// At most 300 characters of a registry's message (some send HTML pages).
fn short(message: &str) -> String {
    let message = message.trim();
    match message.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &message[..i]),
        None => message.to_string(),
    }
}

/// Retries of registry calls; [`Retry::REMOTE`] by default.
pub use crate::retry::Retry;

/// A client for one configured registry.
pub struct RegistryClient {
    name: String,
    url: String,
    client: Client,
    auth: RegistryAuth,
    timeout: Duration,
    page_size: usize,
    retry: Retry,
}

impl RegistryClient {
    /// A client for `config`, reading its secrets and CA file now.
    pub fn new(config: &RegistryConfig) -> Result<RegistryClient, RegistryError> {
        let fail = |kind| RegistryError {
            registry: config.name.clone(),
            url: config.url.clone(),
            what: "setting up the client".into(),
            kind,
        };
        // reqwest is built without a bundled crypto provider (see Cargo.toml);
        // a second install (another client, or kube) is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let auth = match &config.credentials {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), read_secret(password).map_err(fail)?)
            }
            Credentials::Token(token) => RegistryAuth::Bearer(read_secret(token).map_err(fail)?),
        };
        let mut extra_root_certificates = Vec::new();
        if let Some(ca) = &config.ca_file {
            let data = std::fs::read(ca)
                .map_err(|e| fail(ErrorKind::Ca(format!("{}: {e}", ca.display()))))?;
            if !String::from_utf8_lossy(&data).contains("-----BEGIN CERTIFICATE") {
                return Err(fail(ErrorKind::Ca(format!(
                    "{}: not a PEM certificate",
                    ca.display()
                ))));
            }
            extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            });
        }
        let client = Client::try_from(ClientConfig {
            protocol: if config.insecure {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            extra_root_certificates,
            // Platforms are read by rekon itself (see `platforms`).
            platform_resolver: None,
            read_timeout: Some(config.timeout),
            connect_timeout: Some(config.timeout.min(Duration::from_secs(10))),
            user_agent: concat!("rekon/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        })
        .map_err(|e| fail(ErrorKind::Setup(chain(&e))))?;
        Ok(RegistryClient {
            name: config.name.clone(),
            url: config.url.clone(),
            client,
            auth,
            timeout: config.timeout,
            page_size: config.page_size,
            retry: Retry::REMOTE,
        })
    }

    /// Use `retry` instead of the default back-off.
    pub fn with_retry(mut self, retry: Retry) -> RegistryClient {
        self.retry = retry;
        self
    }

    /// Every tag of `repository` (its path in this registry, e.g.
    /// `website/frontend`), in the registry's order, each once.
    pub async fn list_tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        let reference = self.reference(repository, "latest");
        let what = format!("listing tags of {repository}");
        let mut tags = Vec::new();
        let mut seen = HashSet::new();
        let mut last: Option<String> = None;
        loop {
            let page = self
                .retrying(&what, || {
                    self.client.list_tags(
                        &reference,
                        &self.auth,
                        Some(self.page_size),
                        last.as_deref(),
                    )
                })
                .await?;
            let before = tags.len();
            for tag in page.tags {
                if seen.insert(tag.clone()) {
                    tags.push(tag);
                }
            }
            if tags.len() == before {
                return Ok(tags);
            }
            tracing::debug!(registry = %self.name, repository, tags = tags.len(), "tags/list page");
            last = tags.last().cloned();
        }
    }

    /// The platforms `repository:tag` offers: an index's entries, or the
    /// single image's config blob.
    pub async fn platforms(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Vec<Platform>, RegistryError> {
        let reference = self.reference(repository, tag);
        let what = format!("reading the manifest of {repository}:{tag}");
        let (bytes, _digest) = self
            .retrying(&what, || {
                self.client
                    .pull_manifest_raw(&reference, &self.auth, MANIFEST_TYPES)
            })
            .await?;
        let invalid = |what: &str, e: &dyn std::error::Error| RegistryError {
            registry: self.name.clone(),
            url: self.url.clone(),
            what: what.to_string(),
            kind: ErrorKind::Invalid(e.to_string()),
        };
        match Manifest::parse(&bytes).map_err(|e| invalid(&what, &e))? {
            Manifest::Index(platforms) => Ok(platforms),
            Manifest::Image { config_digest } => {
                let what = format!("reading the config of {repository}:{tag}");
                let blob = self
                    .retrying(&what, || async {
                        let mut out = Vec::new();
                        self.client
                            .pull_blob(&reference, config_digest.as_str(), &mut out)
                            .await
                            .map(|()| out)
                    })
                    .await?;
                let platform = config_platform(&blob).map_err(|e| invalid(&what, &e))?;
                Ok(vec![platform])
            }
        }
    }

    fn reference(&self, repository: &str, tag: &str) -> Reference {
        Reference::with_tag(self.url.clone(), repository.to_string(), tag.to_string())
    }

    /// Run `call` with a bound on its whole duration, retrying transient
    /// failures with doubling delays.
    async fn retrying<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            let kind = match tokio::time::timeout(self.timeout, call()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) => match ErrorKind::from_oci(e) {
                    ErrorKind::Timeout(_) => ErrorKind::Timeout(self.timeout),
                    kind => kind,
                },
                Err(_) => ErrorKind::Timeout(self.timeout),
            };
            if !kind.is_transient() || attempt >= self.retry.attempts {
                return Err(RegistryError {
                    registry: self.name.clone(),
                    url: self.url.clone(),
                    what: if attempt > 1 {
                        format!("{what} (after {attempt} attempts)")
                    } else {
                        what.to_string()
                    },
                    kind,
                });
            }
            tracing::info!(registry = %self.name, %kind, ?delay, "{what}: retrying");
            tokio::time::sleep(delay).await;
            delay = self.retry.next_delay(delay);
            attempt += 1;
        }
    }
}

fn read_secret(secret: &Secret) -> Result<String, ErrorKind> {
    match secret {
        Secret::Env(var) => {
            std::env::var(var).map_err(|e| ErrorKind::Secret(format!("secret from ${var}: {e}")))
        }
        Secret::File(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| ErrorKind::Secret(format!("secret file {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rate_limits_server_errors_and_outages_are_retried() {
        let status = |s| ErrorKind::Status {
            status: Some(s),
            message: String::new(),
        };
        assert!(status(429).is_transient());
        assert!(status(503).is_transient());
        assert!(!status(404).is_transient());
        assert!(!ErrorKind::Unauthorized.is_transient());
        assert!(!ErrorKind::Invalid("x".into()).is_transient());
        assert!(ErrorKind::Unreachable("refused".into()).is_transient());
    }

    #[test]
    fn secrets_come_from_env_or_file_without_the_newline() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        assert_eq!(read_secret(&Secret::File(file)).unwrap(), "s3cret");
        let err = read_secret(&Secret::Env("REKON_TEST_SURELY_UNSET".into())).unwrap_err();
        assert!(
            err.to_string().contains("$REKON_TEST_SURELY_UNSET"),
            "{err}"
        );
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(short(&"x".repeat(500)).chars().count(), 301);
        assert_eq!(short(" ok "), "ok");
    }
}

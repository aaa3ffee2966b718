//! Reading a repository's tags and a tag's platforms over the OCI
//! distribution API, with [`oci_client`].
//!
//! - Pagination: `tags/list?n=PAGE`, then the page the `Link: <…>;
//!   rel="next"` header names, until a page comes without one. A registry
//!   that never sends `Link` is paged with `last=TAG` from the last tag seen
//!   until a page adds nothing: correct whether it honours `n`, caps it lower
//!   or ignores it (distribution 2.8 answers every tags/list with all tags).
//!   oci-client 0.18 hides response headers, so tags/list is read with
//!   reqwest in `registry/tags.rs` (which says why at length).
//! - Auth: anonymous, basic (exchanged for a bearer token when the registry
//!   challenges with one, as Harbor does for robot accounts) or a bearer token;
//!   secrets are read from the environment or a file when the client is made.
//! - Transport: HTTPS with the system roots plus an optional CA file, or plain
//!   HTTP for `insecure` registries; connect and read timeouts, and a bound on
//!   every whole request.
//! - Back-off: 429, 5xx, refused connections and timeouts are retried a
//!   bounded number of times with doubling delays. A tags/list answer's
//!   `Retry-After` (seconds or HTTP-date) replaces the delay; one asking for
//!   more than [`MAX_RETRY_AFTER`] or for more than is left of the call's
//!   budget (timeout × attempts) ends the call at once with an error saying
//!   so, since waiting less than asked only earns another 429. Manifest and
//!   blob reads go through oci-client, whose errors carry no headers: they
//!   keep the doubling delays.

mod tags;
pub(crate) use tags::http_client;

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use reqwest::header::HeaderValue;
use reqwest::Url;

use super::platform::{config_platform, Manifest, Platform};
use crate::config::{Credentials, RegistryConfig};

/// Manifest media types the platform check reads.
const MANIFEST_TYPES: &[&str] = &[
    oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    oci_client::manifest::OCI_IMAGE_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_MEDIA_TYPE,
];

/// The longest `Retry-After` rekon waits for: a registry asking for more is
/// reported as an error (a scan is not worth minutes of waiting; the next
/// pass tries again).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

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

    /// The kind of an oci-client error.
    pub(crate) fn from_oci(e: OciDistributionError) -> ErrorKind {
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

/// A failed attempt: why, and the wait the registry asked for, if it did.
#[derive(Debug)]
struct Failure {
    kind: ErrorKind,
    retry_after: Option<Duration>,
}

impl From<ErrorKind> for Failure {
    fn from(kind: ErrorKind) -> Failure {
        Failure {
            kind,
            retry_after: None,
        }
    }
}

/// An oci-client call as an attempt of [`RegistryClient::retrying`].
async fn oci<T>(call: impl Future<Output = Result<T, OciDistributionError>>) -> Result<T, Failure> {
    call.await
        .map_err(|e| Failure::from(ErrorKind::from_oci(e)))
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
    /// tags/list only (see [`tags`]).
    http: reqwest::Client,
    scheme: &'static str,
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
            Credentials::Basic { username, password } => RegistryAuth::Basic(
                username.clone(),
                password
                    .read()
                    .map_err(|e| ErrorKind::Secret(format!("secret from {e}")))
                    .map_err(fail)?,
            ),
            Credentials::Token(token) => RegistryAuth::Bearer(
                token
                    .read()
                    .map_err(|e| ErrorKind::Secret(format!("secret from {e}")))
                    .map_err(fail)?,
            ),
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
        let http = tags::http_client(
            config.timeout,
            extra_root_certificates.first().map(|c| c.data.as_slice()),
        )
        .map_err(|e| fail(ErrorKind::Setup(e)))?;
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
            http,
            scheme: if config.insecure { "http" } else { "https" },
            auth,
            timeout: config.timeout,
            page_size: config.page_size,
            retry: Retry::REMOTE,
        })
    }

    /// The oci-client client and the credentials read for it, for the
    /// plugin artifacts of [`crate::plugin::oci`].
    pub(crate) fn oci_parts(&self) -> (&Client, &RegistryAuth) {
        (&self.client, &self.auth)
    }

    /// The bound on one request (the registry's `timeout`).
    pub fn timeout(&self) -> Duration {
        self.timeout
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
        let authorization = self
            .retrying(&what, || self.authorization(&reference))
            .await?;
        let first = format!(
            "{}://{}/v2/{repository}/tags/list?n={}",
            self.scheme,
            reference.resolve_registry(),
            self.page_size
        );
        let mut url = Url::parse(&first).map_err(|e| RegistryError {
            registry: self.name.clone(),
            url: self.url.clone(),
            what: what.clone(),
            kind: ErrorKind::Setup(format!("{first}: {e}")),
        })?;
        let mut tags = Vec::new();
        let mut seen = HashSet::new();
        // A registry that sent `Link` once says with its absence that a page is the last.
        let mut linked = false;
        loop {
            let page = self
                .retrying(&what, || {
                    tags::get_page(&self.http, &url, authorization.as_ref())
                })
                .await?;
            let before = tags.len();
            for tag in page.tags {
                if seen.insert(tag.clone()) {
                    tags.push(tag);
                }
            }
            tracing::debug!(registry = %self.name, repository, tags = tags.len(), "tags/list page");
            match page.next {
                // A page adding nothing ends the listing, whatever its Link
                // says: a registry linking in a circle cannot loop us.
                _ if tags.len() == before => return Ok(tags),
                Some(next) => {
                    linked = true;
                    url = next;
                }
                None if linked => return Ok(tags),
                None => {
                    let last = tags.last().expect("this page added a tag");
                    url.query_pairs_mut()
                        .clear()
                        .append_pair("n", &self.page_size.to_string())
                        .append_pair("last", last);
                }
            }
        }
    }

    /// The `Authorization` header of tags/list: the bearer token oci-client
    /// obtains (answering the registry's challenge with the configured
    /// credentials), else basic credentials, else none.
    async fn authorization(&self, reference: &Reference) -> Result<Option<HeaderValue>, Failure> {
        use base64::Engine;
        let token = oci(self
            .client
            .auth(reference, &self.auth, RegistryOperation::Pull))
        .await?;
        let value = match (token, &self.auth) {
            (Some(token), _) => format!("Bearer {token}"),
            (None, RegistryAuth::Basic(user, password)) => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
            (None, _) => return Ok(None),
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            Failure::from(ErrorKind::Secret(
                "credentials (not a valid header value)".into(),
            ))
        })?;
        value.set_sensitive(true);
        Ok(Some(value))
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
                oci(self
                    .client
                    .pull_manifest_raw(&reference, &self.auth, MANIFEST_TYPES))
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
                    .retrying(&what, || {
                        oci(async {
                            let mut out = Vec::new();
                            self.client
                                .pull_blob(&reference, config_digest.as_str(), &mut out)
                                .await
                                .map(|()| out)
                        })
                    })
                    .await?;
                let platform = config_platform(&blob).map_err(|e| invalid(&what, &e))?;
                Ok(vec![platform])
            }
        }
    }

    /// The digest of the manifest `repository:tag` names (an index's own
    /// digest for a multi-platform image), from a `HEAD` of the manifest, as
    /// Flux's image-reflector reads it for `digestReflectionPolicy`.
    pub async fn digest(&self, repository: &str, tag: &str) -> Result<String, RegistryError> {
        let reference = self.reference(repository, tag);
        let what = format!("reading the digest of {repository}:{tag}");
        self.retrying(&what, || {
            oci(self.client.fetch_manifest_digest(&reference, &self.auth))
        })
        .await
    }

    fn reference(&self, repository: &str, tag: &str) -> Reference {
        Reference::with_tag(self.url.clone(), repository.to_string(), tag.to_string())
    }

    /// Run `call` with a bound on each attempt (the timeout) and on the
    /// whole call (timeout × attempts), retrying transient failures after
    /// the registry's `Retry-After`, else doubling delays.
    async fn retrying<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let budget = self.timeout * self.retry.attempts;
        let deadline = Instant::now() + budget;
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            let failure = match tokio::time::timeout(self.timeout, call()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(Failure {
                    kind: ErrorKind::Timeout(_),
                    retry_after,
                })) => Failure {
                    kind: ErrorKind::Timeout(self.timeout),
                    retry_after,
                },
                Ok(Err(failure)) => failure,
                Err(_) => ErrorKind::Timeout(self.timeout).into(),
            };
            let fail = |note: String, kind: ErrorKind| RegistryError {
                registry: self.name.clone(),
                url: self.url.clone(),
                what: match (attempt, note.is_empty()) {
                    (1, true) => what.to_string(),
                    (1, false) => format!("{what} ({note})"),
                    (_, true) => format!("{what} (after {attempt} attempts)"),
                    (_, false) => format!("{what} (after {attempt} attempts; {note})"),
                },
                kind,
            };
            if !failure.kind.is_transient() || attempt >= self.retry.attempts {
                return Err(fail(String::new(), failure.kind));
            }
            let wait = failure.retry_after.unwrap_or(delay);
            let left = deadline.saturating_duration_since(Instant::now());
            if wait > MAX_RETRY_AFTER || wait > left {
                let limit = if wait > MAX_RETRY_AFTER {
                    format!(
                        "the longest wait rekon accepts ({}s)",
                        MAX_RETRY_AFTER.as_secs()
                    )
                } else {
                    format!("what is left of this call's budget ({}s)", left.as_secs())
                };
                let note = format!(
                    "the registry asks to retry after {}s, beyond {limit}",
                    wait.as_secs()
                );
                return Err(fail(note, failure.kind));
            }
            tracing::info!(registry = %self.name, kind = %failure.kind, ?wait, "{what}: retrying");
            tokio::time::sleep(wait).await;
            delay = self.retry.next_delay(delay);
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

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
        assert_eq!(Secret::File(file).read().unwrap(), "s3cret");
        let err = Secret::Env("REKON_TEST_SURELY_UNSET".into())
            .read()
            .unwrap_err();
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

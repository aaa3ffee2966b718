//! The `[server]` and `[receivers.NAME]` tables of `rekon.toml`: where
//! `rekon run` serves health, metrics and status, and which webhooks it takes.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:9797"              # the default: loopback only
//! token-env = "REKON_STATUS_TOKEN"       # optional: the status page and /status
//!                                        # need it (or token-file = "…")
//!
//! [receivers.harbor]                     # POST /hook/harbor
//! type = "harbor"                        # Harbor's PUSH_ARTIFACT events; or "generic"
//! token-env = "REKON_HARBOR_TOKEN"       # or token-file = "/etc/rekon/harbor-token"
//! images = ["flux-system:frontend"]      # optional: only these [images] (default all)
//! ```
//!
//! Like registry secrets, a receiver's token is never inline: only the name
//! of the variable or file holding it, read at each delivery (so it can be
//! rotated without a restart). The same holds for `[server]`'s token, read
//! at each request.
//!
//! A `listen` address other than loopback without a `[server]` token is
//! accepted, as Flux's and Prometheus's own servers accept it (the port may
//! sit behind a reverse proxy that authenticates, or on a trusted LAN), but
//! [`ServerConfig::exposed_without_token`] is true and `rekon run` warns at
//! start.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::images::Context;
use super::{ConfigError, ImageConfig, Secret};

/// Where `rekon run` listens when `[server] listen` is not given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9797";

/// The `[server]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The address of the HTTP server (`listen`).
    pub listen: SocketAddr,
    /// The token the status page, its detail pages and `/status` require
    /// (`token-env` or `token-file`); `None`: open to whoever reaches the port.
    pub token: Option<Secret>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: DEFAULT_LISTEN.parse().expect("a valid default address"),
            token: None,
        }
    }
}

impl ServerConfig {
    /// Whether the status is served beyond this machine to anyone: `listen`
    /// is not a loopback address and no token is set.
    pub fn exposed_without_token(&self) -> bool {
        self.token.is_none() && !self.listen.ip().is_loopback()
    }
}

/// What sends a receiver its deliveries, and so how a delivery proves it
/// knows the token. The types and their checks are Flux's
/// (notification-controller's Receiver), plus rekon's Bearer `generic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverKind {
    /// Harbor's webhooks: the token is the whole `Authorization` header (the
    /// policy's "Auth Header"), the body a Harbor event.
    Harbor,
    /// Anything else (CI jobs, scripts): `Authorization: Bearer TOKEN`, any
    /// body. A Flux Receiver of this type checks nothing but its path,
    /// which is derived from the token.
    Generic,
    /// `X-Signature: sha1|sha256|sha512=HEX`, an HMAC of the body.
    GenericHmac,
    /// GitHub: `X-Hub-Signature-256` (or the older `X-Hub-Signature`), an
    /// HMAC of the body; the event is `X-GitHub-Event`.
    Github,
    /// Gitea (and Forgejo): `X-Gitea-Signature` or `X-Hub-Signature-256`;
    /// the event is `X-Gitea-Event` or `X-GitHub-Event`. Flux users write
    /// `github` for Gitea, which works too.
    Gitea,
    /// GitLab: `X-Gitlab-Token` is the token; the event is `X-Gitlab-Event`.
    Gitlab,
    /// Bitbucket Server: `X-Hub-Signature: sha256=HEX`; the event is
    /// `X-Event-Key`.
    Bitbucket,
}

impl ReceiverKind {
    /// Every type, as written in `type = "..."`.
    pub const ALL: [ReceiverKind; 7] = [
        ReceiverKind::Harbor,
        ReceiverKind::Generic,
        ReceiverKind::GenericHmac,
        ReceiverKind::Github,
        ReceiverKind::Gitea,
        ReceiverKind::Gitlab,
        ReceiverKind::Bitbucket,
    ];

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<ReceiverKind> {
        Self::ALL.into_iter().find(|k| k.to_string() == name)
    }

    /// Whether deliveries name an event (`events` filters on it).
    pub fn has_events(self) -> bool {
        matches!(
            self,
            ReceiverKind::Github
                | ReceiverKind::Gitea
                | ReceiverKind::Gitlab
                | ReceiverKind::Bitbucket
        )
    }
}

impl std::fmt::Display for ReceiverKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReceiverKind::Harbor => "harbor",
            ReceiverKind::Generic => "generic",
            ReceiverKind::GenericHmac => "generic-hmac",
            ReceiverKind::Github => "github",
            ReceiverKind::Gitea => "gitea",
            ReceiverKind::Gitlab => "gitlab",
            ReceiverKind::Bitbucket => "bitbucket",
        })
    }
}

/// One webhook: a `[receivers.NAME]` table (`POST /hook/NAME`) or a Flux
/// Receiver object (`POST /hook/` + sha256 of token, name and namespace,
/// Flux's path, so a forge's existing webhook keeps working).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    /// Its name: `NAME`, or `namespace/name` for a Flux Receiver.
    pub name: String,
    /// What follows `/hook/` in its URL.
    pub path: String,
    /// Whether it came from a Flux Receiver object.
    pub flux: bool,
    /// Its type.
    pub kind: ReceiverKind,
    /// Where its token is.
    pub token: Secret,
    /// Only deliveries of these events trigger (empty: every event).
    pub events: Vec<String>,
    /// The image policies (`NS:NAME`) it triggers scans of.
    pub images: Vec<String>,
    /// The sources it triggers fetches of.
    pub sources: Vec<String>,
    /// The kustomizations it triggers reconciles of.
    pub kustomizations: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawServer {
    listen: Option<Spanned<String>>,
    /// Read only to refuse it with a message saying what to write instead.
    token: Option<Spanned<toml::Value>>,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawReceiver {
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    /// Read only to refuse it with a message saying what to write instead.
    token: Option<Spanned<toml::Value>>,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    images: Option<Vec<Spanned<String>>>,
    sources: Option<Vec<Spanned<String>>>,
    kustomizations: Option<Vec<Spanned<String>>>,
    events: Option<Vec<String>>,
}

pub(super) fn server(
    cx: &Context<'_>,
    raw: Option<Spanned<RawServer>>,
) -> Result<ServerConfig, ConfigError> {
    let Some(raw) = raw else {
        return Ok(ServerConfig::default());
    };
    let table_span = raw.span();
    let raw = raw.into_inner();
    if let Some(inline) = &raw.token {
        return Err(cx.invalid(
            &inline.span(),
            "server.token: an inline token is refused (secrets are never inline): \
             name the variable with token-env or the file with token-file"
                .into(),
        ));
    }
    let token = match (raw.token_env, raw.token_file) {
        (Some(var), None) => Some(Secret::Env(var)),
        (None, Some(file)) => Some(Secret::File(cx.base.join(file))),
        (Some(_), Some(_)) => {
            return Err(cx.invalid(
                &table_span,
                "server: give token-env or token-file, not both".into(),
            ))
        }
        (None, None) => None,
    };
    let listen = match raw.listen {
        None => ServerConfig::default().listen,
        Some(listen) => {
            let span = listen.span();
            listen.into_inner().parse::<SocketAddr>().map_err(|e| {
                cx.invalid(
                    &span,
                    format!(
                        "server.listen: {e}: write IP:PORT, e.g. \"127.0.0.1:9797\" or \"0.0.0.0:9797\""
                    ),
                )
            })?
        }
    };
    Ok(ServerConfig { listen, token })
}

pub(super) fn receivers(
    cx: &Context<'_>,
    raw: BTreeMap<String, Spanned<RawReceiver>>,
    images: &BTreeMap<String, ImageConfig>,
    source_names: &[&str],
    kustomization_names: &[&str],
) -> Result<Vec<Receiver>, ConfigError> {
    let known = ReceiverKind::ALL.map(|k| k.to_string()).join(", ");
    let mut out = Vec::new();
    for (name, spanned) in raw {
        let span = spanned.span();
        let r = spanned.into_inner();
        let bad = |span: &std::ops::Range<usize>, m: String| {
            cx.invalid(span, format!("receivers.{name}: {m}"))
        };
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad(
                &span,
                "the name is the last part of the URL /hook/NAME: use letters, digits, '-', '_' and '.'"
                    .into(),
            ));
        }
        let kind = match &r.kind {
            None => {
                return Err(bad(
                    &span,
                    format!("give its type: type = \"...\" ({known})"),
                ))
            }
            Some(k) => ReceiverKind::parse(k.get_ref()).ok_or_else(|| {
                bad(
                    &k.span(),
                    format!("type `{}` is unknown (known: {known})", k.get_ref()),
                )
            })?,
        };
        let events = r.events.unwrap_or_default();
        if !events.is_empty() && !kind.has_events() {
            return Err(bad(
                &span,
                format!("events: {kind} deliveries name no event to filter on"),
            ));
        }
        if let Some(inline) = &r.token {
            return Err(bad(
                &inline.span(),
                "an inline token is refused (secrets are never inline): \
                 name the variable with token-env or the file with token-file"
                    .into(),
            ));
        }
        let token = match (r.token_env, r.token_file) {
            (Some(var), None) => Secret::Env(var),
            (None, Some(file)) => Secret::File(cx.base.join(file)),
            (Some(_), Some(_)) => {
                return Err(bad(&span, "give token-env or token-file, not both".into()))
            }
            (None, None) => {
                return Err(bad(
                    &span,
                    "needs token-env or token-file: without a token anyone could trigger scans"
                        .into(),
                ))
            }
        };
        let mut policies = Vec::new();
        for image in r.images.unwrap_or_default() {
            if !images.contains_key(image.get_ref()) {
                return Err(bad(
                    &image.span(),
                    format!(
                        "image `{}` is not declared under [images] (declared: {})",
                        image.get_ref(),
                        images.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            policies.push(image.into_inner());
        }
        let listed = |list: Option<Vec<Spanned<String>>>, known: &[&str], what: &str| {
            list.unwrap_or_default()
                .into_iter()
                .map(|item| {
                    if known.contains(&item.get_ref().as_str()) {
                        Ok(item.into_inner())
                    } else {
                        Err(bad(
                            &item.span(),
                            format!(
                                "{what} `{}` is not declared (declared: {})",
                                item.get_ref(),
                                known.join(", ")
                            ),
                        ))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let sources = listed(r.sources, source_names, "source")?;
        let kustomizations = listed(r.kustomizations, kustomization_names, "kustomization")?;
        // Nothing listed: an image registry's webhook scans images, a
        // forge's fetches the git sources.
        let (policies, sources) =
            if policies.is_empty() && sources.is_empty() && kustomizations.is_empty() {
                match kind {
                    ReceiverKind::Harbor | ReceiverKind::Generic | ReceiverKind::GenericHmac => {
                        (images.keys().cloned().collect(), Vec::new())
                    }
                    _ => (
                        Vec::new(),
                        source_names.iter().map(|s| s.to_string()).collect(),
                    ),
                }
            } else {
                (policies, sources)
            };
        out.push(Receiver {
            path: name.clone(),
            name,
            flux: false,
            kind,
            token,
            events,
            images: policies,
            sources,
            kustomizations,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ReceiverKind, Secret};
    use std::path::{Path, PathBuf};

    const BASE: &str = "[plugins.flux-policy]\npath = \"f.wasm\"\n\
        [images.\"flux-system:frontend\"]\nrepository = \"harbor.lan/website/frontend\"\n";

    fn parse(extra: &str) -> Result<Config, String> {
        Config::parse(&format!("{BASE}{extra}"), Path::new("/r/rekon.toml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_to_loopback_and_no_receivers() {
        let c = parse("").unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9797");
        assert_eq!(c.server.token, None);
        assert!(!c.server.exposed_without_token());
        assert!(c.receivers.is_empty());
    }

    #[test]
    fn the_server_token_is_named_never_inline() {
        let c = parse("[server]\nlisten = \"0.0.0.0:9797\"\n").unwrap();
        assert!(c.server.exposed_without_token());
        let c = parse("[server]\nlisten = \"0.0.0.0:9797\"\ntoken-env = \"T\"\n").unwrap();
        assert_eq!(c.server.token, Some(Secret::Env("T".into())));
        assert!(!c.server.exposed_without_token());
        let c = parse("[server]\ntoken-file = \"secrets/status\"\n").unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9797");
        assert_eq!(
            c.server.token,
            Some(Secret::File(PathBuf::from("/r/secrets/status")))
        );
        let err = parse("[server]\ntoken = \"s3cret\"\n").unwrap_err();
        assert!(
            err.starts_with("/r/rekon.toml:6: server.token: an inline token is refused"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
        let err = parse("[server]\ntoken-env = \"T\"\ntoken-file = \"f\"\n").unwrap_err();
        assert!(err.contains("not both"), "{err}");
    }

    #[test]
    fn server_and_receivers_parse() {
        let c = parse(
            "[server]\nlisten = \"0.0.0.0:8080\"\n\
             [receivers.harbor]\ntype = \"harbor\"\ntoken-env = \"T\"\nimages = [\"flux-system:frontend\"]\n\
             [receivers.ci]\ntype = \"generic\"\ntoken-file = \"secrets/ci\"\n",
        )
        .unwrap();
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:8080");
        let [ci, harbor] = &c.receivers[..] else {
            panic!("{:?}", c.receivers)
        };
        assert_eq!(harbor.name, "harbor");
        assert_eq!(harbor.kind, ReceiverKind::Harbor);
        assert_eq!(harbor.token, Secret::Env("T".into()));
        assert_eq!(harbor.images, ["flux-system:frontend"]);
        assert_eq!(ci.kind, ReceiverKind::Generic);
        assert_eq!(ci.token, Secret::File(PathBuf::from("/r/secrets/ci")));
        // Nothing listed: an image webhook scans every image.
        assert_eq!(ci.images, ["flux-system:frontend"]);
        assert_eq!(ci.path, "ci");
    }

    #[test]
    fn forge_receivers_fetch_sources() {
        let c = parse(
            "[sources.site]\nurl = \"https://git.lan/site.git\"\n\
             [sources.other]\nurl = \"https://git.lan/other.git\"\n\
             [receivers.push]\ntype = \"gitea\"\ntoken-env = \"T\"\nevents = [\"push\"]\n\
             [receivers.site]\ntype = \"gitlab\"\ntoken-env = \"T\"\nsources = [\"site\"]\n",
        )
        .unwrap();
        let [push, site] = &c.receivers[..] else {
            panic!("{:?}", c.receivers)
        };
        assert_eq!(push.kind, ReceiverKind::Gitea);
        assert_eq!(push.events, ["push"]);
        // Nothing listed: a forge's webhook fetches every git source.
        assert_eq!(push.sources, ["other", "site"]);
        assert!(push.images.is_empty());
        assert_eq!(site.sources, ["site"]);
    }

    #[test]
    fn errors_name_the_line_and_what_to_write() {
        // BASE has 4 lines.
        let err = parse("[receivers.x]\ntype = \"gitlub\"\ntoken-env = \"T\"\n").unwrap_err();
        assert_eq!(
            err,
            "/r/rekon.toml:6: receivers.x: type `gitlub` is unknown \
             (known: harbor, generic, generic-hmac, github, gitea, gitlab, bitbucket)"
        );
        let err =
            parse("[receivers.x]\ntype = \"harbor\"\ntoken-env = \"T\"\nevents = [\"push\"]\n")
                .unwrap_err();
        assert!(
            err.contains("events: harbor deliveries name no event"),
            "{err}"
        );
        let err =
            parse("[receivers.x]\ntype = \"github\"\ntoken-env = \"T\"\nsources = [\"nope\"]\n")
                .unwrap_err();
        assert!(
            err.starts_with("/r/rekon.toml:8: receivers.x: source `nope` is not declared"),
            "{err}"
        );
        let err = parse(
            "[receivers.x]\ntype = \"harbor\"\ntoken-env = \"T\"\n\
             images = [\n  \"flux-system:frontend\",\n  \"flux-system:backend\",\n]\n",
        )
        .unwrap_err();
        assert!(
            err.starts_with(
                "/r/rekon.toml:10: receivers.x: image `flux-system:backend` is not declared under [images]"
            ),
            "{err}"
        );
        let err = parse("[receivers.x]\ntype = \"generic\"\ntoken = \"s3cret\"\n").unwrap_err();
        assert!(
            err.starts_with("/r/rekon.toml:7: receivers.x: an inline token is refused"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
        let err = parse("[receivers.x]\ntype = \"generic\"\n").unwrap_err();
        assert!(
            err.contains(":5: receivers.x: needs token-env or token-file"),
            "{err}"
        );
        let err = parse("[receivers.x]\ntoken-env = \"T\"\n").unwrap_err();
        assert!(err.contains("give its type"), "{err}");
        let err =
            parse("[receivers.\"a/b\"]\ntype = \"generic\"\ntoken-env = \"T\"\n").unwrap_err();
        assert!(err.contains("/hook/NAME"), "{err}");
        let err = parse("[server]\nlisten = \"localhost\"\n").unwrap_err();
        assert!(
            err.starts_with("/r/rekon.toml:6: server.listen: ") && err.contains("IP:PORT"),
            "{err}"
        );
        let err = parse("[server]\nport = 1\n").unwrap_err();
        assert!(err.contains("unknown field `port`"), "{err}");
    }
}

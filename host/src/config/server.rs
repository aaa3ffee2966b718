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

/// What sends a receiver its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverKind {
    /// Harbor's webhooks: the token is the whole `Authorization` header (the
    /// policy's "Auth Header"), the body a Harbor event.
    Harbor,
    /// Anything else (CI jobs, scripts): `Authorization: Bearer TOKEN`, any body.
    Generic,
}

impl std::fmt::Display for ReceiverKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReceiverKind::Harbor => "harbor",
            ReceiverKind::Generic => "generic",
        })
    }
}

/// One `[receivers.NAME]` table: `POST /hook/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    /// Its name, the last part of its path.
    pub name: String,
    /// Its type.
    pub kind: ReceiverKind,
    /// Where its token is.
    pub token: Secret,
    /// The image policies (`NS:NAME`) it may trigger; empty means all.
    pub images: Vec<String>,
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
) -> Result<Vec<Receiver>, ConfigError> {
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
                    "give its type: type = \"harbor\" or type = \"generic\"".into(),
                ))
            }
            Some(k) => match k.get_ref().as_str() {
                "harbor" => ReceiverKind::Harbor,
                "generic" => ReceiverKind::Generic,
                other => {
                    return Err(bad(
                        &k.span(),
                        format!("type `{other}` is unknown (known: harbor, generic)"),
                    ))
                }
            },
        };
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
        out.push(Receiver {
            name,
            kind,
            token,
            images: policies,
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
        assert!(ci.images.is_empty());
    }

    #[test]
    fn errors_name_the_line_and_what_to_write() {
        // BASE has 4 lines.
        let err = parse("[receivers.x]\ntype = \"gitlab\"\ntoken-env = \"T\"\n").unwrap_err();
        assert_eq!(
            err,
            "/r/rekon.toml:6: receivers.x: type `gitlab` is unknown (known: harbor, generic)"
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

//! The `[alerts.NAME]` tables of `rekon.toml`: where `rekon run` sends its
//! events (reconcile failed or recovered, applied with changes, drift
//! corrected, image update committed, plugin swapped or refused), for those
//! not writing Flux `Alert` and `Provider` objects (which [`crate::flux`]
//! reads into the same [`AlertConfig`]).
//!
//! ```toml
//! [alerts.chat]
//! type = "slack"                      # generic, generic-hmac, slack, discord, msteams,
//!                                     # telegram, matrix, github, gitlab, gitea
//! address-env = "REKON_SLACK_WEBHOOK" # or address-file; a webhook URL is a secret
//! # address = "https://git.lan/me/site"   # inline only where it is not a secret:
//! #                                       # a forge's repository, a matrix homeserver,
//! #                                       # a generic endpoint
//! # token-env = "…" / token-file = "…"    # bearer token, HMAC key, forge token
//! # channel = "#ops"; username = "rekon"; proxy-env = "HTTPS_PROXY_FOR_ALERTS"
//! severity = "error"                  # "info" (default): everything; "error": failures only
//! sources = ["Kustomization/*", "GitRepository/website"]   # default: every item
//! exclude = ["^waiting"]              # regexes on the message; include = [...] too
//! summary = "production"              # sent as metadata `summary`
//! metadata = { cluster = "pi" }       # merged into the event's metadata
//! # suspend = true
//! ```
//!
//! As for receivers, secrets are only named, never inline, and read at each
//! delivery so they can be rotated without a restart.

use std::collections::BTreeMap;
use std::path::PathBuf;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::images::Context;
use super::{ConfigError, Secret};

/// Which events an alert takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Everything (Flux's `eventSeverity: info`).
    #[default]
    Info,
    /// Errors only.
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Error => "error",
        })
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(Severity::Info),
            "error" => Ok(Severity::Error),
            other => Err(format!(
                "severity `{other}` is unknown (known: info, error)"
            )),
        }
    }
}

/// A provider's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// Flux's event as JSON, POSTed to the address.
    Generic,
    /// The same, signed: `X-Signature: sha256=HEX`, the HMAC of the body with the token.
    GenericHmac,
    /// A Slack incoming webhook (or `chat.postMessage` with a token).
    Slack,
    /// Discord's Slack-compatible webhook (`/slack` appended to the address).
    Discord,
    /// A Microsoft Teams workflow webhook (an adaptive card).
    MsTeams,
    /// Telegram's `sendMessage` (token: the bot's, channel: the chat id).
    Telegram,
    /// A Matrix room (`channel`: the room id, token: an access token).
    Matrix,
    /// GitHub commit statuses on the applied revision.
    GitHub,
    /// GitLab commit statuses.
    GitLab,
    /// Gitea (and Forgejo) commit statuses.
    Gitea,
}

impl ProviderKind {
    /// Every kind with its name, as `type` is written.
    pub const ALL: [(&'static str, ProviderKind); 10] = [
        ("generic", ProviderKind::Generic),
        ("generic-hmac", ProviderKind::GenericHmac),
        ("slack", ProviderKind::Slack),
        ("discord", ProviderKind::Discord),
        ("msteams", ProviderKind::MsTeams),
        ("telegram", ProviderKind::Telegram),
        ("matrix", ProviderKind::Matrix),
        ("github", ProviderKind::GitHub),
        ("gitlab", ProviderKind::GitLab),
        ("gitea", ProviderKind::Gitea),
    ];

    /// Whether it sets commit statuses (and so only takes events with a revision).
    pub fn is_forge(self) -> bool {
        matches!(
            self,
            ProviderKind::GitHub | ProviderKind::GitLab | ProviderKind::Gitea
        )
    }

    /// Whether it cannot send without an address (Telegram has a default).
    pub fn needs_address(self) -> bool {
        self != ProviderKind::Telegram
    }

    /// Whether it cannot send without a token.
    pub fn needs_token(self) -> bool {
        matches!(
            self,
            ProviderKind::GenericHmac | ProviderKind::Telegram | ProviderKind::Matrix
        ) || self.is_forge()
    }

    /// Whether it sends a token at all (generic, Discord and Teams do not:
    /// their credential is the address or `headers`).
    pub fn takes_token(self) -> bool {
        !matches!(
            self,
            ProviderKind::Generic | ProviderKind::Discord | ProviderKind::MsTeams
        )
    }

    /// Whether it cannot send without a channel (a chat or room id).
    pub fn needs_channel(self) -> bool {
        matches!(self, ProviderKind::Telegram | ProviderKind::Matrix)
    }

    /// Whether the address itself is a credential (a webhook URL with its
    /// token in the path), so it must not be written inline.
    pub fn address_is_secret(self) -> bool {
        matches!(
            self,
            ProviderKind::Slack | ProviderKind::Discord | ProviderKind::MsTeams
        )
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = Self::ALL
            .iter()
            .find(|(_, k)| k == self)
            .map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

impl std::str::FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                format!(
                    "type `{s}` is unknown (known: {})",
                    Self::ALL.map(|(n, _)| n).join(", ")
                )
            })
    }
}

/// Where and how events are sent: a Flux `Provider` or the provider part of
/// an `[alerts.NAME]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Its API.
    pub kind: ProviderKind,
    /// The URL (webhook, API base or repository); `None` where the API has a
    /// default (Telegram).
    pub address: Option<Secret>,
    /// `channel` (Slack channel, Telegram chat id, Matrix room id).
    pub channel: Option<String>,
    /// `username` (the name Slack shows; basic auth user of generic).
    pub username: Option<String>,
    /// The token (bearer, HMAC key, forge token, Telegram bot token).
    pub token: Option<Secret>,
    /// Basic auth password of generic providers (a Flux Secret's `password`).
    pub password: Option<Secret>,
    /// Extra headers (a Flux Secret's `headers`), values secret.
    pub headers: Vec<(String, Secret)>,
    /// An HTTP(S) proxy URL.
    pub proxy: Option<Secret>,
}

/// An `eventSources` entry: which items' events an alert takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSource {
    /// The Flux kind (`Kustomization`, `GitRepository`, `ImagePolicy`,
    /// `ImageUpdateAutomation`, or rekon's `Plugin`).
    pub kind: String,
    /// The name, `*` for all.
    pub name: String,
    /// The namespace; `None`: any.
    pub namespace: Option<String>,
    /// Labels the object must carry (with `name: '*'`).
    pub match_labels: BTreeMap<String, String>,
}

/// One alert: a filter and a provider.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// `NAME` of `[alerts.NAME]`, or `namespace/name` of a Flux Alert.
    pub name: String,
    /// Where it sends.
    pub provider: ProviderConfig,
    /// `severity` / `eventSeverity`.
    pub severity: Severity,
    /// `sources` / `eventSources`; empty: every item.
    pub sources: Vec<EventSource>,
    /// `include` / `inclusionList`: when not empty, a message must match one.
    pub inclusions: Vec<Regex>,
    /// `exclude` / `exclusionList`: a message matching one is not sent.
    pub exclusions: Vec<Regex>,
    /// `summary` (sent as metadata `summary`).
    pub summary: Option<String>,
    /// `metadata` / `eventMetadata`: added to each event's metadata (an
    /// event's own keys win, as in Flux).
    pub metadata: BTreeMap<String, String>,
    /// `suspend`: nothing is sent.
    pub suspend: bool,
}

/// Every alert, and the labels of the objects events may name (for
/// `matchLabels`; only Flux objects have labels).
#[derive(Debug, Clone, Default)]
pub struct AlertsConfig {
    /// The alerts, `[alerts.NAME]` in name order then Flux Alerts.
    pub alerts: Vec<AlertConfig>,
    /// `Kind namespace/name` → `metadata.labels`.
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawAlert {
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    address_env: Option<String>,
    address_file: Option<PathBuf>,
    /// Read only to refuse it with a message saying what to write instead.
    token: Option<Spanned<toml::Value>>,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    proxy_env: Option<String>,
    proxy_file: Option<PathBuf>,
    channel: Option<String>,
    username: Option<String>,
    severity: Option<Spanned<String>>,
    #[serde(default)]
    sources: Vec<Spanned<String>>,
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    summary: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    suspend: bool,
}

/// `KIND/NAME` or `KIND/NAMESPACE/NAME` (`*` for every name).
pub fn parse_source(text: &str) -> Result<EventSource, String> {
    let parts: Vec<&str> = text.split('/').collect();
    let (kind, namespace, name) = match parts[..] {
        [kind, name] => (kind, None, name),
        [kind, namespace, name] => (kind, Some(namespace.to_string()), name),
        _ => {
            return Err(format!(
                "source `{text}`: write KIND/NAME or KIND/NAMESPACE/NAME, e.g. \"Kustomization/*\""
            ))
        }
    };
    if kind.is_empty() || name.is_empty() {
        return Err(format!(
            "source `{text}`: the kind and the name are required"
        ));
    }
    Ok(EventSource {
        kind: kind.to_string(),
        name: name.to_string(),
        namespace,
        match_labels: BTreeMap::new(),
    })
}

/// Compile the regexes of an include or exclude list.
pub fn regexes<'a>(list: impl IntoIterator<Item = &'a str>) -> Result<Vec<Regex>, (usize, String)> {
    list.into_iter()
        .enumerate()
        .map(|(i, r)| Regex::new(r).map_err(|e| (i, format!("regex `{r}`: {e}"))))
        .collect()
}

pub(super) fn alerts(
    cx: &Context<'_>,
    raw: BTreeMap<String, Spanned<RawAlert>>,
) -> Result<Vec<AlertConfig>, ConfigError> {
    let mut out = Vec::new();
    for (name, spanned) in raw {
        let span = spanned.span();
        let a = spanned.into_inner();
        let bad = |span: &std::ops::Range<usize>, m: String| {
            cx.invalid(span, format!("alerts.{name}: {m}"))
        };
        let kind: ProviderKind = match &a.kind {
            None => {
                return Err(bad(
                    &span,
                    format!(
                        "give its type, one of {}",
                        ProviderKind::ALL.map(|(n, _)| n).join(", ")
                    ),
                ))
            }
            Some(k) => k.get_ref().parse().map_err(|e| bad(&k.span(), e))?,
        };
        if let Some(inline) = &a.token {
            return Err(bad(
                &inline.span(),
                "an inline token is refused (secrets are never inline): \
                 name the variable with token-env or the file with token-file"
                    .into(),
            ));
        }
        let secret = |what: &str, env: Option<String>, file: Option<PathBuf>| match (env, file) {
            (Some(var), None) => Ok(Some(Secret::Env(var))),
            (None, Some(file)) => Ok(Some(Secret::File(cx.base.join(file)))),
            (Some(_), Some(_)) => Err(bad(
                &span,
                format!("give {what}-env or {what}-file, not both"),
            )),
            (None, None) => Ok(None),
        };
        let named = secret("address", a.address_env, a.address_file)?;
        let address = match (a.address, named) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    &span,
                    "give address or address-env or address-file, one of them".into(),
                ))
            }
            (Some(inline), None) if kind.address_is_secret() => {
                // The value is not repeated: it is a credential.
                return Err(bad(
                    &inline.span(),
                    format!(
                        "a {kind} webhook URL holds its credential: name the variable with \
                         address-env or the file with address-file instead of address"
                    ),
                ));
            }
            (Some(inline), None) => {
                let span = inline.span();
                let text = inline.into_inner();
                if reqwest::Url::parse(&text).is_err() {
                    return Err(bad(&span, format!("address `{text}` is not a URL")));
                }
                Some(Secret::Value {
                    from: format!("alerts.{name}.address"),
                    value: text,
                })
            }
            (None, named) => named,
        };
        if address.is_none() && kind.needs_address() {
            return Err(bad(
                &span,
                "needs address (or address-env, address-file): where to send".into(),
            ));
        }
        let token = secret("token", a.token_env, a.token_file)?;
        if !kind.takes_token() && token.is_some() {
            return Err(bad(
                &span,
                format!("a {kind} provider sends no token: remove token-env/token-file"),
            ));
        }
        if kind.needs_token() && token.is_none() {
            return Err(bad(
                &span,
                format!("a {kind} provider needs token-env or token-file"),
            ));
        }
        if kind.needs_channel() && a.channel.is_none() {
            return Err(bad(
                &span,
                format!("a {kind} provider needs channel (the chat or room id)"),
            ));
        }
        let proxy = secret("proxy", a.proxy_env, a.proxy_file)?;
        let severity = match &a.severity {
            None => Severity::Info,
            Some(s) => s.get_ref().parse().map_err(|e| bad(&s.span(), e))?,
        };
        let mut sources = Vec::new();
        for s in &a.sources {
            sources.push(parse_source(s.get_ref()).map_err(|e| bad(&s.span(), e))?);
        }
        let compile = |list: &[Spanned<String>]| {
            regexes(list.iter().map(|s| s.get_ref().as_str()))
                .map_err(|(i, e)| bad(&list[i].span(), e))
        };
        let inclusions = compile(&a.include)?;
        let exclusions = compile(&a.exclude)?;
        out.push(AlertConfig {
            provider: ProviderConfig {
                kind,
                address,
                channel: a.channel,
                username: a.username,
                token,
                password: None,
                headers: Vec::new(),
                proxy,
            },
            name,
            severity,
            sources,
            inclusions,
            exclusions,
            summary: a.summary,
            metadata: a.metadata,
            suspend: a.suspend,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/r/rekon.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn alerts_parse_with_named_secrets() {
        let c = parse(
            "[alerts.chat]\ntype = \"slack\"\naddress-env = \"HOOK\"\nchannel = \"#ops\"\n\
             severity = \"error\"\nsources = [\"Kustomization/*\", \"GitRepository/flux-system/site\"]\n\
             exclude = [\"^waiting\"]\nmetadata = { cluster = \"pi\" }\n\
             [alerts.forge]\ntype = \"gitea\"\naddress = \"https://git.lan/me/site\"\ntoken-file = \"t\"\n",
        )
        .unwrap();
        let [chat, forge] = &c.alerts.alerts[..] else {
            panic!("{:?}", c.alerts)
        };
        assert_eq!(chat.name, "chat");
        assert_eq!(chat.provider.kind, ProviderKind::Slack);
        assert_eq!(chat.provider.address, Some(Secret::Env("HOOK".into())));
        assert_eq!(chat.severity, Severity::Error);
        assert_eq!(chat.sources[1].namespace.as_deref(), Some("flux-system"));
        assert_eq!(chat.sources[0].name, "*");
        assert!(chat.exclusions[0].is_match("waiting for x"));
        assert_eq!(chat.metadata["cluster"], "pi");
        assert_eq!(
            forge.provider.token,
            Some(Secret::File("/r/t".into())),
            "relative to the file"
        );
        assert_eq!(
            forge.provider.address.as_ref().unwrap().read().unwrap(),
            "https://git.lan/me/site"
        );
    }

    #[test]
    fn errors_name_the_line_and_never_show_secrets() {
        let err = parse("[alerts.x]\ntype = \"pager\"\naddress = \"http://a\"\n").unwrap_err();
        assert!(
            err.starts_with("/r/rekon.toml:2: alerts.x: type `pager` is unknown"),
            "{err}"
        );
        let err = parse(
            "[alerts.x]\ntype = \"slack\"\naddress = \"https://hooks.slack.com/services/T/B/s3cret\"\n",
        )
        .unwrap_err();
        assert!(err.starts_with("/r/rekon.toml:3: alerts.x:"), "{err}");
        assert!(err.contains("address-env"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        let err =
            parse("[alerts.x]\ntype = \"generic\"\naddress = \"http://a\"\ntoken = \"s3cret\"\n")
                .unwrap_err();
        assert!(err.contains(":4: alerts.x: an inline token"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        let err = parse("[alerts.x]\ntype = \"github\"\naddress = \"https://github.com/a/b\"\n")
            .unwrap_err();
        assert!(err.contains("needs token-env or token-file"), "{err}");
        let err = parse(
            "[alerts.x]\ntype = \"generic\"\naddress = \"http://a\"\nexclude = [\n  \"ok\",\n  \"(\",\n]\n",
        )
        .unwrap_err();
        assert!(
            err.starts_with("/r/rekon.toml:6: alerts.x: regex `(`"),
            "{err}"
        );
        let err = parse(
            "[alerts.x]\ntype = \"generic\"\naddress = \"http://a\"\nsources = [\"a/b/c/d\"]\n",
        )
        .unwrap_err();
        assert!(err.contains(":4: alerts.x: source `a/b/c/d`"), "{err}");
        let err =
            parse("[alerts.x]\ntype = \"generic\"\naddress = \"http://a\"\ntoken-env = \"T\"\n")
                .unwrap_err();
        assert!(
            err.contains(":1: alerts.x: a generic provider sends no token"),
            "{err}"
        );
        let err = parse("[alerts.x]\ntype = \"generic\"\n").unwrap_err();
        assert!(err.contains(":1: alerts.x: needs address"), "{err}");
    }

    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../../README.md");
        let section = readme.split("### Alerts").nth(1).unwrap();
        let block = section.split("```toml\n").nth(1).unwrap();
        let block = block.split("```").next().unwrap();
        let c = parse(block).unwrap();
        let names: Vec<&str> = c.alerts.alerts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["chat", "commits"]);
    }
}

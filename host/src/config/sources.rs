//! `[sources.NAME]` (git repositories the manifests and plugins come from)
//! and `[run]` (how `rekon run` schedules its work).
//!
//! ```toml
//! [sources.website]
//! url = "https://git.lan/home/website.git"   # as in [git]: https, ssh, scp-like, git:// or a path
//! branch = "main"                   # default main
//! interval = "1m"                   # how often to fetch (default 1m)
//! token-env = "GIT_TOKEN"           # or token-file, or ssh-key + known-hosts
//! # suspend = true                  # keep the last checkout, stop fetching
//!
//! [run]
//! concurrency = 2                   # reconciles at once (default 2: a Pi has 4 small cores)
//! plugin-poll = "10s"               # how often plugin files are checked for a new digest
//! jitter = 0.1                      # +-10% on every interval, so items do not run in lockstep
//! ```
//!
//! A kustomization (or a plugin) says `source = "website"` to read its path
//! inside that repository's checkout; without it, paths are in `[source]`,
//! the local directory.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::git::{check_branch, Remote};
use super::images::Context;
use super::{ConfigError, GitConfig};

/// One `[sources.NAME]` table: a git repository fetched on an interval.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Its name in the configuration.
    pub name: String,
    /// The remote and branch (author and message unused: sources are read only).
    pub git: GitConfig,
    /// How often to fetch.
    pub interval: Duration,
    /// Fetching is suspended: the last checkout stays.
    pub suspend: bool,
    /// What is checked out (`branch` is `git.branch`).
    pub reference: GitReference,
    /// gitignore patterns of files left out of the checkout (a Flux
    /// GitRepository's `ignore` or Flux's default exclusions, plus its
    /// `.sourceignore` files); `None`: nothing is left out.
    pub ignore: Option<String>,
}

/// The commit a source checks out (a Flux GitRepository's `ref`; a
/// `[sources.NAME]` always follows its branch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitReference {
    /// The head of `git.branch`.
    Branch,
    /// A tag.
    Tag(String),
    /// The highest tag matching a semver range.
    Semver(String),
    /// A full reference name (`refs/pull/1/head`).
    Name(String),
    /// A commit (on `git.branch` when one was given).
    Commit(String),
}

/// The `[run]` table.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// How many reconciles (renders, applies, scans, commits) run at once.
    pub concurrency: usize,
    /// How often plugin files are checked for a new digest.
    pub plugin_poll: Duration,
    /// Fraction of an interval added or removed at random.
    pub jitter: f64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            concurrency: 2,
            plugin_poll: Duration::from_secs(10),
            jitter: 0.1,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSource {
    url: String,
    branch: Option<String>,
    interval: Option<String>,
    #[serde(default)]
    suspend: bool,
    token_env: Option<String>,
    token_file: Option<std::path::PathBuf>,
    ssh_key: Option<std::path::PathBuf>,
    known_hosts: Option<std::path::PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRun {
    concurrency: Option<usize>,
    plugin_poll: Option<String>,
    jitter: Option<f64>,
}

/// Parse a duration such as `90s` or `5m`, saying how to write one.
pub(super) fn duration(field: &str, text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("{field} `{text}`: {e} (write e.g. \"30s\", \"1m\" or \"1h\")"))?;
    if d.is_zero() {
        return Err(format!("{field} `{text}` must be longer than zero"));
    }
    Ok(d)
}

pub(super) fn sources(
    cx: &Context<'_>,
    raw: BTreeMap<String, Spanned<RawSource>>,
) -> Result<BTreeMap<String, SourceConfig>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, spanned) in raw {
        let span = spanned.span();
        let s = spanned.into_inner();
        let bad = |m: String| cx.invalid(&span, format!("sources.{name}: {m}"));
        let (url, auth) = Remote {
            url: s.url,
            token_env: s.token_env,
            token_file: s.token_file,
            ssh_key: s.ssh_key,
            known_hosts: s.known_hosts,
        }
        .check(cx)
        .map_err(bad)?;
        let branch = s.branch.unwrap_or_else(|| "main".into());
        check_branch(&branch).map_err(bad)?;
        let interval = match &s.interval {
            Some(t) => duration("interval", t).map_err(bad)?,
            None => Duration::from_secs(60),
        };
        let git = GitConfig {
            url,
            push_branch: branch.clone(),
            branch,
            path: ".".into(),
            author_name: String::new(),
            author_email: String::new(),
            message: String::new(),
            message_template: None,
            message_template_values: Default::default(),
            automation: Default::default(),
            auth,
            policies: None,
        };
        out.insert(
            name.clone(),
            SourceConfig {
                name,
                git,
                interval,
                suspend: s.suspend,
                reference: GitReference::Branch,
                ignore: None,
            },
        );
    }
    Ok(out)
}

pub(super) fn run(
    cx: &Context<'_>,
    raw: Option<Spanned<RawRun>>,
) -> Result<RunConfig, ConfigError> {
    let Some(spanned) = raw else {
        return Ok(RunConfig::default());
    };
    let span = spanned.span();
    let r = spanned.into_inner();
    let bad = |m: String| cx.invalid(&span, format!("run: {m}"));
    let defaults = RunConfig::default();
    let concurrency = r.concurrency.unwrap_or(defaults.concurrency);
    if concurrency == 0 || concurrency > 64 {
        return Err(bad(format!(
            "concurrency {concurrency} is out of range 1..=64"
        )));
    }
    let jitter = r.jitter.unwrap_or(defaults.jitter);
    if !(0.0..=0.5).contains(&jitter) {
        return Err(bad(format!("jitter {jitter} is out of range 0.0..=0.5")));
    }
    Ok(RunConfig {
        concurrency,
        plugin_poll: match &r.plugin_poll {
            Some(t) => duration("plugin-poll", t).map_err(bad)?,
            None => defaults.plugin_poll,
        },
        jitter,
    })
}

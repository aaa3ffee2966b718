//! The `[git]` table: where `rekon images update` commits and pushes.
//!
//! ```toml
//! [git]
//! url = "https://git.lan/home/website.git"   # https://, ssh://, user@host:path, git:// or a path
//! branch = "main"                   # fetched and updated (default main)
//! push-branch = "image-updates"     # pushed to (default: branch)
//! path = "flux"                     # markers are rewritten under this directory (default ".")
//! author-name = "rekon"             # the commits' author and committer (default rekon)
//! author-email = "rekon@pi.lan"     # (default rekon@localhost)
//! message = "images: update\n\n{changes}"   # {changes}: one line per change
//! # or Flux's Go template (not both), with its data and sprig functions:
//! # message-template = """images: {{ range .Changed.Changes }}{{ .NewValue }} {{ end }}"""
//! # message-template-values = { cluster = "pi" }   # .Values
//! # automation = "flux-system/website"              # .AutomationObject (default rekon/images)
//! token-env = "GIT_TOKEN"           # https: a token from the environment (or token-file)
//! # ssh-key = "/etc/rekon/id_ed25519"; known-hosts = "/etc/rekon/known_hosts"
//! ```
//!
//! Secrets are never inline: a URL with a password is refused (without
//! repeating it), and tokens and keys are named by variable or file. A path
//! `url` is relative to the configuration file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::images::Context;
use super::{ConfigError, Secret};

/// The default commit message; `{changes}` lists one change per line.
pub const DEFAULT_MESSAGE: &str = "rekon: update images\n\n{changes}\n";

/// The `[git]` table, checked.
#[derive(Debug, Clone)]
pub struct GitConfig {
    /// The remote: a URL (`https`, `ssh`, scp-like, `git://`, `file://`) or an absolute path.
    pub url: String,
    /// The branch fetched and updated.
    pub branch: String,
    /// The branch pushed to (the same as `branch` unless set).
    pub push_branch: String,
    /// The directory, relative to the repository root, whose markers are rewritten.
    pub path: PathBuf,
    /// Author and committer name.
    pub author_name: String,
    /// Author and committer e-mail.
    pub author_email: String,
    /// The commit message template (`{changes}` is replaced); unused when
    /// `message_template` is set.
    pub message: String,
    /// A Flux `messageTemplate` (Go text/template), checked to parse.
    pub message_template: Option<String>,
    /// Flux's `messageTemplateValues`: `.Values` of the template.
    pub message_template_values: BTreeMap<String, String>,
    /// The automation's name: `.AutomationObject` of the template, and the
    /// name in its errors.
    pub automation: AutomationName,
    /// How to authenticate to the remote.
    pub auth: GitAuth,
    /// The image policies (`NS:NAME`) whose choices are written (an
    /// ImageUpdateAutomation's `policySelector`); `None`: all of them.
    pub policies: Option<Vec<String>>,
}

/// The namespace and name of an image update automation (Flux's
/// `types.NamespacedName` of the `ImageUpdateAutomation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationName {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl Default for AutomationName {
    /// `rekon/images`, for a `[git]` table that names none.
    fn default() -> Self {
        AutomationName {
            namespace: "rekon".into(),
            name: "images".into(),
        }
    }
}

impl fmt::Display for AutomationName {
    /// `namespace/name`, as Go prints a `NamespacedName`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// How rekon authenticates to the git remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitAuth {
    /// Nothing (local paths, `git://`, public https).
    None,
    /// HTTPS with a token as the password (user: the URL's, else `x-access-token`).
    Token(Secret),
    /// HTTPS with a user name and password (a Flux GitRepository's Secret).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Secret,
    },
    /// SSH with a private key file, and the host keys to trust.
    Ssh {
        /// The private key.
        key: PathBuf,
        /// A known_hosts file (plain, not hashed, entries); without it the
        /// user's `~/.ssh/known_hosts`, as libgit2 reads it.
        known_hosts: Option<PathBuf>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawGit {
    url: String,
    branch: Option<String>,
    push_branch: Option<String>,
    path: Option<PathBuf>,
    author_name: Option<String>,
    author_email: Option<String>,
    message: Option<String>,
    message_template: Option<Spanned<String>>,
    message_template_values: Option<BTreeMap<String, String>>,
    automation: Option<String>,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    ssh_key: Option<PathBuf>,
    known_hosts: Option<PathBuf>,
}

/// Whether `url` is a URL or scp-like address rather than a local path.
fn is_remote(url: &str) -> bool {
    if url.contains("://") {
        return true;
    }
    // scp-like `user@host:path` or `host:path`: a colon before any slash.
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => colon < slash,
        (Some(_), None) => true,
        _ => false,
    }
}

/// A remote and its credentials as written in a table (`[git]`, `[sources.NAME]`).
pub(super) struct Remote {
    pub(super) url: String,
    pub(super) token_env: Option<String>,
    pub(super) token_file: Option<PathBuf>,
    pub(super) ssh_key: Option<PathBuf>,
    pub(super) known_hosts: Option<PathBuf>,
}

impl Remote {
    /// The URL (a local path made absolute) and how to authenticate.
    /// Refuses a URL holding a password, without repeating it.
    pub(super) fn check(self, cx: &Context<'_>) -> Result<(String, GitAuth), String> {
        let url = if is_remote(&self.url) {
            // `scheme://user:password@host`: refuse, and never echo the password.
            if let Some((_, rest)) = self.url.split_once("://") {
                let authority = rest.split('/').next().unwrap_or("");
                if authority
                    .rsplit_once('@')
                    .is_some_and(|(userinfo, _)| userinfo.contains(':'))
                {
                    return Err(format!(
                        "url `{}` holds a password; secrets are never inline: use token-env or token-file",
                        crate::git::redact(&self.url)
                    ));
                }
            }
            self.url
        } else {
            cx.base.join(&self.url).display().to_string()
        };
        let token = match (self.token_env, self.token_file) {
            (Some(_), Some(_)) => return Err("give token-env or token-file, not both".into()),
            (Some(v), None) => Some(Secret::Env(v)),
            (None, Some(f)) => Some(Secret::File(cx.base.join(f))),
            (None, None) => None,
        };
        let auth = match (token, self.ssh_key, self.known_hosts) {
            (None, None, None) => GitAuth::None,
            (Some(t), None, None) => GitAuth::Token(t),
            (None, Some(key), known) => GitAuth::Ssh {
                key: cx.base.join(key),
                known_hosts: known.map(|k| cx.base.join(k)),
            },
            (None, None, Some(_)) => return Err("known-hosts needs ssh-key".into()),
            (Some(_), Some(_), _) | (Some(_), None, Some(_)) => {
                return Err("give a token (https) or an ssh-key (ssh), not both".into())
            }
        };
        Ok((url, auth))
    }
}

/// Refuse what git would refuse as a branch name, before any fetch.
pub(super) fn check_branch(b: &str) -> Result<(), String> {
    if b.is_empty()
        || b.starts_with('-')
        || b.contains([' ', ':', '~', '^', '?', '*', '[', '\\'])
        || b.contains("..")
    {
        return Err(format!("branch `{b}` is not a valid branch name"));
    }
    Ok(())
}

pub(super) fn git(
    cx: &Context<'_>,
    raw: Option<Spanned<RawGit>>,
) -> Result<Option<GitConfig>, ConfigError> {
    let Some(spanned) = raw else {
        return Ok(None);
    };
    let span = spanned.span();
    let g = spanned.into_inner();
    let bad = |m: String| cx.invalid(&span, format!("git: {m}"));
    let remote = Remote {
        url: g.url,
        token_env: g.token_env,
        token_file: g.token_file,
        ssh_key: g.ssh_key,
        known_hosts: g.known_hosts,
    };
    let (url, auth) = remote.check(cx).map_err(bad)?;
    let branch = g.branch.unwrap_or_else(|| "main".to_string());
    for b in std::iter::once(&branch).chain(g.push_branch.as_ref()) {
        check_branch(b).map_err(bad)?;
    }
    let path = g.path.unwrap_or_else(|| PathBuf::from("."));
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(bad(format!(
            "path `{}` must be relative to the repository root, without `..`",
            path.display()
        )));
    }
    if g.message.is_some() && g.message_template.is_some() {
        return Err(bad(
            "give message (with {changes}) or message-template (a Go template), not both".into(),
        ));
    }
    let message = g.message.unwrap_or_else(|| DEFAULT_MESSAGE.to_string());
    if !message.contains("{changes}") {
        return Err(bad("message must contain {changes}".into()));
    }
    let message_template = match g.message_template {
        None => None,
        Some(t) => {
            let span = t.span();
            let t = t.into_inner();
            crate::images::gotemplate::Template::parse(&t)
                .map_err(|e| cx.invalid(&span, format!("git: message-template: template {e}")))?;
            Some(t)
        }
    };
    let automation = match g.automation {
        None => AutomationName::default(),
        Some(a) => match a.split_once('/') {
            Some((namespace, name))
                if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
            {
                AutomationName {
                    namespace: namespace.into(),
                    name: name.into(),
                }
            }
            _ => return Err(bad(format!("automation `{a}`: write NAMESPACE/NAME"))),
        },
    };
    Ok(Some(GitConfig {
        url,
        push_branch: g.push_branch.unwrap_or_else(|| branch.clone()),
        branch,
        path,
        author_name: g.author_name.unwrap_or_else(|| "rekon".to_string()),
        author_email: g
            .author_email
            .unwrap_or_else(|| "rekon@localhost".to_string()),
        message,
        message_template,
        message_template_values: g.message_template_values.unwrap_or_default(),
        automation,
        auth,
        policies: None,
    }))
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, GitAuth, Secret};
    use std::path::{Path, PathBuf};

    fn parse(git: &str) -> Result<Config, String> {
        Config::parse(&format!("\n[git]\n{git}"), Path::new("/r/rekon.toml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_paths() {
        let c = parse("url = \"../website.git\"\ntoken-file = \"tok\"\n").unwrap();
        let g = c.git.unwrap();
        assert_eq!(g.url, "/r/../website.git");
        assert_eq!(g.branch, "main");
        assert_eq!(g.push_branch, "main");
        assert_eq!(g.path, PathBuf::from("."));
        assert!(g.message.contains("{changes}"));
        assert_eq!(
            g.auth,
            GitAuth::Token(Secret::File(PathBuf::from("/r/tok")))
        );
        let g =
            parse("url = \"git@git.lan:home/site.git\"\nssh-key = \"k\"\npush-branch = \"bot\"\n")
                .unwrap()
                .git
                .unwrap();
        assert_eq!(g.url, "git@git.lan:home/site.git");
        assert_eq!(g.push_branch, "bot");
        assert!(matches!(
            g.auth,
            GitAuth::Ssh {
                known_hosts: None,
                ..
            }
        ));
        assert_eq!(g.message_template, None);
        assert_eq!(g.automation.to_string(), "rekon/images");
        let g = parse(
            "url = \"/x\"\nmessage-template = \"{{ .AutomationObject }}\"\n\
             message-template-values = { cluster = \"pi\" }\nautomation = \"flux-system/site\"\n",
        )
        .unwrap()
        .git
        .unwrap();
        assert_eq!(
            g.message_template.as_deref(),
            Some("{{ .AutomationObject }}")
        );
        assert_eq!(g.message_template_values["cluster"], "pi");
        assert_eq!(g.automation.to_string(), "flux-system/site");
    }

    #[test]
    fn errors_name_the_line_and_never_the_password() {
        let err = parse("url = \"https://bot:s3cret@git.lan/x.git\"\n").unwrap_err();
        assert!(err.starts_with("/r/rekon.toml:2: git: url"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        let err = parse("url = \"/x\"\nbranches = \"main\"\n").unwrap_err();
        assert!(err.contains("line 4") && err.contains("branches"), "{err}");
        let err = parse("url = \"/x\"\nmessage = \"no list\"\n").unwrap_err();
        assert!(err.contains("{changes}"), "{err}");
        let err =
            parse("url = \"/x\"\nmessage = \"{changes}\"\nmessage-template = \"x\"\n").unwrap_err();
        assert!(err.contains("not both"), "{err}");
        let err = parse(
            "url = \"/x\"\nmessage-template = \"\"\"\nok\n{{ range .Changed.Changes }}\"\"\"\n",
        )
        .unwrap_err();
        assert!(
            err.starts_with("/r/rekon.toml:4: git: message-template: template line 2: "),
            "{err}"
        );
        let err =
            parse("url = \"/x\"\nmessage-template = \"{{ env \\\"HOME\\\" }}\"\n").unwrap_err();
        assert!(err.contains("function \"env\" not defined"), "{err}");
        let err = parse("url = \"/x\"\nautomation = \"x\"\n").unwrap_err();
        assert!(err.contains("NAMESPACE/NAME"), "{err}");
        let err = parse("url = \"/x\"\npath = \"../up\"\n").unwrap_err();
        assert!(err.contains("without `..`"), "{err}");
    }
}

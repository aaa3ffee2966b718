//! Sources: where kustomizations and plugins are read from. The local
//! `[source]` directory as it is, or a `[sources.NAME]` git repository
//! fetched into a checkout under the state directory.
//!
//! A checkout is owned by rekon: every fetch resets it to the branch head
//! (files, index, untracked files), so a fetch interrupted by a crash is
//! repaired by the next one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::config::{Config, Kustomization, PluginConfig, SourceConfig};
use crate::git::{GitError, WorkTree};

/// Why a source could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A git source is configured but there is no state directory to fetch into.
    #[error("source `{source_name}`: no state directory to keep its checkout in (set state-dir in the config, or $REKON_STATE_DIR)")]
    NoStateDir {
        /// The source.
        source_name: String,
    },
    /// Fetching or checking out failed.
    #[error("source `{source_name}`: {error}")]
    Git {
        /// The source.
        source_name: String,
        /// What git said (credentials redacted).
        error: GitError,
    },
}

/// A source at one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The directory holding the files.
    pub dir: PathBuf,
    /// The commit id checked out.
    pub revision: String,
}

/// The checkout directory of `source`: one per remote URL, so changing the
/// URL never mixes histories.
pub fn checkout_dir(state_dir: &Path, source: &SourceConfig) -> PathBuf {
    let key = hex::encode(&sha2::Sha256::digest(source.git.url.as_bytes())[..6]);
    // Flux sources are named `namespace/name`.
    let name = source.name.replace('/', ".");
    state_dir.join("sources").join(format!("{name}-{key}"))
}

/// Fetch `source` and reset its checkout to the branch head.
pub fn sync(state_dir: &Path, source: &SourceConfig) -> Result<Checkout, SourceError> {
    let fail = |error| SourceError::Git {
        source_name: source.name.clone(),
        error,
    };
    let dir = checkout_dir(state_dir, source);
    remove_stale_locks(&dir);
    let tree = WorkTree::open(&dir, &source.git).map_err(fail)?;
    let revision = tree.fetch_reference(&source.reference).map_err(fail)?;
    if let Some(patterns) = &source.ignore {
        crate::flux::remove_ignored(&dir, patterns).map_err(|message| {
            fail(GitError {
                remote: crate::git::redact(&source.git.url),
                what: "checkout of".into(),
                message,
            })
        })?;
    }
    Ok(Checkout {
        dir,
        revision: revision.to_string(),
    })
}

/// The checkout an earlier run left for `source`, without fetching: what a
/// suspended source is read from.
pub fn existing(state_dir: &Path, source: &SourceConfig) -> Option<Checkout> {
    let dir = checkout_dir(state_dir, source);
    let repo = git2::Repository::open(&dir).ok()?;
    let revision = repo.head().ok()?.peel_to_commit().ok()?.id().to_string();
    Some(Checkout { dir, revision })
}

/// libgit2 leaves `*.lock` files behind when the process is killed mid-write,
/// and refuses to work until they are gone. Only rekon writes its checkouts
/// (and one rekon per state directory), so a lock found before a sync is stale.
fn remove_stale_locks(dir: &Path) {
    let git = dir.join(".git");
    let mut stack = vec![git];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                // Objects are content-addressed and written atomically: skip them.
                if !path.ends_with("objects") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "lock") {
                tracing::warn!("removing stale git lock {}", path.display());
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// Where each source's files are: the local directory and the checkouts.
#[derive(Debug, Clone)]
pub struct Roots {
    local: PathBuf,
    checkouts: BTreeMap<String, Checkout>,
}

impl Roots {
    /// Only the local `[source]` directory (no git source fetched).
    pub fn local(config: &Config) -> Roots {
        Roots {
            local: config.source_root.clone(),
            checkouts: BTreeMap::new(),
        }
    }

    /// Fetch every git source `config` declares (for one-shot commands).
    pub fn fetch(config: &Config) -> Result<Roots, SourceError> {
        let mut roots = Roots::local(config);
        for source in config.sources.values() {
            let state_dir = config
                .state_dir
                .as_deref()
                .ok_or_else(|| SourceError::NoStateDir {
                    source_name: source.name.clone(),
                })?;
            let checkout = sync(state_dir, source)?;
            tracing::info!(source = %source.name, revision = %checkout.revision, "fetched");
            roots.checkouts.insert(source.name.clone(), checkout);
        }
        Ok(roots)
    }

    /// The git sources fetched so far, by name, with their directories.
    pub fn checkouts(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.checkouts
            .iter()
            .map(|(name, c)| (name.as_str(), c.dir.as_path()))
    }

    /// Record `source` at `checkout`.
    pub fn set(&mut self, source: &str, checkout: Checkout) {
        self.checkouts.insert(source.to_string(), checkout);
    }

    /// The directory of `source` (`None`: the local directory); `None` when
    /// that git source has not been fetched yet.
    pub fn dir(&self, source: Option<&str>) -> Option<&Path> {
        match source {
            None => Some(&self.local),
            Some(name) => self.checkouts.get(name).map(|c| c.dir.as_path()),
        }
    }

    /// The directory kustomization `k` is built from (one-shot commands:
    /// every source was fetched by [`Roots::fetch`]).
    pub fn of(&self, k: &Kustomization) -> &Path {
        self.dir(k.source.as_deref())
            .expect("Roots::fetch fetched every source")
    }

    /// The revision of `source` (`None` for the local directory, which has none).
    pub fn revision(&self, source: Option<&str>) -> Option<&str> {
        source
            .and_then(|name| self.checkouts.get(name))
            .map(|c| c.revision.as_str())
    }

    /// The plugin's file and test suite, absolute; `None` while its source
    /// has not been fetched.
    pub fn plugin_files(&self, plugin: &PluginConfig) -> Option<(PathBuf, Option<PathBuf>)> {
        match plugin.source.as_deref() {
            None => Some((plugin.path.clone(), plugin.tests.clone())),
            Some(source) => {
                let dir = self.dir(Some(source))?;
                Some((
                    dir.join(&plugin.path),
                    plugin.tests.as_ref().map(|t| dir.join(t)),
                ))
            }
        }
    }

    /// Make the paths of plugins kept in git sources absolute (they are
    /// written relative to their source's checkout), for one-shot commands.
    pub fn locate_plugins(&self, config: &mut Config) {
        for plugin in config.plugins.values_mut() {
            if let Some((path, tests)) = self.plugin_files(plugin) {
                plugin.path = path;
                plugin.tests = tests;
                plugin.source = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GitAuth, GitConfig};

    #[test]
    fn an_earlier_checkout_is_found_without_fetching() {
        let state = tempfile::tempdir().unwrap();
        let source = SourceConfig {
            name: "website".into(),
            git: GitConfig {
                url: "git://unreachable.invalid/site.git".into(),
                branch: "main".into(),
                push_branch: "main".into(),
                path: ".".into(),
                author_name: String::new(),
                author_email: String::new(),
                message: String::new(),
                message_template: None,
                message_template_values: Default::default(),
                automation: Default::default(),
                auth: GitAuth::None,
                policies: None,
            },
            interval: std::time::Duration::from_secs(60),
            suspend: true,
            reference: crate::config::GitReference::Branch,
            ignore: None,
        };
        assert_eq!(existing(state.path(), &source), None);
        let dir = checkout_dir(state.path(), &source);
        let repo = git2::Repository::init(&dir).unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let who = git2::Signature::now("t", "t@t").unwrap();
        let commit = repo
            .commit(Some("HEAD"), &who, &who, "c", &tree, &[])
            .unwrap();
        let found = existing(state.path(), &source).unwrap();
        assert_eq!(found.revision, commit.to_string());
        assert_eq!(found.dir, dir);
    }
}

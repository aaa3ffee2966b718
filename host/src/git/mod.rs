//! The git side of image automation: a work tree of the configured remote
//! branch under the state directory, fetched and reset before every pass,
//! one commit per pass, and a push that reports a rejection apart from
//! other failures (so the caller can fetch and redo the update).
//!
//! Remotes: `https://` (a token as the password), `ssh://` and scp-like
//! `user@host:path` (a key file, host keys from a known_hosts file),
//! `git://` and local paths. Secrets never reach a message: URLs are shown
//! without their user part ([`redact`]) and the token is scrubbed from
//! anything libgit2 says.

mod auth;

use std::path::{Path, PathBuf};

use git2::{build::CheckoutBuilder, FetchOptions, Oid, PushOptions, Repository, ResetType};

use crate::config::{GitConfig, GitReference};

/// A git operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("git {what} {remote}: {message}")]
pub struct GitError {
    /// The remote, redacted.
    pub remote: String,
    /// What was being done (`fetch from`, `push to`, `commit in`, …).
    pub what: String,
    /// Why, with any secret removed.
    pub message: String,
}

/// Why a push did not land.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The remote refused the update (someone pushed first, or a hook said
    /// no): fetching and redoing the update may succeed.
    #[error("push to {remote} rejected: {reason}")]
    Rejected {
        /// The remote, redacted.
        remote: String,
        /// The remote's reason.
        reason: String,
    },
    /// Anything else (unreachable, authentication, …).
    #[error(transparent)]
    Failed(#[from] GitError),
}

/// `url` without its user part: `https://bot@git.lan/x` -> `https://git.lan/x`.
/// scp-like addresses and paths carry no secret and are returned as they are.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// A checkout of the configured remote, owned by rekon: every pass starts
/// by resetting it to the remote head, so nothing local survives a pass
/// except a commit made with `--no-push`, and that only until the next.
pub struct WorkTree {
    repo: Repository,
    dir: PathBuf,
    config: GitConfig,
    auth: auth::Auth,
    /// Why the last connection's ssh host key was refused (see
    /// [`auth::Auth::callbacks`]).
    refusal: std::sync::Mutex<Option<String>>,
}

/// The name remote-tracking branches are kept under.
const TRACKING: &str = "refs/remotes/origin/";

impl WorkTree {
    /// Open the work tree in `dir`, creating it (empty, to be fetched into)
    /// when absent. Reads the token or checks the key file now.
    pub fn open(dir: &Path, config: &GitConfig) -> Result<WorkTree, GitError> {
        let fail = |what: &str, message: String| GitError {
            remote: redact(&config.url),
            what: what.to_string(),
            message,
        };
        let auth =
            auth::Auth::new(&config.auth, &config.url).map_err(|m| fail("credentials for", m))?;
        let repo = match Repository::open(dir) {
            Ok(repo) => repo,
            Err(_) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| fail("work tree for", format!("{}: {e}", dir.display())))?;
                Repository::init(dir).map_err(|e| {
                    fail(
                        "work tree for",
                        format!("{}: {}", dir.display(), e.message()),
                    )
                })?
            }
        };
        Ok(WorkTree {
            repo,
            dir: dir.to_path_buf(),
            config: config.clone(),
            auth,
            refusal: Default::default(),
        })
    }

    /// The work tree's root.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn error(&self, what: &str, e: &git2::Error) -> GitError {
        let refusal = self
            .refusal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        GitError {
            remote: redact(&self.config.url),
            what: what.to_string(),
            message: refusal.unwrap_or_else(|| self.auth.scrub(&self.config.url, e.message())),
        }
    }

    /// Fetch every branch of the remote and reset the work tree (index,
    /// files, untracked files) to the head the update builds on: the push
    /// branch when it exists (earlier updates live there), else the branch.
    /// Returns that commit.
    pub fn fetch_and_reset(&self) -> Result<Oid, GitError> {
        let mut remote = self
            .repo
            .remote_anonymous(&self.auth.remote_url(&self.config.url))
            .map_err(|e| self.error("fetch from", &e))?;
        let mut options = FetchOptions::new();
        options.remote_callbacks(self.auth.callbacks(&self.refusal));
        // Forced and pruned: the tracking refs mirror the remote exactly,
        // also after someone force-pushed.
        options.prune(git2::FetchPrune::On);
        remote
            .fetch(
                &[format!("+refs/heads/*:{TRACKING}*")],
                Some(&mut options),
                None,
            )
            .map_err(|e| self.error("fetch from", &e))?;
        let tracking = |branch: &str| self.repo.refname_to_id(&format!("{TRACKING}{branch}")).ok();
        let base = tracking(&self.config.push_branch)
            .or_else(|| tracking(&self.config.branch))
            .ok_or_else(|| GitError {
                remote: redact(&self.config.url),
                what: "fetch from".into(),
                message: format!("the remote has no branch `{}`", self.config.branch),
            })?;
        self.reset_to(base)?;
        Ok(base)
    }

    /// Fetch and reset the work tree to what `reference` names (a Flux
    /// GitRepository's `ref`): the branch head, a tag, the highest tag in a
    /// semver range, a full reference name, or a commit. Returns the commit.
    pub fn fetch_reference(&self, reference: &GitReference) -> Result<Oid, GitError> {
        let missing = |message: String| GitError {
            remote: redact(&self.config.url),
            what: "fetch from".into(),
            message,
        };
        let peel = |name: &str| {
            self.repo
                .revparse_single(name)
                .and_then(|o| o.peel_to_commit())
                .map(|c| c.id())
                .ok()
        };
        let commit = match reference {
            GitReference::Branch => return self.fetch_and_reset(),
            GitReference::Tag(tag) => {
                self.fetch(&[format!("+refs/tags/{tag}:refs/tags/{tag}")])?;
                peel(&format!("refs/tags/{tag}"))
                    .ok_or_else(|| missing(format!("the remote has no tag `{tag}`")))?
            }
            GitReference::Semver(range) => {
                let req = semver_range(range).map_err(missing)?;
                self.fetch(&["+refs/tags/*:refs/tags/*".to_string()])?;
                let tags = self
                    .repo
                    .tag_names(None)
                    .map_err(|e| self.error("fetch from", &e))?;
                let best = tags
                    .iter()
                    .flatten()
                    .filter_map(|t| {
                        let version = semver::Version::parse(t.strip_prefix('v').unwrap_or(t));
                        version.ok().filter(|v| req.matches(v)).map(|v| (v, t))
                    })
                    .max_by(|a, b| a.0.cmp(&b.0))
                    .map(|(_, t)| t.to_string())
                    .ok_or_else(|| missing(format!("no tag matches semver `{range}`")))?;
                peel(&format!("refs/tags/{best}")).expect("a tag just listed")
            }
            GitReference::Name(name) => {
                self.fetch(&[format!("+{name}:refs/rekon/ref")])?;
                peel("refs/rekon/ref")
                    .ok_or_else(|| missing(format!("the remote has no reference `{name}`")))?
            }
            GitReference::Commit(sha) => {
                self.fetch(&[
                    format!("+refs/heads/*:{TRACKING}*"),
                    "+refs/tags/*:refs/tags/*".to_string(),
                ])?;
                let oid = Oid::from_str(sha)
                    .map_err(|_| missing(format!("commit `{sha}` is not a SHA-1")))?;
                self.repo
                    .find_commit(oid)
                    .map_err(|_| missing(format!("commit `{sha}` is not on the remote")))?
                    .id()
            }
        };
        self.reset_to(commit)?;
        Ok(commit)
    }

    fn fetch(&self, refspecs: &[String]) -> Result<(), GitError> {
        let mut remote = self
            .repo
            .remote_anonymous(&self.auth.remote_url(&self.config.url))
            .map_err(|e| self.error("fetch from", &e))?;
        let mut options = FetchOptions::new();
        options.remote_callbacks(self.auth.callbacks(&self.refusal));
        options.download_tags(git2::AutotagOption::None);
        remote
            .fetch(refspecs, Some(&mut options), None)
            .map_err(|e| self.error("fetch from", &e))
    }

    /// Make the work tree exactly `commit`: HEAD detached there, index and
    /// files reset, untracked files removed.
    pub fn reset_to(&self, commit: Oid) -> Result<(), GitError> {
        let what = "reset of the work tree of";
        let object = self
            .repo
            .find_object(commit, None)
            .map_err(|e| self.error(what, &e))?;
        self.repo
            .set_head_detached(commit)
            .map_err(|e| self.error(what, &e))?;
        let mut checkout = CheckoutBuilder::new();
        checkout.force().remove_untracked(true);
        self.repo
            .reset(&object, ResetType::Hard, Some(&mut checkout))
            .map_err(|e| self.error(what, &e))
    }

    /// Commit `files` (relative to the work tree) on top of HEAD with
    /// `message`, as the configured author. `None` when the files are as
    /// HEAD has them: a commit that changes nothing is never written.
    pub fn commit(&self, files: &[PathBuf], message: &str) -> Result<Option<Oid>, GitError> {
        let what = "commit in the work tree of";
        let err = |e: git2::Error| self.error(what, &e);
        let mut index = self.repo.index().map_err(err)?;
        for file in files {
            index.add_path(file).map_err(err)?;
        }
        index.write().map_err(err)?;
        let tree_id = index.write_tree().map_err(err)?;
        let head = self
            .repo
            .head()
            .and_then(|h| h.peel_to_commit())
            .map_err(err)?;
        if head.tree_id() == tree_id {
            return Ok(None);
        }
        let tree = self.repo.find_tree(tree_id).map_err(err)?;
        let signature = git2::Signature::now(&self.config.author_name, &self.config.author_email)
            .map_err(err)?;
        let id = self
            .repo
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                message,
                &tree,
                &[&head],
            )
            .map_err(err)?;
        Ok(Some(id))
    }

    /// Push `commit` to the push branch, as a fast-forward only.
    pub fn push(&self, commit: Oid) -> Result<(), PushError> {
        let what = "push to";
        let branch = &self.config.push_branch;
        // libgit2 pushes references, so the commit gets a local branch.
        let local = format!("refs/heads/{branch}");
        self.repo
            .reference(&local, commit, true, "rekon images update")
            .map_err(|e| self.error(what, &e))?;
        let mut remote = self
            .repo
            .remote_anonymous(&self.auth.remote_url(&self.config.url))
            .map_err(|e| self.error(what, &e))?;
        let rejected = std::cell::RefCell::new(None);
        let mut callbacks = self.auth.callbacks(&self.refusal);
        callbacks.push_update_reference(|_, status| {
            if let Some(reason) = status {
                *rejected.borrow_mut() = Some(reason.to_string());
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        let pushed = remote.push(&[format!("{local}:{local}")], Some(&mut options));
        let rejected_reason = rejected.borrow_mut().take();
        let redacted = redact(&self.config.url);
        match (pushed, rejected_reason) {
            (Ok(()), None) => Ok(()),
            (_, Some(reason)) => Err(PushError::Rejected {
                remote: redacted,
                reason: self.auth.scrub(&self.config.url, &reason),
            }),
            // The local transport checks fast-forwards itself.
            (Err(e), None) if e.code() == git2::ErrorCode::NotFastForward => {
                Err(PushError::Rejected {
                    remote: redacted,
                    reason: self.auth.scrub(&self.config.url, e.message()),
                })
            }
            (Err(e), None) => Err(self.error(what, &e).into()),
        }
    }
}

/// A semver range as Flux writes it (Masterminds/semver: constraints
/// separated by spaces or commas, `v` prefixes allowed) for the `semver`
/// crate (constraints separated by commas). `||` is refused.
pub fn semver_range(range: &str) -> Result<semver::VersionReq, String> {
    if range.contains("||") {
        return Err(format!("semver `{range}`: `||` ranges are not supported"));
    }
    // Operators may be written apart from their version (`>= 1.0`).
    let mut parts: Vec<String> = Vec::new();
    for word in range.split([' ', ',']).filter(|w| !w.is_empty()) {
        match parts.last_mut() {
            Some(last) if last.chars().all(|c| "<>=~^!".contains(c)) => last.push_str(word),
            _ => parts.push(word.to_string()),
        }
    }
    let parts: Vec<String> = parts
        .into_iter()
        .map(|p| {
            let op_end = p.find(|c: char| !"<>=~^".contains(c)).unwrap_or(p.len());
            let (op, version) = p.split_at(op_end);
            let version = version.strip_prefix('v').unwrap_or(version);
            // A bare version is Masterminds' "tilde or equal" (`1.2.3` is
            // exactly 1.2.3, `1.2` is 1.2.x): the semver crate's `=`, not
            // its default caret.
            let op = if op.is_empty() && !version.contains(['x', 'X', '*']) {
                "="
            } else {
                op
            };
            format!("{op}{version}")
        })
        .collect();
    semver::VersionReq::parse(&parts.join(", ")).map_err(|e| format!("semver `{range}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn flux_semver_ranges() {
        let r = super::semver_range(">=1.0.0 <2.0.0").unwrap();
        assert!(r.matches(&semver::Version::new(1, 4, 0)));
        assert!(!r.matches(&semver::Version::new(2, 0, 0)));
        let r = super::semver_range(">= v1.2, < 1.3").unwrap();
        assert!(r.matches(&semver::Version::new(1, 2, 9)));
        assert!(super::semver_range("1.x || 2.x").is_err());
        // Bare versions are exact (or a prefix), as in Masterminds.
        let r = super::semver_range("1.2.3").unwrap();
        assert!(r.matches(&semver::Version::new(1, 2, 3)));
        assert!(!r.matches(&semver::Version::new(1, 2, 4)));
        let r = super::semver_range("1.2").unwrap();
        assert!(r.matches(&semver::Version::new(1, 2, 9)));
        assert!(!r.matches(&semver::Version::new(1, 3, 0)));
    }

    #[test]
    fn redact_drops_the_user_part_only() {
        assert_eq!(
            redact("https://bot:tok@git.lan/a@b.git"),
            "https://git.lan/a@b.git"
        );
        assert_eq!(redact("https://git.lan/x.git"), "https://git.lan/x.git");
        assert_eq!(redact("ssh://git@git.lan:22/x"), "ssh://git.lan:22/x");
        assert_eq!(redact("git@git.lan:home/x.git"), "git@git.lan:home/x.git");
        assert_eq!(redact("/srv/git/x.git"), "/srv/git/x.git");
    }
}

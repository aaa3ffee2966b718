//! The last step of image automation: the setters' changes of one pass
//! become one commit on the remote branch.
//!
//! Each attempt fetches, resets the work tree to the remote head, runs the
//! setters under the configured path and, when anything changed, commits
//! every change in one commit and pushes it as a fast-forward. A rejected
//! push (someone pushed first) starts the next attempt from the new head,
//! after a back-off, so their commit and ours both survive and the update is
//! computed against what is really there. A pass that changes nothing writes
//! no commit, so running twice never makes two commits for one change. On
//! any error the work tree is reset to the remote head and the remote was
//! not written.

use std::path::{Path, PathBuf};

use git2::Oid;

use super::message::{CommitMessage, MessageError};
use super::setters::{apply_to_tree, Policies, SetterError, TreeUpdate};
use crate::git::{GitError, PushError, WorkTree};
use crate::retry::Retry;

/// How far a pass goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Compute the changes; write no file and no commit.
    DryRun,
    /// Commit in the work tree; do not push.
    Commit,
    /// Commit and push.
    Push,
}

/// What one pass did.
#[derive(Debug)]
pub struct Outcome {
    /// The remote commit the update was computed on.
    pub base: Oid,
    /// The setters' result; file paths relative to the repository root.
    pub update: TreeUpdate,
    /// The commit written (none when nothing changed, or in a dry run).
    pub commit: Option<Oid>,
    /// Whether the commit reached the remote.
    pub pushed: bool,
    /// Attempts made (more than one after rejected pushes).
    pub attempts: u32,
}

/// A pass that failed; the remote is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Fetching, committing or pushing failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The setters refused (the error names the file and line).
    #[error(transparent)]
    Setters(#[from] SetterError),
    /// The commit message template failed (the error names the automation).
    #[error(transparent)]
    Message(#[from] MessageError),
    /// Every attempt's push was rejected.
    #[error("{last} (gave up after {attempts} attempts)")]
    Rejected {
        /// Attempts made.
        attempts: u32,
        /// The last rejection.
        last: PushError,
    },
}

/// Run one pass of `policies` over `tree`: markers under `path` (relative
/// to the repository root), the commit message from `message`, rejected
/// pushes retried as `retry` says.
pub fn update(
    tree: &WorkTree,
    path: &Path,
    policies: &Policies,
    message: &CommitMessage,
    mode: Mode,
    retry: Retry,
) -> Result<Outcome, UpdateError> {
    let mut delay = retry.first_delay;
    let mut attempt = 1;
    loop {
        let base = tree.fetch_and_reset()?;
        match attempt_once(tree, path, policies, message, mode, base) {
            Ok((update, commit, pushed)) => {
                return Ok(Outcome {
                    base,
                    update,
                    commit,
                    pushed,
                    attempts: attempt,
                })
            }
            Err(e) => {
                // Nothing half-written: the files and any local commit go.
                tree.reset_to(base)?;
                match e {
                    UpdateError::Git(_) | UpdateError::Setters(_) | UpdateError::Message(_) => {
                        return Err(e)
                    }
                    UpdateError::Rejected { last, .. } if attempt >= retry.attempts => {
                        return Err(UpdateError::Rejected {
                            attempts: attempt,
                            last,
                        })
                    }
                    UpdateError::Rejected { last, .. } => {
                        tracing::warn!("{last}; fetching and redoing the update in {delay:?}");
                    }
                }
            }
        }
        std::thread::sleep(delay);
        delay = retry.next_delay(delay);
        attempt += 1;
    }
}

type Attempt = (TreeUpdate, Option<Oid>, bool);

fn attempt_once(
    tree: &WorkTree,
    path: &Path,
    policies: &Policies,
    message: &CommitMessage,
    mode: Mode,
    base: Oid,
) -> Result<Attempt, UpdateError> {
    let root = tree.dir().join(path);
    let mut update = apply_to_tree(&root, policies, mode == Mode::DryRun)?;
    relativize(&mut update, tree.dir());
    if mode == Mode::DryRun || update.files.is_empty() {
        return Ok((update, None, false));
    }
    let files: Vec<PathBuf> = update.files.iter().map(|f| f.path.clone()).collect();
    let text = message.render(&update)?;
    let Some(commit) = tree.commit(&files, &text)? else {
        return Ok((update, None, false));
    };
    if mode == Mode::Commit {
        return Ok((update, Some(commit), false));
    }
    match tree.push(commit) {
        Ok(()) => Ok((update, Some(commit), true)),
        Err(last @ PushError::Rejected { .. }) => {
            tracing::debug!(%base, "push rejected");
            Err(UpdateError::Rejected { attempts: 1, last })
        }
        Err(PushError::Failed(e)) => Err(e.into()),
    }
}

/// Make the paths of `update` relative to the repository root, as they are
/// in the commit and as the operator knows them.
fn relativize(update: &mut TreeUpdate, root: &Path) {
    let strip = |p: &mut PathBuf| {
        if let Ok(rel) = p.strip_prefix(root) {
            *p = rel.to_path_buf();
        }
    };
    for file in &mut update.files {
        strip(&mut file.path);
        for change in &mut file.changes {
            strip(&mut change.file);
        }
    }
    for warning in &mut update.warnings {
        strip(&mut warning.file);
    }
}

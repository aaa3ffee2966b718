//! What `rekon images update` and `rekon run` share: which scans are certain
//! enough to write to git, and where the [git] remote's work tree lives.

use std::path::{Path, PathBuf};

use sha2::Digest;

use super::scan::ScanResult;
use super::setters::PolicyResult;
use crate::config::{GitConfig, ImageConfig};
use crate::git::{GitError, WorkTree};

/// The image to write for `image`, or why its markers are left alone.
///
/// Only a certain scan counts: fresh tags, every platform check made, a tag
/// chosen. Deploying from a stale list could move a Pi to a tag whose
/// platform was never checked, and skipping one pass costs only time.
pub fn certain_choice(image: &ImageConfig, scanned: &ScanResult) -> Result<PolicyResult, String> {
    match &scanned.chosen {
        Some(tag) if scanned.succeeded() => Ok(PolicyResult {
            image: image.repository.clone(),
            tag: tag.clone(),
            digest: scanned.digest.clone(),
        }),
        _ => Err(match (&scanned.error, scanned.stale) {
            (Some(e), true) => format!("stale tag list ({e})"),
            (Some(e), false) => e.to_string(),
            (None, _) => "no ranked tag".to_string(),
        }),
    }
}

/// The work tree of the [git] remote under `state_dir`: one per remote URL,
/// so changing the URL never mixes histories.
pub fn work_tree_dir(state_dir: &Path, git: &GitConfig) -> PathBuf {
    let key = hex::encode(&sha2::Sha256::digest(git.url.as_bytes())[..8]);
    state_dir.join("git").join(key)
}

/// Open (or create) the work tree of the [git] remote under `state_dir`.
pub fn work_tree(state_dir: &Path, git: &GitConfig) -> Result<WorkTree, GitError> {
    WorkTree::open(&work_tree_dir(state_dir, git), git)
}

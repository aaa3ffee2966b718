//! Tag lists on disk: one plain file per image, one tag per line; and
//! beside it the digest last looked up for the chosen tag (`TAG DIGEST`).
//!
//! The last good list survives restarts (no rescan from zero) and registry
//! outages (the scan falls back to it and says so). Files are written to a
//! temporary file and renamed into place, so a crash mid-write leaves the
//! previous list, never half of one. Plain text, so an operator can `wc -l`
//! or `grep` it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A tag file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("tag list {}: {error}", path.display())]
pub struct TagStoreError {
    /// The file (or directory).
    pub path: PathBuf,
    /// Why.
    pub error: std::io::Error,
}

/// A directory of tag lists.
#[derive(Debug, Clone)]
pub struct TagStore {
    dir: PathBuf,
}

/// A stored list and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTags {
    /// The tags, in the registry's order.
    pub tags: Vec<String>,
    /// When the list was last written (the scan that fetched it).
    pub scanned_at: SystemTime,
}

impl TagStore {
    /// Tag lists under `dir` (created on the first save).
    pub fn new(dir: impl Into<PathBuf>) -> TagStore {
        TagStore { dir: dir.into() }
    }

    /// The file holding `repository`'s tags: the repository with `/` and `:`
    /// spelled `_` and `_` doubled, so distinct names never share a file.
    pub fn file(&self, repository: &str) -> PathBuf {
        self.named(repository, ".tags")
    }

    /// The file holding the digest recorded for `repository`'s chosen tag.
    pub fn digest_file(&self, repository: &str) -> PathBuf {
        self.named(repository, ".digest")
    }

    fn named(&self, repository: &str, suffix: &str) -> PathBuf {
        let mut name = String::with_capacity(repository.len() + 5);
        for c in repository.chars() {
            match c {
                '_' => name.push_str("__"),
                '/' => name.push_str("_s"),
                ':' => name.push_str("_c"),
                c => name.push(c),
            }
        }
        name.push_str(suffix);
        self.dir.join(name)
    }

    /// The stored list of `repository`, if there is one.
    pub fn load(&self, repository: &str) -> Result<Option<StoredTags>, TagStoreError> {
        let path = self.file(repository);
        let err = |source| TagStoreError {
            path: path.clone(),
            error: source,
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        let scanned_at = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_err(err)?;
        Ok(Some(StoredTags {
            tags: text
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            scanned_at,
        }))
    }

    /// The digest recorded for `repository:tag`, if the last one recorded
    /// was for that tag.
    pub fn load_digest(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<String>, TagStoreError> {
        let path = self.digest_file(repository);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text
                .trim_end()
                .split_once(' ')
                .filter(|(t, _)| *t == tag)
                .map(|(_, digest)| digest.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(TagStoreError { path, error }),
        }
    }

    /// Record `digest` for `repository:tag`, replacing any earlier one.
    pub fn save_digest(
        &self,
        repository: &str,
        tag: &str,
        digest: &str,
    ) -> Result<(), TagStoreError> {
        std::fs::create_dir_all(&self.dir).map_err(|error| TagStoreError {
            path: self.dir.clone(),
            error,
        })?;
        let path = self.digest_file(repository);
        crate::atomic::write(&path, format!("{tag} {digest}\n").as_bytes())
            .map_err(|error| TagStoreError { path, error })
    }

    /// Replace the stored list of `repository`, atomically.
    pub fn save(&self, repository: &str, tags: &[String]) -> Result<(), TagStoreError> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TagStoreError {
                path,
                error: source,
            }
        };
        std::fs::create_dir_all(&self.dir).map_err(err(&self.dir))?;
        let path = self.file(repository);
        let mut text = String::with_capacity(tags.iter().map(|t| t.len() + 1).sum());
        for tag in tags {
            text.push_str(tag);
            text.push('\n');
        }
        crate::atomic::write(&path, text.as_bytes()).map_err(err(&path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let store = TagStore::new(dir.path().join("tags"));
        assert_eq!(store.load("harbor.lan/website/frontend").unwrap(), None);
        let tags = vec!["main-abc1234-1767225600".to_string(), "v1".to_string()];
        store.save("harbor.lan/website/frontend", &tags).unwrap();
        store
            .save("harbor.lan/website/frontend", &tags[..1])
            .unwrap();
        let stored = store.load("harbor.lan/website/frontend").unwrap().unwrap();
        assert_eq!(stored.tags, &tags[..1]);
        let file = store.file("harbor.lan/website/frontend");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "main-abc1234-1767225600\n"
        );
        // Nothing but the list is left behind (no temporary files).
        assert_eq!(
            std::fs::read_dir(dir.path().join("tags")).unwrap().count(),
            1
        );
    }

    #[test]
    fn a_digest_is_kept_for_its_tag_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = TagStore::new(dir.path().join("tags"));
        let sha = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        assert_eq!(store.load_digest("h/app", "v1").unwrap(), None);
        store.save_digest("h/app", "v1", sha).unwrap();
        assert_eq!(
            store.load_digest("h/app", "v1").unwrap().as_deref(),
            Some(sha)
        );
        assert_eq!(store.load_digest("h/app", "v2").unwrap(), None);
        assert_eq!(store.load_digest("h/other", "v1").unwrap(), None);
        // The tag list beside it is another file.
        store.save("h/app", &["v1".to_string()]).unwrap();
        assert_eq!(
            store.load_digest("h/app", "v1").unwrap().as_deref(),
            Some(sha)
        );
    }

    #[test]
    fn distinct_repositories_get_distinct_files() {
        let store = TagStore::new("/s");
        assert_ne!(store.file("a/b_c"), store.file("a_b/c"));
        assert_ne!(store.file("h:5000/x"), store.file("h_5000/x"));
        assert_eq!(
            store.file("127.0.0.1:5000/web/f"),
            Path::new("/s/127.0.0.1_c5000_sweb_sf.tags")
        );
    }
}

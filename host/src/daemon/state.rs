//! What `rekon run` remembers across restarts, in one state directory:
//!
//! ```text
//! STATE/run/lock          held (flock) while a rekon runs on this directory
//! STATE/run/state.json    last applied revisions, last chosen tags (atomic writes)
//! STATE/tags/             tag lists of the last good scans (images::tagstore)
//! STATE/sources/NAME-*/   git checkouts of the sources (repaired on the next fetch)
//! STATE/git/              the work tree image automation commits in
//! ```
//!
//! Every file is written to a temporary name and renamed over the old one,
//! so a kill -9 at any moment leaves the previous or the new version, never
//! a mix; the next start reads it and carries on.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Why the state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Creating, reading or writing failed.
    #[error("state directory {}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// Another rekon holds the lock.
    #[error("state directory {} is in use by another `rekon run` (lock {}); give each rekon its own state-dir", dir.display(), dir.join("run/lock").display())]
    Locked {
        /// The state directory.
        dir: PathBuf,
    },
}

/// What is remembered; every field defaults so older files still load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct Remembered {
    /// Per kustomization: the source revision last applied successfully.
    pub applied: BTreeMap<String, String>,
    /// Per image policy: the tag last chosen by a certain scan.
    pub chosen: BTreeMap<String, String>,
}

/// The state directory, locked for this process.
pub struct State {
    dir: PathBuf,
    remembered: Mutex<Remembered>,
    // Held for the process's life: the lock is released when the file closes.
    _lock: File,
}

impl State {
    /// Lock `dir` (creating it) and read what an earlier run remembered.
    /// A state file that cannot be parsed is set aside, not fatal: it is
    /// only an optimisation, and the next reconcile rebuilds it.
    pub fn open(dir: &Path) -> Result<State, StateError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io {
                path,
                error: source,
            }
        };
        let run = dir.join("run");
        std::fs::create_dir_all(&run).map_err(io(&run))?;
        let lock_path = run.join("lock");
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let locked = unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&lock),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        };
        if locked != 0 {
            return Err(StateError::Locked {
                dir: dir.to_path_buf(),
            });
        }
        let file = run.join("state.json");
        let remembered = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                let aside = run.join("state.json.unreadable");
                tracing::warn!(
                    "{}: {e}; moved to {} and starting afresh",
                    file.display(),
                    aside.display()
                );
                let _ = std::fs::rename(&file, &aside);
                Remembered::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Remembered::default(),
            Err(e) => return Err(io(&file)(e)),
        };
        Ok(State {
            dir: dir.to_path_buf(),
            remembered: Mutex::new(remembered),
            _lock: lock,
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A copy of what is remembered.
    pub fn remembered(&self) -> Remembered {
        self.remembered.lock().expect("state lock").clone()
    }

    /// Change what is remembered and write it (atomically) if it changed.
    pub fn update(&self, f: impl FnOnce(&mut Remembered)) -> Result<(), StateError> {
        let mut remembered = self.remembered.lock().expect("state lock");
        let before = remembered.clone();
        f(&mut remembered);
        if *remembered == before {
            return Ok(());
        }
        let file = self.dir.join("run/state.json");
        let bytes = serde_json::to_vec_pretty(&*remembered).expect("state serialises");
        crate::atomic::write(&file, &bytes).map_err(|source| StateError::Io {
            path: file,
            error: source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_across_opens_and_locks_out_a_second_process() {
        let dir = tempfile::tempdir().unwrap();
        {
            let state = State::open(dir.path()).unwrap();
            state
                .update(|r| {
                    r.applied.insert("frontend".into(), "abc".into());
                })
                .unwrap();
            // flock locks are per open file description: a second open in this
            // process conflicts as a second process would.
            let err = State::open(dir.path()).err().unwrap().to_string();
            assert!(err.contains("in use by another `rekon run`"), "{err}");
        }
        let state = State::open(dir.path()).unwrap();
        assert_eq!(state.remembered().applied["frontend"], "abc");
    }

    #[test]
    fn an_unreadable_state_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        std::fs::write(dir.path().join("run/state.json"), b"{ half a fi").unwrap();
        let state = State::open(dir.path()).unwrap();
        assert_eq!(state.remembered(), Remembered::default());
        assert!(dir.path().join("run/state.json.unreadable").exists());
    }
}

//! Root-confined file access.
//!
//! Every read goes through the `cap_std::fs::Dir` of the source root, so a
//! symlink that points out of the checkout fails in the kernel (openat2
//! `RESOLVE_BENEATH`) instead of being followed. Paths written in
//! kustomizations are first joined and normalized lexically, so `../base`
//! inside the root works and `../../..` is refused with a message naming the
//! entry before any file system call is made.

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use cap_std::fs::Dir;

use crate::Error;

/// The file names kustomize recognizes as a kustomization, in its order.
pub(crate) const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Why an entry cannot be joined to its base directory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Escape {
    /// The entry is an absolute path.
    Absolute,
    /// The entry climbs above the root with `..`.
    Outside,
}

/// Joins `entry` to the root-relative directory `base`, resolving `.` and
/// `..` lexically (as kustomize's `filepath.Clean`). The result is relative to
/// the root and has only normal components; the root itself is `""`.
pub(crate) fn join(base: &Path, entry: &Path) -> Result<PathBuf, Escape> {
    let mut out = base.to_path_buf();
    for component in entry.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err(Escape::Absolute),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(Escape::Outside);
                }
            }
            Component::Normal(part) => out.push(part),
        }
    }
    Ok(out)
}

/// cap-std wants `.` for the root directory itself.
pub(crate) fn cap(path: &Path) -> &Path {
    if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    }
}

/// What a root-relative path is, following symlinks inside the root.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    File,
    Dir,
    Missing,
    /// cap-std refused the path: a symlink on the way points out of the root.
    Outside,
}

/// Looks `path` up without reading it.
pub(crate) fn lookup(root: &Dir, path: &Path) -> Result<Lookup, Error> {
    match root.metadata(cap(path)) {
        Ok(meta) if meta.is_dir() => Ok(Lookup::Dir),
        Ok(_) => Ok(Lookup::File),
        Err(err) if is_missing(&err) => Ok(Lookup::Missing),
        Err(err) if is_escape(&err) => Ok(Lookup::Outside),
        Err(source) => Err(Error::Io {
            file: path.to_path_buf(),
            error: source,
        }),
    }
}

/// A file or directory named by a kustomization entry.
#[derive(Debug)]
pub(crate) struct Entry {
    pub path: PathBuf,
    pub is_dir: bool,
}

/// Resolves `entry` of the kustomization `file` (in directory `dir`): joins
/// it lexically, then checks through cap-std that it exists inside the root.
/// Errors name the kustomization file and the entry as written.
pub(crate) fn resolve(
    root: &Dir,
    dir: &Path,
    file: &Path,
    what: &'static str,
    entry: &str,
) -> Result<Entry, Error> {
    let path = join(dir, Path::new(entry)).map_err(|escape| {
        let (file, entry) = (file.to_path_buf(), entry.to_string());
        match escape {
            Escape::Absolute => Error::AbsolutePath { file, what, entry },
            Escape::Outside => Error::OutsideRoot { file, what, entry },
        }
    })?;
    let is_dir = match lookup(root, &path)? {
        Lookup::File => false,
        Lookup::Dir => true,
        Lookup::Missing => {
            return Err(Error::MissingEntry {
                file: file.to_path_buf(),
                what,
                entry: entry.to_string(),
            })
        }
        Lookup::Outside => {
            return Err(Error::OutsideRoot {
                file: file.to_path_buf(),
                what,
                entry: entry.to_string(),
            })
        }
    };
    Ok(Entry { path, is_dir })
}

/// Reads a UTF-8 file inside the root.
pub(crate) fn read(root: &Dir, path: &Path) -> Result<String, Error> {
    root.read_to_string(cap(path)).map_err(|source| Error::Io {
        file: path.to_path_buf(),
        error: source,
    })
}

/// Reads a file inside the root as bytes (generator sources may be binary).
pub(crate) fn read_bytes(root: &Dir, path: &Path) -> Result<Vec<u8>, Error> {
    root.read(cap(path)).map_err(|error| Error::Io {
        file: path.to_path_buf(),
        error,
    })
}

/// The entry names of a directory, sorted by their bytes (as Go's
/// `filepath.Walk`, which Flux uses to generate kustomizations).
pub(crate) fn list(root: &Dir, dir: &Path) -> Result<Vec<OsString>, Error> {
    let io_err = |source| Error::Io {
        file: dir.to_path_buf(),
        error: source,
    };
    let mut names = Vec::new();
    for entry in root.read_dir(cap(dir)).map_err(io_err)? {
        names.push(entry.map_err(io_err)?.file_name());
    }
    names.sort();
    Ok(names)
}

/// The directory's path with symlinks resolved, relative to the root: one
/// identity per directory, however it was reached, for cycle detection.
pub(crate) fn canonical(root: &Dir, dir: &Path) -> Result<PathBuf, Error> {
    root.canonicalize(cap(dir)).map_err(|source| Error::Io {
        file: dir.to_path_buf(),
        error: source,
    })
}

/// The kustomization file of `dir`, if it has one.
pub(crate) fn find_kustomization(root: &Dir, dir: &Path) -> Result<Option<PathBuf>, Error> {
    let mut found = Vec::new();
    for name in KUSTOMIZATION_FILES {
        let path = dir.join(name);
        match lookup(root, &path)? {
            Lookup::File => found.push(name),
            Lookup::Outside => {
                return Err(Error::OutsideRoot {
                    file: dir.to_path_buf(),
                    what: "kustomization",
                    entry: name.to_string(),
                })
            }
            Lookup::Dir | Lookup::Missing => {}
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [name] => Ok(Some(dir.join(name))),
        _ => Err(Error::AmbiguousKustomization {
            file: dir.to_path_buf(),
            names: found.iter().map(|n| n.to_string()).collect(),
        }),
    }
}

fn is_missing(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// cap-std reports every sandbox escape as this `PermissionDenied` error.
fn is_escape(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::PermissionDenied
        && err.to_string().contains("outside of the filesystem")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_normalizes_lexically() {
        let base = Path::new("flux/apps/frontend");
        assert_eq!(
            join(base, Path::new("../base/./deploy.yaml")),
            Ok(PathBuf::from("flux/apps/base/deploy.yaml"))
        );
        assert_eq!(join(base, Path::new("../../..")), Ok(PathBuf::new()));
        assert_eq!(join(base, Path::new("a/b/../c")), Ok(base.join("a/c")));
        assert_eq!(join(base, Path::new("../../../..")), Err(Escape::Outside));
        assert_eq!(join(base, Path::new("/etc/passwd")), Err(Escape::Absolute));
        assert_eq!(join(Path::new(""), Path::new("..")), Err(Escape::Outside));
    }
}

//! File system helpers of the setters: which files to look at, and how to
//! replace one without ever leaving it half-written.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Every `*.yaml` / `*.yml` file under `root` (or `root` itself if it is a
/// file), sorted. `.git` is skipped. Symbolic links are not followed: a link
/// to something inside the root names a file the walk reaches anyway (and
/// replacing it by rename would turn the link into a copy), and one pointing
/// out of the root must not be touched at all.
pub(crate) fn yaml_files(root: &Path) -> Result<Vec<PathBuf>, (PathBuf, io::Error)> {
    let meta = std::fs::metadata(root).map_err(|e| (root.to_path_buf(), e))?;
    if meta.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    // Paths under `.` print as `a/b.yaml`, not `./a/b.yaml`.
    let start = if root == Path::new(".") {
        PathBuf::new()
    } else {
        root.to_path_buf()
    };
    let mut found = Vec::new();
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let read_from = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir.as_path()
        };
        let err = |e| (read_from.to_path_buf(), e);
        for entry in std::fs::read_dir(read_from).map_err(err)? {
            let entry = entry.map_err(err)?;
            let kind = entry.file_type().map_err(err)?;
            let name = entry.file_name();
            let path = dir.join(&name);
            if kind.is_dir() {
                if name != ".git" {
                    stack.push(path);
                }
            } else if kind.is_file() && is_yaml(&name) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn is_yaml(name: &OsStr) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Whether `haystack` contains `needle`. Looks for the needle's first byte
/// (the quote of `"$imagepolicy"`) with the slice search, then compares.
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut at = 0;
    while let Some(i) = haystack[at..].iter().position(|&b| b == first) {
        let start = at + i + 1;
        if haystack[start..].starts_with(rest) {
            return true;
        }
        at = start;
    }
    false
}

/// Replace `path` with `bytes` atomically: write a temporary file in the
/// same directory (a rename is only atomic within one file system), give it
/// the original's permissions, flush it to disk, rename it over the original.
/// Readers see the old file or the new one, never a mix; on failure the
/// temporary file is removed and the original is untouched.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let permissions = std::fs::metadata(path)?.permissions();
    // The prefix makes a leftover from a killed process recognisable, and
    // the suffix keeps it out of the next pass (it is not `*.yaml`).
    let mut tmp = tempfile::Builder::new()
        .prefix(".rekon-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().set_permissions(permissions)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable (a Pi loses power); not all platforms
    // can open a directory, and the data is already safe, so best effort.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_finds_the_literal_anywhere() {
        let needle = br#""$imagepolicy""#;
        assert!(contains(br#"x # {"$imagepolicy": "a:b"}"#, needle));
        assert!(contains(br#""$imagepolicy""#, needle));
        assert!(contains(br#""""$imagepolicy"""#, needle));
        assert!(!contains(br#"{'$imagepolicy': 'a:b'}"#, needle));
        assert!(!contains(br#""$imagepolic"#, needle));
        assert!(!contains(b"", needle));
    }
}

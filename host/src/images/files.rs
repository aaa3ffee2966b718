//! File system helpers of the setters: which files to look at, and how to
//! replace one without ever leaving it half-written.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

/// Every `*.yaml` / `*.yml` file and every file named `Kustomization` under
/// `root` (or `root` itself if it is a file), sorted: the files Flux's
/// image-automation-controller reads for markers. `.git` is skipped. Symbolic links are not followed: a link
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
            } else if kind.is_file() && is_manifest(&name) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `*.yaml`, `*.yml`, or kustomize's extensionless `Kustomization` (exactly
/// so spelled, as Flux and kustomize match it).
fn is_manifest(name: &OsStr) -> bool {
    name == "Kustomization"
        || Path::new(name)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kustomization_files_without_extension_are_manifests() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "Kustomization",
            "kustomization",
            "a.yaml",
            "b.YML",
            "c.txt",
            "Kustomization.bak",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/Kustomization"), "").unwrap();
        let names: Vec<_> = yaml_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            ["Kustomization", "a.yaml", "b.YML", "sub/Kustomization"]
        );
    }

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

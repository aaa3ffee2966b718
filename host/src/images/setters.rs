//! The setters: write a policy's latest image at every marker that names
//! the policy, changing only the bytes of the value.
//!
//! [`apply_to_text`] works on one text; [`apply_to_tree`] on every YAML file
//! under a directory, computing all updates before writing any file, and
//! writing each one atomically.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::files;
pub use super::marker::Field;
use super::marker::{find_markers, Quoting, MARKER_LITERAL};
use super::reference::{check_digest, check_name, check_tag, same_repository, ImageRef};

/// Latest images by policy, keyed `NAMESPACE:NAME`.
pub type Policies = BTreeMap<String, PolicyResult>;

/// The image an image policy selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyResult {
    /// The repository name, e.g. `harbor.lan/website/frontend`.
    pub image: String,
    /// The selected tag.
    pub tag: String,
    /// The tag's digest, when the policy knows it.
    pub digest: Option<String>,
}

impl PolicyResult {
    /// From `NAME:TAG[@DIGEST]` (the tag is required).
    pub fn parse(reference: &str) -> Result<Self, super::ReferenceError> {
        let parsed = ImageRef::parse(reference)?;
        let Some(tag) = parsed.tag else {
            return Err(super::ReferenceError {
                reference: reference.to_owned(),
                reason: "a tag is required (NAME:TAG or NAME:TAG@DIGEST)".into(),
            });
        };
        Ok(Self {
            image: parsed.name,
            tag,
            digest: parsed.digest,
        })
    }

    /// Check the parts against the reference grammar. Besides rejecting
    /// nonsense, this guarantees every value written is plain-YAML safe
    /// (no quotes, spaces, `#` or `: `), so no escaping is ever needed.
    pub fn check(&self) -> Result<(), String> {
        check_name(&self.image)?;
        check_tag(&self.tag)?;
        if let Some(digest) = &self.digest {
            check_digest(digest)?;
        }
        Ok(())
    }

    /// What the full form writes: `image:tag`, or `image:tag@digest`.
    pub fn reference(&self) -> ImageRef {
        ImageRef {
            name: self.image.clone(),
            tag: Some(self.tag.clone()),
            digest: self.digest.clone(),
        }
    }
}

/// One value a setter changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The file, as given to [`apply_to_text`] or found under the root.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The policy, `NAMESPACE:NAME`.
    pub policy: String,
    /// Which part the marker sets.
    pub field: Field,
    /// The value before (without quotes).
    pub old: String,
    /// The value after (without quotes).
    pub new: String,
}

impl fmt::Display for Change {
    /// `FILE:LINE POLICY[:FIELD] OLD -> NEW`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} {}", self.file.display(), self.line, self.policy)?;
        if let Some(suffix) = self.field.suffix() {
            write!(f, ":{suffix}")?;
        }
        write!(f, " {} -> {}", self.old, self.new)
    }
}

/// A marker that was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// Why.
    pub kind: WarningKind,
}

/// Why a marker was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// The marker names a policy that is not among the given ones (another
    /// automation's, or a typo).
    UnknownPolicy {
        /// The policy the marker names, `NAMESPACE:NAME`.
        policy: String,
    },
    /// The comment contains `"$imagepolicy"` but is not a valid marker.
    MalformedMarker {
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        match &self.kind {
            WarningKind::UnknownPolicy { policy } => {
                write!(f, "marker names unknown policy {policy}; left alone")
            }
            WarningKind::MalformedMarker { reason } => {
                write!(f, "malformed image policy marker: {reason}; left alone")
            }
        }
    }
}

/// The result of [`apply_to_text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextUpdate {
    /// The new text (equal to the input when nothing changed).
    pub text: String,
    /// The values changed, in text order.
    pub changes: Vec<Change>,
    /// Markers left alone, in text order.
    pub warnings: Vec<Warning>,
}

/// One file [`apply_to_tree`] changed (or would change, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUpdate {
    /// The file.
    pub path: PathBuf,
    /// Its text before.
    pub before: String,
    /// Its text after.
    pub after: String,
    /// The values changed.
    pub changes: Vec<Change>,
}

/// The result of [`apply_to_tree`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeUpdate {
    /// Files with at least one change, sorted by path.
    pub files: Vec<FileUpdate>,
    /// Markers left alone, by file and line.
    pub warnings: Vec<Warning>,
    /// How many `*.yaml` / `*.yml` / `Kustomization` files were read.
    pub yaml_files: usize,
    /// How many of them contain `"$imagepolicy"` (and so were parsed).
    pub marked_files: usize,
    /// Whether the files were written (false for a dry run).
    pub written: bool,
}

impl TreeUpdate {
    /// Every change, by file then line.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.files.iter().flat_map(|f| &f.changes)
    }
}

/// A setter failure, naming the file and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum SetterError {
    /// A given policy result does not fit the image reference grammar.
    #[error("policy {policy}: {reason}")]
    InvalidPolicy {
        /// The policy, `NAMESPACE:NAME`.
        policy: String,
        /// What is wrong.
        reason: String,
    },
    /// A directory could not be listed or a file could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A file could not be replaced. Files before it (in path order) were
    /// written; this one and those after it were not.
    #[error("{}: cannot write: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A file with a marker is not UTF-8.
    #[error("{}:{line}: not UTF-8 text; files with image policy markers must be UTF-8", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
    },
    /// A marker names a given policy, but its value cannot be rewritten in
    /// place (a block scalar, a flow collection, an empty value, …). An error
    /// rather than a warning: the policy is active, so leaving the value
    /// alone would silently keep deploying the old image.
    #[error("{}:{line}: marker {marker} is on {reason}; setters rewrite only one-line `key: value` or `- value` scalars", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The marker, `NAMESPACE:NAME[:FIELD]`.
        marker: String,
        /// What the value is.
        reason: String,
    },
    /// A `:digest` marker names a policy that knows no digest. Keeping the
    /// old digest would pin the old image, so this is an error.
    #[error("{}:{line}: marker {policy}:digest sets a digest, but policy {policy} knows none", path.display())]
    MissingDigest {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The policy, `NAMESPACE:NAME`.
        policy: String,
    },
}

/// Set the values of every marker in `text` that names one of `policies`.
///
/// `file` only names the text in changes, warnings and errors. Markers of
/// unknown policies and malformed markers are reported in
/// [`TextUpdate::warnings`] and left alone. Applying the result again
/// changes nothing.
///
/// What each marker form writes:
/// - `NS:NAME`: `image:tag`, plus `@digest` when the policy knows one (an
///   old digest is dropped otherwise: it would pin the old image). When the
///   current value names the same repository as the policy (after Docker's
///   normalization, so `nginx` and `docker.io/library/nginx` are one), its
///   spelling of the name is kept; otherwise the policy's name is written.
/// - `NS:NAME:tag`: the tag. `NS:NAME:name`: the name (kept when it is the
///   same repository). `NS:NAME:digest`: the digest.
///
/// Only the value's bytes change, and quoting is kept: `'v'` stays single-,
/// `"v"` double-quoted. One exception: a plain value that YAML would read
/// as a number, boolean or null (a tag like `1.10`) is written in double
/// quotes, since unquoted it would no longer be a string (`1.10` is the
/// float 1.1 to Helm).
pub fn apply_to_text(
    text: &str,
    file: &Path,
    policies: &Policies,
) -> Result<TextUpdate, SetterError> {
    check_policies(policies)?;
    apply_checked(text, file, policies)
}

/// Run the setters over every `*.yaml` / `*.yml` / `Kustomization` file under `root` (or the
/// file `root`), and write the changed files unless `dry_run`.
///
/// The walk skips `.git` and does not follow symbolic links. Only files
/// whose bytes contain the literal `"$imagepolicy"` are parsed: every marker
/// contains it, so the others cannot change, and skipping them keeps a pass
/// over a large repository to one read per file and guarantees unrelated
/// files are never touched.
///
/// All updates are computed before anything is written, so an error in any
/// file (see [`SetterError`]) leaves every file as it was. Each changed file
/// is then replaced atomically (a temporary file in the same directory,
/// renamed over it) with its permissions kept; files whose values are
/// already right are not rewritten.
pub fn apply_to_tree(
    root: &Path,
    policies: &Policies,
    dry_run: bool,
) -> Result<TreeUpdate, SetterError> {
    check_policies(policies)?;
    let paths = files::yaml_files(root).map_err(|(path, source)| SetterError::Read {
        path,
        error: source,
    })?;
    let mut update = TreeUpdate {
        files: Vec::new(),
        warnings: Vec::new(),
        yaml_files: paths.len(),
        marked_files: 0,
        written: false,
    };
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|source| SetterError::Read {
            path: path.clone(),
            error: source,
        })?;
        if !files::contains(&bytes, MARKER_LITERAL.as_bytes()) {
            continue;
        }
        update.marked_files += 1;
        let before = String::from_utf8(bytes).map_err(|e| {
            let valid = e.utf8_error().valid_up_to();
            let line = 1 + e.as_bytes()[..valid]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            SetterError::NotUtf8 {
                path: path.clone(),
                line,
            }
        })?;
        let TextUpdate {
            text: after,
            changes,
            warnings,
        } = apply_checked(&before, &path, policies)?;
        update.warnings.extend(warnings);
        if !changes.is_empty() {
            update.files.push(FileUpdate {
                path,
                before,
                after,
                changes,
            });
        }
    }
    if !dry_run {
        for file in &update.files {
            crate::atomic::write(&file.path, file.after.as_bytes()).map_err(|source| {
                SetterError::Write {
                    path: file.path.clone(),
                    error: source,
                }
            })?;
        }
        update.written = true;
    }
    Ok(update)
}

fn check_policies(policies: &Policies) -> Result<(), SetterError> {
    for (policy, result) in policies {
        result
            .check()
            .map_err(|reason| SetterError::InvalidPolicy {
                policy: policy.clone(),
                reason,
            })?;
    }
    Ok(())
}

fn apply_checked(text: &str, file: &Path, policies: &Policies) -> Result<TextUpdate, SetterError> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut copied = 0;
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    for found in find_markers(text) {
        let warn = |kind| Warning {
            file: file.to_path_buf(),
            line: found.line,
            kind,
        };
        let marker = match found.marker {
            Ok(marker) => marker,
            Err(reason) => {
                warnings.push(warn(WarningKind::MalformedMarker { reason }));
                continue;
            }
        };
        let Some(policy) = policies.get(&marker.policy) else {
            warnings.push(warn(WarningKind::UnknownPolicy {
                policy: marker.policy,
            }));
            continue;
        };
        let unsupported = |reason: &str| SetterError::Unsupported {
            path: file.to_path_buf(),
            line: found.line,
            marker: marker.to_string(),
            reason: reason.to_owned(),
        };
        let slot = found.slot.map_err(unsupported)?;
        let old = decode(&text[slot.range.clone()], slot.quoting).map_err(unsupported)?;
        let new =
            desired(&old, marker.field, policy).ok_or_else(|| SetterError::MissingDigest {
                path: file.to_path_buf(),
                line: found.line,
                policy: marker.policy.clone(),
            })?;
        if new == old {
            continue;
        }
        out.push_str(&text[copied..slot.range.start]);
        out.push_str(&encode(&new, slot.quoting));
        copied = slot.range.end;
        changes.push(Change {
            file: file.to_path_buf(),
            line: found.line,
            policy: marker.policy,
            field: marker.field,
            old,
            new,
        });
    }
    out.push_str(&text[copied..]);
    Ok(TextUpdate {
        text: out,
        changes,
        warnings,
    })
}

/// The value a marker wants, or `None` for a digest the policy lacks.
fn desired(old: &str, field: Field, policy: &PolicyResult) -> Option<String> {
    // The current spelling of the repository is kept when it is the same
    // one: rewriting `nginx` as `docker.io/library/nginx` is noise.
    let name = |current: &str| {
        if check_name(current).is_ok() && same_repository(current, &policy.image) {
            current.to_owned()
        } else {
            policy.image.clone()
        }
    };
    match field {
        Field::Full => {
            let current = ImageRef::parse(old).map(|r| r.name).unwrap_or_default();
            let reference = ImageRef {
                name: name(&current),
                ..policy.reference()
            };
            Some(reference.to_string())
        }
        Field::Tag => Some(policy.tag.clone()),
        Field::Name => Some(name(old)),
        Field::Digest => policy.digest.clone(),
    }
}

/// The value of a scalar's content bytes.
fn decode(raw: &str, quoting: Quoting) -> Result<String, &'static str> {
    match quoting {
        Quoting::Plain => Ok(raw.to_owned()),
        Quoting::Single => Ok(raw.replace("''", "'")),
        // Image references never need escapes; one here is not a value a
        // setter should guess about.
        Quoting::Double if raw.contains('\\') => Err("a double-quoted value with escapes"),
        Quoting::Double => Ok(raw.to_owned()),
    }
}

/// The content bytes for `value` in the scalar's style. Checked policy
/// results contain no quote, backslash, space or `#`, so no escaping.
fn encode(value: &str, quoting: Quoting) -> String {
    match quoting {
        Quoting::Plain if !is_plain_string(value) => format!("\"{value}\""),
        Quoting::Single => value.replace('\'', "''"),
        _ => value.to_owned(),
    }
}

/// Whether YAML reads `value`, written plain, as a string. Helm and
/// kustomize use Go YAML with 1.1 rules, other tools 1.2 core; a value
/// either would read as null, a boolean or a number is not.
fn is_plain_string(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
        ".nan", ".NaN", ".NAN",
    ];
    if WORDS.contains(&value) {
        return false;
    }
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return false;
    }
    !is_number(unsigned)
}

/// Decimal, hex, octal, binary and base-60 (YAML 1.1) integers, and floats.
fn is_number(s: &str) -> bool {
    let digits_in = |s: &str, radix: u32| {
        !s.is_empty() && !s.starts_with('_') && s.chars().all(|c| c == '_' || c.is_digit(radix))
    };
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = s.strip_prefix(prefix) {
            return digits_in(rest, radix);
        }
    }
    if let Some((head, tail)) = s.split_once(':') {
        // 1:30, 190:20:30.5
        let (tail, fraction) = tail.split_once('.').unwrap_or((tail, ""));
        return digits_in(head, 10)
            && tail
                .split(':')
                .all(|p| (1..=2).contains(&p.len()) && p.parse::<u8>().is_ok_and(|n| n < 60))
            && fraction.chars().all(|c| c == '_' || c.is_ascii_digit());
    }
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if let Some(exponent) = exponent {
        let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if exponent.is_empty() || !exponent.chars().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    let (int, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let ok = |p: &str| p.chars().all(|c| c == '_' || c.is_ascii_digit()) && !p.starts_with('_');
    ok(int) && ok(fraction) && mantissa.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn policies(pairs: &[(&str, &str)]) -> Policies {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), PolicyResult::parse(v).unwrap()))
            .collect()
    }

    fn apply(text: &str, pairs: &[(&str, &str)]) -> TextUpdate {
        apply_to_text(text, Path::new("f.yaml"), &policies(pairs)).unwrap()
    }

    #[test]
    fn full_form_writes_name_tag_and_digest() {
        let m = r#" # {"$imagepolicy": "ns:app"}"#;
        let out = apply(
            &format!("image: harbor.lan/a/app:1.0{m}\n"),
            &[("ns:app", "harbor.lan/a/app:1.1")],
        );
        assert_eq!(out.text, format!("image: harbor.lan/a/app:1.1{m}\n"));
        let with_digest = format!("harbor.lan/a/app:1.1@{SHA}");
        let out = apply(
            &format!("image: harbor.lan/a/app:1.0{m}\n"),
            &[("ns:app", &with_digest)],
        );
        assert_eq!(out.text, format!("image: {with_digest}{m}\n"));
        // Without a digest in the policy, an old digest goes: it pins the old image.
        let out = apply(
            &format!("image: harbor.lan/a/app:1.0@{SHA}{m}\n"),
            &[("ns:app", "harbor.lan/a/app:1.1")],
        );
        assert_eq!(out.text, format!("image: harbor.lan/a/app:1.1{m}\n"));
    }

    #[test]
    fn full_form_keeps_the_spelling_of_the_same_repository() {
        let m = r#" # {"$imagepolicy": "ns:app"}"#;
        let out = apply(
            &format!("- nginx:1.0{m}\n"),
            &[("ns:app", "docker.io/library/nginx:1.1")],
        );
        assert_eq!(out.text, format!("- nginx:1.1{m}\n"));
        let out = apply(
            &format!("- nginx:1.0{m}\n"),
            &[("ns:app", "harbor.lan/nginx:1.1")],
        );
        assert_eq!(out.text, format!("- harbor.lan/nginx:1.1{m}\n"));
        // A value that is no reference at all is replaced whole.
        let out = apply(
            &format!("- ${{IMAGE}}{m}\n"),
            &[("ns:app", "harbor.lan/nginx:1.1")],
        );
        assert_eq!(out.text, format!("- harbor.lan/nginx:1.1{m}\n"));
    }

    #[test]
    fn plain_values_that_would_not_be_strings_get_quoted() {
        let m = r#" # {"$imagepolicy": "ns:app:tag"}"#;
        let out = apply(&format!("tag: v1{m}\n"), &[("ns:app", "app:1.10")]);
        assert_eq!(out.text, format!("tag: \"1.10\"{m}\n"));
        assert_eq!(out.changes[0].new, "1.10");
        let out = apply(&format!("tag: '1.0'{m}\n"), &[("ns:app", "app:1.10")]);
        assert_eq!(out.text, format!("tag: '1.10'{m}\n"));
        let out = apply(&format!("tag: v1{m}\n"), &[("ns:app", "app:1.2.3")]);
        assert_eq!(out.text, format!("tag: 1.2.3{m}\n"));
    }

    #[test]
    fn yaml_scalars_that_are_not_strings() {
        for s in [
            "1", "-1", "1.10", "1e3", "1.5E-3", ".5", "0x1F", "0o17", "0b101", "1:30", "1_000",
            "true", "No", "~", ".inf", "-.Inf",
        ] {
            assert!(!is_plain_string(s), "{s} is not a string");
        }
        for s in [
            "v1",
            "1.2.3",
            "main-abc-1",
            "1.0-rc1",
            "latest",
            "e3",
            "1e",
            "1:60",
            "_1",
            "0x",
            "20240101a",
            "sha256",
        ] {
            assert!(is_plain_string(s), "{s} is a string");
        }
    }

    #[test]
    fn errors_and_warnings_name_the_line() {
        let text =
            "a: x # {\"$imagepolicy\": \"ns:other\"}\nb: [x] # {\"$imagepolicy\": \"ns:app\"}\n";
        let err = apply_to_text(text, Path::new("f.yaml"), &policies(&[("ns:app", "app:1")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.yaml:2: marker ns:app is on a flow collection ([...] or {...}); setters rewrite only one-line `key: value` or `- value` scalars"
        );
        let out = apply(text, &[("ns:none", "app:1")]);
        assert_eq!(out.text, text);
        assert_eq!(out.warnings.len(), 2);
        assert_eq!(
            out.warnings[0].to_string(),
            "f.yaml:1: marker names unknown policy ns:other; left alone"
        );
        let err = apply_to_text(
            "d: x # {\"$imagepolicy\": \"ns:app:digest\"}\n",
            Path::new("f.yaml"),
            &policies(&[("ns:app", "app:1")]),
        )
        .unwrap_err();
        assert!(
            matches!(err, SetterError::MissingDigest { line: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn tree_rewrites_extensionless_kustomization_files() {
        let dir = tempfile::tempdir().unwrap();
        let text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nimages:\n- name: app\n  newTag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
        std::fs::write(dir.path().join("Kustomization"), text).unwrap();
        let update = apply_to_tree(dir.path(), &policies(&[("ns:app", "app:v2")]), false).unwrap();
        assert_eq!((update.yaml_files, update.marked_files), (1, 1));
        assert_eq!(update.files[0].path, dir.path().join("Kustomization"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("Kustomization")).unwrap(),
            text.replace("newTag: v1", "newTag: v2")
        );
    }

    #[test]
    fn invalid_policy_results_are_refused() {
        let mut p = policies(&[("ns:app", "app:1")]);
        p.get_mut("ns:app").unwrap().tag = "1 # x".into();
        let err = apply_to_text("", Path::new("f"), &p).unwrap_err();
        assert!(err.to_string().starts_with("policy ns:app: tag"), "{err}");
        assert!(PolicyResult::parse("app").is_err());
    }
}

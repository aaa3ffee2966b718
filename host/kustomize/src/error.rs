//! The single error type of the crate.
//!
//! Every variant names the file it is about, relative to the source root, so
//! that a message printed by the host points the user straight at the line to
//! fix (`path/file.yaml:12:3: ...`).

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a patch came from: its own file (`path:` entries) or an inline entry
/// of a kustomization file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchRef {
    /// The patch file, or the kustomization holding an inline patch, relative
    /// to the source root.
    pub file: PathBuf,
    /// For an inline patch, the entry that holds it, e.g. `patches[2]`.
    pub entry: Option<String>,
}

impl fmt::Display for PatchRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(entry) = &self.entry {
            write!(f, ": {entry}")?;
        }
        Ok(())
    }
}

/// A JSON 6902 operation that failed, for [`Error::JsonPatchOp`].
#[derive(Debug, thiserror::Error)]
#[error("{patch}: JSON patch operation {index} ({op} {path}) failed on {object}: {message}")]
pub struct JsonPatchFailure {
    /// The patch.
    pub patch: PatchRef,
    /// 0-based index of the operation in the patch.
    pub index: usize,
    /// The operation (`add`, `remove`, ...).
    pub op: String,
    /// The operation's `path`.
    pub path: String,
    /// The object being patched, `Kind name`.
    pub object: String,
    /// What went wrong.
    pub message: String,
}

/// Everything that can make a build fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory inside the root could not be read.
    #[error("{}: cannot read: {error}", file.display())]
    Io {
        /// The file, relative to the root.
        file: PathBuf,
        /// The underlying error (in the message, so not also `source()`).
        error: std::io::Error,
    },

    /// The build path itself does not exist.
    #[error("{}: not found", file.display())]
    NotFound {
        /// The requested path, relative to the root.
        file: PathBuf,
    },

    /// A kustomization names a resource or patch that does not exist.
    #[error("{}: {what} '{entry}' not found", file.display())]
    MissingEntry {
        /// The kustomization file.
        file: PathBuf,
        /// `resource` or `patch`.
        what: &'static str,
        /// The entry as written.
        entry: String,
    },

    /// A path leads outside the source root, lexically (`../..`) or through a
    /// symlink.
    #[error(
        "{}: {what} '{entry}' is outside the source root; rekon only loads files inside \
         the source (like kustomize's LoadRestrictionsRootOnly)",
        file.display()
    )]
    OutsideRoot {
        /// The kustomization file (or directory) naming the entry.
        file: PathBuf,
        /// `resource`, `patch` or `build path`.
        what: &'static str,
        /// The entry as written.
        entry: String,
    },

    /// A path is absolute; paths are relative to the kustomization.
    #[error(
        "{}: {what} '{entry}' is an absolute path; paths are relative to the kustomization \
         and rekon only loads files inside the source root",
        file.display()
    )]
    AbsolutePath {
        /// The kustomization file naming the entry.
        file: PathBuf,
        /// `resource`, `patch` or `build path`.
        what: &'static str,
        /// The entry as written.
        entry: String,
    },

    /// A resource is a URL or a remote repository.
    #[error(
        "{}: resource '{entry}': remote resources are not supported; vendor them into the source",
        file.display()
    )]
    Remote {
        /// The kustomization file.
        file: PathBuf,
        /// The entry as written.
        entry: String,
    },

    /// A file is not valid YAML.
    #[error("{}:{line}:{column}: invalid YAML: {message}", file.display())]
    Yaml {
        /// The file.
        file: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser said.
        message: String,
    },

    /// A YAML document is not a Kubernetes object.
    #[error("{}:{line}: {message}", file.display())]
    NotAnObject {
        /// The file.
        file: PathBuf,
        /// 1-based line where the document starts.
        line: usize,
        /// What is missing or wrong.
        message: String,
    },

    /// A kustomization uses a field rekon does not implement.
    #[error(
        "{}{}: unsupported field '{field}' (rekon supports: {})",
        file.display(),
        at_line(*line),
        crate::kustomization::SUPPORTED_FIELDS.join(", ")
    )]
    UnsupportedField {
        /// The kustomization file.
        file: PathBuf,
        /// 1-based line of the field, when found.
        line: Option<usize>,
        /// The field.
        field: String,
    },

    /// A kustomization field has a value rekon cannot use.
    #[error("{}{}: invalid kustomization: {message}", file.display(), at_line(*line))]
    InvalidKustomization {
        /// The kustomization file.
        file: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong, naming the field.
        message: String,
    },

    /// A directory holds more than one kustomization file.
    #[error("{}: found more than one kustomization file: {}", file.display(), names.join(", "))]
    AmbiguousKustomization {
        /// The directory.
        file: PathBuf,
        /// The kustomization file names found.
        names: Vec<String>,
    },

    /// Kustomizations (or directories, through symlinks) include each other
    /// in a loop.
    #[error(
        "{}: resources include each other in a cycle: {}",
        file.display(),
        chain.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" -> ")
    )]
    Cycle {
        /// The kustomization file that closes the loop.
        file: PathBuf,
        /// The directories of the loop, first and last being the same.
        chain: Vec<PathBuf>,
    },

    /// A patch cannot be parsed or applied.
    #[error("{patch}: {message}")]
    Patch {
        /// The patch.
        patch: PatchRef,
        /// What went wrong.
        message: String,
    },

    /// A patch (or a `replicas` entry) selects no object.
    #[error("{patch}: {what} matches no object")]
    NoMatch {
        /// The patch, or the kustomization for `replicas`.
        patch: PatchRef,
        /// What was looked for.
        what: String,
    },

    /// A `replacements` entry cannot be loaded or applied.
    #[error("{}: {entry}: {message}", file.display())]
    Replacement {
        /// The kustomization holding the entry, or the replacements file.
        file: PathBuf,
        /// The entry, e.g. `replacements[1]`.
        entry: String,
        /// What went wrong, naming the target and field where known.
        message: String,
    },

    /// One operation of a JSON 6902 patch failed (boxed: it is the largest
    /// variant).
    #[error("{0}")]
    JsonPatchOp(Box<JsonPatchFailure>),

    /// A `configurations` file cannot be read as a transformer
    /// configuration, or conflicts with the configuration it joins.
    #[error("{}{}: invalid transformer configuration: {message}", file.display(), at_line(*line))]
    InvalidConfiguration {
        /// The configuration file (or the kustomization whose included
        /// configurations conflict).
        file: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong, naming the key.
        message: String,
    },

    /// A name reference could mean more than one object of the build.
    #[error(
        "{}:{line}: {reference}, which could be any of: {}",
        file.display(),
        candidates.join(", ")
    )]
    AmbiguousReference {
        /// The file of the referring object.
        file: PathBuf,
        /// Its line.
        line: usize,
        /// The referring object, the field and the name it holds.
        reference: String,
        /// Each possible object, with where it was defined.
        candidates: Vec<String>,
    },

    /// A reference kustomize cannot follow, such as a RoleBinding subject
    /// whose namespace is not a string.
    #[error("{}:{line}: {referrer}: {message}", file.display())]
    InvalidReference {
        /// The file of the referring object.
        file: PathBuf,
        /// Its line.
        line: usize,
        /// The referring object, `Kind.group namespace/name`.
        referrer: String,
        /// What is wrong, naming the field.
        message: String,
    },

    /// The `namespace` of a kustomization gives two objects the same
    /// identity.
    #[error(
        "{}: namespace gives two objects the same identity {id}: {}",
        file.display(),
        objects.join(" and ")
    )]
    NamespaceConflict {
        /// The kustomization setting the namespace.
        file: PathBuf,
        /// The shared identity, `Kind.group namespace/name`.
        id: String,
        /// Where each object was defined, `file:line`.
        objects: Vec<String>,
    },

    /// Two objects with the same identity.
    #[error(
        "{}:{line}: duplicate object {id} (also defined at {}:{})",
        file.display(),
        first_file.display(),
        first_line
    )]
    Duplicate {
        /// The file of the second definition.
        file: PathBuf,
        /// Its line.
        line: usize,
        /// `Kind.group namespace/name`.
        id: String,
        /// The file of the first definition.
        first_file: PathBuf,
        /// Its line.
        first_line: usize,
    },

    /// A `configMapGenerator` or `secretGenerator` entry cannot be
    /// generated, or cannot be combined with the objects already built.
    #[error("{}{}: {what} '{name}': {message}", file.display(), at_line(*line))]
    Generator {
        /// The kustomization file, or the env file holding a bad line.
        file: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// `configMapGenerator`, `secretGenerator`, or `generated object`
        /// for a generated object that cannot be name-hashed.
        what: &'static str,
        /// The generator's (or object's) name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// The file the error is about, relative to the source root.
    pub fn file(&self) -> &Path {
        match self {
            Error::Io { file, .. }
            | Error::NotFound { file }
            | Error::MissingEntry { file, .. }
            | Error::OutsideRoot { file, .. }
            | Error::AbsolutePath { file, .. }
            | Error::Remote { file, .. }
            | Error::Yaml { file, .. }
            | Error::NotAnObject { file, .. }
            | Error::UnsupportedField { file, .. }
            | Error::InvalidKustomization { file, .. }
            | Error::AmbiguousKustomization { file, .. }
            | Error::Cycle { file, .. }
            | Error::InvalidConfiguration { file, .. }
            | Error::AmbiguousReference { file, .. }
            | Error::InvalidReference { file, .. }
            | Error::NamespaceConflict { file, .. }
            | Error::Duplicate { file, .. }
            | Error::Replacement { file, .. }
            | Error::Generator { file, .. } => file,
            Error::Patch { patch, .. } | Error::NoMatch { patch, .. } => &patch.file,
            Error::JsonPatchOp(failure) => &failure.patch.file,
        }
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

//! The `rekon-test.yaml` format (reference: `docs/plugins.md`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// A test suite: one plugin, default settings, cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Suite {
    /// Name shown in the table (default: the suite's directory name).
    pub name: Option<String>,
    /// The plugin file, relative to the suite file.
    pub plugin: PathBuf,
    /// Default settings of every case.
    pub settings: Option<Value>,
    /// Deadline of each call in milliseconds (default: the host default, 1000).
    pub timeout_ms: Option<u64>,
    /// What the plugin is granted, as `grant` in rekon.toml (default none):
    /// `clock`, `random`, `secrets`, `create[:KINDS]`, `delete[:KINDS]`, `rename`.
    #[serde(default)]
    pub grant: crate::plugin::Grant,
    /// Flux source objects (HelmRepository, OCIRepository) a plugin granted
    /// `sources` reads through `rekon:sources`, inline or in a file.
    pub sources: Option<Objects>,
    /// The chart each HelmRelease of the cases resolves to, by
    /// `namespace/name`, as the host would have resolved it before the call.
    #[serde(default)]
    pub charts: std::collections::BTreeMap<String, ChartSpec>,
    /// The cases, run in order, each in a fresh sandbox.
    pub cases: Vec<Case>,
}

/// One test case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Case {
    /// What the case checks, in words.
    pub name: String,
    /// Settings replacing the suite's for this case.
    pub settings: Option<Value>,
    /// Image-policy input: the repository name.
    pub repository: Option<String>,
    /// Image-policy input: the tags.
    pub tags: Option<Vec<TagSpec>>,
    /// Mutator/validator input: objects.
    pub objects: Option<Objects>,
    /// What must happen.
    pub expect: Expect,
}

/// A resolved chart in a suite: its version, or the whole answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ChartSpec {
    /// Just the version (the chart's name is the HelmRelease's).
    Version(String),
    /// A version with its digest, or the error the host would give.
    Full {
        /// The exact version.
        #[serde(default)]
        version: Option<String>,
        /// The archive's digest.
        #[serde(default)]
        digest: Option<String>,
        /// The PEM CA of the source's `certSecretRef`.
        #[serde(default)]
        ca: Option<String>,
        /// The resolution failed with this message.
        #[serde(default)]
        error: Option<String>,
    },
}

/// A tag given by name only, or with digest and creation time.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TagSpec {
    /// Just the name.
    Name(String),
    /// Name with registry metadata.
    Full {
        /// The tag.
        name: String,
        /// Manifest digest.
        digest: Option<String>,
        /// Creation time, Unix seconds.
        created: Option<i64>,
    },
}

/// Objects inline, or in a multi-document YAML file relative to the suite.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Objects {
    /// A file path.
    File(PathBuf),
    /// Inline objects.
    Inline(Vec<Value>),
}

/// The expectation of a case: exactly one field is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Expect {
    /// The whole ranking, best first.
    pub ranked: Option<Vec<String>>,
    /// The first tag of the ranking.
    pub chosen: Option<String>,
    /// The expected objects after mutation.
    pub objects: Option<Objects>,
    /// Every object comes back byte-for-byte.
    pub unchanged: Option<bool>,
    /// Exactly these findings, in any order.
    pub violations: Option<Vec<ExpectedViolation>>,
    /// The call fails with an error containing this text.
    pub error: Option<String>,
    /// `check-settings` refuses the settings with an error containing this text.
    pub settings_error: Option<String>,
}

impl Expect {
    /// How many expectations are set (a valid case has exactly one).
    pub fn count(&self) -> usize {
        [
            self.ranked.is_some(),
            self.chosen.is_some(),
            self.objects.is_some(),
            self.unchanged.is_some(),
            self.violations.is_some(),
            self.error.is_some(),
            self.settings_error.is_some(),
        ]
        .into_iter()
        .filter(|b| *b)
        .count()
    }
}

/// A finding a validator must report; unset fields match anything.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedViolation {
    /// Position of the object in the input.
    pub index: Option<u32>,
    /// The exact field path.
    pub path: Option<String>,
    /// `error`, `warning` or `info`.
    pub severity: Option<String>,
    /// A substring of the message.
    pub message: Option<String>,
}

impl Suite {
    /// Read and parse a suite file.
    pub fn load(path: &Path) -> Result<Suite, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let suite: Suite =
            serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for case in &suite.cases {
            if case.expect.count() != 1 {
                return Err(format!(
                    "{}: case `{}`: `expect` must set exactly one of ranked, chosen, objects, unchanged, violations, error, settings-error",
                    path.display(),
                    case.name
                ));
            }
        }
        Ok(suite)
    }
}

/// Load objects: inline as given, or from a YAML file relative to `dir`.
pub fn load_objects(objects: &Objects, dir: &Path) -> Result<Vec<Value>, String> {
    match objects {
        Objects::Inline(list) => Ok(list.clone()),
        Objects::File(file) => {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            rekon_kustomize::parse_yaml_documents(&text, &path)
                .map(|docs| docs.into_iter().map(|(v, _)| v).collect())
                .map_err(|e| e.to_string())
        }
    }
}

/// Every `rekon-test.yaml` under `path` (or `path` itself if it is a file), sorted.
pub fn discover(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(format!("{}: no such file or directory", path.display()));
    }
    let mut found = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if p.is_dir() {
                if !matches!(name.as_ref(), "target" | ".git" | "node_modules") {
                    stack.push(p);
                }
            } else if name == "rekon-test.yaml" {
                found.push(p);
            }
        }
    }
    found.sort();
    Ok(found)
}

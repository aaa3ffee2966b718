//! Reading a `rekon-test.yaml` and checking results against its expectations.

use rekon_plugin_sdk::{Severity, Tag, Violation};
use serde::Deserialize;
use serde_json::Value;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

/// A suite file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    name: Option<String>,
    /// The component; not used natively, but it must be there.
    plugin: String,
    #[serde(default)]
    settings: Option<Value>,
    cases: Vec<Case>,
}

pub(crate) struct Suite {
    pub(crate) dir: PathBuf,
    name: String,
    settings: Option<Value>,
    cases: Vec<Case>,
}

/// One case.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Case {
    name: String,
    settings: Option<Value>,
    repository: Option<String>,
    tags: Option<Vec<TagSpec>>,
    objects: Option<Objects>,
    pub(crate) expect: Expect,
}

/// A tag: a name, or a mapping.
#[derive(Deserialize)]
#[serde(untagged)]
enum TagSpec {
    Name(String),
    Full {
        name: String,
        digest: Option<String>,
        created: Option<i64>,
    },
}

/// Objects: a multi-document YAML file (relative to the suite) or a list.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(crate) enum Objects {
    File(String),
    Inline(Vec<Value>),
}

/// Exactly one expectation.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Expect {
    Ranked(Vec<String>),
    Chosen(String),
    Objects(Objects),
    Unchanged,
    Violations(Vec<ViolationSpec>),
    Error(String),
    SettingsError(String),
}

impl Expect {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Expect::Ranked(_) => "ranked",
            Expect::Chosen(_) => "chosen",
            Expect::Objects(_) => "objects",
            Expect::Unchanged => "unchanged",
            Expect::Violations(_) => "violations",
            Expect::Error(_) => "error",
            Expect::SettingsError(_) => "settings-error",
        }
    }
}

/// An expected violation; every field optional.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ViolationSpec {
    index: Option<u32>,
    path: Option<String>,
    severity: Option<String>,
    message: Option<String>,
}

impl Suite {
    pub(crate) fn load(path: &str) -> Suite {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let file: SuiteFile = parse_expect_map(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let dir = Path::new(path)
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        assert!(
            file.plugin.ends_with(".wasm"),
            "{path}: `plugin` should name the component (.wasm)"
        );
        Suite {
            name: file.name.unwrap_or_else(|| dir.display().to_string()),
            dir,
            settings: file.settings,
            cases: file.cases,
        }
    }

    /// Runs every case with its settings as JSON text; panics listing failures.
    pub(crate) fn run(&self, run_case: impl Fn(&Case, &str) -> Result<(), String>) {
        let mut failures = Vec::new();
        for case in &self.cases {
            let settings = case
                .settings
                .as_ref()
                .or(self.settings.as_ref())
                .map_or_else(|| "{}".to_string(), Value::to_string);
            if let Err(e) = run_case(case, &settings) {
                failures.push(format!("  {}: {e}", case.name));
            }
        }
        let total = self.cases.len();
        println!(
            "suite {}: {} passed, {} failed",
            self.name,
            total - failures.len(),
            failures.len()
        );
        assert!(
            failures.is_empty(),
            "suite {}: {} of {total} cases failed:\n{}",
            self.name,
            failures.len(),
            failures.join("\n")
        );
    }
}

/// Parses YAML, turning "exactly one expectation" mappings like
/// `expect: {unchanged: true}` into the externally tagged enum serde expects.
fn parse_expect_map(text: &str) -> Result<SuiteFile, String> {
    let mut raw: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    if let Some(cases) = raw.get_mut("cases").and_then(Value::as_array_mut) {
        for (i, case) in cases.iter_mut().enumerate() {
            let Some(expect) = case.get_mut("expect").and_then(Value::as_object_mut) else {
                return Err(format!("case {i}: `expect` must be a mapping"));
            };
            if expect.len() != 1 {
                return Err(format!("case {i}: `expect` needs exactly one expectation"));
            }
            if let Some(unchanged) = expect.get("unchanged") {
                if unchanged != &Value::Bool(true) {
                    return Err(format!("case {i}: `unchanged` can only be true"));
                }
                *case.get_mut("expect").expect("present") = Value::String("unchanged".into());
            }
        }
    }
    serde_json::from_value(raw).map_err(|e| e.to_string())
}

impl Case {
    pub(crate) fn repository(&self) -> String {
        self.repository
            .clone()
            .unwrap_or_else(|| "registry.invalid/test".to_string())
    }

    pub(crate) fn tags(&self) -> Result<Vec<Tag>, String> {
        let specs = self.tags.as_ref().ok_or("the case has no `tags`")?;
        Ok(specs
            .iter()
            .map(|spec| match spec {
                TagSpec::Name(name) => Tag {
                    name: name.clone(),
                    digest: None,
                    created: None,
                },
                TagSpec::Full {
                    name,
                    digest,
                    created,
                } => Tag {
                    name: name.clone(),
                    digest: digest.clone(),
                    created: *created,
                },
            })
            .collect())
    }

    /// The input objects as the host sends them: compact JSON text.
    pub(crate) fn objects(&self, dir: &Path) -> Result<Vec<String>, String> {
        let objects = self.objects.as_ref().ok_or("the case has no `objects`")?;
        objects_from(objects, dir)
    }
}

/// Objects of a file or an inline list, as compact JSON text.
pub(crate) fn objects_from(objects: &Objects, dir: &Path) -> Result<Vec<String>, String> {
    let values = match objects {
        Objects::Inline(list) => list.clone(),
        Objects::File(file) => {
            let path = dir.join(file);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut values = Vec::new();
            for document in serde_yaml_ng::Deserializer::from_str(&text) {
                let value =
                    Value::deserialize(document).map_err(|e| format!("{}: {e}", path.display()))?;
                // An empty document (e.g. after a trailing `---`) is no object.
                if !value.is_null() {
                    values.push(value);
                }
            }
            values
        }
    };
    Ok(values.iter().map(Value::to_string).collect())
}

pub(crate) fn equal<T: PartialEq + Debug>(what: &str, want: &T, got: &T) -> Result<(), String> {
    if want == got {
        Ok(())
    } else {
        Err(format!(
            "{what} differ:\n    want: {want:?}\n    got:  {got:?}"
        ))
    }
}

pub(crate) fn expect_error<T: Debug>(result: Result<T, String>, want: &str) -> Result<(), String> {
    match result {
        Err(e) if e.contains(want) => Ok(()),
        Err(e) => Err(format!("error {e:?} does not contain {want:?}")),
        Ok(v) => Err(format!("expected an error containing {want:?}, got {v:?}")),
    }
}

pub(crate) fn expect_settings_error(result: Result<(), String>, want: &str) -> Result<(), String> {
    match result {
        Err(e) if e.contains(want) => Ok(()),
        Err(e) => Err(format!("settings error {e:?} does not contain {want:?}")),
        Ok(()) => Err(format!(
            "expected the settings to be refused with {want:?}, they were accepted"
        )),
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn fits(spec: &ViolationSpec, v: &Violation) -> bool {
    spec.index.is_none_or(|i| i == v.object.index)
        && spec.path.as_ref().is_none_or(|p| p == &v.path)
        && spec
            .severity
            .as_ref()
            .is_none_or(|s| s == severity_name(v.severity))
        && spec
            .message
            .as_ref()
            .is_none_or(|m| v.message.contains(m.as_str()))
}

fn show(v: &Violation) -> String {
    format!(
        "[{}] {} {} {}: {}",
        severity_name(v.severity),
        v.object.index,
        v.object.name,
        v.path,
        v.message
    )
}

/// Exactly these findings in any order: a one-to-one pairing of expected and
/// actual findings must exist.
pub(crate) fn match_violations(want: &[ViolationSpec], got: &[Violation]) -> Result<(), String> {
    fn assign(want: &[ViolationSpec], got: &[Violation], used: &mut Vec<bool>, i: usize) -> bool {
        if i == want.len() {
            return true;
        }
        for j in 0..got.len() {
            if !used[j] && fits(&want[i], &got[j]) {
                used[j] = true;
                if assign(want, got, used, i + 1) {
                    return true;
                }
                used[j] = false;
            }
        }
        false
    }
    let mut used = vec![false; got.len()];
    if want.len() == got.len() && assign(want, got, &mut used, 0) {
        return Ok(());
    }
    let got: Vec<String> = got.iter().map(show).collect();
    Err(format!(
        "violations differ:\n    want: {want:?}\n    got:\n      {}",
        got.join("\n      ")
    ))
}

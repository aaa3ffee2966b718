//! The commit message of an automation pass: rekon's `message` with
//! `{changes}`, or a Flux `messageTemplate` run with the data Flux's
//! image-automation-controller gives it (`source.TemplateData`):
//!
//! - `.AutomationObject`: the automation's namespace and name (prints
//!   `namespace/name`);
//! - `.Changed.FileChanges`: file -> object -> changes, files relative to
//!   the `[git]` path (Flux's `spec.update.path`);
//! - `.Changed.Objects`: object -> changes over all files; an object is
//!   `{APIVersion, Kind, Name, Namespace}` of the YAML document holding the
//!   marker (a `kustomization.yaml` without metadata has empty ones);
//! - `.Changed.Changes`: every distinct change, `{OldValue, NewValue,
//!   Setter}`, the setter being the marker's `NS:NAME[:FIELD]`;
//! - `.Values`: `message-template-values`.
//!
//! Maps are ranged in key order, as Go does. Where Flux's order is Go's
//! random map order (the list of `.Changed.Changes`, and the changes of an
//! object found in several files), rekon's is file, object, then line.

use std::collections::BTreeMap;
use std::path::Path;

use super::gotemplate::{ExecError, Struct, Template, Value};
use super::setters::TreeUpdate;
use crate::config::{AutomationName, GitConfig};

/// A commit message template that could not be run.
#[derive(Debug, thiserror::Error)]
#[error("automation {automation}: commit message template {error}")]
pub struct MessageError {
    /// The automation, `namespace/name`.
    pub automation: String,
    /// What failed, with its line in the template.
    pub error: String,
}

/// How a pass's commit message is made.
#[derive(Debug, Clone)]
pub enum CommitMessage {
    /// `{changes}` replaced by one line per change, `- FILE:LINE POLICY[:FIELD] OLD -> NEW`.
    Changes(String),
    /// A Flux `messageTemplate`.
    Template {
        /// The parsed template.
        template: Template,
        /// `.AutomationObject`.
        automation: AutomationName,
        /// `.Values`.
        values: BTreeMap<String, String>,
        /// The `[git]` path, which file names are relative to.
        path: std::path::PathBuf,
    },
}

impl CommitMessage {
    /// The message `git` configures: its `message-template` when set.
    pub fn of(git: &GitConfig) -> Result<CommitMessage, MessageError> {
        let Some(source) = &git.message_template else {
            return Ok(CommitMessage::Changes(git.message.clone()));
        };
        let template = Template::parse(source).map_err(|e| MessageError {
            automation: git.automation.to_string(),
            error: e.to_string(),
        })?;
        Ok(CommitMessage::Template {
            template,
            automation: git.automation.clone(),
            values: git.message_template_values.clone(),
            path: git.path.clone(),
        })
    }

    /// The message for `update` (file paths relative to the repository root).
    pub fn render(&self, update: &TreeUpdate) -> Result<String, MessageError> {
        match self {
            CommitMessage::Changes(template) => {
                let changes: Vec<String> = update.changes().map(|c| format!("- {c}")).collect();
                Ok(template.replace("{changes}", &changes.join("\n")))
            }
            CommitMessage::Template {
                template,
                automation,
                values,
                path,
            } => template
                .execute(&data(update, path, automation, values))
                .map_err(|ExecError { line, message }| MessageError {
                    automation: automation.to_string(),
                    error: format!("line {line}: {message}"),
                }),
        }
    }
}

/// Flux's `source.TemplateData` for `update`.
fn data(
    update: &TreeUpdate,
    path: &Path,
    automation: &AutomationName,
    values: &BTreeMap<String, String>,
) -> Value {
    let mut files = Vec::new();
    // Objects over all files, and the distinct changes, in file order.
    let mut objects: Vec<(ObjectKey, Vec<Value>)> = Vec::new();
    let mut all: Vec<(String, String, String)> = Vec::new();
    for file in &update.files {
        let name = file.path.strip_prefix(path).unwrap_or(&file.path);
        let documents = documents(&file.before);
        let mut by_object: Vec<(ObjectKey, Vec<Value>)> = Vec::new();
        for change in &file.changes {
            let id = documents
                .iter()
                .rev()
                .find(|(first, _)| *first <= change.line)
                .map_or_else(ObjectKey::default, |(_, id)| id.clone());
            let setter = match change.field.suffix() {
                Some(suffix) => format!("{}:{suffix}", change.policy),
                None => change.policy.clone(),
            };
            let key = (change.old.clone(), change.new.clone(), setter);
            let value = change_value(&key);
            if !all.contains(&key) {
                all.push(key);
            }
            push(&mut by_object, &id, value);
        }
        for (id, changes) in &by_object {
            for c in changes {
                push(&mut objects, id, c.clone());
            }
        }
        files.push((
            Value::str(name.display().to_string()),
            object_map(by_object),
        ));
    }
    let changed = Value::object(Struct {
        type_name: "update.Result",
        fields: vec![("FileChanges", Value::map(files, Value::Nil), false)],
        methods: vec![
            (
                "Changes",
                Value::list(all.iter().map(change_value).collect()),
            ),
            ("Objects", object_map(objects)),
        ],
        string: None,
    });
    let automation = Value::object(Struct {
        type_name: "types.NamespacedName",
        fields: vec![
            ("Namespace", Value::str(&automation.namespace), false),
            ("Name", Value::str(&automation.name), false),
        ],
        methods: vec![],
        string: Some(automation.to_string()),
    });
    let values = values
        .iter()
        .map(|(k, v)| (Value::str(k), Value::str(v)))
        .collect();
    Value::object(Struct {
        type_name: "source.TemplateData",
        fields: vec![
            ("AutomationObject", automation, false),
            ("Changed", changed, false),
            ("Values", Value::map(values, Value::str("")), false),
        ],
        methods: vec![],
        string: None,
    })
}

/// `[apiVersion, kind, name, namespace]` of a YAML document.
type ObjectKey = [String; 4];

fn push(objects: &mut Vec<(ObjectKey, Vec<Value>)>, id: &ObjectKey, change: Value) {
    match objects.iter_mut().find(|(o, _)| o == id) {
        Some((_, changes)) => changes.push(change),
        None => objects.push((id.clone(), vec![change])),
    }
}

fn object_map(objects: Vec<(ObjectKey, Vec<Value>)>) -> Value {
    Value::map(
        objects
            .into_iter()
            .map(|(id, changes)| (object_id(&id), Value::list(changes)))
            .collect(),
        Value::Nil,
    )
}

fn change_value((old, new, setter): &(String, String, String)) -> Value {
    Value::object(Struct {
        type_name: "update.Change",
        fields: vec![
            ("OldValue", Value::str(old), false),
            ("NewValue", Value::str(new), false),
            ("Setter", Value::str(setter), false),
        ],
        methods: vec![],
        string: None,
    })
}

/// kyaml's `ResourceIdentifier` (`TypeMeta` and `NameMeta` embedded) in
/// Flux's `ObjectIdentifier`: `[apiVersion, kind, name, namespace]`.
fn object_id([api_version, kind, name, namespace]: &ObjectKey) -> Value {
    let plain = |type_name, fields: Vec<(&'static str, Value, bool)>| {
        Value::object(Struct {
            type_name,
            fields,
            methods: vec![],
            string: None,
        })
    };
    let type_meta = plain(
        "yaml.TypeMeta",
        vec![
            ("APIVersion", Value::str(api_version), false),
            ("Kind", Value::str(kind), false),
        ],
    );
    let name_meta = plain(
        "yaml.NameMeta",
        vec![
            ("Name", Value::str(name), false),
            ("Namespace", Value::str(namespace), false),
        ],
    );
    let resource = plain(
        "yaml.ResourceIdentifier",
        vec![("TypeMeta", type_meta, true), ("NameMeta", name_meta, true)],
    );
    plain(
        "update.ObjectIdentifier",
        vec![("ResourceIdentifier", resource, true)],
    )
}

/// The YAML documents of `text`: the first line of each and its object.
fn documents(text: &str) -> Vec<(usize, ObjectKey)> {
    let mut out = Vec::new();
    let mut start = 1;
    let mut body = String::new();
    let mut finish = |start: usize, body: &str| {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(body).unwrap_or_default();
        let get = |path: &[&str]| {
            path.iter()
                .try_fold(&doc, |v, k| v.get(k))
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let key = [
            get(&["apiVersion"]),
            get(&["kind"]),
            get(&["metadata", "name"]),
            get(&["metadata", "namespace"]),
        ];
        out.push((start, key));
    };
    for (i, line) in text.lines().enumerate() {
        let separator = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if separator {
            finish(start, &body);
            body.clear();
            start = i + 2;
        } else {
            body.push_str(line);
            body.push('\n');
        }
    }
    finish(start, &body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::setters::{apply_to_text, FileUpdate, PolicyResult};
    use std::path::PathBuf;

    const PODINFO: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: default
spec:
  template:
    spec:
      containers:
      - name: podinfod
        image: ghcr.io/stefanprodan/podinfo:5.0.0 # {"$imagepolicy": "flux-system:podinfo"}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
  namespace: default
spec:
  backupTag: "1.0" # {"$imagepolicy": "flux-system:backup:tag"}
"#;

    const KUSTOMIZATION: &str = r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
- name: podinfo
  newTag: 5.0.0 # {"$imagepolicy": "flux-system:podinfo:tag"}
"#;

    /// Two files under the `[git]` path `clusters/prod`: a Deployment and a
    /// CronJob in one, a kustomization.yaml (no metadata) in the other.
    fn update() -> TreeUpdate {
        let policies = [
            ("flux-system:podinfo", "ghcr.io/stefanprodan/podinfo:5.0.3"),
            ("flux-system:backup", "backup:1.1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), PolicyResult::parse(v).unwrap()))
        .collect();
        let files = [
            ("clusters/prod/apps/podinfo.yaml", PODINFO),
            ("clusters/prod/kustomization.yaml", KUSTOMIZATION),
        ]
        .iter()
        .map(|(path, text)| {
            let out = apply_to_text(text, Path::new(path), &policies).unwrap();
            FileUpdate {
                path: PathBuf::from(path),
                before: text.to_string(),
                after: out.text,
                changes: out.changes,
            }
        })
        .collect();
        TreeUpdate {
            files,
            warnings: vec![],
            yaml_files: 2,
            marked_files: 2,
            written: false,
        }
    }

    fn git(template: &str) -> GitConfig {
        let text = format!(
            "[git]\nurl = \"/x\"\npath = \"clusters/prod\"\nautomation = \"flux-system/podinfo-update\"\n\
             message-template-values = {{ cluster = \"pi\" }}\nmessage-template = '''\n{template}'''\n"
        );
        crate::config::Config::parse(&text, Path::new("/r/rekon.toml"))
            .unwrap()
            .git
            .unwrap()
    }

    fn render(template: &str) -> Result<String, String> {
        CommitMessage::of(&git(template))
            .unwrap()
            .render(&update())
            .map_err(|e| e.to_string())
    }

    /// The first example of Flux's ImageUpdateAutomation docs ("Message
    /// Template"): files, then objects with their changes.
    #[test]
    fn fluxs_files_and_objects_example() {
        let template = r#"Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind }} {{ $resource.Name }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
"#;
        assert_eq!(
            render(template).unwrap(),
            "Automated image update\n\nAutomation name: flux-system/podinfo-update\n\n\
             Files:\n- apps/podinfo.yaml\n- kustomization.yaml\n\
             Objects:\n\
             - Deployment podinfo\n  Changes:\n    - ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n\
             - CronJob backup\n  Changes:\n    - 1.0 -> 1.1\n\
             - Kustomization \n  Changes:\n    - 5.0.0 -> 5.0.3\n"
        );
    }

    /// The docs' second example: sprig's `lower` and `contains`.
    #[test]
    fn fluxs_template_functions_example() {
        let template = r#"Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind | lower }} {{ $resource.Name | lower }}
  Changes:
{{- range $_, $change := $changes }}
  {{ if contains "5.0.3" $change.NewValue -}}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
  {{ else -}}
    [skip ci] wrong image
  {{ end -}}
{{ end -}}
{{ end -}}
"#;
        assert_eq!(
            render(template).unwrap(),
            "Objects:\n\
             - deployment podinfo\n  Changes:\n  - ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n  \
             - cronjob backup\n  Changes:\n  [skip ci] wrong image\n  \
             - kustomization \n  Changes:\n  - 5.0.0 -> 5.0.3\n  "
        );
    }

    /// The Gitea example's one-liner over `.Changed.Changes`, the setters,
    /// and `.Values`.
    #[test]
    fn changes_setters_and_values() {
        assert_eq!(
            render("{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}")
                .unwrap(),
            "ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n\
             1.0 -> 1.1\n5.0.0 -> 5.0.3\n"
        );
        assert_eq!(
            render("{{ range .Changed.Changes }}{{ .Setter }};{{ end }} {{ .Values.cluster }} {{ .AutomationObject.Namespace }}")
                .unwrap(),
            "flux-system:podinfo;flux-system:backup:tag;flux-system:podinfo:tag; pi flux-system"
        );
    }

    /// The Gerrit example: a Change-Id from the `toString` of the data.
    #[test]
    fn fluxs_gerrit_change_id_example() {
        let template = r#"Perform automatic image update

Automation name: {{ .AutomationObject }}

{{- $ChangeId := .AutomationObject -}}
{{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.FileChanges | toString ) -}}
{{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.Objects | toString ) -}}
{{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.Changes | toString ) }}
Change-Id: {{ printf "I%s" ( sha256sum $ChangeId | trunc 40 ) }}
"#;
        let message = render(template).unwrap();
        let (head, id) = message.split_once("\nChange-Id: I").unwrap();
        assert_eq!(
            head,
            "Perform automatic image update\n\nAutomation name: flux-system/podinfo-update"
        );
        assert_eq!(id.len(), 41, "{message}");
        // What is hashed is Go's %v of the data, objects printed as structs.
        assert_eq!(
            render("{{ .Changed.Objects | toString }}").unwrap(),
            "map[{{{apps/v1 Deployment} {podinfo default}}}:[{ghcr.io/stefanprodan/podinfo:5.0.0 ghcr.io/stefanprodan/podinfo:5.0.3 flux-system:podinfo}] \
             {{{batch/v1 CronJob} {backup default}}}:[{1.0 1.1 flux-system:backup:tag}] \
             {{{kustomize.config.k8s.io/v1beta1 Kustomization} { }}}:[{5.0.0 5.0.3 flux-system:podinfo:tag}]]"
        );
    }

    #[test]
    fn a_failing_template_names_the_automation_and_line() {
        assert_eq!(
            render("ok\n{{ .Changed.Nope }}").unwrap_err(),
            "automation flux-system/podinfo-update: commit message template line 2: \
             can't evaluate field Nope in type update.Result"
        );
    }

    #[test]
    fn changes_message_lists_one_line_per_change() {
        let message = CommitMessage::Changes("up\n\n{changes}".into())
            .render(&update())
            .unwrap();
        assert_eq!(
            message,
            "up\n\n- clusters/prod/apps/podinfo.yaml:11 flux-system:podinfo \
             ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n\
             - clusters/prod/apps/podinfo.yaml:19 flux-system:backup:tag 1.0 -> 1.1\n\
             - clusters/prod/kustomization.yaml:5 flux-system:podinfo:tag 5.0.0 -> 5.0.3"
        );
    }
}

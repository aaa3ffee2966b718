//! `patches`, `patchesStrategicMerge` and `patchesJson6902`.

mod json6902;
pub(crate) mod selector;
mod strategic;

use std::path::Path;

use cap_std::fs::Dir;
use serde_json::Value;

use crate::error::{JsonPatchFailure, PatchRef};
use crate::kustomization::{Json6902Patch, Patch, PatchOptions, Target};
use crate::object::{Item, ResId};
use crate::Error;
use json6902::Op;
use selector::Selector;
use strategic::Outcome;

/// A patch's content.
enum Body {
    /// Strategic-merge patch objects.
    Strategic(Vec<Value>),
    /// A JSON 6902 operation list.
    Json(Vec<Op>),
}

/// Loads and applies the patches of one kustomization.
pub(crate) struct Patcher<'a> {
    pub root: &'a Dir,
    /// The kustomization's directory, relative to the root.
    pub dir: &'a Path,
    /// The kustomization file, relative to the root.
    pub file: &'a Path,
}

impl Patcher<'_> {
    /// `patchesStrategicMerge`: each entry is a file path or an inline patch.
    pub fn strategic_merge(&self, entries: &[String], items: &mut Vec<Item>) -> Result<(), Error> {
        for (index, entry) in entries.iter().enumerate() {
            let label = format!("patchesStrategicMerge[{index}]");
            // kustomize takes an entry as inline YAML when it is not a path.
            let (path, inline) = if entry.contains('\n') {
                (None, Some(entry.as_str()))
            } else {
                (Some(entry.as_str()), None)
            };
            let (source, body) = self.load(&label, path, inline)?;
            let Body::Strategic(patches) = body else {
                return Err(Error::Patch {
                    patch: source,
                    message:
                        "a JSON 6902 patch in patchesStrategicMerge; use patches with a target"
                            .into(),
                });
            };
            for patch in &patches {
                apply_strategic(items, patch, None, PatchOptions::default(), &source)?;
            }
        }
        Ok(())
    }

    /// `patches`: strategic-merge or JSON 6902, by path or inline, with an
    /// optional target.
    pub fn patches(&self, entries: &[Patch], items: &mut Vec<Item>) -> Result<(), Error> {
        for (index, entry) in entries.iter().enumerate() {
            let label = format!("patches[{index}]");
            let (source, body) =
                self.load(&label, entry.path.as_deref(), entry.patch.as_deref())?;
            let selector = entry
                .target
                .as_ref()
                .map(|t| self.selector(&label, t).map(|s| (s, t)))
                .transpose()?;
            match body {
                Body::Strategic(patches) => {
                    if selector.is_some() && patches.len() > 1 {
                        return Err(Error::Patch {
                            patch: source,
                            message: "a patch with a target holds a single strategic-merge patch"
                                .into(),
                        });
                    }
                    if let Some(selector) = &selector {
                        if !self.any_selected(items, selector, &source) {
                            continue;
                        }
                    }
                    for patch in &patches {
                        apply_strategic(items, patch, selector.as_ref(), entry.options, &source)?;
                    }
                }
                Body::Json(ops) => {
                    let Some(selector) = &selector else {
                        return Err(Error::Patch {
                            patch: source,
                            message: "a JSON 6902 patch needs a target".into(),
                        });
                    };
                    if self.any_selected(items, selector, &source) {
                        apply_json(items, &ops, selector, &source)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `patchesJson6902`: JSON 6902 operations, by path or inline, with a
    /// target.
    pub fn json6902(&self, entries: &[Json6902Patch], items: &mut [Item]) -> Result<(), Error> {
        for (index, entry) in entries.iter().enumerate() {
            let label = format!("patchesJson6902[{index}]");
            let (source, body) =
                self.load(&label, entry.path.as_deref(), entry.patch.as_deref())?;
            let Body::Json(ops) = body else {
                return Err(Error::Patch {
                    patch: source,
                    message: "expected a JSON 6902 operation list".into(),
                });
            };
            let selector = (self.selector(&label, &entry.target)?, &entry.target);
            if self.any_selected(items, &selector, &source) {
                apply_json(items, &ops, &selector, &source)?;
            }
        }
        Ok(())
    }

    /// Whether a patch's target selects anything. kustomize skips a
    /// targeted patch that selects nothing without a word; rekon skips it
    /// too but warns, since it is most often a typo or a stale patch.
    fn any_selected(
        &self,
        items: &[Item],
        (selector, target): &(Selector, &Target),
        source: &PatchRef,
    ) -> bool {
        let any = items.iter().any(|item| selector.matches(item));
        if !any {
            tracing::warn!(
                kustomization = %self.file.display(),
                "{source}: {target} matches no object; the patch is skipped, as kustomize does"
            );
        }
        any
    }

    fn selector(&self, label: &str, target: &Target) -> Result<Selector, Error> {
        Selector::new(target).map_err(|message| Error::InvalidKustomization {
            file: self.file.to_path_buf(),
            line: None,
            message: format!("{label}: {message}"),
        })
    }

    /// Reads a patch from its file or inline text and tells its kind.
    fn load(
        &self,
        label: &str,
        path: Option<&str>,
        inline: Option<&str>,
    ) -> Result<(PatchRef, Body), Error> {
        let (source, text) = match (path, inline) {
            (Some(path), None) => {
                let entry = crate::fs::resolve(self.root, self.dir, self.file, "patch", path)?;
                let text = crate::fs::read(self.root, &entry.path)?;
                let source = PatchRef {
                    file: entry.path,
                    entry: None,
                };
                (source, text)
            }
            (None, Some(text)) => {
                let source = PatchRef {
                    file: self.file.to_path_buf(),
                    entry: Some(label.to_string()),
                };
                (source, text.to_string())
            }
            _ => {
                return Err(Error::InvalidKustomization {
                    file: self.file.to_path_buf(),
                    line: None,
                    message: format!("{label}: set exactly one of 'path' and 'patch'"),
                })
            }
        };
        let invalid = |message: String| Error::Patch {
            patch: source.clone(),
            message,
        };
        let documents = match crate::yaml::parse_yaml_documents(&text, &source.file) {
            Ok(documents) => documents,
            // Positions in an inline patch are relative to its own text.
            Err(Error::Yaml {
                line,
                column,
                message,
                ..
            }) if source.entry.is_some() => {
                return Err(invalid(format!(
                    "invalid YAML at line {line} column {column} of the inline patch: {message}"
                )))
            }
            Err(err) => return Err(err),
        };
        let values: Vec<Value> = documents.into_iter().map(|(value, _)| value).collect();
        let body = match values.as_slice() {
            [] => return Err(invalid("the patch is empty".into())),
            [Value::Array(ops)] => Body::Json(json6902::parse(ops).map_err(invalid)?),
            _ if values.iter().all(Value::is_object) => Body::Strategic(values),
            _ => {
                return Err(invalid(
                    "expected a JSON 6902 operation list or strategic-merge patch objects".into(),
                ))
            }
        };
        Ok((source, body))
    }
}

/// Applies one strategic-merge patch to its target, or to the object with
/// the patch's own group, kind and name (and namespace, if it has one),
/// current or from before a rename. `options` may let the patch rename or
/// re-kind what it patches.
fn apply_strategic(
    items: &mut Vec<Item>,
    patch: &Value,
    target: Option<&(Selector, &Target)>,
    options: PatchOptions,
    source: &PatchRef,
) -> Result<(), Error> {
    let selected: Vec<usize> = match target {
        Some((selector, _)) => select(items, selector),
        None => {
            let id = ResId::of(patch);
            if id.kind.is_empty() || id.name.is_empty() {
                return Err(Error::Patch {
                    patch: source.clone(),
                    message:
                        "a strategic-merge patch without a target needs kind and metadata.name"
                            .into(),
                });
            }
            let selected: Vec<usize> = (0..items.len())
                .filter(|&i| {
                    items[i].ids().iter().any(|other| {
                        // A patch without apiVersion names its kind in any group.
                        (patch.get("apiVersion").is_none() || other.group == id.group)
                            && other.kind == id.kind
                            && other.name == id.name
                            && (id.namespace.is_empty()
                                || other.effective_namespace() == id.effective_namespace())
                    })
                })
                .collect();
            match selected.len() {
                0 => {
                    return Err(Error::NoMatch {
                        patch: source.clone(),
                        what: format!("strategic-merge patch for {id}"),
                    })
                }
                1 => selected,
                n => {
                    return Err(Error::Patch {
                        patch: source.clone(),
                        message: format!(
                            "strategic-merge patch for {id} matches {n} objects; \
                             add metadata.namespace or a target"
                        ),
                    })
                }
            }
        }
    };
    // The patch never changes the namespace of what it patches, nor its name
    // and kind unless its options allow it (kustomize restores them after
    // merging).
    let mut patch = patch.clone();
    if let Value::Object(map) = &mut patch {
        map.shift_remove("apiVersion");
        if !options.allow_kind_change {
            map.shift_remove("kind");
        }
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            if !options.allow_name_change {
                meta.shift_remove("name");
            }
            meta.shift_remove("namespace");
        }
    }
    let mut deleted = Vec::new();
    for &index in &selected {
        if options.allow_name_change || options.allow_kind_change {
            // References to the object follow it under its new identity.
            items[index].remember_id();
        }
        let outcome =
            strategic::merge(&mut items[index].object, &patch).map_err(|message| Error::Patch {
                patch: source.clone(),
                message: format!("{}: {message}", items[index].id()),
            })?;
        if outcome == Outcome::Delete {
            deleted.push(index);
        }
    }
    for index in deleted.into_iter().rev() {
        items.remove(index);
    }
    Ok(())
}

fn apply_json(
    items: &mut [Item],
    ops: &[Op],
    (selector, _): &(Selector, &Target),
    source: &PatchRef,
) -> Result<(), Error> {
    for index in select(items, selector) {
        let item = &mut items[index];
        let object = item.id().to_string();
        // A JSON patch may rename; keep the old identity for later patches.
        item.remember_id();
        // kustomize applies it to the object as JSON.
        item.lose_plain_texts();
        json6902::apply(&mut item.object, ops).map_err(|(i, message)| {
            Error::JsonPatchOp(Box::new(JsonPatchFailure {
                patch: source.clone(),
                index: i,
                op: ops[i].name().to_string(),
                path: ops[i].path().to_string(),
                object,
                message,
            }))
        })?;
    }
    Ok(())
}

fn select(items: &[Item], selector: &Selector) -> Vec<usize> {
    (0..items.len())
        .filter(|&i| selector.matches(&items[i]))
        .collect()
}

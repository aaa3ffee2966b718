//! The build: loads a path (kustomization, plain directory or file),
//! recursing into resources, then applies the kustomization's patches and
//! transformers in kustomize's order.

use std::path::{Path, PathBuf};

use cap_std::fs::Dir;

use crate::error::PatchRef;
use crate::fs::{self, Entry};
use crate::kustomization::{Kind, Kustomization};
use crate::object::{self, Item, ResId};
use crate::patch::Patcher;
use crate::transform::{images, labels, names, namespace, replicas};
use crate::Error;

/// One build in progress: the root, and the directories being built (to
/// detect cycles).
pub(crate) struct Builder<'a> {
    root: &'a Dir,
    /// (canonical directory, directory as reached) of each directory being
    /// built, outermost first.
    stack: Vec<(PathBuf, PathBuf)>,
}

impl<'a> Builder<'a> {
    pub fn new(root: &'a Dir) -> Self {
        Builder {
            root,
            stack: Vec::new(),
        }
    }

    /// Builds a resolved entry: a directory (kustomization or plain) or a
    /// YAML file.
    pub fn entry(&mut self, entry: &Entry) -> Result<Vec<Item>, Error> {
        if entry.is_dir {
            self.directory(&entry.path)
        } else {
            self.file(&entry.path)
        }
    }

    fn file(&self, path: &Path) -> Result<Vec<Item>, Error> {
        let text = fs::read(self.root, path)?;
        let documents = crate::yaml::parse_yaml_documents(&text, path)?;
        object::items_from_documents(documents, path)
    }

    fn directory(&mut self, dir: &Path) -> Result<Vec<Item>, Error> {
        let kustomization = fs::find_kustomization(self.root, dir)?;
        self.enter(dir, kustomization.as_deref())?;
        let result = match kustomization {
            Some(file) => self.kustomization(dir, &file),
            None => self.plain_directory(dir),
        };
        self.stack.pop();
        result
    }

    /// Pushes `dir` on the stack of directories being built, refusing a
    /// directory that is already on it (resources or components in a loop).
    fn enter(&mut self, dir: &Path, kustomization: Option<&Path>) -> Result<(), Error> {
        let canonical = fs::canonical(self.root, dir)?;
        if let Some(start) = self.stack.iter().position(|(c, _)| *c == canonical) {
            let mut chain: Vec<PathBuf> =
                self.stack[start..].iter().map(|(_, d)| d.clone()).collect();
            chain.push(dir.to_path_buf());
            return Err(Error::Cycle {
                file: kustomization.unwrap_or(dir).to_path_buf(),
                chain,
            });
        }
        self.stack.push((canonical, dir.to_path_buf()));
        Ok(())
    }

    /// A directory without a kustomization: its YAML files and
    /// subdirectories in name order, hidden entries skipped, as Flux
    /// generates a kustomization for such a directory.
    fn plain_directory(&mut self, dir: &Path) -> Result<Vec<Item>, Error> {
        let mut items = Vec::new();
        for name in fs::list(self.root, dir)? {
            if name.as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let path = dir.join(&name);
            let entry = match fs::lookup(self.root, &path)? {
                fs::Lookup::Dir => Entry { path, is_dir: true },
                fs::Lookup::File if is_yaml(&path) => Entry {
                    path,
                    is_dir: false,
                },
                fs::Lookup::Outside => {
                    return Err(Error::OutsideRoot {
                        file: dir.to_path_buf(),
                        what: "entry",
                        entry: name.to_string_lossy().into_owned(),
                    })
                }
                fs::Lookup::File | fs::Lookup::Missing => continue,
            };
            items.extend(self.entry(&entry)?);
        }
        Ok(items)
    }

    /// Builds the kustomization `file` of `dir`. A Component may be the build
    /// path itself (kustomize allows it): it then starts from nothing.
    fn kustomization(&mut self, dir: &Path, file: &Path) -> Result<Vec<Item>, Error> {
        let text = fs::read(self.root, file)?;
        let k = Kustomization::parse(&text, file)?;
        // kustomize: a Component cannot be a resource of another build.
        if k.kind() == Kind::Component && self.stack.len() > 1 {
            return Err(Error::InvalidKustomization {
                file: file.to_path_buf(),
                line: None,
                message: "a Component cannot be a resource; list its directory under \
                          'components'"
                    .into(),
            });
        }
        self.accumulate(&k, dir, file, Vec::new())
    }

    /// kustomize's `accumulateTarget`: adds the kustomization's resources to
    /// `items` (what a parent accumulated, for a component; nothing
    /// otherwise), then applies its components, then its transformers.
    fn accumulate(
        &mut self,
        k: &Kustomization,
        dir: &Path,
        file: &Path,
        mut items: Vec<Item>,
    ) -> Result<Vec<Item>, Error> {
        for entry in k.resources.iter().chain(&k.bases) {
            if is_remote(entry) {
                return Err(Error::Remote {
                    file: file.to_path_buf(),
                    entry: entry.clone(),
                });
            }
            let entry = fs::resolve(self.root, dir, file, "resource", entry)?;
            items.extend(self.entry(&entry)?);
        }
        object::check_duplicates(&items)?;
        for entry in &k.components {
            items = self.component(dir, file, entry, items)?;
        }
        let patcher = Patcher {
            root: self.root,
            dir,
            file,
        };
        transform(k, &patcher, &mut items)?;
        Ok(items)
    }

    /// Applies the component `entry` of the kustomization `file` to `items`.
    fn component(
        &mut self,
        dir: &Path,
        file: &Path,
        entry: &str,
        items: Vec<Item>,
    ) -> Result<Vec<Item>, Error> {
        if is_remote(entry) {
            return Err(Error::Remote {
                file: file.to_path_buf(),
                entry: entry.to_string(),
            });
        }
        let resolved = fs::resolve(self.root, dir, file, "component", entry)?;
        let invalid = |message: String| Error::InvalidKustomization {
            file: file.to_path_buf(),
            line: None,
            message,
        };
        if !resolved.is_dir {
            return Err(invalid(format!(
                "component '{entry}' is a file; a component is a directory with a \
                 kustomization of kind Component"
            )));
        }
        let Some(component_file) = fs::find_kustomization(self.root, &resolved.path)? else {
            return Err(invalid(format!(
                "component '{entry}' has no kustomization file"
            )));
        };
        let text = fs::read(self.root, &component_file)?;
        let component = Kustomization::parse(&text, &component_file)?;
        if component.kind() != Kind::Component {
            return Err(invalid(format!(
                "component '{entry}' is a Kustomization; components must be of kind Component"
            )));
        }
        self.enter(&resolved.path, Some(&component_file))?;
        let result = self.accumulate(&component, &resolved.path, &component_file, items);
        self.stack.pop();
        result
    }
}

/// Applies a kustomization's patches and transformers to its resources, in
/// kustomize's order (`configureBuiltinTransformers` in
/// `api/internal/target/kusttarget_configplugin.go`).
fn transform(k: &Kustomization, patcher: &Patcher<'_>, items: &mut Vec<Item>) -> Result<(), Error> {
    patcher.strategic_merge(&k.patches_strategic_merge, items)?;
    patcher.patches(&k.patches, items)?;

    let prefix = k.name_prefix.as_deref().unwrap_or("");
    let suffix = k.name_suffix.as_deref().unwrap_or("");
    let ns = k.namespace.as_deref().filter(|ns| !ns.is_empty());
    if ns.is_some() || !prefix.is_empty() || !suffix.is_empty() {
        let before: Vec<ResId> = items.iter().map(Item::id).collect();
        for item in items.iter_mut() {
            item.remember_id();
        }
        if let Some(ns) = ns {
            namespace::apply(items, ns);
        }
        names::apply(items, prefix, suffix);
        names::update_references(items, &before);
    }

    for label in &k.labels {
        labels::apply_label(items, label);
    }
    labels::apply_common_labels(items, &k.common_labels);
    labels::apply_annotations(items, &k.common_annotations);
    patcher.json6902(&k.patches_json6902, items)?;
    replicas::apply(items, &k.replicas).map_err(|name| Error::NoMatch {
        patch: PatchRef {
            file: patcher.file.to_path_buf(),
            entry: Some("replicas".into()),
        },
        what: format!("entry '{name}'"),
    })?;
    images::apply(items, &k.images);
    Ok(())
}

fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext == "yaml" || ext == "yml")
}

/// URLs and go-getter style repository references.
fn is_remote(entry: &str) -> bool {
    entry.contains("://")
        || [
            "github.com/",
            "gitlab.com/",
            "bitbucket.org/",
            "git@",
            "git::",
        ]
        .iter()
        .any(|prefix| entry.starts_with(prefix))
}

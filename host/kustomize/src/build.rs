//! The build: loads a path (kustomization, plain directory or file),
//! recursing into resources, then applies the kustomization's patches and
//! transformers in kustomize's order.

use std::path::{Path, PathBuf};

use cap_std::fs::Dir;

use crate::error::PatchRef;
use crate::fs::{self, Entry};
use crate::generate;
use crate::kustomization::Kustomization;
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
        let canonical = fs::canonical(self.root, dir)?;
        let kustomization = fs::find_kustomization(self.root, dir)?;
        if let Some(start) = self.stack.iter().position(|(c, _)| *c == canonical) {
            let mut chain: Vec<PathBuf> =
                self.stack[start..].iter().map(|(_, d)| d.clone()).collect();
            chain.push(dir.to_path_buf());
            return Err(Error::Cycle {
                file: kustomization.unwrap_or_else(|| dir.to_path_buf()),
                chain,
            });
        }
        self.stack.push((canonical, dir.to_path_buf()));
        let result = match kustomization {
            Some(file) => self.kustomization(dir, &file),
            None => self.plain_directory(dir),
        };
        self.stack.pop();
        result
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

    fn kustomization(&mut self, dir: &Path, file: &Path) -> Result<Vec<Item>, Error> {
        let text = fs::read(self.root, file)?;
        let k = Kustomization::parse(&text, file)?;
        let mut items = Vec::new();
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
        let generators = generate::Generators {
            root: self.root,
            dir,
            file,
            text: &text,
        };
        generate::run(&generators, &k, &mut items)?;
        let patcher = Patcher {
            root: self.root,
            dir,
            file,
        };
        transform(&k, &patcher, &mut items)?;
        Ok(items)
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
            // kustomize also records the id between namespace and rename, so
            // an overlay generator can merge into `name` in the new namespace.
            for item in items.iter_mut() {
                item.remember_id();
            }
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

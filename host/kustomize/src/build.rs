//! The build: loads a path (kustomization, plain directory or file),
//! recursing into resources, then applies the kustomization's patches and
//! transformers in kustomize's order.

use std::path::{Path, PathBuf};

use cap_std::fs::Dir;

use crate::error::PatchRef;
use crate::fs::{self, Entry};
use crate::generate;
use crate::kustomization::{BuildMetadataOption, Kind, Kustomization};
use crate::metadata;
use crate::object::{self, Item};
use crate::order::Order;
use crate::patch::Patcher;
use crate::transform::config::TransformerConfig;
use crate::transform::names::End;
use crate::transform::{images, labels, names, namespace, replacements, replicas};
use crate::Error;

/// What building a path gives: its objects, and the transformer
/// configuration accumulated from it and everything it includes (kustomize
/// merges a sub-kustomization's configuration into its parent's).
pub(crate) struct Built {
    pub items: Vec<Item>,
    pub config: TransformerConfig,
}

/// One build in progress: the root, and the directories being built (to
/// detect cycles).
pub(crate) struct Builder<'a> {
    root: &'a Dir,
    /// (canonical directory, directory as reached) of each directory being
    /// built, outermost first.
    stack: Vec<(PathBuf, PathBuf)>,
    /// The built kustomization's `sortOptions` order.
    pub order: Order,
    /// The built kustomization's `buildMetadata` (it applies to everything
    /// the build includes, as in kustomize).
    pub build_metadata: Vec<BuildMetadataOption>,
    /// The path being loaded, from the built kustomization's directory, as
    /// its entries lead there (the origin annotation's `path`).
    origin_path: PathBuf,
    /// Fields added to the built kustomization (taken when it is reached).
    pub overlay: Option<crate::Overlay>,
    /// What `secretGenerator` files go through.
    secret_files: &'a crate::SecretFiles<'a>,
}

impl<'a> Builder<'a> {
    pub fn new(root: &'a Dir, secret_files: &'a crate::SecretFiles<'a>) -> Self {
        Builder {
            root,
            secret_files,
            stack: Vec::new(),
            order: Order::default(),
            build_metadata: Vec::new(),
            origin_path: PathBuf::new(),
            overlay: None,
        }
    }

    /// Builds `entry` with the origin path extended by `written`.
    fn sub_entry(&mut self, entry: &Entry, written: &str) -> Result<Built, Error> {
        let saved = self.origin_path.clone();
        self.origin_path = metadata::join(&saved, written);
        let result = self.entry(entry);
        self.origin_path = saved;
        result
    }

    /// Builds a resolved entry: a directory (kustomization or plain) or a
    /// YAML file.
    pub fn entry(&mut self, entry: &Entry) -> Result<Built, Error> {
        if entry.is_dir {
            self.directory(&entry.path)
        } else {
            Ok(Built {
                items: self.file(&entry.path)?,
                config: TransformerConfig::default(),
            })
        }
    }

    fn file(&self, path: &Path) -> Result<Vec<Item>, Error> {
        let text = fs::read(self.root, path)?;
        let documents = crate::yaml::parse_documents(&text, path, crate::yaml::Schema::Kustomize)?;
        let mut items = object::items_from_documents(documents, path)?;
        if !self.build_metadata.is_empty() {
            metadata::set_origin(&mut items, &self.origin_path);
        }
        Ok(items)
    }

    fn directory(&mut self, dir: &Path) -> Result<Built, Error> {
        let kustomization = fs::find_kustomization(self.root, dir)?;
        self.enter(dir, kustomization.as_deref())?;
        let result = match kustomization {
            Some(file) => self.kustomization(dir, &file),
            None => match self.top_overlay() {
                // Flux generates a kustomization listing the directory's
                // files and adds the fields to it.
                Some(overlay) => self.plain_directory(dir).and_then(|built| {
                    let mut k = Kustomization::default();
                    k.add_overlay(&overlay)?;
                    let file = dir.join("kustomization.yaml");
                    self.accumulate(&k, dir, &file, "", built)
                }),
                None => self.plain_directory(dir),
            },
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
    /// generates a kustomization for such a directory (with the built-in
    /// configuration).
    fn plain_directory(&mut self, dir: &Path) -> Result<Built, Error> {
        let mut items = Vec::new();
        let mut config = TransformerConfig::builtin();
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
            let built = self.sub_entry(&entry, &name.to_string_lossy())?;
            items.extend(built.items);
            merge_config(&mut config, &built.config, dir)?;
        }
        Ok(Built { items, config })
    }

    /// Builds the kustomization `file` of `dir`. A Component may be the build
    /// path itself (kustomize allows it): it then starts from nothing.
    /// The overlay, when the directory being entered is the build path.
    fn top_overlay(&mut self) -> Option<crate::Overlay> {
        if self.stack.len() == 1 {
            self.overlay.take()
        } else {
            None
        }
    }

    fn kustomization(&mut self, dir: &Path, file: &Path) -> Result<Built, Error> {
        let text = fs::read(self.root, file)?;
        let mut k = Kustomization::parse(&text, file)?;
        if let Some(overlay) = self.top_overlay() {
            k.add_overlay(&overlay)?;
        }
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
        if self.stack.len() == 1 {
            // Only the built kustomization's sortOptions and buildMetadata
            // count, as in kustomize.
            if let Some(options) = &k.sort_options {
                self.order = Order::from_options(options).map_err(|message| {
                    Error::InvalidKustomization {
                        file: file.to_path_buf(),
                        line: None,
                        message,
                    }
                })?;
            }
            self.build_metadata = k.build_metadata.clone();
        }
        let start = Built {
            items: Vec::new(),
            config: TransformerConfig::default(),
        };
        self.accumulate(&k, dir, file, &text, start)
    }

    /// kustomize's `accumulateTarget`: adds the kustomization's resources and
    /// configuration to `built` (what a parent accumulated, for a component;
    /// nothing otherwise), then applies its components, then its
    /// transformers.
    fn accumulate(
        &mut self,
        k: &Kustomization,
        dir: &Path,
        file: &Path,
        text: &str,
        built: Built,
    ) -> Result<Built, Error> {
        let Built {
            mut items,
            mut config,
        } = built;
        for entry in k.resources.iter().chain(&k.bases) {
            if is_remote(entry) {
                return Err(Error::Remote {
                    file: file.to_path_buf(),
                    entry: entry.clone(),
                });
            }
            let resolved = fs::resolve(self.root, dir, file, "resource", entry)?;
            let built = self.sub_entry(&resolved, entry)?;
            items.extend(built.items);
            merge_config(&mut config, &built.config, file)?;
        }
        let own = TransformerConfig::load(self.root, dir, file, &k.configurations)?;
        merge_config(&mut config, &own, file)?;
        object::check_duplicates(&items)?;
        let configured_in = (!self.build_metadata.is_empty()).then(|| {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            metadata::join(&self.origin_path, &name)
        });
        let generators = generate::Generators {
            root: self.root,
            dir,
            file,
            text,
            configured_in: configured_in.as_deref(),
            secret_files: self.secret_files,
        };
        generate::run(&generators, k, &mut items)?;
        let mut built = Built { items, config };
        for entry in &k.components {
            built = self.component(dir, file, entry, built)?;
        }
        let Built { mut items, config } = built;
        let patcher = Patcher {
            root: self.root,
            dir,
            file,
        };
        transform(k, &config, &patcher, configured_in.as_deref(), &mut items)?;
        Ok(Built { items, config })
    }

    /// Applies the component `entry` of the kustomization `file` to `items`.
    fn component(
        &mut self,
        dir: &Path,
        file: &Path,
        entry: &str,
        built: Built,
    ) -> Result<Built, Error> {
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
        // Origins inside the component are paths through it, as kustomize
        // records them.
        let saved = self.origin_path.clone();
        self.origin_path = metadata::join(&saved, entry);
        let result = self.accumulate(&component, &resolved.path, &component_file, &text, built);
        self.origin_path = saved;
        self.stack.pop();
        result
    }
}

/// Merges an included configuration into a kustomization's; a conflict is
/// an error naming the kustomization (or directory).
fn merge_config(
    config: &mut TransformerConfig,
    other: &TransformerConfig,
    file: &Path,
) -> Result<(), Error> {
    config
        .merge(other)
        .map_err(|message| Error::InvalidConfiguration {
            file: file.to_path_buf(),
            line: None,
            message,
        })
}

/// Applies a kustomization's patches and transformers to its resources, in
/// kustomize's order (`configureBuiltinTransformers` in
/// `api/internal/target/kusttarget_configplugin.go`). With `configured_in`
/// (the kustomization's path for `buildMetadata`), each configured
/// transformer is recorded on the objects, as kustomize does.
fn transform(
    k: &Kustomization,
    config: &TransformerConfig,
    patcher: &Patcher<'_>,
    configured_in: Option<&Path>,
    items: &mut Vec<Item>,
) -> Result<(), Error> {
    let record = |items: &mut Vec<Item>, kind: &str, times: usize| {
        if let Some(configured_in) = configured_in {
            for _ in 0..times {
                metadata::record_transformer(items, configured_in, kind);
            }
        }
    };
    let once = |configured: bool| usize::from(configured);
    patcher.strategic_merge(&k.patches_strategic_merge, items)?;
    record(
        items,
        "PatchStrategicMergeTransformer",
        once(!k.patches_strategic_merge.is_empty()),
    );
    patcher.patches(&k.patches, items)?;
    record(items, "PatchTransformer", k.patches.len());

    // References to renamed objects are updated once, at the end of the
    // whole build (`transform::nameref`).
    let ns = k.namespace.as_deref().filter(|ns| !ns.is_empty());
    if let Some(ns) = ns {
        namespace::apply(items, ns, &config.namespace, patcher.file)?;
    }
    let prefix = k.name_prefix.as_deref().unwrap_or("");
    names::apply(items, prefix, End::Prefix, &config.name_prefix);
    let suffix = k.name_suffix.as_deref().unwrap_or("");
    names::apply(items, suffix, End::Suffix, &config.name_suffix);
    record(items, "NamespaceTransformer", once(ns.is_some()));
    record(items, "PrefixTransformer", once(!prefix.is_empty()));
    record(items, "SuffixTransformer", once(!suffix.is_empty()));

    for (index, label) in k.labels.iter().enumerate() {
        labels::apply_label(items, label, config).map_err(|message| {
            Error::InvalidKustomization {
                file: patcher.file.to_path_buf(),
                line: None,
                message: format!("labels[{index}].fields: {message}"),
            }
        })?;
    }
    labels::apply(items, &config.common_labels, &k.common_labels);
    // One per `labels` entry and one for `commonLabels`, even if empty.
    let label_transformers = if k.labels.is_empty() && k.common_labels.0.is_empty() {
        0
    } else {
        k.labels.len() + 1
    };
    record(items, "LabelTransformer", label_transformers);
    labels::apply(items, &config.common_annotations, &k.common_annotations);
    record(
        items,
        "AnnotationsTransformer",
        once(!k.common_annotations.0.is_empty()),
    );
    patcher.json6902(&k.patches_json6902, items)?;
    record(items, "PatchJson6902Transformer", k.patches_json6902.len());
    replicas::apply(items, &k.replicas, &config.replicas).map_err(|name| Error::NoMatch {
        patch: PatchRef {
            file: patcher.file.to_path_buf(),
            entry: Some("replicas".into()),
        },
        what: format!("entry '{name}'"),
    })?;
    record(items, "ReplicaCountTransformer", k.replicas.len());
    images::apply(items, &k.images, &config.images);
    record(items, "ImageTagTransformer", k.images.len());
    replacements::apply(
        patcher.root,
        patcher.dir,
        patcher.file,
        &k.replacements,
        items,
    )?;
    record(
        items,
        "ReplacementTransformer",
        once(!k.replacements.is_empty()),
    );
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

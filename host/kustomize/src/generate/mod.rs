//! `configMapGenerator`, `secretGenerator` and `generatorOptions`, and the
//! content hash kustomize appends to generated names.
//!
//! kustomize (v5.5) builds a kustomization in this order: its resources
//! (each sub-kustomization completely), then its generators, then its
//! components, then its transformers. [`run`] is the generator step: every
//! `configMapGenerator` entry, then every `secretGenerator` entry, makes one
//! object from its `envs` (and the old `env`), `literals` and `files`, in
//! that order, and adds it to the objects built so far the way its
//! `behavior` says:
//!
//! * `create` (the default): a new object; one that already exists (by
//!   kind, namespace and name, current or before renames) is an error;
//! * `merge`: the existing object keeps its name and namespace, gets the
//!   union of both objects' labels, annotations, `data` and `binaryData`
//!   (the generator winning per key), and the generator's other fields
//!   (`type`, `immutable`);
//! * `replace`: the same, except that `data` and `binaryData` are the
//!   generator's only.
//!
//! A generated object then goes through the kustomization's transformers
//! like any other (prefix, namespace, labels...). The name hash is added
//! only at the very end of the whole build ([`apply_hashes`]), so it covers
//! the final data; a merged object keeps a hash only if both the existing
//! object and the merging generator want one (kustomize's rule).
//!
//! Generator metadata lives on [`Item::generated`], never in annotations,
//! so nothing of it can leak into the output. Files go through the same
//! root-confined resolution and reading as every other file
//! ([`crate::fs`]).

mod hash;
mod sources;

use std::collections::BTreeMap;
use std::path::Path;

use cap_std::fs::Dir;
use serde_json::{Map, Value};

use crate::fs;
use crate::kustomization::{key_line, GeneratorArgs, GeneratorOptions, Kustomization};
use crate::metadata;
use crate::object::{Generated, Item, ResId};
use crate::{Error, Origin};

/// The kustomization whose generators run.
pub(crate) struct Generators<'a> {
    pub root: &'a Dir,
    /// Its directory, relative to the root.
    pub dir: &'a Path,
    /// Its file, relative to the root.
    pub file: &'a Path,
    /// Its text, to find the line of each generator field.
    pub text: &'a str,
    /// With `buildMetadata`, the kustomization's path from the built one:
    /// generated objects record their generator as their origin.
    pub configured_in: Option<&'a Path>,
    /// What `secretGenerator` files go through (see [`crate::SecretFiles`]).
    pub secret_files: &'a crate::SecretFiles<'a>,
}

/// The two generator fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ConfigMap,
    Secret,
}

impl Kind {
    fn field(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configMapGenerator",
            Kind::Secret => "secretGenerator",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
        }
    }

    /// How a `files` or `envs` entry is named in errors.
    fn source(self, env: bool) -> &'static str {
        match (self, env) {
            (Kind::ConfigMap, false) => "configMapGenerator file",
            (Kind::ConfigMap, true) => "configMapGenerator env file",
            (Kind::Secret, false) => "secretGenerator file",
            (Kind::Secret, true) => "secretGenerator env file",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behavior {
    Create,
    Merge,
    Replace,
}

/// Runs the kustomization's generators, adding (or merging) their objects
/// into `items`, the objects of its resources.
pub(crate) fn run(
    g: &Generators<'_>,
    k: &Kustomization,
    items: &mut Vec<Item>,
) -> Result<(), Error> {
    let fields = [
        (Kind::ConfigMap, &k.config_map_generator),
        (Kind::Secret, &k.secret_generator),
    ];
    for (kind, entries) in fields {
        for (index, args) in entries.iter().enumerate() {
            let (mut item, behavior) =
                g.generate(kind, index, args, k.generator_options.as_ref())?;
            if let Some(configured_in) = g.configured_in {
                // Recorded before a merge, so a merged object's origin is
                // its last generator, as kubectl prints it.
                let by = match kind {
                    Kind::ConfigMap => "ConfigMapGenerator",
                    Kind::Secret => "SecretGenerator",
                };
                metadata::record_transformer(std::slice::from_mut(&mut item), configured_in, by);
            }
            g.absorb(kind, items, item, behavior)?;
        }
    }
    Ok(())
}

/// Appends the content hash to the name of every generated object that
/// wants one, remembering the name before, so the name-reference pass that
/// follows updates references. Runs once, on the whole build, after every
/// transformer (kustomize's `addHashesToNames`).
pub(crate) fn apply_hashes(items: &mut [Item]) -> Result<(), Error> {
    for item in items.iter_mut() {
        if !item.generated.is_some_and(|g| g.needs_hash) {
            continue;
        }
        let id = item.id();
        let Some(suffix) = hash::suffix(&item.object) else {
            return Err(Error::Generator {
                file: item.origin.file.clone(),
                line: Some(item.origin.line),
                what: "generated object",
                name: id.name,
                message: format!(
                    "its kind was changed to {}; only ConfigMaps and Secrets can get a name hash",
                    id.kind
                ),
            });
        };
        item.remember_id();
        item.object["metadata"]["name"] = Value::String(format!("{}-{suffix}", id.name));
    }
    Ok(())
}

impl Generators<'_> {
    fn error(&self, kind: Kind, name: &str, message: String) -> Error {
        Error::Generator {
            file: self.file.to_path_buf(),
            line: key_line(self.text, kind.field()),
            what: kind.field(),
            name: name.to_string(),
            message,
        }
    }

    /// Makes the object of one generator entry.
    fn generate(
        &self,
        kind: Kind,
        index: usize,
        args: &GeneratorArgs,
        global: Option<&GeneratorOptions>,
    ) -> Result<(Item, Behavior), Error> {
        let line = key_line(self.text, kind.field());
        let name = match args.name.as_deref() {
            Some(name) if !name.is_empty() => name,
            _ => {
                return Err(Error::InvalidKustomization {
                    file: self.file.to_path_buf(),
                    line,
                    message: format!("{}[{index}]: missing 'name'", kind.field()),
                })
            }
        };
        let behavior = match args.behavior.as_deref().unwrap_or("") {
            "" | "create" => Behavior::Create,
            "merge" => Behavior::Merge,
            "replace" => Behavior::Replace,
            other => {
                return Err(self.error(
                    kind,
                    name,
                    format!("behavior '{other}' is not create, merge or replace"),
                ))
            }
        };
        let options = merge_options(args.options.as_ref(), global);
        let data = self.key_values(kind, name, args)?;

        let mut metadata = Map::new();
        metadata.insert("name".into(), name.into());
        if let Some(namespace) = args.namespace.as_deref().filter(|ns| !ns.is_empty()) {
            metadata.insert("namespace".into(), namespace.into());
        }
        for (field, map) in [
            ("labels", options.labels),
            ("annotations", options.annotations),
        ] {
            if !map.is_empty() {
                metadata.insert(field.into(), string_map(map));
            }
        }
        let mut object = Map::new();
        object.insert("apiVersion".into(), "v1".into());
        object.insert("kind".into(), kind.kind().into());
        object.insert("metadata".into(), Value::Object(metadata));
        match kind {
            Kind::ConfigMap => {
                // UTF-8 values are `data`, others base64 in `binaryData`;
                // an empty map is left out.
                let (mut text, mut binary) = (BTreeMap::new(), BTreeMap::new());
                for (key, value) in data {
                    match String::from_utf8(value) {
                        Ok(value) => text.insert(key, value),
                        Err(err) => binary.insert(key, sources::base64(err.as_bytes())),
                    };
                }
                for (field, map) in [("data", text), ("binaryData", binary)] {
                    if !map.is_empty() {
                        object.insert(field.into(), string_map(map));
                    }
                }
            }
            Kind::Secret => {
                let secret_type = args.secret_type.as_deref().filter(|t| !t.is_empty());
                object.insert("type".into(), secret_type.unwrap_or("Opaque").into());
                let encoded = data
                    .into_iter()
                    .map(|(key, value)| (key, sources::base64(&value)))
                    .collect();
                object.insert("data".into(), string_map(encoded));
            }
        }
        if options.immutable {
            object.insert("immutable".into(), Value::Bool(true));
        }
        let mut item = Item::new(
            Value::Object(object),
            Origin {
                file: self.file.to_path_buf(),
                line: line.unwrap_or(1),
            },
        );
        item.generated = Some(Generated {
            needs_hash: !options.disable_name_suffix_hash,
        });
        // kustomize gives a generated object a previous id at once; without
        // one no name reference would ever look for it.
        item.remember_id();
        Ok((item, behavior))
    }

    /// The generator's keys and values: env files, then literals, then
    /// files, each key once.
    fn key_values(
        &self,
        kind: Kind,
        name: &str,
        args: &GeneratorArgs,
    ) -> Result<BTreeMap<String, Vec<u8>>, Error> {
        let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
        for env in args.envs.iter().chain(&args.env) {
            let (path, content) = self.read(kind, name, true, env)?;
            let lines = sources::env_file(&content).map_err(|err| Error::Generator {
                file: path,
                line: Some(err.line),
                what: kind.field(),
                name: name.to_string(),
                message: err.message,
            })?;
            pairs.extend(lines.into_iter().map(|(k, v)| (k, v.into_bytes())));
        }
        for literal in &args.literals {
            let (key, value) =
                sources::literal(literal).map_err(|message| self.error(kind, name, message))?;
            pairs.push((key, value.into_bytes()));
        }
        for source in &args.files {
            let (key, path) =
                sources::file_source(source).map_err(|message| self.error(kind, name, message))?;
            let (_, content) = self.read(kind, name, false, &path)?;
            pairs.push((key, content));
        }
        let mut data = BTreeMap::new();
        for (key, value) in pairs {
            // kustomize writes generated keys as plain YAML and reads them
            // back: a key that reads as null, a boolean or a number makes it
            // fail ("json: unsupported type"), so rekon refuses it too.
            if !crate::yaml::resolve_plain(&key).is_ok_and(|v| v.is_string()) {
                return Err(self.error(
                    kind,
                    name,
                    format!(
                        "key '{key}' reads as YAML null, a boolean or a number; kustomize \
                         cannot build it either: rename it"
                    ),
                ));
            }
            if data.contains_key(&key) {
                return Err(self.error(kind, name, format!("key '{key}' is given twice")));
            }
            data.insert(key, value);
        }
        Ok(data)
    }

    /// Reads a `files` or `envs` entry through the root.
    fn read(
        &self,
        kind: Kind,
        name: &str,
        env: bool,
        entry: &str,
    ) -> Result<(std::path::PathBuf, Vec<u8>), Error> {
        let resolved = fs::resolve(self.root, self.dir, self.file, kind.source(env), entry)?;
        if resolved.is_dir {
            return Err(self.error(
                kind,
                name,
                format!("{} '{entry}' is a directory, not a file", kind.source(env)),
            ));
        }
        let mut content = fs::read_bytes(self.root, &resolved.path)?;
        if kind == Kind::Secret {
            content = (self.secret_files)(&resolved.path, env, content).map_err(|message| {
                Error::Generator {
                    file: resolved.path.clone(),
                    line: None,
                    what: kind.field(),
                    name: name.to_string(),
                    message,
                }
            })?;
        }
        Ok((resolved.path, content))
    }

    /// Adds a generated object to `items` as its behavior says
    /// (kustomize's `appendReplaceOrMerge`).
    fn absorb(
        &self,
        kind: Kind,
        items: &mut Vec<Item>,
        new: Item,
        behavior: Behavior,
    ) -> Result<(), Error> {
        let id = new.id();
        let matches: Vec<usize> = items
            .iter()
            .enumerate()
            .filter(|(_, item)| item.ids().iter().any(|other| same_object(other, &id)))
            .map(|(index, _)| index)
            .collect();
        let described = |index: usize| {
            let item: &Item = &items[index];
            format!(
                "{} ({}:{})",
                item.id(),
                item.origin.file.display(),
                item.origin.line
            )
        };
        match (matches.as_slice(), behavior) {
            ([], Behavior::Create) => items.push(new),
            ([], Behavior::Merge | Behavior::Replace) => {
                let verb = if behavior == Behavior::Merge {
                    "merge"
                } else {
                    "replace"
                };
                return Err(self.error(
                    kind,
                    &id.name,
                    format!(
                        "behavior {verb}: there is no {} {} in namespace '{}' to {verb}",
                        id.kind,
                        id.name,
                        id.effective_namespace()
                    ),
                ));
            }
            ([index], Behavior::Create) => {
                return Err(self.error(
                    kind,
                    &id.name,
                    format!(
                        "{} already exists; set behavior merge or replace to change it",
                        described(*index)
                    ),
                ))
            }
            ([index], Behavior::Merge | Behavior::Replace) => {
                let merge = behavior == Behavior::Merge;
                // kustomize keeps a merged object's origin (a replaced one
                // takes its generator's).
                let origin = merge.then(|| metadata::origin(&items[*index])).flatten();
                let old = std::mem::replace(&mut items[*index], new);
                combine(&mut items[*index], old, merge);
                if let Some(origin) = origin {
                    metadata::set_origin_text(&mut items[*index], origin);
                }
            }
            (several, _) => {
                let found: Vec<String> = several.iter().map(|&i| described(i)).collect();
                return Err(self.error(
                    kind,
                    &id.name,
                    format!("matches several objects: {}", found.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

/// The same object for `behavior`: group, version, kind, name and
/// namespace, an unset namespace being `default` (kustomize's
/// `ResId.Equals`).
fn same_object(a: &ResId, b: &ResId) -> bool {
    a.group == b.group
        && a.version == b.version
        && a.kind == b.kind
        && a.name == b.name
        && a.effective_namespace() == b.effective_namespace()
}

/// Turns `new` (in place) into the merge or replacement of `old`
/// (kustomize's `CopyMergeMetaDataFieldsFrom`, plus `MergeDataMapFrom` and
/// `MergeBinaryDataMapFrom` for a merge).
fn combine(new: &mut Item, old: Item, merge: bool) {
    let old_texts = old.plain;
    let old_object = old.object;
    let object = new
        .object
        .as_object_mut()
        .expect("generated objects are mappings");
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .expect("generated metadata is a mapping");
    for field in ["labels", "annotations"] {
        let merged = merge_maps(old_object["metadata"].get(field), metadata.get(field));
        set_or_remove(metadata, field, merged);
    }
    metadata.insert("name".into(), old_object["metadata"]["name"].clone());
    match old_object["metadata"].get("namespace") {
        Some(namespace) if namespace.as_str().is_some_and(|ns| !ns.is_empty()) => {
            metadata.insert("namespace".into(), namespace.clone());
        }
        _ => {
            metadata.remove("namespace");
        }
    }
    if merge {
        for field in ["data", "binaryData"] {
            // kustomize rewrites both maps with sorted keys and string
            // values, dropping them when empty.
            // An old value kustomize kept as text comes back as that text.
            let merged: Map<String, Value> = merge_maps(old_object.get(field), object.get(field))
                .into_iter()
                .map(|(key, value)| {
                    let text = match crate::object::plain_data(&old_texts, &key) {
                        Some(text)
                            if field == "data"
                                && crate::yaml::resolve_plain(text).ok().as_ref()
                                    == Some(&value) =>
                        {
                            text.to_string()
                        }
                        _ => scalar_text(&value),
                    };
                    (key, Value::String(text))
                })
                .collect();
            set_or_remove(object, field, merged);
        }
    }
    let old_hash = old.generated.is_some_and(|g| g.needs_hash);
    let new_hash = new.generated.is_some_and(|g| g.needs_hash);
    new.generated = Some(Generated {
        needs_hash: old_hash && new_hash,
    });
    new.origin = old.origin;
    new.previous = old.previous;
}

/// `base` overlaid with `over`, keys sorted.
fn merge_maps(base: Option<&Value>, over: Option<&Value>) -> Map<String, Value> {
    let mut merged: BTreeMap<String, Value> = BTreeMap::new();
    for map in [base, over]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        for (key, value) in map {
            merged.insert(key.clone(), value.clone());
        }
    }
    merged.into_iter().collect()
}

fn set_or_remove(map: &mut Map<String, Value>, field: &str, value: Map<String, Value>) {
    if value.is_empty() {
        map.remove(field);
    } else {
        map.insert(field.into(), Value::Object(value));
    }
}

/// A scalar as the text YAML would show (kustomize reads map values as
/// text when it merges data).
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// kustomize's `MergeGlobalOptionsIntoLocal`: the generator's labels and
/// annotations win over `generatorOptions`; a `true` in either turns
/// `disableNameSuffixHash` or `immutable` on.
fn merge_options(local: Option<&GeneratorOptions>, global: Option<&GeneratorOptions>) -> Options {
    let mut options = Options::default();
    for source in [global, local].into_iter().flatten() {
        for (key, value) in &source.labels.0 {
            options.labels.insert(key.clone(), value.clone());
        }
        for (key, value) in &source.annotations.0 {
            options.annotations.insert(key.clone(), value.clone());
        }
        options.disable_name_suffix_hash |= source.disable_name_suffix_hash;
        options.immutable |= source.immutable;
    }
    options
}

/// A generator's options after [`merge_options`].
#[derive(Default)]
struct Options {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    disable_name_suffix_hash: bool,
    immutable: bool,
}

fn string_map(map: BTreeMap<String, String>) -> Value {
    Value::Object(
        map.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

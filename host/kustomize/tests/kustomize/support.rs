//! A source tree in a temporary directory, and shortcuts to build it.

use std::path::Path;

use rekon_kustomize::{build, open_root, to_yaml, Resource};
use serde_json::Value;

pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    /// A tree with the given files (paths relative to the root; leading
    /// indentation of the contents is kept as written).
    pub fn new(files: &[(&str, &str)]) -> Tree {
        let tree = Tree {
            dir: tempfile::tempdir().unwrap(),
        };
        for (path, text) in files {
            tree.write(path, text);
        }
        tree
    }

    pub fn write(&self, path: &str, text: &str) {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn build(&self, path: &str) -> Result<Vec<Resource>, rekon_kustomize::Error> {
        let root = open_root(self.dir.path()).unwrap();
        build(&root, Path::new(path))
    }

    /// The built objects.
    pub fn objects(&self, path: &str) -> Vec<Value> {
        match self.build(path) {
            Ok(resources) => resources.into_iter().map(|r| r.object).collect(),
            Err(err) => panic!("build failed: {err}"),
        }
    }

    /// The built objects as YAML.
    pub fn yaml(&self, path: &str) -> String {
        to_yaml(&self.objects(path))
    }

    /// The build's error message.
    pub fn error(&self, path: &str) -> String {
        match self.build(path) {
            Ok(resources) => panic!("build succeeded: {resources:?}"),
            Err(err) => err.to_string(),
        }
    }
}

/// Parses a multi-document YAML text into values, for expectations.
pub fn docs(text: &str) -> Vec<Value> {
    rekon_kustomize::parse_yaml_documents(text, Path::new("expected.yaml"))
        .unwrap()
        .into_iter()
        .map(|(value, _)| value)
        .collect()
}

/// The object of `kind` named `name` among `objects`.
pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {objects:#?}"))
}

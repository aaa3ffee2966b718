//! `images`: kustomize's image tag transformer.
//!
//! As kustomize (its "legacy" image filter), every `image` of an element of
//! any list named `containers` or `initContainers`, anywhere in an object, is
//! considered, so all workload kinds (CronJob included) and custom resources
//! embedding pod specs are covered; CustomResourceDefinitions are skipped.
//! Image volumes (`volumes[].image.reference`) of pod specs are covered too.

use regex::Regex;
use serde_json::Value;

use super::fieldspec::{split_path, visit, Create, FieldSpec};
use crate::kustomization::Image;
use crate::object::Item;

/// One `images` entry, ready to match.
struct Rule<'a> {
    image: &'a Image,
    /// kustomize's `IsImageMatched` pattern; `None` when the name is not a
    /// valid pattern, which (as in kustomize) matches nothing.
    pattern: Option<Regex>,
}

impl<'a> Rule<'a> {
    fn new(image: &'a Image) -> Self {
        // The name is a regular expression in kustomize too (not quoted).
        let pattern = format!(
            r"^{}(:[a-zA-Z0-9_.{{}}-]*)?(@[a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{{}}-]*)?$",
            image.name
        );
        Rule {
            image,
            pattern: Regex::new(&pattern).ok(),
        }
    }

    fn rewrite(&self, reference: &str) -> Option<String> {
        if !self.pattern.as_ref()?.is_match(reference) {
            return None;
        }
        let (name, tag, digest) = split(reference);
        let name = self.image.new_name.as_deref().unwrap_or(name);
        let (tag, digest) = match (self.image.new_tag.as_deref(), self.image.digest.as_deref()) {
            (Some(tag), Some(digest)) => (tag, digest),
            (Some(tag), None) => (tag, ""),
            (None, Some(digest)) => ("", digest),
            (None, None) => (tag, digest),
        };
        let mut out = name.to_string();
        if !tag.is_empty() {
            out.push(':');
            out.push_str(tag);
        }
        if !digest.is_empty() {
            out.push('@');
            out.push_str(digest);
        }
        Some(out)
    }
}

/// Applies the `images` entries in order: everywhere described above, then
/// at the configuration's `images` field specs (for custom resources).
pub(crate) fn apply(items: &mut [Item], images: &[Image], specs: &[FieldSpec]) {
    let rules: Vec<Rule<'_>> = images.iter().map(Rule::new).collect();
    for item in items {
        if item.object["kind"] == "CustomResourceDefinition" {
            continue;
        }
        for rule in &rules {
            let update = &mut |value: &mut Value| {
                if let Some(new) = value.as_str().and_then(|s| rule.rewrite(s)) {
                    *value = Value::String(new);
                }
            };
            walk_containers(&mut item.object, update);
            for path in [
                "spec/volumes/image/reference",
                "spec/template/spec/volumes/image/reference",
            ] {
                visit(&mut item.object, &split_path(path), Create::Never, update);
            }
            for spec in specs {
                spec.apply(&mut item.object, Create::Never, update);
            }
        }
    }
}

/// Calls `f` on the `image` of each element of every `containers` or
/// `initContainers` list in `value`.
fn walk_containers(value: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "containers" || key == "initContainers" {
                    if let Value::Array(containers) = child {
                        for container in containers.iter_mut() {
                            if let Some(image) = container.get_mut("image") {
                                f(image);
                            }
                        }
                        continue;
                    }
                }
                walk_containers(child, f);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk_containers(item, f);
            }
        }
        _ => {}
    }
}

/// Splits `[host[:port]/]path[:tag][@digest]` like kustomize's `image.Split`:
/// a `:` before the first `/` is a registry port, not a tag.
fn split(reference: &str) -> (&str, &str, &str) {
    let search_from = match reference.find('/') {
        Some(slash) if slash > 0 => slash,
        _ => 0,
    };
    let rest = &reference[search_from..];
    let at = rest.find('@').map(|i| i + search_from);
    let colon = rest.find(':').map(|i| i + search_from);
    match (colon, at) {
        (None, None) => (reference, "", ""),
        (None, Some(at)) => (&reference[..at], "", &reference[at + 1..]),
        (Some(colon), Some(at)) if at < colon => (&reference[..at], "", &reference[at + 1..]),
        (Some(colon), Some(at)) => (
            &reference[..colon],
            &reference[colon + 1..at],
            &reference[at + 1..],
        ),
        (Some(colon), None) => (&reference[..colon], &reference[colon + 1..], ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_handles_ports_tags_and_digests() {
        assert_eq!(split("nginx"), ("nginx", "", ""));
        assert_eq!(split("nginx:1.25"), ("nginx", "1.25", ""));
        assert_eq!(split("nginx@sha256:abc"), ("nginx", "", "sha256:abc"));
        assert_eq!(
            split("nginx:1.25@sha256:abc"),
            ("nginx", "1.25", "sha256:abc")
        );
        assert_eq!(
            split("registry.lan:5000/web/app:2"),
            ("registry.lan:5000/web/app", "2", "")
        );
        assert_eq!(
            split("registry.lan:5000/web/app"),
            ("registry.lan:5000/web/app", "", "")
        );
    }

    fn rule(image: &Image) -> Rule<'_> {
        Rule::new(image)
    }

    #[test]
    fn rewrite_follows_kustomize() {
        let image = Image {
            name: "nginx".into(),
            new_tag: Some("1.27".into()),
            ..Image::default()
        };
        let r = rule(&image);
        assert_eq!(r.rewrite("nginx").as_deref(), Some("nginx:1.27"));
        assert_eq!(
            r.rewrite("nginx:1.25@sha256:abc").as_deref(),
            Some("nginx:1.27")
        );
        assert_eq!(r.rewrite("docker.io/nginx:1.25"), None);
        assert_eq!(r.rewrite("nginx-exporter:1"), None);

        let image = Image {
            name: "nginx".into(),
            new_name: Some("harbor.lan/mirror/nginx".into()),
            digest: Some("sha256:def".into()),
            ..Image::default()
        };
        assert_eq!(
            rule(&image).rewrite("nginx:1.25").as_deref(),
            Some("harbor.lan/mirror/nginx@sha256:def")
        );
        let image = Image {
            name: "nginx".into(),
            new_name: Some("mirror/nginx".into()),
            ..Image::default()
        };
        assert_eq!(
            rule(&image).rewrite("nginx:1.25").as_deref(),
            Some("mirror/nginx:1.25")
        );
    }
}

//! `{{name}}`: a rekon image policy. It keeps the release tags
//! `MAJOR.MINOR.PATCH` (after an optional prefix such as `v`) and ranks them
//! highest first; every other tag is left out.

use rekon_plugin_sdk::{Description, ImagePolicy, Tag};
use serde::Deserialize;

/// Settings: `{"prefix": "v"}`. Unknown fields are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Text every release tag starts with (default: none).
    pub prefix: String,
}

/// The plugin.
pub struct Plugin;

impl ImagePolicy for Plugin {
    type Settings = Settings;

    fn describe() -> Description {
        Description {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Ranks release tags MAJOR.MINOR.PATCH (after an optional prefix), highest first.".into(),
            settings_example: r#"{"prefix": "v"}"#.into(),
        }
    }

    fn rank(settings: &Settings, repository: &str, tags: Vec<Tag>) -> Result<Vec<String>, String> {
        let mut releases: Vec<([u64; 3], String)> = tags
            .iter()
            .filter_map(|tag| release(&settings.prefix, &tag.name).map(|v| (v, tag.name.clone())))
            .collect();
        rekon_plugin_sdk::log::debug(&format!(
            "{repository}: {} of {} tags are releases",
            releases.len(),
            tags.len()
        ));
        if releases.is_empty() {
            return Err(format!(
                "no tag is left to choose from ({} tags, none of the form {}MAJOR.MINOR.PATCH)",
                tags.len(),
                settings.prefix
            ));
        }
        // Highest version first; equal versions (`1.0.0`, `1.00.0`) by name, so the
        // ranking never depends on the order the registry listed the tags in.
        releases.sort_by(|(a, a_name), (b, b_name)| b.cmp(a).then_with(|| a_name.cmp(b_name)));
        Ok(releases.into_iter().map(|(_, name)| name).collect())
    }
}

/// The version of a release tag `PREFIX MAJOR.MINOR.PATCH`, or `None`.
fn release(prefix: &str, tag: &str) -> Option<[u64; 3]> {
    let mut parts = tag.strip_prefix(prefix)?.split('.');
    let mut version = [0; 3];
    for slot in &mut version {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    parts.next().is_none().then_some(version)
}

// Only the component exports the world, so `cargo test` links natively.
#[cfg(target_arch = "wasm32")]
rekon_plugin_sdk::export_image_policy!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_release_tags() {
        assert_eq!(release("v", "v1.10.0"), Some([1, 10, 0]));
        assert_eq!(release("", "1.10.0-rc1"), None);
        assert_eq!(release("", "1.10"), None);
        assert_eq!(release("v", "1.10.0"), None);
    }
}

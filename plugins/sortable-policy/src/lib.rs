//! `sortable-policy`: a rekon image policy that ranks tags by several sort keys
//! with tie-breaks, which Flux's ImagePolicy cannot do.
//!
//! A `pattern` picks the tags and captures their parts; `keys` compare those
//! parts, most significant first (see [`Settings`] and the README).
//!
//! ```
//! let settings: sortable_policy::Settings = rekon_plugin_sdk::settings::parse(
//!     r#"{"pattern": "^main-(?P<sha>[a-f0-9]+)-(?P<ts>[0-9]+)$",
//!         "keys": [{"group": "ts", "type": "numeric"}, {"group": "sha", "type": "string", "order": "asc"}]}"#,
//! )
//! .unwrap();
//! let tags = ["main-bbb-100", "main-aaa-100", "main-ccc-99", "latest"].map(sortable_policy::tag);
//! let ranked = sortable_policy::rank(&settings, &tags).unwrap();
//! assert_eq!(ranked, ["main-aaa-100", "main-bbb-100", "main-ccc-99"]);
//! ```

#![warn(missing_docs)]

mod keys;
mod settings;

pub use keys::{Direction, KeyType};
pub use settings::{Compiled, Key, Settings, DEFAULT_EXCLUDE};

use keys::KeyValue;
use regex::Regex;
use rekon_plugin_sdk::{Description, ImagePolicy, Tag};
use std::cmp::Ordering;
use std::collections::HashSet;

/// A [`Tag`] with only a name (handy in tests and benchmarks).
pub fn tag(name: &str) -> Tag {
    Tag {
        name: name.to_string(),
        digest: None,
        created: None,
    }
}

/// Ranks `tags` under `settings`, best first; see [`Compiled::rank`].
pub fn rank(settings: &Settings, tags: &[Tag]) -> Result<Vec<String>, String> {
    settings.compile()?.rank(tags)
}

impl Compiled {
    /// Ranks `tags`, best first.
    ///
    /// A tag is left out when it matches an `exclude` pattern, does not match
    /// `pattern`, or has a key group whose text cannot be read as the key's type
    /// (a `numeric` group that is not a number, ...). The others are ordered by
    /// the keys in turn. A key without a value (its group did not take part in
    /// the match, like an optional `(-(?P<build>[0-9]+))?`, or an unknown
    /// creation time) ranks after every value of that key, in either order.
    /// Tags equal under every key are ordered by name, so the ranking never
    /// depends on the order the registry listed the tags in. Duplicate names
    /// appear once. No tag left is an error that says why the tags were left out.
    pub fn rank(&self, tags: &[Tag]) -> Result<Vec<String>, String> {
        let mut seen = HashSet::with_capacity(tags.len());
        let (mut excluded, mut unmatched, mut unreadable) = (0, 0, 0);
        let mut ranked: Vec<(&str, Vec<Option<KeyValue>>)> = Vec::with_capacity(tags.len());
        // One set of capture slots for all tags: no allocation per match.
        let mut locations = self.pattern.as_ref().map(Regex::capture_locations);
        for tag in tags {
            let name = tag.name.as_str();
            if !seen.insert(name) {
                continue;
            }
            if self.exclude.iter().any(|re| re.is_match(name)) {
                excluded += 1;
                continue;
            }
            let captures = match (&self.pattern, locations.as_mut()) {
                (Some(pattern), Some(locations)) => {
                    if pattern.captures_read(locations, name).is_none() {
                        unmatched += 1;
                        continue;
                    }
                    Some(&*locations)
                }
                _ => None,
            };
            // Outer `None`: unreadable, the tag is left out; inner `None`: no value.
            let values: Option<Vec<Option<KeyValue>>> = self
                .keys
                .iter()
                .map(|key| {
                    if key.key_type == KeyType::Created {
                        return Some(tag.created.map(KeyValue::Created));
                    }
                    let text = match captures {
                        Some(locations) => match locations.get(key.group) {
                            Some((start, end)) => &name[start..end],
                            None => return Some(None),
                        },
                        None => name,
                    };
                    key.key_type.read(text).map(Some)
                })
                .collect();
            match values {
                Some(values) => ranked.push((name, values)),
                None => {
                    unreadable += 1;
                    rekon_plugin_sdk::log::debug(&format!(
                        "left out tag {name}: a key group is not of its key's type"
                    ));
                }
            }
        }
        if ranked.is_empty() {
            return Err(format!(
                "no tag is left to choose from ({} tags: {excluded} excluded, {unmatched} not matching pattern, {unreadable} with a key that is not of its type)",
                seen.len()
            ));
        }
        // Unstable is enough: names are unique and break every tie.
        ranked.sort_unstable_by(|(a_name, a), (b_name, b)| {
            self.keys
                .iter()
                .zip(a.iter().zip(b))
                .map(|(key, (x, y))| compare_key(key.order, x.as_ref(), y.as_ref()))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
                .then_with(|| a_name.cmp(b_name))
        });
        Ok(ranked
            .into_iter()
            .map(|(name, _)| name.to_string())
            .collect())
    }
}

/// Best first under `order`; a missing value is last either way.
fn compare_key(order: Direction, x: Option<&KeyValue>, y: Option<&KeyValue>) -> Ordering {
    match (x, y) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => match order {
            Direction::Asc => x.compare(y),
            Direction::Desc => x.compare(y).reverse(),
        },
    }
}

/// The plugin: [`ImagePolicy`] over [`Settings`].
pub struct SortablePolicy;

impl ImagePolicy for SortablePolicy {
    type Settings = Settings;

    fn describe() -> Description {
        Description {
            name: "sortable-policy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Ranks image tags by several sort keys with tie-breaks (numeric, string, \
                      semver, calver, creation time) taken from a regular expression's groups."
                .into(),
            settings_example: r#"{"pattern": "^main-(?P<sha>[a-f0-9]+)-(?P<ts>[0-9]+)$", "keys": [{"group": "ts", "type": "numeric", "order": "desc"}, {"group": "sha", "type": "string", "order": "asc"}], "exclude": ["^main-placeholder-"]}"#
                .into(),
        }
    }

    fn check(settings: &Settings) -> Result<(), String> {
        settings.compile().map(drop)
    }

    fn rank(settings: &Settings, _repository: &str, tags: Vec<Tag>) -> Result<Vec<String>, String> {
        rank(settings, &tags)
    }
}

// Only the component exports the world, so native binaries can link several plugins.
#[cfg(target_arch = "wasm32")]
rekon_plugin_sdk::export_image_policy!(SortablePolicy);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_example_is_accepted() {
        let example = SortablePolicy::describe().settings_example;
        rekon_plugin_sdk::image_policy::check_settings::<SortablePolicy>(&example).unwrap();
    }

    #[test]
    fn ranking_is_independent_of_input_order() {
        let settings: Settings = rekon_plugin_sdk::settings::parse(
            r#"{"pattern": "^(?P<v>[0-9.]+)-(?P<n>[0-9]+)$", "keys": [{"group": "v", "type": "calver"}, {"type": "created", "order": "asc"}]}"#,
        )
        .unwrap();
        let mut tags: Vec<Tag> = [
            "2026.1-1",
            "2026.1-2",
            "2026.01-3",
            "2025.12-9",
            "2026.1.0-4",
        ]
        .iter()
        .enumerate()
        .map(|(i, n)| Tag {
            name: n.to_string(),
            digest: None,
            created: (i % 2 == 0).then_some(100 - i as i64),
        })
        .collect();
        let first = rank(&settings, &tags).unwrap();
        assert_eq!(
            first,
            [
                "2026.1.0-4",
                "2026.01-3",
                "2026.1-1",
                "2026.1-2",
                "2025.12-9"
            ]
        );
        for _ in 0..tags.len() {
            tags.rotate_left(1);
            assert_eq!(rank(&settings, &tags).unwrap(), first);
        }
    }
}

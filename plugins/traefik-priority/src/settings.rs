//! Settings of traefik-priority: explicit rules and/or automatic priorities.

use serde::Deserialize;
use std::collections::HashSet;

/// Base of automatic priorities: every router gets at least this much, above
/// Traefik's default priorities (the length of the rule text, usually < 200).
pub const AUTO_BASE: u32 = 1000;
/// Automatic priority added per character of the path.
pub const AUTO_PER_CHAR: u32 = 10;
/// The highest priority allowed: Traefik keeps the top 1000 values of a 32-bit
/// integer for its internal routers.
pub const MAX_PRIORITY: u32 = i32::MAX as u32 - 1000;

/// Settings of the traefik-priority plugin. Empty settings (`{}`) change
/// nothing.
///
/// ```json
/// {"rules": [{"pathPrefix": "/api", "priority": 2000}, {"pathPrefix": "/", "priority": 1000}]}
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Explicit priorities by path prefix. A route path takes the rule with the
    /// longest `pathPrefix` that covers it.
    pub rules: Vec<Rule>,
    /// Priorities for paths no rule covers: `1000 + 10 × path length`, so a
    /// longer (more specific) path wins.
    pub auto: bool,
}

/// One explicit rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    /// A path prefix starting with `/`. It covers a route path equal to it or
    /// continuing it after a `/` (`/api` covers `/api` and `/api/v1`, not
    /// `/apiary`); `/` covers every path.
    pub path_prefix: String,
    /// The router priority, 1 to 2147482647.
    pub priority: u32,
}

impl Settings {
    /// Checks the settings; errors start with the field path.
    pub fn check(&self) -> Result<(), String> {
        let mut seen = HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.path_prefix.starts_with('/') {
                return Err(format!(
                    "rules[{i}].pathPrefix: `{}` must start with `/`",
                    rule.path_prefix
                ));
            }
            if !seen.insert(normalize(&rule.path_prefix)) {
                return Err(format!(
                    "rules[{i}].pathPrefix: `{}` is given twice",
                    rule.path_prefix
                ));
            }
            if !(1..=MAX_PRIORITY).contains(&rule.priority) {
                return Err(format!(
                    "rules[{i}].priority: must be between 1 and {MAX_PRIORITY} (Traefik keeps the highest values for its own routers)"
                ));
            }
        }
        Ok(())
    }

    /// The priority for one route path: the most specific covering rule, else
    /// the automatic priority when `auto` is on, else none.
    pub fn priority_for(&self, path: &str) -> Option<u32> {
        let rule = self
            .rules
            .iter()
            .filter(|rule| covers(&rule.path_prefix, path))
            .max_by_key(|rule| normalize(&rule.path_prefix).len());
        match rule {
            Some(rule) => Some(rule.priority),
            None if self.auto => Some(auto_priority(path)),
            None => None,
        }
    }
}

/// `1000 + 10 × path length`, capped at [`MAX_PRIORITY`].
pub fn auto_priority(path: &str) -> u32 {
    let length = u32::try_from(path.chars().count()).unwrap_or(u32::MAX);
    AUTO_BASE
        .saturating_add(AUTO_PER_CHAR.saturating_mul(length))
        .min(MAX_PRIORITY)
}

/// A prefix without its trailing `/` (except for `/` itself): `/api/` and
/// `/api` cover the same paths.
fn normalize(prefix: &str) -> &str {
    match prefix.strip_suffix('/') {
        Some("") | None => prefix,
        Some(trimmed) => trimmed,
    }
}

/// Whether `prefix` covers `path`, on `/` boundaries.
fn covers(prefix: &str, path: &str) -> bool {
    let prefix = normalize(prefix);
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_on_segment_boundaries() {
        for (prefix, path, want) in [
            ("/", "/anything", true),
            ("/", "/", true),
            ("/api", "/api", true),
            ("/api", "/api/v1", true),
            ("/api/", "/api/v1", true),
            ("/api/", "/api", true),
            ("/api", "/apiary", false),
            ("/api", "/", false),
            ("/api/v1", "/api", false),
        ] {
            assert_eq!(covers(prefix, path), want, "{prefix} {path}");
        }
    }

    #[test]
    fn auto_grows_with_length() {
        assert_eq!(auto_priority("/"), 1010);
        assert_eq!(auto_priority("/api"), 1040);
        assert_eq!(auto_priority(&"/x".repeat(100)), 3000);
    }
}

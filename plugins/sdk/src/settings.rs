//! Settings: the JSON text an operator writes in `rekon.toml`, parsed into the
//! plugin's own `serde` type.
//!
//! The SDK parses settings for every call (the host passes them as text each
//! time), so plugins only declare a type:
//!
//! ```
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, Default, Debug)]
//! #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
//! struct Probe {
//!     initial_delay_seconds: Option<u32>,
//! }
//!
//! #[derive(Deserialize, Default, Debug)]
//! #[serde(default, deny_unknown_fields)]
//! struct Settings {
//!     probes: Probe,
//! }
//!
//! let err = rekon_plugin_sdk::settings::parse::<Settings>(
//!     r#"{"probes": {"initialDelaySeconds": "x"}}"#,
//! )
//! .unwrap_err();
//! assert_eq!(
//!     err,
//!     r#"settings: probes.initialDelaySeconds: invalid type: string "x", expected u32"#
//! );
//!
//! // No settings at all means `{}`: with `#[serde(default)]` that is `Default`.
//! let empty: Settings = rekon_plugin_sdk::settings::parse("").unwrap();
//! assert!(empty.probes.initial_delay_seconds.is_none());
//! ```
//!
//! Recommended attributes: `deny_unknown_fields` (a misspelt field is an error, not
//! silently ignored), `default` where an empty `{}` makes sense, and
//! `rename_all = "camelCase"` to match Kubernetes spelling.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parses settings JSON `text` into `T`.
///
/// Empty (or all-whitespace) text and `null` are read as `{}`, so a type whose
/// fields all have defaults accepts "no settings".
///
/// Errors read `settings: <field path>: <problem>`, e.g.
/// `settings: probes.initialDelaySeconds: invalid type: string "x", expected u32`,
/// or `settings: not valid JSON: <problem> at line L column C`. List elements
/// appear as `[i]` in the path (`rules[1].priority`).
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let value = if text.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Null) => Value::Object(Default::default()),
            Ok(value) => value,
            Err(e) => return Err(format!("settings: not valid JSON: {e}")),
        }
    };
    from_value(value)
}

/// Like [`parse`], from an already parsed JSON value (e.g. one field of larger
/// settings that a plugin interprets itself).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    // Deserializing from a `Value` (not from text) keeps "at line 1 column 57"
    // out of the messages: the field path says where, better than a column.
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            format!("settings: {inner}")
        } else {
            format!("settings: {path}: {inner}")
        }
    })
}

/// Prefixes an error of a plugin's own settings check with `settings: `, unless
/// it has it already, so every settings error reads the same way.
pub(crate) fn check_error(message: String) -> String {
    if message.starts_with("settings:") {
        message
    } else {
        format!("settings: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, Default, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Rule {
        priority: u32,
    }

    #[derive(Deserialize, Debug, Default, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct S {
        rules: Vec<Rule>,
        name: String,
    }

    #[test]
    fn empty_and_null_mean_defaults() {
        assert_eq!(parse::<S>("").unwrap(), S::default());
        assert_eq!(parse::<S>("  \n").unwrap(), S::default());
        assert_eq!(parse::<S>("null").unwrap(), S::default());
        assert_eq!(parse::<S>("{}").unwrap(), S::default());
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<S>(r#"{"rules": [{"priority": 1}, {"priority": -1}]}"#).unwrap_err();
        assert_eq!(
            e,
            "settings: rules[1].priority: invalid value: integer `-1`, expected u32"
        );
        let e = parse::<S>(r#"{"nam": "x"}"#).unwrap_err();
        assert_eq!(
            e,
            "settings: nam: unknown field `nam`, expected `rules` or `name`"
        );
        let e = parse::<S>(r#""text""#).unwrap_err();
        assert_eq!(
            e,
            r#"settings: invalid type: string "text", expected struct S"#
        );
    }

    #[test]
    fn syntax_errors_say_so() {
        let e = parse::<S>(r#"{"name": }"#).unwrap_err();
        assert!(e.starts_with("settings: not valid JSON: "), "{e}");
    }

    #[test]
    fn check_errors_get_one_prefix() {
        assert_eq!(check_error("a: b".into()), "settings: a: b");
        assert_eq!(check_error("settings: a: b".into()), "settings: a: b");
    }
}

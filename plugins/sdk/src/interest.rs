//! Declaring which objects a plugin wants to be shown.
//!
//! A manifest mutator or validator that declares no interest is shown every
//! object of a render (but Secrets only with the `secrets` capability, see
//! [`capabilities`](crate::capabilities)). One that works on a few kinds says
//! so with [`declare_interest!`](crate::declare_interest): the host then passes
//! it only the objects that match, which is faster (less JSON crosses the
//! sandbox) and safer (a mutator may only change objects it was shown).
//! Positions (`Objects::remove`, a violation's `object.index`) are positions
//! in the list the plugin was shown.
//!
//! The declaration is a custom section named `rekon.interest` in the
//! component: UTF-8 text, one rule per line, each line a JSON object.
//! Blank lines and lines starting with `#` are ignored. An object is shown
//! when any rule matches it; a rule matches when every field it has matches:
//!
//! | field | matches | absent |
//! | --- | --- | --- |
//! | `groups` | objects of these API groups (`""` is the core group: `v1` objects) | any group |
//! | `kinds` | objects of these kinds (`Deployment`) | any kind |
//! | `namespaces` | namespaced objects in these namespaces | any namespace, cluster-scoped objects included |
//! | `selector` | objects whose labels a Kubernetes LabelSelector (`matchLabels`, `matchExpressions`) selects | any labels |
//!
//! For example `{"groups":["apps"],"kinds":["Deployment","StatefulSet","DaemonSet"]}`.
//! Other languages write the same lines with `rekon plugin annotate FILE
//! --interest '<rule>' -o OUT` after building; `rekon plugin inspect FILE`
//! shows a component's interest.

/// One interest rule, as [`declare_interest!`](crate::declare_interest) builds
/// it. `None` is "any".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// API groups (`""` is the core group).
    pub groups: Option<&'static [&'static str]>,
    /// Kinds.
    pub kinds: Option<&'static [&'static str]>,
    /// Namespaces; given, only namespaced objects in them match.
    pub namespaces: Option<&'static [&'static str]>,
    /// A Kubernetes LabelSelector as JSON text, e.g. `{"matchLabels": {"app": "web"}}`.
    pub selector: Option<&'static str>,
}

impl Rule {
    /// The rule that matches every object; the base the macro fills in.
    pub const ANY: Rule = Rule {
        groups: None,
        kinds: None,
        namespaces: None,
        selector: None,
    };
}

/// The length in bytes of the section text of `rules`.
#[doc(hidden)]
pub const fn __len(rules: &[Rule]) -> usize {
    encode(rules, &mut [])
}

/// The section text of `rules` (`N` from [`__len`]): one JSON line per rule.
#[doc(hidden)]
pub const fn __bytes<const N: usize>(rules: &[Rule]) -> [u8; N] {
    let mut out = [0u8; N];
    encode(rules, &mut out);
    out
}

/// Writes the section text of `rules` into `out` (as far as it reaches) and
/// returns its whole length, so an empty `out` measures it. A `const fn`, so
/// the section is built (and a bad selector refused) at compile time.
const fn encode(rules: &[Rule], out: &mut [u8]) -> usize {
    let mut w = Writer { out, len: 0 };
    let mut r = 0;
    while r < rules.len() {
        let rule = &rules[r];
        w.byte(b'{');
        let mut first = true;
        if let Some(groups) = rule.groups {
            w.list(&mut first, "groups", groups);
        }
        if let Some(kinds) = rule.kinds {
            w.list(&mut first, "kinds", kinds);
        }
        if let Some(namespaces) = rule.namespaces {
            w.list(&mut first, "namespaces", namespaces);
        }
        if let Some(selector) = rule.selector {
            w.key(&mut first, "selector");
            w.raw_object(selector);
        }
        w.byte(b'}');
        w.byte(b'\n');
        r += 1;
    }
    w.len
}

/// Appends to a byte buffer, counting what does not fit.
struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    const fn byte(&mut self, b: u8) {
        if self.len < self.out.len() {
            self.out[self.len] = b;
        }
        self.len += 1;
    }

    const fn ascii(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            self.byte(bytes[i]);
            i += 1;
        }
    }

    /// `"key":`, after a comma unless it is the first field.
    const fn key(&mut self, first: &mut bool, key: &str) {
        if !*first {
            self.byte(b',');
        }
        *first = false;
        self.string(key);
        self.byte(b':');
    }

    const fn list(&mut self, first: &mut bool, key: &str, items: &[&str]) {
        self.key(first, key);
        self.byte(b'[');
        let mut i = 0;
        while i < items.len() {
            if i > 0 {
                self.byte(b',');
            }
            self.string(items[i]);
            i += 1;
        }
        self.byte(b']');
    }

    /// A JSON string: quotes, backslashes and control characters escaped.
    const fn string(&mut self, text: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = text.as_bytes();
        self.byte(b'"');
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'"' || b == b'\\' {
                self.byte(b'\\');
                self.byte(b);
            } else if b < 0x20 {
                self.ascii("\\u00");
                self.byte(HEX[(b >> 4) as usize]);
                self.byte(HEX[(b & 0xf) as usize]);
            } else {
                self.byte(b);
            }
            i += 1;
        }
        self.byte(b'"');
    }

    /// JSON object text as given, its line breaks and tabs made spaces (JSON
    /// whitespace either way; a string cannot hold them raw) so the rule stays
    /// on one line. Refuses text that is not braced at compile time; the host
    /// checks the rest when it loads the plugin.
    const fn raw_object(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let (mut start, mut end) = (0, bytes.len());
        while start < end && bytes[start].is_ascii_whitespace() {
            start += 1;
        }
        while end > start && bytes[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        if end - start < 2 || bytes[start] != b'{' || bytes[end - 1] != b'}' {
            panic!("declare_interest!: a selector must be a JSON object, `{{...}}`");
        }
        let mut i = start;
        while i < end {
            let b = bytes[i];
            self.byte(if b == b'\n' || b == b'\r' || b == b'\t' {
                b' '
            } else {
                b
            });
            i += 1;
        }
    }
}

/// Declare which objects this plugin wants to be shown: one or more rules,
/// each `{ field: value, ... }`; an object is shown when any rule matches.
///
/// Fields (each optional; see [`interest`](crate::interest) for what they
/// match): `groups: [..]`, `kinds: [..]`, `namespaces: [..]` (lists of string
/// expressions) and `selector: "<LabelSelector as JSON>"`.
///
/// ```
/// rekon_plugin_sdk::declare_interest! {
///     { groups: ["apps"], kinds: ["Deployment", "StatefulSet", "DaemonSet"] },
///     { groups: [""], kinds: ["ConfigMap"], namespaces: ["website"],
///       selector: r#"{"matchLabels": {"app.kubernetes.io/part-of": "website"}}"# },
/// }
/// # fn main() {}
/// ```
///
/// A field this SDK does not know fails to compile:
///
/// ```compile_fail
/// rekon_plugin_sdk::declare_interest! { { kind: ["Deployment"] } }
/// # fn main() {}
/// ```
///
/// as does a selector that is not a JSON object:
///
/// ```compile_fail
/// rekon_plugin_sdk::declare_interest! { { selector: "app=web" } }
/// # fn main() {}
/// ```
///
/// Write it once per plugin (several invocations add up: the linker joins the
/// sections). The declaration goes into the component only when built for
/// WebAssembly; a native build checks it and carries none.
#[macro_export]
macro_rules! declare_interest {
    ($({ $($field:ident : $value:tt),* $(,)? }),+ $(,)?) => {
        const _: () = {
            const RULES: &[$crate::interest::Rule] = &[$(
                $crate::interest::Rule {
                    $($field: $crate::__interest_value!($field $value),)*
                    ..$crate::interest::Rule::ANY
                }
            ),+];
            const LEN: usize = $crate::interest::__len(RULES);
            const TEXT: [u8; LEN] = $crate::interest::__bytes::<LEN>(RULES);
            // Text, one rule per line: the linker concatenates sections of
            // the same name, and lines still parse after concatenation.
            #[cfg(target_arch = "wasm32")]
            #[used]
            #[link_section = "rekon.interest"]
            static DECLARATION: [u8; LEN] = TEXT;
            // Evaluated on every target, so a bad selector fails the native build too.
            let _ = TEXT;
        };
    };
}

/// The value of one interest field, or a compile error naming the field.
#[doc(hidden)]
#[macro_export]
macro_rules! __interest_value {
    (groups [$($item:expr),* $(,)?]) => {
        ::core::option::Option::Some(&[$($item),*])
    };
    (kinds [$($item:expr),* $(,)?]) => {
        ::core::option::Option::Some(&[$($item),*])
    };
    (namespaces [$($item:expr),* $(,)?]) => {
        ::core::option::Option::Some(&[$($item),*])
    };
    (selector $json:expr) => {
        ::core::option::Option::Some($json)
    };
    ($field:ident $($value:tt)*) => {
        compile_error!(concat!(
            "unknown rekon interest field `",
            stringify!($field),
            "` or a value of the wrong shape (known: groups: [..], kinds: [..], namespaces: [..], selector: \"{..}\")"
        ))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rules: &[Rule]) -> String {
        let mut out = vec![0u8; __len(rules)];
        encode(rules, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_json_line_per_rule() {
        let rules = [
            Rule {
                groups: Some(&["apps"]),
                kinds: Some(&["Deployment", "StatefulSet"]),
                ..Rule::ANY
            },
            Rule {
                groups: Some(&[""]),
                namespaces: Some(&["web\"site\\\n"]),
                selector: Some("\n {\"matchLabels\":\n\t{\"app\": \"web\"}} \n"),
                ..Rule::ANY
            },
            Rule::ANY,
        ];
        let text = text(&rules);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"groups":["apps"],"kinds":["Deployment","StatefulSet"]}"#,
                r#"{"groups":[""],"namespaces":["web\"site\\\u000a"],"selector":{"matchLabels":  {"app": "web"}}}"#,
                "{}",
            ]
        );
        assert!(text.ends_with('\n'));
        for line in lines {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(text.lines().nth(1).unwrap()).unwrap()
                ["namespaces"][0],
            "web\"site\\\n"
        );
    }

    // The macro on a native build: it type-checks and evaluates, and carries no section.
    crate::declare_interest! {
        { groups: ["apps", "extensions"], kinds: ["Deployment"], },
        { selector: r#"{"matchExpressions": [{"key": "tier", "operator": "Exists"}]}"# },
    }
}

//! The paths of a Traefik `IngressRoute` `match` rule, e.g.
//! ``Host(`shop.lan`) && PathPrefix(`/api`)``.
//!
//! Only what decides a priority is read: the arguments of `Path(...)` and
//! `PathPrefix(...)` matchers that are not negated with `!`. Arguments are
//! backquoted or double-quoted strings; Traefik v2's several-argument form
//! (``PathPrefix(`/a`, `/b`)``) is understood too. `PathRegexp` and everything
//! else is ignored. A `!` counts when it stands directly before the matcher or
//! before parentheses that open right before it (``!(PathPrefix(`/x`))``).

/// The paths named by `rule`, in order of appearance.
pub fn paths(rule: &str) -> Vec<String> {
    let chars: Vec<char> = rule.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    let mut negated = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '!' {
            negated = true;
            i += 1;
            continue;
        }
        if c == '`' || c == '"' {
            // A string outside a matcher we read (e.g. in Host): skip it whole.
            i = skip_string(&chars, i).0;
            negated = false;
            continue;
        }
        if c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if matches!(name.as_str(), "Path" | "PathPrefix") && chars.get(j) == Some(&'(') {
                let (args, end) = arguments(&chars, j + 1);
                if !negated {
                    found.extend(args);
                }
                i = end;
            }
            negated = false;
            continue;
        }
        if !c.is_whitespace() && c != '(' {
            negated = false;
        }
        i += 1;
    }
    found
}

/// The string arguments from `start` (after `(`) up to the closing `)`, and
/// the position after it.
fn arguments(chars: &[char], start: usize) -> (Vec<String>, usize) {
    let mut args = Vec::new();
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            ')' => return (args, i + 1),
            '`' | '"' => {
                let (end, terminated) = skip_string(chars, i);
                // An unterminated string is a broken rule Traefik refuses too.
                if terminated {
                    args.push(unquote(&chars[i + 1..end - 1], chars[i]));
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    (args, i)
}

/// The position after the string starting at `start` (a backquote or a double
/// quote) and whether it was closed; `\` escapes only inside double quotes, as
/// in Go.
fn skip_string(chars: &[char], start: usize) -> (usize, bool) {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if quote == '"' && chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == quote {
            return (i + 1, true);
        }
        i += 1;
    }
    (chars.len(), false)
}

/// The text of a string between its `quote`s.
fn unquote(inner: &[char], quote: char) -> String {
    if quote == '`' {
        return inner.iter().collect();
    }
    let mut out = String::new();
    let mut escaped = false;
    for &c in inner {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_paths() {
        for (rule, want) in [
            ("Host(`shop.lan`) && PathPrefix(`/api`)", vec!["/api"]),
            ("Host(`shop.lan`)", vec![]),
            (
                "PathPrefix(`/a`) || Path(`/admin/login`)",
                vec!["/a", "/admin/login"],
            ),
            ("PathPrefix(`/a`, `/b`)", vec!["/a", "/b"]),
            (
                "Host(`x`) && !PathPrefix(`/internal`) && PathPrefix(`/`)",
                vec!["/"],
            ),
            ("!(PathPrefix(`/no`)) && Path(\"/yes\")", vec!["/yes"]),
            (
                "Host(`PathPrefix(/fake)`) && PathPrefix ( `/real` )",
                vec!["/real"],
            ),
            ("PathRegexp(`^/api/v[0-9]+`)", vec![]),
            ("Path(\"/quo\\\"te\")", vec!["/quo\"te"]),
            ("PathPrefix(`/unterminated", vec![]),
            ("PathPrefix(`/a`) && Path(\"/b", vec!["/a"]),
        ] {
            assert_eq!(paths(rule), want, "{rule}");
        }
    }
}

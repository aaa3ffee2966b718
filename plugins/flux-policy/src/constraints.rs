//! Semver ranges with the semantics of Masterminds/semver v3 `Constraints`,
//! which Flux's `semver` policy uses.
//!
//! This is a port, not a reinterpretation: the same regular expressions split
//! and validate a range (the `regex` crate and Go's `regexp` both pick the
//! leftmost-first match, so they split alike), and each operator keeps
//! Masterminds' rules, quirks included:
//!
//! * `||` separates alternatives; inside one, constraints separated by spaces or
//!   commas must all hold;
//! * `A - B` is `>= A, <= B`;
//! * operators `=` (or none), `!=`, `>`, `<`, `>=` (`=>`), `<=` (`=<`),
//!   `~` (`~>`), `^`; versions may use `x`, `X` or `*` wildcards and may omit
//!   minor and patch (`1`, `1.2`, `1.2.x`, `*`);
//! * a version with a pre-release satisfies an alternative only when one of that
//!   alternative's constraints has a pre-release itself (`>= 1.0.0-0`,
//!   `^1.x-0`); otherwise pre-releases never match.

use regex::Regex;
use rekon_plugin_sdk::version::Version;
use std::cmp::Ordering;

/// Go's `\s` (`[\t\n\f\r ]`); the `regex` crate's `\s` is Unicode-wide.
const WS: &str = r"[\t\n\f\r ]";
/// The operators, in Masterminds' order (it matters for leftmost-first
/// matching; the empty alternative is "no operator").
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";
/// A version in a constraint (`|` inside the classes is Masterminds', kept as is).
const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";

/// The four regular expressions of Masterminds' `constraints.go`.
struct Grammar {
    /// One constraint, whole: `^\s*(op)\s*(cv)\s*$`.
    constraint: Regex,
    /// A hyphen range `A - B`.
    range: Regex,
    /// Finds the constraints of an AND group.
    find: Regex,
    /// Validates an AND group.
    valid: Regex,
}

impl Grammar {
    fn new() -> Self {
        let re = |pattern: String| Regex::new(&pattern).expect("Masterminds' grammar compiles");
        Grammar {
            constraint: re(format!(r"^{WS}*({OPS}){WS}*({CV}){WS}*$")),
            range: re(format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")),
            find: re(format!(r"({OPS}){WS}*({CV})")),
            valid: re(format!(
                r"^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$"
            )),
        }
    }
}

/// A parsed semver range.
#[derive(Clone, Debug)]
pub struct Constraints {
    /// Alternatives (`||`), each a group of constraints that must all hold.
    alternatives: Vec<Group>,
}

#[derive(Clone, Debug)]
struct Group {
    constraints: Vec<Constraint>,
    /// Whether a constraint of the group names a pre-release; only then may a
    /// pre-release version satisfy the group.
    has_pre: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterOrEqual,
    LessOrEqual,
    Tilde,
    Caret,
}

#[derive(Clone, Debug)]
struct Constraint {
    op: Op,
    /// The version compared with, wildcards replaced by 0.
    con: Version,
    /// The version had a wildcard or was shortened somewhere.
    dirty: bool,
    /// ... in the minor position (`1`, `1.x`).
    minor_dirty: bool,
    /// ... in the patch position (`1.2`, `1.2.x`).
    patch_dirty: bool,
}

impl Constraints {
    /// Parses a range like Masterminds' `NewConstraint`; the error is its
    /// message (`improper constraint: "..."`).
    pub fn parse(range: &str) -> Result<Constraints, String> {
        let grammar = Grammar::new();
        let rewritten = rewrite_ranges(&grammar, range);
        let mut alternatives = Vec::new();
        for alternative in rewritten.split("||") {
            if !grammar.valid.is_match(alternative) {
                return Err(format!("improper constraint: {alternative:?}"));
            }
            let mut found: Vec<&str> = grammar
                .find
                .find_iter(alternative)
                .map(|m| m.as_str())
                .collect();
            if found.is_empty() {
                found.push(alternative);
            }
            let constraints = found
                .into_iter()
                .map(|text| parse_constraint(&grammar, text))
                .collect::<Result<Vec<_>, _>>()?;
            let has_pre = constraints.iter().any(|c| !c.con.pre().is_empty());
            alternatives.push(Group {
                constraints,
                has_pre,
            });
        }
        Ok(Constraints { alternatives })
    }

    /// Whether `version` satisfies the range (Masterminds' `Check`).
    pub fn check(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|group| {
            group
                .constraints
                .iter()
                .all(|c| c.check(version, group.has_pre))
        })
    }
}

/// Rewrites each `A - B` into `>= A, <= B ` (Masterminds' `rewriteRange`).
fn rewrite_ranges(grammar: &Grammar, range: &str) -> String {
    let mut out = range.to_string();
    for caps in grammar.range.captures_iter(range) {
        let replacement = format!(">= {}, <= {} ", &caps[1], &caps[11]);
        out = out.replacen(&caps[0], &replacement, 1);
    }
    out
}

fn is_x(text: &str) -> bool {
    matches!(text, "x" | "X" | "*")
}

/// Masterminds' `parseConstraint`.
fn parse_constraint(grammar: &Grammar, text: &str) -> Result<Constraint, String> {
    if text.is_empty() {
        // Only reachable through Masterminds' own fallback; `*` in effect.
        return Ok(Constraint {
            op: Op::TildeOrEqual,
            con: Version::parse("0.0.0").expect("valid"),
            dirty: true,
            minor_dirty: false,
            patch_dirty: false,
        });
    }
    let caps = grammar
        .constraint
        .captures(text)
        .ok_or_else(|| format!("improper constraint: {text:?}"))?;
    let group = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let op = match group(1) {
        "" | "=" => Op::TildeOrEqual,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterOrEqual,
        "<=" | "=<" => Op::LessOrEqual,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        other => return Err(format!("improper constraint: unknown operator {other:?}")),
    };
    let (major, minor, patch, pre) = (group(3), group(4), group(5), group(6));
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    let version = if is_x(major) || major.is_empty() {
        dirty = true;
        format!("0.0.0{pre}")
    } else if minor.is_empty() || is_x(minor.trim_start_matches('.')) {
        dirty = true;
        minor_dirty = true;
        format!("{major}.0.0{pre}")
    } else if patch.is_empty() || is_x(patch.trim_start_matches('.')) {
        dirty = true;
        patch_dirty = true;
        format!("{major}{minor}.0{pre}")
    } else {
        group(2).to_string()
    };
    // Masterminds trims one `.` (TrimPrefix); a second one cannot be there, the
    // regex allows exactly one.
    let con = Version::parse(&version).map_err(|_| "constraint parser error".to_string())?;
    Ok(Constraint {
        op,
        con,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Constraint {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        // Every operator starts with this: a pre-release only matches when the
        // group asked for pre-releases.
        if !v.pre().is_empty() && !include_pre {
            return false;
        }
        let c = &self.con;
        match self.op {
            Op::NotEqual => self.not_equal(v),
            Op::Greater => self.greater(v),
            Op::Less => v.compare(c) == Ordering::Less,
            Op::GreaterOrEqual => v.compare(c) != Ordering::Less,
            Op::LessOrEqual => self.less_or_equal(v),
            Op::Tilde => self.tilde(v),
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == Ordering::Equal
                }
            }
            Op::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if self.dirty {
            if c.major() != v.major() {
                return true;
            }
            if c.minor() != v.minor() && !self.minor_dirty {
                return true;
            } else if self.minor_dirty {
                return false;
            } else if c.patch() != v.patch() && !self.patch_dirty {
                return true;
            } else if self.patch_dirty {
                if !v.pre().is_empty() || !c.pre().is_empty() {
                    return compare_prerelease_go(v.pre(), c.pre()) != Ordering::Equal;
                }
                return false;
            }
        }
        v.compare(c) != Ordering::Equal
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty {
            return v.compare(c) == Ordering::Greater;
        }
        if v.major() > c.major() {
            return true;
        } else if v.major() < c.major() || self.minor_dirty {
            // `>1` needs 2.0.0 or more: 1.5.0 is not greater than "1".
            return false;
        } else if self.patch_dirty {
            return v.minor() > c.minor();
        }
        v.compare(c) == Ordering::Greater
    }

    fn less_or_equal(&self, v: &Version) -> bool {
        let c = &self.con;
        if !self.dirty {
            return v.compare(c) != Ordering::Greater;
        }
        if v.major() > c.major() {
            return false;
        }
        !(v.major() == c.major() && v.minor() > c.minor() && !self.minor_dirty)
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        // `~0.0.0` (also `~*`) accepts everything.
        if c.major() == 0
            && c.minor() == 0
            && c.patch() == 0
            && !self.minor_dirty
            && !self.patch_dirty
        {
            return true;
        }
        if v.major() != c.major() {
            return false;
        }
        v.minor() == c.minor() || self.minor_dirty
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major() > 0 || self.minor_dirty {
            return v.major() == c.major();
        }
        if v.major() > 0 {
            return false;
        }
        if c.minor() > 0 || self.patch_dirty {
            return v.minor() == c.minor();
        }
        if v.minor() > 0 {
            return false;
        }
        c.patch() == v.patch()
    }
}

/// Masterminds' `comparePrerelease`, which `!=` calls directly, also with an
/// empty side (where the SDK's `Version::compare` would rank "no pre-release"
/// first).
fn compare_prerelease_go(a: &str, b: &str) -> Ordering {
    let a_parts: Vec<&str> = a.split('.').collect();
    let b_parts: Vec<&str> = b.split('.').collect();
    for i in 0..a_parts.len().max(b_parts.len()) {
        let x = a_parts.get(i).copied().unwrap_or("");
        let y = b_parts.get(i).copied().unwrap_or("");
        let d = compare_pre_part(x, y);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

/// Masterminds' `comparePrePart`.
fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    let number = |x: &str| -> Option<u64> {
        if x.bytes().all(|b| b.is_ascii_digit()) {
            x.parse().ok()
        } else {
            None
        }
    };
    match (number(s), number(o)) {
        (None, None) => s.cmp(o),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(x), Some(y)) => {
            // Go returns -1 for equal numbers here ("01" vs "1" cannot occur:
            // pre-release numbers have no leading zeros).
            if x > y {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(range: &str, version: &str) -> bool {
        let c = Constraints::parse(range).unwrap_or_else(|e| panic!("{range}: {e}"));
        c.check(&Version::parse(version).unwrap())
    }

    /// `TestConstraintsCheck` of Masterminds/semver v3's constraints_test.go,
    /// verbatim: range, version, whether the Go library accepts it.
    #[test]
    fn masterminds_constraints_check() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "1.2.3", true),
            ("~0.0.0", "1.2.3", true),
            ("0.x.x", "1.2.3", false),
            ("0.0.x", "1.2.3", false),
            ("0.0.0", "1.2.3", false),
            ("*", "1.2.3", true),
            ("^0.0.0", "1.2.3", false),
            ("= 2.0", "1.2.3", false),
            ("= 2.0", "2.0.0", true),
            ("4.1", "4.1.0", true),
            ("4.1.x", "4.1.3", true),
            ("1.x", "1.4", true),
            ("!=4.1", "4.1.0", false),
            ("!=4.1-alpha", "4.1.0-alpha", false),
            ("!=4.1-alpha", "4.1.1-alpha", false),
            ("!=4.1-alpha", "4.1.0", true),
            ("!=4.1", "5.1.0", true),
            ("!=4.x", "5.1.0", true),
            ("!=4.x", "4.1.0", false),
            ("!=4.1.x", "4.2.0", true),
            ("!=4.2.x", "4.2.3", false),
            (">1.1", "4.1.0", true),
            (">1.1", "1.1.0", false),
            ("<1.1", "0.1.0", true),
            ("<1.1", "1.1.0", false),
            ("<1.1", "1.1.1", false),
            ("<1.x", "1.1.1", false),
            ("<1.x", "0.1.1", true),
            ("<1.x", "2.0.0", false),
            ("<1.1.x", "1.2.1", false),
            ("<1.1.x", "1.1.500", false),
            ("<1.1.x", "1.0.500", true),
            ("<1.2.x", "1.1.1", true),
            (">=1.1", "4.1.0", true),
            (">=1.1", "4.1.0-beta", false),
            (">=1.1", "1.1.0", true),
            (">=1.1", "0.0.9", false),
            ("<=1.1", "0.1.0", true),
            ("<=1.1", "0.1.0-alpha", false),
            ("<=1.1-a", "0.1.0-alpha", true),
            ("<=1.1", "1.1.0", true),
            ("<=1.x", "1.1.0", true),
            ("<=2.x", "3.0.0", false),
            ("<=1.1", "1.1.1", true),
            ("<=1.1.x", "1.2.500", false),
            ("<=4.5", "3.4.0", true),
            ("<=4.5", "3.7.0", true),
            ("<=4.5", "4.6.3", false),
            (">1.1, <2", "1.1.1", false),
            (">1.1, <2", "1.2.1", true),
            (">1.1, <3", "4.3.2", false),
            (">=1.1, <2, !=1.2.3", "1.2.3", false),
            (">1.1 <2", "1.1.1", false),
            (">1.1 <2", "1.2.1", true),
            (">1.1    <3", "4.3.2", false),
            (">=1.1    <2    !=1.2.3", "1.2.3", false),
            (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
            (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false),
            (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
            (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
            (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
            (">=1.1 <2 !=1.2.3", "1.2.3", false),
            (">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true),
            (">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false),
            (">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true),
            (">=1.1 <2 !=1.2.3 || > 3", "3.0.0", false),
            (">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false),
            ("> 1.1, <     2", "1.1.1", false),
            (">   1.1, <2", "1.2.1", true),
            (">1.1, <  3", "4.3.2", false),
            (">= 1.1, <     2, !=1.2.3", "1.2.3", false),
            ("> 1.1 < 2", "1.1.1", false),
            (">1.1 < 2", "1.2.1", true),
            ("> 1.1    <3", "4.3.2", false),
            (">=1.1    < 2    != 1.2.3", "1.2.3", false),
            (">= 1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
            (">= 1.1, <2, != 1.2.3 || > 3", "3.1.2", false),
            (">= 1.1, <2, != 1.2.3 || >= 3", "3.0.0", true),
            (">= 1.1, <2, !=1.2.3 || > 3", "3.0.0", false),
            (">= 1.1, <2, !=1.2.3 || > 3", "1.2.3", false),
            (">= 1.1 <2 != 1.2.3", "1.2.3", false),
            (">= 1.1 <2 != 1.2.3 || > 3", "4.1.2", true),
            (">= 1.1 <2 != 1.2.3 || > 3", "3.1.2", false),
            (">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", true),
            (">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", false),
            (">=1.1 < 2 !=1.2.3 || > 3", "1.2.3", false),
            (">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta", true),
            (">= 1.0.0  <= 2.0.0-beta", "1.0.1", true),
            (">= 1.0.0  <= 2.0.0-beta", "3.0.0", false),
            (">= 1.0.0  <= 2.0.0-beta || > 3", "1.0.1-beta", true),
            (">= 1.0.0  <= 2.0.0-beta || > 3", "3.0.1-beta", false),
            (
                ">= 1.0.0  <= 2.0.0-beta != 1.0.1 || > 3",
                "1.0.1-beta",
                true,
            ),
            (
                ">= 1.0.0  <= 2.0.0-beta != 1.0.1-beta || > 3",
                "1.0.1-beta",
                false,
            ),
            (">= 1.0.0-0  <= 2.0.0", "1.0.1-beta", true),
            ("1.1 - 2", "1.1.1", true),
            ("1.5.0 - 4.5", "3.7.0", true),
            ("1.1-3", "4.3.2", false),
            ("^1.1", "1.1.1", true),
            ("^1.1", "4.3.2", false),
            ("^1.x", "1.1.1", true),
            ("^2.x", "1.1.1", false),
            ("^1.x", "2.1.1", false),
            ("^1.x", "1.1.1-beta1", false),
            ("^1.1.2-alpha", "1.2.1-beta1", true),
            ("^1.2.x-alpha", "1.1.1-beta1", false),
            ("^0.0.1", "0.0.1", true),
            ("^0.0.1", "0.3.1", false),
            ("~*", "2.1.1", true),
            ("~1", "2.1.1", false),
            ("~1", "1.3.5", true),
            ("~1", "1.4", true),
            ("~1.x", "2.1.1", false),
            ("~1.x", "1.3.5", true),
            ("~1.x", "1.4", true),
            ("~1.1", "1.1.1", true),
            ("~1.1", "1.1.1-alpha", false),
            ("~1.1-alpha", "1.1.1-beta", true),
            ("~1.1.1-beta", "1.1.1-alpha", false),
            ("~1.1.1-beta", "1.1.1", true),
            ("~1.2.3", "1.2.5", true),
            ("~1.2.3", "1.2.2", false),
            ("~1.2.3", "1.3.2", false),
            ("~1.1", "1.2.3", false),
            ("~1.3", "2.4.5", false),
            ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true),
            ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true),
        ];
        for &(range, version, want) in cases {
            assert_eq!(matches(range, version), want, "{range} vs {version}");
        }
    }

    /// `TestNewConstraint` of the same file: range, number of alternatives,
    /// constraints in the first one, whether parsing fails.
    #[test]
    fn masterminds_new_constraint() {
        let cases: &[(&str, usize, usize, bool)] = &[
            (">= 1.1", 1, 1, false),
            (">40.50.60, < 50.70", 1, 2, false),
            ("2.0", 1, 1, false),
            ("v2.3.5-20161202202307-sha.e8fc5e5", 1, 1, false),
            ("v1.2.3-0abc", 1, 1, false),
            ("v1.2.3-beta.01", 1, 1, true),
            (">= bar", 0, 0, true),
            ("BAR >= 1.2.3", 0, 0, true),
            (">= 1.2.3 < 2.0", 1, 2, false),
            (">= 1.2.3 < 2.0 || => 3.0 < 4", 2, 2, false),
            (">= 1.2.3, < 2.0", 1, 2, false),
            (">= 1.2.3, < 2.0 || => 3.0, < 4", 2, 2, false),
            ("3 - 4 || => 3.0, < 4", 2, 2, false),
            ("12.3.4.1234", 0, 0, true),
            ("12.23.4.1234", 0, 0, true),
            ("12.3.34.1234", 0, 0, true),
            ("12.3.34 ~1.2.3", 1, 2, false),
            ("12.3.34~ 1.2.3", 0, 0, true),
            ("1.0.0 - 2.0.0, <=2.0.0", 1, 3, false),
        ];
        for &(range, ors, count, err) in cases {
            match Constraints::parse(range) {
                Ok(c) => {
                    assert!(!err, "{range} should fail");
                    assert_eq!(c.alternatives.len(), ors, "{range}");
                    assert_eq!(c.alternatives[0].constraints.len(), count, "{range}");
                }
                Err(e) => assert!(err, "{range}: {e}"),
            }
        }
    }

    /// Ranges Flux users write for image tags.
    #[test]
    fn image_tag_ranges() {
        for (range, version, want) in [
            (">=1.0.0", "1.4.2", true),
            (">=1.0.0", "1.5.0-rc.1", false),
            (">=1.0.0-0", "1.5.0-rc.1", true),
            ("^1.x-0", "1.3.0-rc.1", true),
            ("^1.x-0", "2.0.0-rc.1", false),
            ("~2.4", "2.4.9", true),
            ("~2.4", "2.5.0", false),
            ("1.2.x || 2.x", "2.7.0", true),
            ("1.2.x || 2.x", "1.3.0", false),
        ] {
            assert_eq!(matches(range, version), want, "{range} vs {version}");
        }
    }

    #[test]
    fn refuses_improper_ranges() {
        for (range, want) in [
            ("", r#"improper constraint: """#),
            ("latest", r#"improper constraint: "latest""#),
            (">= 1.0 ||", r#"improper constraint: """#),
            ("1.0.0 -", r#"improper constraint: "1.0.0 -""#),
            (">>1", r#"improper constraint: ">>1""#),
            ("1.x.y", r#"improper constraint: "1.x.y""#),
            ("1|2", "constraint parser error"),
        ] {
            assert_eq!(Constraints::parse(range).unwrap_err(), want, "{range}");
        }
    }
}

//! JSON values to YAML text that every reader takes back unchanged.
//!
//! A small emitter of our own: serde_yaml_ng (libyaml's emitter) decides
//! quoting by YAML 1.2 alone and prints `on`, `0755` or `2026-01-01` plain,
//! which YAML 1.1 readers (Kubernetes' go-yaml v2, PyYAML) and go-yaml v3
//! then read as booleans, numbers or timestamps; no maintained crate lets
//! the caller choose quoting.
//!
//! The layout is kustomize's: two-space indentation, lists at their key's
//! indentation, `{}`/`[]` for empty collections, multi-line strings as
//! literal block scalars.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Number, Value};

use super::resolve::resolve_plain;

/// One document, ending with a newline.
pub(super) fn document(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0, false),
        scalar => {
            write_scalar(&mut out, scalar, 2);
            out.push('\n');
        }
    }
    out
}

/// `inline_first`: the first entry goes on the current line (after `- `).
fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize, inline_first: bool) {
    for (index, (key, value)) in map.iter().enumerate() {
        if index > 0 || !inline_first {
            push_indent(out, indent);
        }
        if is_plain_safe(key) {
            out.push_str(key);
        } else {
            double_quoted(out, key);
        }
        out.push(':');
        match value {
            Value::Object(child) if !child.is_empty() => {
                out.push('\n');
                write_map(out, child, indent + 2, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                write_seq(out, items, indent, false);
            }
            scalar => {
                out.push(' ');
                write_scalar(out, scalar, indent + 2);
                out.push('\n');
            }
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize, inline_first: bool) {
    for (index, item) in items.iter().enumerate() {
        if index > 0 || !inline_first {
            push_indent(out, indent);
        }
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => write_map(out, map, indent + 2, true),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, indent + 2, true),
            scalar => {
                write_scalar(out, scalar, indent + 2);
                out.push('\n');
            }
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar or empty collection; `block_indent` is where the lines of a
/// block scalar go.
fn write_scalar(out: &mut String, value: &Value, block_indent: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) if is_plain_safe(s) => out.push_str(s),
        Value::String(s) => {
            if !literal_block(out, s, block_indent) {
                double_quoted(out, s);
            }
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// Integers as they are; floats with a fraction and a signed exponent, the
/// form YAML 1.1 needs (`1.0`, `1.0e+20`, `1.5e-7`).
fn number(n: &Number) -> String {
    let text = n.to_string();
    if !n.is_f64() {
        return text;
    }
    match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            let dot = if mantissa.contains('.') { "" } else { ".0" };
            let sign = if exponent.starts_with(['-', '+']) {
                ""
            } else {
                "+"
            };
            format!("{mantissa}{dot}e{sign}{exponent}")
        }
        None if !text.contains('.') => format!("{text}.0"),
        None => text,
    }
}

/// Writes `s` as a literal block scalar (`|`, `|-`, `|+` after its trailing
/// newlines) if it is multi-line and one can hold it exactly, as kustomize
/// prints ConfigMap files. It cannot with escapes, trailing spaces or tabs
/// on a line, or a first line that starts with white space (which would be
/// read as indentation).
fn literal_block(out: &mut String, s: &str, indent: usize) -> bool {
    let body = s.trim_end_matches('\n');
    let first = body.trim_start_matches('\n');
    let fits = s.contains('\n')
        && !first.is_empty()
        && !first.starts_with([' ', '\t'])
        && s.chars()
            .all(|c| c == '\n' || c == '\t' || !needs_escape(c))
        && body.split('\n').all(|line| !line.ends_with([' ', '\t']));
    if !fits {
        return false;
    }
    let chomp = match s.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    out.push('|');
    out.push_str(chomp);
    out.push('\n');
    // Every newline but the last ends a content line; `|+` keeps the rest as
    // empty lines.
    let content = s.strip_suffix('\n').unwrap_or(s);
    for line in content.split('\n') {
        if !line.is_empty() {
            push_indent(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    // The caller ends the scalar's line.
    out.pop();
    true
}

/// Characters that cannot appear raw: YAML's non-printables, and the line
/// breaks of YAML 1.1 (NEL, LS, PS) and BOMs, which readers disagree on.
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

fn double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if needs_escape(c) => {
                let code = u32::from(c);
                if code <= 0xff {
                    out.push_str(&format!("\\x{code:02X}"));
                } else {
                    out.push_str(&format!("\\u{code:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether `s` can be written plain: it parses as a plain scalar in block
/// context, and neither go-yaml v3 (our reader), YAML 1.1 (go-yaml v2,
/// PyYAML) nor YAML 1.2's core schema would read it as anything but this
/// string.
pub(super) fn is_plain_safe(s: &str) -> bool {
    parses_as_plain(s)
        && !OTHER_TYPES.is_match(s)
        && resolve_plain(s).is_ok_and(|value| value.as_str() == Some(s))
}

/// Whether `s` reads back as one plain scalar in block context, in YAML 1.1
/// and 1.2 alike.
fn parses_as_plain(s: &str) -> bool {
    const INDICATORS: [char; 18] = [
        '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`',
    ];
    !s.is_empty()
        && !s.starts_with(INDICATORS)
        && !s.starts_with(' ')
        && !s.ends_with([' ', ':'])
        && s != "-"
        && !s.starts_with("- ")
        // Document markers, when a key is written at column 0.
        && !s.starts_with("---")
        && !s.starts_with("...")
        && !s.contains(": ")
        && !s.contains(" #")
        // Tabs too: readers differ on them next to indicators.
        && !s.chars().any(|c| c.is_control() || needs_escape(c))
}

/// Plain scalars that are not strings in YAML 1.1's types (bool, null, int,
/// float, timestamp, merge, value; yaml.org/type) or YAML 1.2's core schema.
static OTHER_TYPES: LazyLock<Regex> = LazyLock::new(|| {
    let patterns = [
        // 1.1 bool and null (1.2 core's are a subset).
        r"y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
        r"~|null|Null|NULL",
        // 1.1 int: binary, octal, decimal, hex, sexagesimal.
        r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
        r"[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+",
        // 1.1 float: decimal, sexagesimal, infinity, not-a-number.
        r"[-+]?([0-9][0-9_]*)?\.[0-9.]*([eE][-+][0-9]+)?",
        r"[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*",
        r"[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)",
        // 1.1 timestamp.
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
        r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?([ \t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?",
        // 1.1 merge and value keys.
        r"<<|=",
        // 1.2 core int and float.
        r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+",
        r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?",
    ];
    Regex::new(&format!("^(?:{})$", patterns.join("|"))).expect("valid regex")
});

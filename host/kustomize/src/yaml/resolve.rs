//! What an untagged plain scalar means.
//!
//! These are the rules of go-yaml v3, which kustomize reads resources with
//! before it prints them through JSON (`kubectl kustomize`, Flux): what the
//! cluster gets from a kustomize build is this reading, not YAML 1.1's. Each
//! rule was checked with `kubectl kustomize` (kustomize v5.5); see the tests.

use serde_json::{Number, Value};

/// The value of a plain scalar as go-yaml v2 reads it, with YAML 1.1's
/// booleans: how Kubernetes' decoder (sigs.k8s.io/yaml), and so kustomize,
/// read a kustomization file. `newTag: 1.10` is a number there and
/// `commonLabels: {a: on}` a boolean, both refused by kustomize ("cannot
/// unmarshal ... of type string"), and checked so with `kubectl kustomize`.
/// Otherwise as [`resolve_plain`] (go-yaml v2 and v3 agree on the rest that
/// matters for a kustomization's fields).
pub(crate) fn resolve_plain_yaml11(text: &str) -> Result<Value, String> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Ok(Value::Bool(true)),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Ok(Value::Bool(false)),
        // go-yaml v2 makes a timestamp a time only for a time field: in a
        // kustomization it stays the text (`note: 2024-01-01`).
        _ if timestamp(text).is_some() => Ok(Value::String(text.to_string())),
        _ => resolve_plain(text),
    }
}

/// The value of a plain (unquoted, untagged) scalar.
///
/// * `""`, `~`, `null`, `Null`, `NULL` are null; `true`/`false` in three
///   cases are booleans. `on`, `yes`, `y`... are strings.
/// * A scalar starting with a digit, `+`, `-` or `.` is, with every `_`
///   removed, an integer as Go's `ParseInt(s, 0, 64)` reads it (sign,
///   `0x`/`0o`/`0b`, and a leading `0` for octal: `0755` is 493), else an
///   unsigned one, else a float of the form
///   `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`; one starting with
///   four digits and `-` may first be a timestamp.
/// * Kustomize prints floats through JSON, so a float with an integral value
///   becomes that integer (`1.0` is 1, `1e3` is 1000).
/// * A timestamp becomes the RFC 3339 string Go prints for it
///   (`2026-01-01` is `"2026-01-01T00:00:00Z"`).
///
/// # Errors
///
/// `.inf`, `-.Inf`, `.nan` and the like, which JSON cannot hold (kustomize
/// fails on them too).
pub(crate) fn resolve_plain(text: &str) -> Result<Value, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        ".nan" | ".NaN" | ".NAN" => return Err(format!("{text} cannot be represented in JSON")),
        _ => {}
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return Err(format!("{text} cannot be represented in JSON"));
    }
    if !text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return Ok(Value::String(text.to_string()));
    }
    if let Some(timestamp) = timestamp(text) {
        return Ok(Value::String(timestamp));
    }
    // go-yaml hands a scalar starting with `.` to Go's ParseFloat, which
    // takes `_` only between digits (`.5_0`, not `._5`).
    let misplaced_underscore = text.starts_with('.')
        && (text.ends_with('_')
            || text
                .as_bytes()
                .windows(3)
                .any(|w| w[1] == b'_' && !(w[0].is_ascii_digit() && w[2].is_ascii_digit())));
    let value = (!misplaced_underscore)
        .then(|| number(&text.replace('_', "")))
        .flatten();
    Ok(value.unwrap_or_else(|| Value::String(text.to_string())))
}

/// An integer or float, underscores already removed.
fn number(plain: &str) -> Option<Value> {
    if let Some(int) = go_int(plain) {
        return Some(int);
    }
    if !is_float(plain) {
        return None;
    }
    // Go's ParseFloat fails on overflow, so `1e400` stays a string.
    let float: f64 = plain.parse().ok()?;
    float_value(float)
}

/// `ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)` (which takes no sign).
fn go_int(plain: &str) -> Option<Value> {
    let (negative, signed, rest) = match plain.as_bytes().first()? {
        b'-' => (true, true, &plain[1..]),
        b'+' => (false, true, &plain[1..]),
        _ => (false, false, plain),
    };
    let prefixed = |lower: &str, upper: &str| {
        rest.strip_prefix(lower)
            .or_else(|| rest.strip_prefix(upper))
    };
    let (radix, digits) = if let Some(d) = prefixed("0x", "0X") {
        (16, d)
    } else if let Some(d) = prefixed("0b", "0B") {
        (2, d)
    } else if let Some(d) = prefixed("0o", "0O") {
        (8, d)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    // `from_str_radix` would take a second sign.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        let value = i128::try_from(magnitude).ok().map(|m| -m)?;
        return i64::try_from(value).ok().map(Value::from);
    }
    if let Ok(value) = i64::try_from(magnitude) {
        return Some(Value::from(value));
    }
    if signed {
        return None;
    }
    u64::try_from(magnitude).ok().map(Value::from)
}

/// go-yaml's float pattern, `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_float(plain: &str) -> bool {
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let s = plain.strip_prefix(['+', '-']).unwrap_or(plain);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => !fraction.is_empty() && digits(fraction) == fraction.len(),
        Some((whole, fraction)) => {
            digits(whole) == whole.len() && digits(fraction) == fraction.len()
        }
        None => !mantissa.is_empty() && digits(mantissa) == mantissa.len(),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e) == e.len()
    });
    mantissa_ok && exponent_ok
}

/// A float as it reads back after kustomize's JSON output: integral values
/// in the 64-bit integer ranges print without a fraction, so they are
/// integers. `None` for infinities and NaN.
pub(crate) fn float_value(float: f64) -> Option<Value> {
    // 2^63 and 2^64 are exact in f64.
    const I64_MIN: f64 = -9_223_372_036_854_775_808.0;
    const U64_END: f64 = 18_446_744_073_709_551_616.0;
    if float.fract() == 0.0 && (I64_MIN..U64_END).contains(&float) {
        #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Some(if float < 0.0 {
            Value::from(float as i64)
        } else {
            Value::from(float as u64)
        });
    }
    Number::from_f64(float).map(Value::Number)
}

/// Go's `time.Parse` with go-yaml's layouts `2006-1-2T15:4:5.999999999Z07:00`
/// (`T` or `t`), `2006-1-2 15:4:5.999999999` and `2006-1-2`, printed as
/// `time.Time` marshals to JSON (RFC 3339 with nanoseconds).
pub(crate) fn timestamp(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    let mut cursor = Cursor(&text[5..]);
    let year: u32 = text[..4].parse().ok()?;
    let month = cursor.number(1..=12)?;
    cursor.literal("-")?;
    let day = cursor.number(1..=days_in_month(year, month))?;
    let date = format!("{year:04}-{month:02}-{day:02}");
    let zone_required = match cursor.0.as_bytes().first() {
        None => return Some(format!("{date}T00:00:00Z")),
        Some(b'T' | b't') => {
            cursor.0 = &cursor.0[1..];
            true
        }
        Some(b' ') => {
            cursor.0 = cursor.0.trim_start_matches(' ');
            false
        }
        Some(_) => return None,
    };
    let hour = cursor.number(0..=23)?;
    cursor.literal(":")?;
    let minute = cursor.number(0..=59)?;
    cursor.literal(":")?;
    let second = cursor.number(0..=59)?;
    let fraction = cursor.fraction();
    let zone = if zone_required {
        cursor.zone()?
    } else {
        "Z".to_string()
    };
    cursor
        .0
        .is_empty()
        .then(|| format!("{date}T{hour:02}:{minute:02}:{second:02}{fraction}{zone}"))
}

struct Cursor<'a>(&'a str);

impl Cursor<'_> {
    fn literal(&mut self, literal: &str) -> Option<()> {
        self.0 = self.0.strip_prefix(literal)?;
        Some(())
    }

    /// One or two digits within `range`.
    fn number(&mut self, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
        let len = self
            .0
            .bytes()
            .take(2)
            .take_while(u8::is_ascii_digit)
            .count();
        let value: u32 = self.0.get(..len)?.parse().ok()?;
        self.0 = &self.0[len..];
        range.contains(&value).then_some(value)
    }

    /// `.` or `,` and digits, kept to nanoseconds (truncated, as Go does),
    /// without trailing zeros.
    fn fraction(&mut self) -> String {
        let mut chars = self.0.chars();
        if !matches!(chars.next(), Some('.' | ','))
            || !chars.next().is_some_and(|c| c.is_ascii_digit())
        {
            return String::new();
        }
        let digits = self.0[1..].len()
            - self.0[1..]
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let kept = self.0[1..1 + digits.min(9)].trim_end_matches('0');
        self.0 = &self.0[1 + digits..];
        if kept.is_empty() {
            String::new()
        } else {
            format!(".{kept}")
        }
    }

    /// `Z` or `±hh:mm`; a zero offset prints as `Z`.
    fn zone(&mut self) -> Option<String> {
        if self.literal("Z").is_some() {
            return Some("Z".to_string());
        }
        let b = self.0.as_bytes();
        let ok = b.len() >= 6
            && matches!(b[0], b'+' | b'-')
            && b[1..3].iter().all(u8::is_ascii_digit)
            && b[3] == b':'
            && b[4..6].iter().all(u8::is_ascii_digit);
        // Go reads `+24:00` but cannot print it (kustomize fails); we keep
        // such text as a string.
        if !ok || &self.0[1..3] > "23" || &self.0[4..6] > "59" {
            return None;
        }
        let zone = &self.0[..6];
        self.0 = &self.0[6..];
        Some(if &zone[1..] == "00:00" {
            "Z".to_string()
        } else {
            zone.to_string()
        })
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

//! Numbers of the `numerical` policy, parsed like Go's `strconv.ParseFloat(s, 64)`
//! (which Flux uses), so the same tags are accepted and refused:
//!
//! * decimal: optional sign, digits with at most one `.`, optional exponent
//!   `e`/`E` with optional sign; `_` allowed between digits (`1_000`);
//! * hexadecimal: `0x`, hex digits with at most one `.`, a mandatory binary
//!   exponent `p`/`P` (`0x1p-2` is 0.25);
//! * `inf`, `infinity` (any case, optional sign) and `nan` (any case, no sign);
//! * a finite text whose value is too large for an `f64` is an error (Go's
//!   `ErrRange`); one too small to represent becomes 0, as in Go.

/// The value of `text`, or `None` when Go's `ParseFloat` refuses it.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    if let Some(special) = special(text) {
        return Some(special);
    }
    let (negative, body) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let value = if body.len() > 2 && (body.starts_with("0x") || body.starts_with("0X")) {
        hex(&body[2..])?
    } else {
        decimal(body)?
    };
    if !value.is_finite() {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// Go's `special`: infinities and NaN, the whole text only.
fn special(text: &str) -> Option<f64> {
    // Most values are digits: skip the comparisons for them.
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !unsigned.starts_with(['i', 'I', 'n', 'N']) {
        return None;
    }
    let negative = text.starts_with('-');
    let is = |word: &str| unsigned.eq_ignore_ascii_case(word);
    if is("inf") || is("infinity") {
        Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        })
    } else if is("nan") && unsigned.len() == text.len() {
        // Go accepts no sign on NaN.
        Some(f64::NAN)
    } else {
        None
    }
}

/// Go's `underscoreOK` for the digits after the sign: `_` only between digits
/// (or right after a `0x` prefix).
fn underscores_ok(body: &str, hex: bool) -> bool {
    #[derive(PartialEq)]
    enum Saw {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let mut saw = if hex { Saw::Digit } else { Saw::Start };
    for c in body.chars() {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = Saw::Digit;
        } else if c == '_' {
            if saw != Saw::Digit {
                return false;
            }
            saw = Saw::Underscore;
        } else if saw == Saw::Underscore {
            return false;
        } else {
            saw = Saw::Other;
        }
    }
    saw != Saw::Underscore
}

/// A decimal number without sign: `digits[.digits][e[+-]digits]`.
fn decimal(body: &str) -> Option<f64> {
    if body.contains('_') {
        if !underscores_ok(body, false) {
            return None;
        }
        let clean: String = body.chars().filter(|&c| c != '_').collect();
        return decimal_digits(&clean);
    }
    decimal_digits(body)
}

/// [`decimal`] without underscores.
fn decimal_digits(body: &str) -> Option<f64> {
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mut dots = 0;
    let mut digits = 0;
    for c in mantissa.bytes() {
        match c {
            b'.' => dots += 1,
            b'0'..=b'9' => digits += 1,
            _ => return None,
        }
    }
    if dots > 1 || digits == 0 {
        return None;
    }
    if let Some(exponent) = exponent {
        let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    // The grammar is checked; Rust's parser rounds correctly, as Go's does.
    body.parse().ok()
}

/// A hexadecimal number after `0x`: `hexdigits[.hexdigits]p[+-]digits`.
fn hex(body: &str) -> Option<f64> {
    if body.contains('_') && !underscores_ok(body, true) {
        return None;
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let (mantissa, exponent) = clean.split_once(['p', 'P'])?;
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in int_part.chars().chain(frac_part.chars()) {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Large exponents saturate; the result is then infinite (an error) or 0.
    let exp: i32 = exponent.parse().unwrap_or(if exponent.starts_with('-') {
        i32::MIN / 2
    } else {
        i32::MAX / 2
    });
    let frac_bits = i32::try_from(frac_part.len() * 4).ok()?;
    // Accumulating in f64 can round a mantissa longer than 53 bits twice; tags
    // with such numbers do not occur, and the order of values is what matters.
    Some(value * 2f64.powi(exp.saturating_sub(frac_bits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_go_accepts() {
        for (text, want) in [
            ("0", 0.0),
            ("1767225600", 1767225600.0),
            ("-3", -3.0),
            ("+3", 3.0),
            ("1.5", 1.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("1E-2", 0.01),
            ("1_000", 1000.0),
            ("0001", 1.0),
            ("0x1p-2", 0.25),
            ("0x1.8p1", 3.0),
            ("0X_1FFFP-16", 0.1249847412109375),
            ("1e-400", 0.0),
        ] {
            assert_eq!(parse_float(text), Some(want), "{text}");
        }
        assert_eq!(parse_float("Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_float("NaN").unwrap().is_nan());
    }

    #[test]
    fn refuses_what_go_refuses() {
        for text in [
            "",
            "+",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "abc",
            "1_",
            "_1",
            "1__0",
            "1._5",
            "0x1",
            "0x",
            "0x1.p",
            "+nan",
            "-nan",
            "infx",
            "1e400",
            "0x1p99999",
            " 1",
            "1 ",
            "main-1",
            "1,5",
            "٣",
        ] {
            assert_eq!(parse_float(text), None, "{text}");
        }
    }
}

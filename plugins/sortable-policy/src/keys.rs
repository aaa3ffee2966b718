//! Sort keys: how one captured value is read and compared.

use rekon_plugin_sdk::version::Version;
use serde::Deserialize;
use std::cmp::Ordering;

/// What a key compares.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// A decimal number (`42`, `0017`, `1.5`, `-3`), compared exactly, however
    /// many digits it has.
    Numeric,
    /// Text, compared byte by byte.
    String,
    /// A version as Masterminds/semver reads it (`v1.2`, `1.2.3-rc.1`),
    /// compared by SemVer precedence (pre-releases below their release, build
    /// metadata ignored).
    Semver,
    /// Numbers separated by `.`, `-` or `_` (`2026.11.3`, `2026-01-07`),
    /// compared number by number; a prefix ranks below a longer value
    /// (`2026.11` < `2026.11.1`).
    Calver,
    /// The tag's creation time as the registry reported it; takes no group.
    /// Tags whose creation time is unknown rank after all others on this key.
    Created,
}

/// Which way a key ranks.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger values rank first (newest timestamp, highest version).
    #[default]
    Desc,
    /// Smaller values rank first.
    Asc,
}

/// A value read for one key of one tag.
#[derive(Clone, Debug)]
pub(crate) enum KeyValue {
    Number(Decimal),
    Text(String),
    Version(Version),
    Calver(Vec<Digits>),
    /// A creation time, seconds since the Unix epoch.
    Created(i64),
}

impl KeyType {
    /// Reads `text` as this type; `None` when it is not one.
    pub(crate) fn read(self, text: &str) -> Option<KeyValue> {
        match self {
            KeyType::Numeric => Decimal::parse(text).map(KeyValue::Number),
            KeyType::String => Some(KeyValue::Text(text.to_string())),
            KeyType::Semver => Version::parse(text).ok().map(KeyValue::Version),
            KeyType::Calver => text
                .split(['.', '-', '_'])
                .map(Digits::parse)
                .collect::<Option<Vec<_>>>()
                .map(KeyValue::Calver),
            KeyType::Created => None,
        }
    }
}

impl KeyValue {
    /// Compares two values of the same key type, smaller first.
    pub(crate) fn compare(&self, other: &KeyValue) -> Ordering {
        match (self, other) {
            (KeyValue::Number(a), KeyValue::Number(b)) => a.cmp(b),
            (KeyValue::Text(a), KeyValue::Text(b)) => a.cmp(b),
            (KeyValue::Version(a), KeyValue::Version(b)) => a.compare(b),
            (KeyValue::Calver(a), KeyValue::Calver(b)) => a.cmp(b),
            (KeyValue::Created(a), KeyValue::Created(b)) => a.cmp(b),
            _ => unreachable!("one key always reads values of one type"),
        }
    }
}

/// An unsigned run of ASCII digits, compared by value without a size limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Digits(String);

impl Digits {
    fn parse(text: &str) -> Option<Digits> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let trimmed = text.trim_start_matches('0');
        Some(Digits(trimmed.to_string()))
    }
}

impl Ord for Digits {
    fn cmp(&self, other: &Self) -> Ordering {
        // Without leading zeros, a longer number is a larger one.
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Digits {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A decimal number `[+-]digits[.digits]`, compared exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    integer: Digits,
    /// Fraction digits without trailing zeros.
    fraction: String,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (integer, fraction) = rest.split_once('.').unwrap_or((rest, ""));
        if rest.contains('.')
            && (fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let integer = Digits::parse(integer)?;
        let fraction = fraction.trim_end_matches('0').to_string();
        // -0 and 0 are the same number.
        let zero = integer.0.is_empty() && fraction.is_empty();
        Some(Decimal {
            negative: negative && !zero,
            integer,
            fraction,
        })
    }

    fn magnitude_cmp(&self, other: &Self) -> Ordering {
        // Fraction digits compare as text once trailing zeros are gone:
        // "5" > "45" because 0.5 > 0.45.
        self.integer
            .cmp(&other.integer)
            .then_with(|| self.fraction.cmp(&other.fraction))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, false) => self.magnitude_cmp(other),
            (true, true) => other.magnitude_cmp(self),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(t: KeyType, a: &str, b: &str) -> Ordering {
        t.read(a).unwrap().compare(&t.read(b).unwrap())
    }

    #[test]
    fn numbers_compare_exactly() {
        use Ordering::*;
        for (a, b, want) in [
            ("2", "10", Less),
            ("0017", "17", Equal),
            ("18446744073709551616", "18446744073709551615", Greater),
            ("1.5", "1.45", Greater),
            ("1.50", "1.5", Equal),
            ("-3", "2", Less),
            ("-3", "-20", Greater),
            ("-0", "0", Equal),
            ("+4", "4", Equal),
        ] {
            assert_eq!(cmp(KeyType::Numeric, a, b), want, "{a} {b}");
        }
        for bad in ["", "x", "1.", ".5", "1.2.3", "1e5", "--1", "0x10"] {
            assert!(KeyType::Numeric.read(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn calver_compares_number_by_number() {
        use Ordering::*;
        for (a, b, want) in [
            ("2026.11.3", "2026.9.30", Greater),
            ("2026.11", "2026.11.1", Less),
            ("2026-01-07", "2026.1.7", Equal),
            ("2026_01_07", "2025.12.31", Greater),
        ] {
            assert_eq!(cmp(KeyType::Calver, a, b), want, "{a} {b}");
        }
        for bad in ["", "2026.", "2026.x", "v2026.1"] {
            assert!(KeyType::Calver.read(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn semver_and_strings() {
        assert_eq!(cmp(KeyType::Semver, "v1.10.0", "1.9.9"), Ordering::Greater);
        assert_eq!(cmp(KeyType::Semver, "1.0.0-rc.1", "1.0.0"), Ordering::Less);
        assert!(KeyType::Semver.read("latest").is_none());
        assert_eq!(cmp(KeyType::String, "B", "a"), Ordering::Less);
    }
}

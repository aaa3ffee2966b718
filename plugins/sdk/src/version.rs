//! Lenient semantic versions, as image tags use them.
//!
//! Image tags are rarely strict [SemVer 2.0](https://semver.org): `v1.2.3`,
//! `1.2`, `2025.01.07` all occur. [`Version::parse`] accepts what the Go library
//! Masterminds/semver v3 accepts in `NewVersion` (which Flux and Helm use), so
//! rekon plugins agree with those tools:
//!
//! * an optional leading `v` (lower-case only);
//! * `MAJOR`, `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, missing parts being 0, each a
//!   decimal number that fits in 64 bits; leading zeros are allowed (`2025.01.07`);
//! * an optional `-PRERELEASE` and `+BUILD`, dot-separated identifiers of
//!   `[0-9A-Za-z-]`; a numeric pre-release identifier must not have a leading zero.
//!
//! [`Version::compare`] orders by SemVer precedence: numbers numerically, a
//! version with a pre-release below the same version without, pre-release
//! identifiers compared one by one (numeric ones numerically and below
//! alphanumeric ones, a shorter list below a longer one with the same start),
//! build metadata ignored.
//!
//! ```
//! use rekon_plugin_sdk::version::Version;
//! use std::cmp::Ordering;
//!
//! let a = Version::parse("v1.10.0").unwrap();
//! let b = Version::parse("1.9").unwrap();
//! assert_eq!(a.compare(&b), Ordering::Greater);
//! assert_eq!((b.major(), b.minor(), b.patch()), (1, 9, 0));
//! let rc = Version::parse("1.10.0-rc.1").unwrap();
//! assert_eq!(rc.compare(&a), Ordering::Less);
//! assert!(Version::parse("latest").is_err());
//! ```

use std::cmp::Ordering;
use std::fmt;

/// A parsed version; see the [module docs](self) for what parses.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    build: String,
    original: String,
}

impl Version {
    /// Parses `text` like Masterminds/semver's `NewVersion`.
    pub fn parse(text: &str) -> Result<Version, String> {
        let invalid = || format!("invalid semantic version `{text}`");
        let rest = text.strip_prefix('v').unwrap_or(text);
        let (core, build) = match rest.split_once('+') {
            Some((core, build)) => (core, build),
            None => (rest, ""),
        };
        let (numbers, pre) = match core.split_once('-') {
            Some((numbers, pre)) => (numbers, pre),
            None => (core, ""),
        };
        if rest.contains('+') && !identifiers_ok(build) {
            return Err(invalid());
        }
        if core.contains('-') && !identifiers_ok(pre) {
            return Err(invalid());
        }
        if pre
            .split('.')
            .any(|id| id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "invalid semantic version `{text}`: numeric pre-release identifier starts with 0"
            ));
        }
        let mut parts = numbers.split('.');
        let mut number = |required: bool| -> Result<u64, String> {
            match parts.next() {
                None if !required => Ok(0),
                Some(digits)
                    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    digits.parse().map_err(|_| {
                        format!("invalid semantic version `{text}`: `{digits}` is too large")
                    })
                }
                _ => Err(invalid()),
            }
        };
        let major = number(true)?;
        let minor = number(false)?;
        let patch = number(false)?;
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre: pre.to_string(),
            build: build.to_string(),
            original: text.to_string(),
        })
    }

    /// The major version.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// The minor version (0 when the text had none).
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// The patch version (0 when the text had none).
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// The pre-release without its `-` (empty when none), e.g. `rc.1`.
    pub fn pre(&self) -> &str {
        &self.pre
    }

    /// The build metadata without its `+` (empty when none).
    pub fn build(&self) -> &str {
        &self.build
    }

    /// The text this version was parsed from, e.g. `v1.2`.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// Orders by SemVer precedence (build metadata ignored), exactly like
    /// Masterminds/semver's `Compare`: `1.0.0 == v1.0.0 == 1.0.0+b1`.
    pub fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &other.pre),
            })
    }
}

impl fmt::Display for Version {
    /// The normalized form: `1.2.0-rc.1+b5` (no `v`, all three numbers).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Version {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

/// Dot-separated, non-empty identifiers of `[0-9A-Za-z-]`.
fn identifiers_ok(text: &str) -> bool {
    text.split('.')
        .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// Compares two non-empty pre-releases identifier by identifier.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut a = a.split('.');
    let mut b = b.split('.');
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match compare_identifier(x, y) {
                Ordering::Equal => continue,
                other => return other,
            },
        }
    }
}

fn compare_identifier(a: &str, b: &str) -> Ordering {
    // Like Go's strconv.ParseUint: an all-digit identifier too large for u64
    // counts as alphanumeric, as it does in Masterminds/semver.
    let number = |s: &str| -> Option<u64> {
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_like_masterminds_new_version() {
        for (text, want) in [
            ("1.2.3", "1.2.3"),
            ("v1.2.3", "1.2.3"),
            ("1.2", "1.2.0"),
            ("1", "1.0.0"),
            ("v2", "2.0.0"),
            ("2025.01.07", "2025.1.7"),
            ("1.2.3-rc.1+build.5", "1.2.3-rc.1+build.5"),
            ("1.2-beta", "1.2.0-beta"),
            ("1.2.3-rc1-with-hyphen", "1.2.3-rc1-with-hyphen"),
            (
                "1.2.0-x.Y.0+metadata-width-hypen",
                "1.2.0-x.Y.0+metadata-width-hypen",
            ),
            ("1.0.0+0001", "1.0.0+0001"),
            ("1.0.0-0a", "1.0.0-0a"),
        ] {
            assert_eq!(v(text).to_string(), want, "{text}");
            assert_eq!(v(text).original(), text);
        }
        for text in [
            "",
            "v",
            "V1.2.3",
            "latest",
            "1.2.3.4",
            "1.2.beta",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "1.2.3-01",
            "1.2.3+a+b",
            "1.2.3-a_b",
            " 1.2.3",
            "1..2",
            "1.",
            "99999999999999999999.0.0",
            "main-abc-123",
        ] {
            assert!(Version::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn orders_by_precedence() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.2.0",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(v(pair[0]).compare(&v(pair[1])), Ordering::Less, "{pair:?}");
            assert_eq!(
                v(pair[1]).compare(&v(pair[0])),
                Ordering::Greater,
                "{pair:?}"
            );
        }
        assert_eq!(v("v1.0.0").compare(&v("1.0.0+b7")), Ordering::Equal);
        assert_eq!(v("1.0").compare(&v("1.0.0")), Ordering::Equal);
        // Too large for a number: compared as text, like Go's ParseUint failing.
        assert_eq!(
            v("1.0.0-99999999999999999999").compare(&v("1.0.0-a")),
            Ordering::Less
        );
    }
}

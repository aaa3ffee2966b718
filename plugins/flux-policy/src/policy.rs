//! Ranking: Flux's pipeline (exclusion list, tag filter, policy) producing the
//! whole order instead of only the winner.

use crate::numeric::parse_float;
use crate::settings::{Compiled, Order, Settings};
use rekon_plugin_sdk::version::Version;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;

/// Flux's error when no tag is left to choose from.
pub const EMPTY_LIST: &str = "version list argument cannot be empty";
/// Flux's error when no tag satisfies the semver range.
pub const NO_SEMVER_MATCH: &str = "unable to determine latest version from provided list";

/// One tag that survived filtering, with the value the policy compares.
struct Candidate<'t> {
    tag: &'t str,
    /// Borrowed when it is the whole tag (no `extract`), the common case.
    value: Cow<'t, str>,
}

/// Ranks `tags` under `settings`, best first; see [`Compiled::rank`].
///
/// This checks and compiles the settings on every call; to rank many tag lists
/// under the same settings, [`Settings::compile`] once and call
/// [`Compiled::rank`].
pub fn rank(settings: &Settings, tags: &[&str]) -> Result<Vec<String>, String> {
    settings.compile()?.rank(tags)
}

impl Compiled {
    /// Ranks `tags`, best first: the first is the tag Flux's image-reflector
    /// would pick from the same tags.
    ///
    /// 1. Tags matching an exclusion pattern are dropped (Flux drops them when
    ///    scanning the repository).
    /// 2. With `filterTags`, tags that do not match `pattern` are dropped and the
    ///    others compared by their `extract` value (the whole tag without one).
    /// 3. No tag left: `version list argument cannot be empty`.
    /// 4. The policy orders the values: `alphabetical` byte-wise (`asc`: the
    ///    greatest first), `numerical` as floating-point numbers (`asc`: the
    ///    largest first; any value that is not a number fails the whole call with
    ///    `failed to parse invalid numeric value '<v>'`, as in Flux; `NaN` ranks
    ///    last), `semver` by precedence among the values that parse as versions
    ///    (with at least two dots, as Flux requires) and satisfy the range (none:
    ///    `unable to determine latest version from provided list`).
    ///
    /// Ties (values that compare equal) are ordered the way Flux picks among
    /// them. Since image-reflector-controller v1.0 its tag store keeps a
    /// repository's tags in descending byte order (`sortTagsAndGetLatestTags`
    /// sorts the list in place before `SetTags`), and each step keeps its own
    /// kind of tie:
    /// - tags with the same extracted value: the lexically smallest tag first
    ///   (`RegexFilter.Apply` maps value -> tag, so the last tag of the
    ///   descending list overwrites the others);
    /// - different numerical values of equal number (`1.0`, `1`): the
    ///   lexically smallest value first (`Numerical.Latest` replaces its pick
    ///   on `>=`, so the last one wins);
    /// - different values of equal version (`1.0.0`, `v1.0.0`, `1.0.0+b`,
    ///   `1.0.0+a`: build metadata does not count): the lexically greatest
    ///   value first (`SemVer.Latest` replaces only on `GreaterThan`, so the
    ///   first one wins).
    ///
    /// With `filterTags`, Flux hands the values to the policy in Go map order,
    /// which is random, so its pick between different values of equal rank
    /// varies from run to run; this ranking takes the order it has without
    /// `filterTags`. Either way the ranking never depends on the input order.
    /// Duplicate tags in the input appear once.
    pub fn rank(&self, tags: &[&str]) -> Result<Vec<String>, String> {
        let candidates = self.candidates(tags);
        if candidates.is_empty() {
            return Err(EMPTY_LIST.to_string());
        }
        let ranked = match &self.order {
            Order::Alphabetical { descending } => {
                let mut c = candidates;
                c.sort_unstable_by(|a, b| {
                    let by_value = a.value.cmp(&b.value);
                    let by_value = if *descending {
                        by_value
                    } else {
                        by_value.reverse()
                    };
                    by_value.then_with(|| a.tag.cmp(b.tag))
                });
                c
            }
            Order::Numerical { descending } => {
                let mut keyed = Vec::with_capacity(candidates.len());
                for c in candidates {
                    let number = parse_float(&c.value).ok_or_else(|| {
                        format!("failed to parse invalid numeric value '{}'", c.value)
                    })?;
                    keyed.push((number, c));
                }
                keyed.sort_unstable_by(|(x, a), (y, b)| {
                    compare_numbers(*x, *y, *descending)
                        .then_with(|| a.value.cmp(&b.value))
                        .then_with(|| a.tag.cmp(b.tag))
                });
                keyed.into_iter().map(|(_, c)| c).collect()
            }
            Order::SemVer(constraints) => {
                let mut keyed: Vec<(Version, Candidate)> = candidates
                    .into_iter()
                    .filter_map(|c| {
                        let v = flux_version(&c.value)?;
                        constraints.check(&v).then_some((v, c))
                    })
                    .collect();
                if keyed.is_empty() {
                    return Err(NO_SEMVER_MATCH.to_string());
                }
                keyed.sort_unstable_by(|(x, a), (y, b)| {
                    y.compare(x)
                        .then_with(|| b.value.cmp(&a.value))
                        .then_with(|| a.tag.cmp(b.tag))
                });
                keyed.into_iter().map(|(_, c)| c).collect()
            }
        };
        Ok(ranked.into_iter().map(|c| c.tag.to_string()).collect())
    }

    /// Steps 1 and 2: the tags that take part, with their values, in input
    /// order and without duplicates.
    fn candidates<'t>(&self, tags: &[&'t str]) -> Vec<Candidate<'t>> {
        let mut seen = HashSet::with_capacity(tags.len());
        let mut out = Vec::with_capacity(tags.len());
        // One set of capture slots for all tags: no allocation per match.
        let mut locations = self
            .filter
            .as_ref()
            .map(|(regex, _)| regex.capture_locations());
        for &tag in tags {
            if !seen.insert(tag) || self.exclusions.iter().any(|re| re.is_match(tag)) {
                continue;
            }
            let value = match (&self.filter, locations.as_mut()) {
                (Some((regex, template)), Some(locations)) => {
                    if regex.captures_read(locations, tag).is_none() {
                        continue;
                    }
                    match template {
                        Some(template) => Cow::Owned(template.expand(tag, locations)),
                        None => Cow::Borrowed(tag),
                    }
                }
                _ => Cow::Borrowed(tag),
            };
            out.push(Candidate { tag, value });
        }
        out
    }
}

/// Best first: the largest number for ascending order (Flux's `asc` picks the
/// maximum), the smallest for descending; NaN last either way.
fn compare_numbers(x: f64, y: f64, descending: bool) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            let ascending_order = x.partial_cmp(&y).expect("no NaN here");
            if descending {
                ascending_order
            } else {
                ascending_order.reverse()
            }
        }
    }
}

/// Flux's `version.ParseVersion`: Masterminds' lenient `NewVersion`, but only for
/// text with at least two dots (so `1.2`, `v1` and `20240101` are not versions).
pub(crate) fn flux_version(text: &str) -> Option<Version> {
    if text.splitn(3, '.').count() != 3 {
        return None;
    }
    Version::parse(text).ok()
}

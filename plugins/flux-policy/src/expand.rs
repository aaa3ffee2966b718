//! `extract` templates, expanded like Go's `regexp.Regexp.ExpandString` (which
//! Flux uses), not like the `regex` crate's `Captures::expand`: the two differ on
//! `$01` (Go: a group *named* `01`; the crate: group 1) and on names with
//! non-ASCII letters.

use regex::{CaptureLocations, Regex};

/// A reference in a template: `$name`/`${name}`, numeric or not.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reference<'t> {
    /// `$1`, `${2}`: a group by number.
    Number(usize),
    /// `$ts`, `${ts}`: a group by name.
    Name(&'t str),
}

/// An `extract` template, parsed once per settings so that expanding it for
/// each of thousands of tags is a few copies.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
enum Part {
    Text(String),
    /// A group by index; `None` for a reference to no group, which expands to
    /// nothing.
    Group(Option<usize>),
}

impl Template {
    /// Parses `template` and resolves its references against `regex`.
    ///
    /// `$name` takes the longest run of letters, digits and `_` (`$1x` is
    /// `${1x}`); `$$` is a literal `$`; a malformed reference (`$` followed by
    /// nothing usable, `${` without `}`) is kept as literal text; a reference to
    /// a group that does not exist or did not take part in the match expands to
    /// nothing.
    pub(crate) fn compile(template: &str, regex: &Regex) -> Template {
        let mut parts: Vec<Part> = Vec::new();
        walk(template, |piece| match piece {
            Piece::Text(text) => match parts.last_mut() {
                Some(Part::Text(last)) => last.push_str(text),
                _ if text.is_empty() => {}
                _ => parts.push(Part::Text(text.to_string())),
            },
            Piece::Reference(Reference::Number(n)) => {
                parts.push(Part::Group((n < regex.captures_len()).then_some(n)))
            }
            Piece::Reference(Reference::Name(name)) => {
                // Go takes the first group with that name that matched; the
                // regex crate refuses duplicate names, so there is at most one.
                let index = regex.capture_names().position(|n| n == Some(name));
                parts.push(Part::Group(index));
            }
        });
        Template { parts }
    }

    /// The template expanded for `text`, whose match by the regex is `locations`.
    pub(crate) fn expand(&self, text: &str, locations: &CaptureLocations) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(literal) => out.push_str(literal),
                Part::Group(Some(i)) => {
                    if let Some((start, end)) = locations.get(*i) {
                        out.push_str(&text[start..end]);
                    }
                }
                Part::Group(None) => {}
            }
        }
        out
    }
}

/// Every group reference in `template`, for checking settings.
pub(crate) fn references(template: &str) -> Vec<Reference<'_>> {
    let mut refs = Vec::new();
    walk(template, |piece| {
        if let Piece::Reference(r) = piece {
            refs.push(r);
        }
    });
    refs
}

enum Piece<'t> {
    Text(&'t str),
    Reference(Reference<'t>),
}

/// Splits a template into text and references, following Go's `Regexp.expand`.
fn walk<'t>(mut template: &'t str, mut emit: impl FnMut(Piece<'t>)) {
    while let Some(dollar) = template.find('$') {
        emit(Piece::Text(&template[..dollar]));
        template = &template[dollar + 1..];
        if let Some(rest) = template.strip_prefix('$') {
            emit(Piece::Text("$"));
            template = rest;
            continue;
        }
        match reference(template) {
            Some((r, rest)) => {
                emit(Piece::Reference(r));
                template = rest;
            }
            None => emit(Piece::Text("$")),
        }
    }
    emit(Piece::Text(template));
}

/// Go's `extract`: a name (braced or not) at the start of `text`, and the rest.
fn reference(text: &str) -> Option<(Reference<'_>, &str)> {
    let (body, braced) = match text.strip_prefix('{') {
        Some(body) => (body, true),
        None => (text, false),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let rest = if braced {
        body[end..].strip_prefix('}')?
    } else {
        &body[end..]
    };
    // Go reads a name as a number only when it is all ASCII digits, has no
    // leading zero and stays below 1e8 while being read.
    let mut number: Option<usize> = Some(0);
    for b in name.bytes() {
        number = match number {
            Some(n) if b.is_ascii_digit() && n < 100_000_000 => {
                Some(n * 10 + usize::from(b - b'0'))
            }
            _ => None,
        };
    }
    if name.len() > 1 && name.starts_with('0') {
        number = None;
    }
    let r = match number {
        Some(n) => Reference::Number(n),
        None => Reference::Name(name),
    };
    Some((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pattern: &str, template: &str, text: &str) -> String {
        let re = Regex::new(pattern).unwrap();
        let mut locations = re.capture_locations();
        re.captures_read(&mut locations, text).unwrap();
        Template::compile(template, &re).expand(text, &locations)
    }

    #[test]
    fn expands_like_go() {
        let p = r"^main-(?P<sha>[a-f0-9]+)-(?P<ts>[0-9]+)";
        let t = "main-3f2a9c1-1767225600";
        assert_eq!(run(p, "$ts", t), "1767225600");
        assert_eq!(run(p, "${ts}", t), "1767225600");
        assert_eq!(run(p, "$1", t), "3f2a9c1");
        assert_eq!(run(p, "${2}-$1", t), "1767225600-3f2a9c1");
        assert_eq!(run(p, "$0", t), t);
        // Longest name: `$tsx` is the (missing) group `tsx`, not `$ts` + `x`.
        assert_eq!(run(p, "$tsx", t), "");
        assert_eq!(run(p, "${ts}x", t), "1767225600x");
        assert_eq!(run(p, "$$ts", t), "$ts");
        assert_eq!(run(p, "a$", t), "a$");
        assert_eq!(run(p, "${ts", t), "${ts");
        assert_eq!(run(p, "$-", t), "$-");
        // Go: `$01` names a group called "01", which does not exist.
        assert_eq!(run(p, "$01", t), "");
        assert_eq!(run(p, "$9", t), "");
        assert_eq!(run(p, "v${1}", t), "v3f2a9c1");
    }

    #[test]
    fn lists_references() {
        assert_eq!(
            references("$a-${1}$$b-$"),
            [Reference::Name("a"), Reference::Number(1)]
        );
    }
}

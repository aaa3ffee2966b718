//! A line-oriented scan of block YAML, just enough to find the comment at the
//! end of a `key: value` or `- value` line and the exact bytes of that value.
//!
//! Why not a YAML parser: parsers turn text into nodes and back, and the
//! round trip reformats (quoting, indentation, comments, line endings). The
//! setters must change only a value's bytes, so they need byte offsets into
//! the original text, and for that this scan is enough. It keeps the state
//! that decides whether a line can carry a marker at all: inside a block
//! scalar (`|`, `>`), a multi-line quoted or plain scalar, or a multi-line
//! flow collection, a `#` is text or belongs to something a setter cannot
//! rewrite in place.

use std::ops::Range;

use super::marker::Quoting;

/// What a marker comment on a line would set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A scalar on this one line: the bytes of its content (inside the
    /// quotes, if quoted), relative to the start of the line.
    Scalar {
        /// Content bytes.
        range: Range<usize>,
        /// How the scalar is written.
        quoting: Quoting,
    },
    /// A value a setter cannot rewrite in place, and why (for the message).
    Unsupported(&'static str),
}

/// The end-of-line comment of a line with a value, and that value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Commented {
    /// The comment's text after the `#`, relative to the start of the line.
    pub comment: Range<usize>,
    /// What the comment is attached to.
    pub slot: Slot,
}

/// What the previous lines left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between nodes.
    Normal,
    /// Inside a block scalar whose key (or `-`) is at column `parent`:
    /// blank lines and lines indented deeper are its content.
    Block { parent: usize },
    /// After a plain scalar without a comment: deeper lines continue it.
    Plain { parent: usize },
    /// Inside a quoted scalar that did not close on its first line.
    Quoted { double: bool },
    /// Inside a flow collection that did not close on its first line.
    Flow { depth: usize, quote: Option<u8> },
}

/// Feed lines in order with [`Scanner::line`].
#[derive(Debug)]
pub(crate) struct Scanner {
    state: State,
}

impl Scanner {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Normal,
        }
    }

    /// Scan the next line, given without its line break (`\n` or `\r\n`).
    ///
    /// Returns the comment that ends a line with a value, with the value;
    /// `None` for blank and comment-only lines, lines inside block scalars,
    /// and lines without a comment.
    pub(crate) fn line(&mut self, line: &str) -> Option<Commented> {
        let b = line.as_bytes();
        let indent = b.iter().take_while(|&&c| c == b' ').count();
        let blank = b[indent..].iter().all(|&c| is_ws(c));
        if is_document_marker(b) {
            self.state = State::Normal;
            return None;
        }
        match self.state {
            State::Normal => {}
            State::Block { parent } => {
                if blank || indent > parent {
                    return None;
                }
                self.state = State::Normal;
            }
            State::Plain { parent } => {
                if blank {
                    return None;
                }
                if indent > parent && b[indent] != b'#' {
                    // A continuation line; a comment ends the scalar.
                    let comment = find_comment(b, indent)?;
                    self.state = State::Normal;
                    return Some(commented(b, comment, UNSUPPORTED_MULTILINE_PLAIN));
                }
                self.state = State::Normal;
            }
            State::Quoted { double } => {
                let end = close_quote(b, 0, double)?;
                self.state = State::Normal;
                return find_comment(b, end + 1)
                    .map(|c| commented(b, c, "a quoted value over several lines"));
            }
            State::Flow { depth, quote } => {
                let (depth, quote, comment) = scan_flow(b, 0, depth, quote);
                self.state = if depth == 0 && quote.is_none() {
                    State::Normal
                } else {
                    State::Flow { depth, quote }
                };
                return comment.map(|c| commented(b, c, UNSUPPORTED_FLOW));
            }
        }
        if blank {
            return None;
        }
        self.node(b, indent)
    }

    /// A line in the normal state: `[- ]*[key: ]value [# comment]`.
    fn node(&mut self, b: &[u8], indent: usize) -> Option<Commented> {
        let len = b.len();
        let mut pos = indent;
        if b[pos] == b'#' {
            // A comment-only line: it describes what follows, it sets nothing.
            return None;
        }
        let mut node = indent;
        let mut dashed = false;
        while b[pos] == b'-' && (pos + 1 == len || is_ws(b[pos + 1])) {
            node = pos;
            dashed = true;
            pos = skip_ws(b, pos + 1);
            if pos == len {
                return None;
            }
        }
        let (keyed, parent, start) = match b[pos] {
            q @ (b'"' | b'\'') => match close_quote(b, pos + 1, q == b'"') {
                None => {
                    // Keys are one line, so this is a value over several lines.
                    self.state = State::Quoted { double: q == b'"' };
                    return None;
                }
                Some(end) => {
                    let after = skip_ws(b, end + 1);
                    if after < len && b[after] == b':' && (after + 1 == len || is_ws(b[after + 1]))
                    {
                        (true, pos, skip_ws(b, after + 1))
                    } else {
                        (false, node, pos)
                    }
                }
            },
            b'?' if pos + 1 == len || is_ws(b[pos + 1]) => {
                return find_comment(b, pos + 1)
                    .map(|c| commented(b, c, "a complex mapping key (`? key`)"));
            }
            b'[' | b'{' => (false, node, pos),
            _ => match plain_key_end(b, pos) {
                Some(colon) => (true, pos, skip_ws(b, colon + 1)),
                None => (false, node, pos),
            },
        };
        let found = self.value(b, start, parent);
        if keyed || dashed {
            return found;
        }
        // A bare scalar line: a document that is one scalar, or YAML this
        // scan does not follow. Not a place for a marker.
        found.map(|c| Commented {
            slot: Slot::Unsupported("a line that is neither `key: value` nor `- value`"),
            ..c
        })
    }

    /// The value starting at `start` of a node whose key (or `-`) is at
    /// column `parent`.
    fn value(&mut self, b: &[u8], start: usize, parent: usize) -> Option<Commented> {
        let len = b.len();
        let mut p = start;
        // Node properties: `&anchor` and `!tag` come before the scalar.
        while p < len && (b[p] == b'&' || b[p] == b'!') {
            while p < len && !is_ws(b[p]) {
                p += 1;
            }
            p = skip_ws(b, p);
        }
        if p == len {
            // The value is on the next lines, or null.
            return None;
        }
        match b[p] {
            b'#' => Some(commented(b, p, "an empty value")),
            b'|' | b'>' => {
                self.state = State::Block { parent };
                find_comment(b, p).map(|c| commented(b, c, "a block scalar (| or >)"))
            }
            q @ (b'"' | b'\'') => {
                let double = q == b'"';
                let Some(end) = close_quote(b, p + 1, double) else {
                    self.state = State::Quoted { double };
                    return None;
                };
                let after = skip_ws(b, end + 1);
                if after == len {
                    return None;
                }
                let quoting = if double {
                    Quoting::Double
                } else {
                    Quoting::Single
                };
                if b[after] == b'#' && after > end + 1 {
                    return Some(Commented {
                        comment: after + 1..len,
                        slot: Slot::Scalar {
                            range: p + 1..end,
                            quoting,
                        },
                    });
                }
                find_comment(b, end + 1).map(|c| commented(b, c, "text after a quoted value"))
            }
            b'[' | b'{' => {
                let (depth, quote, comment) = scan_flow(b, p, 0, None);
                if depth > 0 || quote.is_some() {
                    self.state = State::Flow { depth, quote };
                }
                comment.map(|c| commented(b, c, UNSUPPORTED_FLOW))
            }
            b'*' => find_comment(b, p).map(|c| commented(b, c, "an alias (*name)")),
            _ => {
                let Some(comment) = find_comment(b, p) else {
                    self.state = State::Plain { parent };
                    return None;
                };
                let mut end = comment;
                while end > p && is_ws(b[end - 1]) {
                    end -= 1;
                }
                Some(Commented {
                    comment: comment + 1..len,
                    slot: Slot::Scalar {
                        range: p..end,
                        quoting: Quoting::Plain,
                    },
                })
            }
        }
    }
}

const UNSUPPORTED_FLOW: &str = "a flow collection ([...] or {...})";
const UNSUPPORTED_MULTILINE_PLAIN: &str = "a plain value over several lines";

fn commented(b: &[u8], hash: usize, why: &'static str) -> Commented {
    Commented {
        comment: hash + 1..b.len(),
        slot: Slot::Unsupported(why),
    }
}

fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

/// `---` or `...` at column 0 ends a document and anything left open.
fn is_document_marker(b: &[u8]) -> bool {
    (b.starts_with(b"---") || b.starts_with(b"...")) && (b.len() == 3 || is_ws(b[3]))
}

/// The first `#` at or after `from` that starts a comment: YAML wants
/// whitespace (or the line start) before it, so `a#b` is text.
fn find_comment(b: &[u8], from: usize) -> Option<usize> {
    (from..b.len()).find(|&i| b[i] == b'#' && (i == 0 || is_ws(b[i - 1])))
}

/// The colon ending a plain key (`:` then whitespace or the line end), if it
/// comes before any comment; `harbor.lan:5000/x` has no such colon.
fn plain_key_end(b: &[u8], from: usize) -> Option<usize> {
    for i in from..b.len() {
        match b[i] {
            b'#' if is_ws(b[i - 1]) => return None,
            b':' if i + 1 == b.len() || is_ws(b[i + 1]) => return Some(i),
            _ => {}
        }
    }
    None
}

/// The closing quote at or after `from`, honouring `\x` escapes in double
/// quotes and `''` in single quotes.
fn close_quote(b: &[u8], from: usize, double: bool) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        match (double, b[i]) {
            (true, b'\\') => i += 1,
            (true, b'"') => return Some(i),
            (false, b'\'') if b.get(i + 1) == Some(&b'\'') => i += 1,
            (false, b'\'') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Follow brackets and quotes of a flow collection from `from`; returns the
/// depth and open quote at the line end, and where a comment starts.
fn scan_flow(
    b: &[u8],
    from: usize,
    mut depth: usize,
    mut quote: Option<u8>,
) -> (usize, Option<u8>, Option<usize>) {
    // A quote opens a scalar only where a scalar can start; in `[it's]` it
    // is text.
    let mut prev: Option<u8> = None;
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if q == b'"' && c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                if q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                quote = None;
                prev = Some(c);
            }
            i += 1;
            continue;
        }
        match c {
            b'#' if i == 0 || is_ws(b[i - 1]) => return (depth, None, Some(i)),
            b'"' | b'\'' if matches!(prev, None | Some(b'[' | b'{' | b',' | b':')) => {
                quote = Some(c)
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if !is_ws(c) {
            prev = Some(c);
        }
        i += 1;
    }
    (depth, quote, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(line number, comment text, value text or "!reason")` of every
    /// commented line.
    fn scan(text: &str) -> Vec<(usize, String, String)> {
        let mut scanner = Scanner::new();
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if let Some(c) = scanner.line(line) {
                let value = match c.slot {
                    Slot::Scalar { range, .. } => line[range].to_owned(),
                    Slot::Unsupported(why) => format!("!{why}"),
                };
                out.push((n + 1, line[c.comment].trim().to_owned(), value));
            }
        }
        out
    }

    fn values(text: &str) -> Vec<String> {
        scan(text).into_iter().map(|(_, _, v)| v).collect()
    }

    #[test]
    fn finds_values_of_keys_and_list_items() {
        let text = "\
a: 1 # one
- b # two
- k: 'v # x' # three
  - - \"q\"   # four
\"quoted key\": plain value\t# five
url: http://x:80/#frag # six
no: comment#here
";
        assert_eq!(
            scan(text),
            [
                (1, "one".into(), "1".into()),
                (2, "two".into(), "b".into()),
                (3, "three".into(), "v # x".into()),
                (4, "four".into(), "q".into()),
                (5, "five".into(), "plain value".into()),
                (6, "six".into(), "http://x:80/#frag".into()),
            ]
        );
    }

    #[test]
    fn comment_only_lines_and_block_scalars_carry_no_marker() {
        let text = "\
# top: x # c
script: |
  image: x # inside
  - y # inside

  z: 1 # inside
after: v # after
list:
  - >-
    a: b # inside
  - c # item
";
        assert_eq!(values(text), ["v", "c"]);
    }

    #[test]
    fn multi_line_scalars_and_flows_are_followed() {
        let text = "\
d: \"one
  two: 2 # inside
  three\" # closing
s: 'it''s
  x: y # inside
  ' 
f: [a, b, # inside
  c: d # inside
  ] # closing
p: first
  second # closing
q: r # after
";
        assert_eq!(
            values(text),
            [
                "!a quoted value over several lines",
                "!a flow collection ([...] or {...})",
                "!a flow collection ([...] or {...})",
                "!a flow collection ([...] or {...})",
                "!a plain value over several lines",
                "r",
            ]
        );
    }

    #[test]
    fn other_values_are_reported_unsupported() {
        let text = "\
a: # empty
b: | # header
c: *anchor # alias
d: &x !!str e # props
f: 'g' h # junk
bare # bare
";
        assert_eq!(
            values(text),
            [
                "!an empty value",
                "!a block scalar (| or >)",
                "!an alias (*name)",
                "e",
                "!text after a quoted value",
                "!a line that is neither `key: value` nor `- value`",
            ]
        );
    }

    #[test]
    fn document_markers_reset_state() {
        assert_eq!(values("a: |\n---\nb: c # x\n"), ["c"]);
    }
}

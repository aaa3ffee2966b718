//! Flux's post-build variable substitution: `${var}` and the bash-like
//! forms of drone/envsubst, which kustomize-controller runs over each
//! object's YAML.
//!
//! No Rust crate implements drone/envsubst's dialect (the `envsubst` and
//! `subst` crates know `${var}` and at most `${var:-default}`), and a repository
//! written for Flux must render the same bytes, so this is a port of its
//! grammar and functions, quirks included:
//!
//! - `${var}`; `${var:=default}`, `${var=default}`, `${var:-default}`,
//!   `${var:?default}`, `${var:+default}` all give the default when the value
//!   is empty (drone/envsubst gives them one meaning); a default may hold
//!   `${other}`;
//! - `${#var}` (length in bytes), `${var:pos}`, `${var:pos:len}`;
//! - `${var#glob}`, `${var##glob}`, `${var%glob}`, `${var%%glob}`;
//! - `${var/from/to}`, `${var//from/to}`, `${var/#from/to}`, `${var/%from/to}`;
//! - `${var^}`, `${var^^}`, `${var,}`, `${var,,}`;
//! - `$$` is a `$` (so `$${var}` stays `${var}`), `\\` a `\` and `\/` a `/`;
//!   a `$` not followed by `{` is text;
//! - names are letters, digits, `_` and (drone/envsubst's quirk) `-`.
//!
//! An undefined variable becomes the empty string, as in Flux (without its
//! `StrictPostBuildSubstitutions` feature gate); [`Substitution::unresolved`]
//! lists those that had no default, so rekon can name them.

use std::collections::{BTreeMap, BTreeSet};

/// Flux's rule for the names of variables given in `substitute` and
/// `substituteFrom` (`^[_[:alpha:]][_[:alpha:][:digit:]]*$`).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A text after substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitution {
    /// The text.
    pub text: String,
    /// Variables used without a value or a default (they became `""`).
    pub unresolved: BTreeSet<String>,
}

/// A `${` that does not parse (drone/envsubst's "bad substitution").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad substitution at line {line}: `{near}`")]
pub struct BadSubstitution {
    /// 1-based line of the `${`.
    pub line: usize,
    /// The text from the `${` (up to the end of its line).
    pub near: String,
}

/// Substitute `vars` into `text`.
pub fn substitute(
    text: &str,
    vars: &BTreeMap<String, String>,
) -> Result<Substitution, BadSubstitution> {
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Parser {
        s: &chars,
        i: 0,
        start: 0,
    };
    let nodes = parser.any().map_err(|()| {
        let before: String = chars[..parser.start].iter().collect();
        let near: String = chars[parser.start..]
            .iter()
            .take_while(|c| **c != '\n')
            .collect();
        BadSubstitution {
            line: before.matches('\n').count() + 1,
            near,
        }
    })?;
    let mut out = Substitution {
        text: String::with_capacity(text.len()),
        unresolved: BTreeSet::new(),
    };
    for node in &nodes {
        out.text += &eval(node, vars, &mut out.unresolved);
    }
    Ok(out)
}

#[derive(Debug)]
enum Node {
    Text(String),
    Func {
        param: String,
        op: String,
        args: Vec<Node>,
    },
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
    /// Where the `${` being parsed started (for errors).
    start: usize,
}

type Parsed<T> = Result<T, ()>;

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn at_open(&self) -> bool {
        self.s.get(self.i) == Some(&'$') && self.s.get(self.i + 1) == Some(&'{')
    }

    /// The escape at the cursor (`$$`, `\\`, `\/`) and what it stands for.
    fn escape(&self) -> Option<char> {
        match (self.s.get(self.i), self.s.get(self.i + 1)) {
            (Some('$'), Some('$')) => Some('$'),
            (Some('\\'), Some(c @ ('\\' | '/'))) => Some(*c),
            _ => None,
        }
    }

    /// Top level: text and `${...}` until the end.
    fn any(&mut self) -> Parsed<Vec<Node>> {
        let mut nodes = Vec::new();
        while self.i < self.s.len() {
            if self.at_open() {
                self.start = self.i;
                self.i += 2;
                nodes.push(self.func()?);
            } else {
                nodes.push(Node::Text(self.text(|_| true, true)?));
            }
        }
        Ok(nodes)
    }

    /// Text of accepted characters up to a `${`; with `escapes`, `$$`,
    /// `\\` and `\/` are read as one character each. At least one character.
    fn text(&mut self, accept: impl Fn(char) -> bool, escapes: bool) -> Parsed<String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if self.at_open() {
                break;
            }
            if let Some(e) = self.escape().filter(|_| escapes) {
                out.push(e);
                self.i += 2;
                continue;
            }
            if !accept(c) {
                break;
            }
            out.push(c);
            self.i += 1;
        }
        if out.is_empty() {
            Err(())
        } else {
            Ok(out)
        }
    }

    /// Up to `max` characters `accept` takes.
    fn op(&mut self, max: usize, accept: impl Fn(usize, char) -> bool) -> String {
        let mut op = String::new();
        while let Some(c) = self.peek() {
            if op.chars().count() == max || !accept(op.len(), c) {
                break;
            }
            op.push(c);
            self.i += 1;
        }
        op
    }

    fn close(&mut self) -> Parsed<()> {
        if self.peek() == Some('}') {
            self.i += 1;
            Ok(())
        } else {
            Err(())
        }
    }

    /// A function argument: a nested `${...}` or text.
    fn param(&mut self, accept: impl Fn(char) -> bool, escapes: bool) -> Parsed<Node> {
        if self.at_open() {
            self.i += 2;
            return self.func();
        }
        Ok(Node::Text(self.text(accept, escapes)?))
    }

    /// After `${`: the name, an operation and its arguments, `}`.
    fn func(&mut self) -> Parsed<Node> {
        let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
        if self.peek() == Some('#') {
            self.i += 1;
            let param = self.text(ident, false)?;
            self.close()?;
            return Ok(Node::Func {
                param,
                op: "#".into(),
                args: Vec::new(),
            });
        }
        let param = self.text(ident, false)?;
        let mut args = Vec::new();
        let op = match self.peek() {
            Some('}') => String::new(),
            Some(':') if matches!(self.s.get(self.i + 1), Some('=' | '-' | '?' | '+')) => {
                let op = self.op(2, |_, _| true);
                self.defaults(&mut args)?;
                return Ok(Node::Func { param, op, args });
            }
            Some('=') => {
                self.i += 1;
                self.defaults(&mut args)?;
                return Ok(Node::Func {
                    param,
                    op: "=".into(),
                    args,
                });
            }
            Some(':') => {
                self.i += 1;
                args.push(self.param(|c| c != ':' && c != '}', false)?);
                if self.peek() == Some(':') {
                    // drone/envsubst reads any run of colons as the delimiter.
                    while self.peek() == Some(':') {
                        self.i += 1;
                    }
                    args.push(self.param(|c| c != '}', false)?);
                }
                ":".into()
            }
            Some(',' | '^') => self.op(2, |_, c| c == ',' || c == '^'),
            Some('/') => {
                let op = self.op(2, |n, c| n == 0 && c == '/' || n == 1 && "/#%".contains(c));
                args.push(self.param(|c| c != '/', true)?);
                if self.peek() != Some('/') {
                    return Err(());
                }
                while self.peek() == Some('/') {
                    self.i += 1;
                }
                if self.peek() != Some('}') {
                    args.push(self.param(|c| c != '}', true)?);
                }
                op
            }
            Some(c @ ('#' | '%')) => {
                let op = self.op(2, |_, d| d == c);
                args.push(self.param(|c| c != '}', false)?);
                op
            }
            _ => return Err(()),
        };
        self.close()?;
        Ok(Node::Func { param, op, args })
    }

    /// The arguments of a default: text and `${...}` up to the `}`.
    fn defaults(&mut self, args: &mut Vec<Node>) -> Parsed<()> {
        while self.peek() != Some('}') {
            if self.peek().is_none() {
                return Err(());
            }
            args.push(self.param(|c| c != '}', false)?);
        }
        self.close()
    }
}

fn eval(node: &Node, vars: &BTreeMap<String, String>, unresolved: &mut BTreeSet<String>) -> String {
    let (param, op, args) = match node {
        Node::Text(text) => return text.clone(),
        Node::Func { param, op, args } => (param, op.as_str(), args),
    };
    let args: Vec<String> = args.iter().map(|a| eval(a, vars, unresolved)).collect();
    let is_default = matches!(op, "=" | ":=" | ":-" | ":?" | ":+");
    let value = match vars.get(param) {
        Some(v) => v.clone(),
        None => {
            if !is_default || args.is_empty() {
                unresolved.insert(param.clone());
            }
            String::new()
        }
    };
    let s = value.as_str();
    match op {
        "," => first(s, |c| c.to_lowercase().collect()),
        ",," => s.to_lowercase(),
        "^" => first(s, |c| c.to_uppercase().collect()),
        "^^" => s.to_uppercase(),
        "#" if args.is_empty() => s.len().to_string(),
        "#" => trim_prefix(s, &args[0], false),
        "##" => trim_prefix(s, &args[0], true),
        "%" => trim_suffix(s, &args[0], false),
        "%%" => trim_suffix(s, &args[0], true),
        ":" => substring(s, &args),
        "/" | "//" => {
            let to = args.get(1).map_or("", String::as_str);
            if op == "/" {
                s.replacen(args[0].as_str(), to, 1)
            } else {
                s.replace(args[0].as_str(), to)
            }
        }
        "/#" => match (args.first(), args.get(1)) {
            (Some(from), Some(to)) if s.starts_with(from.as_str()) => {
                format!("{to}{}", &s[from.len()..])
            }
            _ => value.clone(),
        },
        "/%" => match (args.first(), args.get(1)) {
            (Some(from), Some(to)) if s.ends_with(from.as_str()) => {
                format!("{}{to}", &s[..s.len() - from.len()])
            }
            _ => value.clone(),
        },
        // Every default form, a plain `${var}` and unknown casing mixes.
        _ if s.is_empty() && !args.is_empty() => args.concat(),
        _ => value.clone(),
    }
}

fn first(s: &str, map: impl Fn(char) -> String) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => map(c) + chars.as_str(),
        None => String::new(),
    }
}

/// `${var:pos}` and `${var:pos:len}`, in bytes as in Go; an argument that is
/// not a number (Go's `Atoi`: no spaces) leaves the value as it is.
fn substring(s: &str, args: &[String]) -> String {
    let bytes = s.as_bytes();
    let Ok(mut pos) = args[0].parse::<i64>() else {
        return s.to_string();
    };
    let len = bytes.len() as i64;
    if pos < 0 {
        pos = (len + pos).max(0);
    }
    let pos = pos as usize;
    let slice = match args.get(1) {
        None if pos < bytes.len() => &bytes[pos..],
        None => &[][..],
        Some(n) => {
            let Ok(n) = n.parse::<i64>() else {
                return s.to_string();
            };
            if pos as i64 + n >= len {
                bytes.get(pos..).unwrap_or(&[])
            } else if n < 0 {
                return s.to_string();
            } else {
                &bytes[pos..pos + n as usize]
            }
        }
    };
    String::from_utf8_lossy(slice).into_owned()
}

/// Remove the shortest (or longest) prefix matching the glob.
fn trim_prefix(s: &str, pattern: &str, longest: bool) -> String {
    let ends: Vec<usize> = (0..=s.len()).filter(|i| s.is_char_boundary(*i)).collect();
    let mut found = None;
    for &end in ends.iter().rev() {
        if end == 0 {
            break;
        }
        if glob(pattern, &s[..end]) {
            found = Some(end);
            if longest {
                break;
            }
        }
    }
    match found {
        Some(end) => s[end..].to_string(),
        None => s.to_string(),
    }
}

/// Remove the shortest (or longest) suffix matching the glob
/// (drone/envsubst reverses the value and the pattern).
fn trim_suffix(s: &str, pattern: &str, longest: bool) -> String {
    let reversed: String = s.chars().rev().collect();
    let pattern: String = pattern.chars().rev().collect();
    trim_prefix(&reversed, &pattern, longest)
        .chars()
        .rev()
        .collect()
}

/// Go's `path.Match`: `*` (no `/`), `?`, `[...]` with ranges and `^`, `\`
/// escapes. A malformed pattern matches nothing.
fn glob(pattern: &str, name: &str) -> bool {
    fn matches(p: &[char], n: &[char]) -> Option<bool> {
        let Some((&first, rest)) = p.split_first() else {
            return Some(n.is_empty());
        };
        match first {
            '*' => {
                for k in 0..=n.len() {
                    if k > 0 && n[k - 1] == '/' {
                        break;
                    }
                    if matches(rest, &n[k..])? {
                        return Some(true);
                    }
                }
                Some(false)
            }
            '?' => match n.split_first() {
                Some((&c, tail)) if c != '/' => matches(rest, tail),
                _ => Some(false),
            },
            '[' => {
                let close = rest.iter().skip(1).position(|c| *c == ']')? + 1;
                let (class, after) = (&rest[..close], &rest[close + 1..]);
                let (negated, class) = match class.split_first() {
                    Some(('^', c)) => (true, c),
                    _ => (false, class),
                };
                let Some((&c, tail)) = n.split_first() else {
                    return Some(false);
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                if hit != negated {
                    matches(after, tail)
                } else {
                    Some(false)
                }
            }
            '\\' => {
                let (&escaped, rest) = rest.split_first()?;
                match n.split_first() {
                    Some((&c, tail)) if c == escaped => matches(rest, tail),
                    _ => Some(false),
                }
            }
            c => match n.split_first() {
                Some((&d, tail)) if d == c => matches(rest, tail),
                _ => Some(false),
            },
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches(&p, &n).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [
            ("name", "frontend"),
            ("path", "/srv/www/site.tar.gz"),
            ("empty", ""),
            ("mixed", "Hello World"),
            ("env", "prod"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The syntax table, each row what drone/envsubst (so Flux) gives.
    #[test]
    fn syntax_table() {
        let table = [
            ("${name}", "frontend"),
            ("a ${name} b", "a frontend b"),
            ("${missing}", ""),
            ("${missing:=x}", "x"),
            ("${missing=x}", "x"),
            ("${missing:-x}", "x"),
            ("${empty:-x}", "x"),
            ("${empty:=x}", "x"),
            ("${name:=x}", "frontend"),
            ("${missing:=a-${env}-b}", "a-prod-b"),
            ("${missing:=}", ""),
            ("${#name}", "8"),
            ("${name:1}", "rontend"),
            ("${name:1:3}", "ron"),
            ("${name:-3}", "frontend"),
            ("${name: -3}", "frontend"),
            ("${name:5:100}", "end"),
            ("${name:x}", "frontend"),
            ("${path#*/}", "srv/www/site.tar.gz"),
            // Go's path.Match: `*` never matches a `/`.
            ("${path##*/}", "srv/www/site.tar.gz"),
            ("${path%.*}", "/srv/www/site.tar"),
            ("${path%%.*}", "/srv/www/site"),
            ("${name/end/ENDS}", "frontENDS"),
            ("${path//\\//:}", ":srv:www:site.tar.gz"),
            ("${name/#front/back}", "backend"),
            ("${name/%end/ier}", "frontier"),
            ("${name/x/y}", "frontend"),
            ("${name/n/}", "frotend"),
            ("${mixed^^}", "HELLO WORLD"),
            ("${mixed,,}", "hello world"),
            ("${name^}", "Frontend"),
            ("${mixed,}", "hello World"),
            ("$${name}", "${name}"),
            ("$$", "$"),
            ("$name", "$name"),
            ("cost: $5", "cost: $5"),
            ("a\\\\b", "a\\b"),
            ("a\\/b", "a/b"),
            ("a\\nb", "a\\nb"),
            ("${a-b}", ""),
        ];
        for (input, want) in table {
            let got = substitute(input, &vars()).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got.text, want, "{input}");
        }
    }

    #[test]
    fn unresolved_variables_are_named_unless_defaulted() {
        let out = substitute("${a} ${b:=x} ${c:-} ${name} ${d/x/y}", &vars()).unwrap();
        assert_eq!(
            out.unresolved.into_iter().collect::<Vec<_>>(),
            ["a", "c", "d"]
        );
    }

    #[test]
    fn bad_substitutions_name_the_line() {
        for input in [
            "x\n  ${}",
            "x\n  ${name",
            "x\n  ${name!}",
            "x\n  ${name:}",
            "x\n  ${#}",
        ] {
            let err = substitute(input, &vars()).unwrap_err();
            assert_eq!(err.line, 2, "{input}");
            assert!(err.near.starts_with("${"), "{input}: {err}");
        }
    }

    #[test]
    fn names_follow_flux_rule() {
        for good in ["a", "_a", "A_1", "cluster_domain"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "1a", "a-b", "a.b", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}

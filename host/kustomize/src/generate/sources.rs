//! The key/value sources of a generator, parsed as kustomize v5.5 parses
//! them (`api/kv/kv.go`, `api/internal/generators/utils.go`), and the
//! base64 text it writes.

use base64::Engine;

/// Splits a `literals` entry `key=value` at its first `=`. The value loses
/// one pair of surrounding quotes (`"..."` or `'...'`, same on both ends).
pub(crate) fn literal(source: &str) -> Result<(String, String), String> {
    match source.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), remove_quotes(value))),
        _ => Err(format!("literals: '{source}' is not key=value")),
    }
}

fn remove_quotes(value: &str) -> String {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first @ (b'"' | b'\'')), Some(&last)) if bytes.len() >= 2 && first == last => {
            value[1..value.len() - 1].to_string()
        }
        _ => value.to_string(),
    }
}

/// Splits a `files` entry, `path` or `key=path`, into its key (the path's
/// base name by default) and path.
pub(crate) fn file_source(source: &str) -> Result<(String, String), String> {
    match source.matches('=').count() {
        0 => Ok((base_name(source), source.to_string())),
        1 => match source.split_once('=') {
            Some(("", _)) => Err(format!("files: '{source}' has no key before '='")),
            Some((_, "")) => Err(format!("files: '{source}' has no file path after '='")),
            Some((key, path)) => Ok((key.to_string(), path.to_string())),
            None => unreachable!("one '=' was counted"),
        },
        _ => Err(format!(
            "files: '{source}': the key or the file path contains '='"
        )),
    }
}

/// Go's `path.Base`: the last `/`-separated element, trailing slashes
/// ignored.
fn base_name(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if path.is_empty() {
        ".".into()
    } else if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
    }
}

/// A line of an env file that kustomize cannot read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EnvError {
    /// 1-based line in the file.
    pub line: usize,
    pub message: String,
}

/// Go's `bufio.Scanner` gives up on a line this long; kustomize then
/// silently drops the rest of the file, rekon refuses it.
const MAX_LINE: usize = 64 * 1024;

/// Reads an env file: one `KEY=value` per line (split at the first `=`,
/// nothing trimmed but leading white space, no quote handling); a line
/// without `=` is the key with an empty value (kustomize v5 does not look
/// the variable up in its environment); blank lines, `#` comments and lines
/// starting with `=` are skipped; a UTF-8 BOM is dropped from the first
/// line; `\r\n` line ends are accepted.
pub(crate) fn env_file(content: &[u8]) -> Result<Vec<(String, String)>, EnvError> {
    let mut pairs = Vec::new();
    let mut lines: Vec<&[u8]> = content.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|last| last.is_empty()) {
        lines.pop();
    }
    for (index, line) in lines.into_iter().enumerate() {
        let error = |message: &str| EnvError {
            line: index + 1,
            message: message.to_string(),
        };
        if line.len() >= MAX_LINE {
            return Err(error(
                "the line is 64 KiB or longer; kustomize would silently ignore it and the rest \
                 of the file",
            ));
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(mut line) = std::str::from_utf8(line) else {
            return Err(error("the line is not valid UTF-8"));
        };
        if index == 0 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        // kustomize drops pairs with an empty key without a word.
        if !key.is_empty() {
            pairs.push((key.to_string(), value.to_string()));
        }
    }
    Ok(pairs)
}

/// Base64 as kustomize writes generated values: standard alphabet, and
/// from 70 characters on, broken into lines of 70, each ending in `\n`.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expectations checked with `kubectl kustomize` (kustomize v5.5.0).

    #[test]
    fn literals_split_at_the_first_equals_and_lose_matching_quotes() {
        let ok = |s: &str| literal(s).unwrap();
        assert_eq!(ok("q1=\"dq\""), ("q1".into(), "dq".into()));
        assert_eq!(ok("q2='sq'"), ("q2".into(), "sq".into()));
        assert_eq!(ok("q3=\"mismatch'"), ("q3".into(), "\"mismatch'".into()));
        assert_eq!(ok("q4="), ("q4".into(), "".into()));
        assert_eq!(ok("q5=a=b"), ("q5".into(), "a=b".into()));
        assert_eq!(ok("q6= spaced "), ("q6".into(), " spaced ".into()));
        assert_eq!(ok("q7=\""), ("q7".into(), "\"".into()));
        assert_eq!(ok("a b=1"), ("a b".into(), "1".into()));
        assert_eq!(
            literal("=1").unwrap_err(),
            "literals: '=1' is not key=value"
        );
        assert_eq!(
            literal("noeq").unwrap_err(),
            "literals: 'noeq' is not key=value"
        );
    }

    #[test]
    fn file_sources() {
        assert_eq!(
            file_source("conf/app.ini").unwrap(),
            ("app.ini".into(), "conf/app.ini".into())
        );
        assert_eq!(
            file_source("a/b=d/one").unwrap(),
            ("a/b".into(), "d/one".into())
        );
        assert!(file_source("=d/one").unwrap_err().contains("no key"));
        assert!(file_source("k=").unwrap_err().contains("no file path"));
        assert!(file_source("a=b=c").unwrap_err().contains("contains '='"));
        assert_eq!(base_name("dir/"), "dir");
        assert_eq!(base_name(""), ".");
    }

    #[test]
    fn env_files() {
        let text = b"A=1\n# c\n\n  B=two words \nC\nD=\"q\"\n\xef\xbb\xbfE=bom2\r\nF=x=y\n=v\n\x0bY=1\n\xc2\xa0Z=2\nW";
        let pairs = env_file(text).unwrap();
        let expected = [
            ("A", "1"),
            ("B", "two words "),
            ("C", ""),
            ("D", "\"q\""),
            ("\u{feff}E", "bom2"),
            ("F", "x=y"),
            ("Y", "1"),
            ("Z", "2"),
            ("W", ""),
        ];
        assert_eq!(
            pairs,
            expected
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            env_file(b"\xef\xbb\xbfG=bom\n").unwrap(),
            [("G".into(), "bom".into())]
        );
        assert_eq!(
            env_file(b"A=1\nB=\xff\n").unwrap_err(),
            EnvError {
                line: 2,
                message: "the line is not valid UTF-8".into()
            }
        );
        let mut long = b"A=".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_LINE - 3));
        assert_eq!(env_file(&long).unwrap().len(), 1);
        long.push(b'x');
        assert_eq!(env_file(&long).unwrap_err().line, 1);
    }

    #[test]
    fn base64_lines() {
        assert_eq!(base64(b"b"), "Yg==");
        assert_eq!(base64(&[0xff, 0xfe, 0]), "//4A");
        // 51 bytes: 68 characters, one line; 52 bytes: 72, two lines.
        assert_eq!(base64(&[b'x'; 51]).len(), 68);
        assert_eq!(
            base64(&[b'x'; 52]),
            "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eA\n==\n"
        );
    }
}

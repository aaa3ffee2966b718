//! Scalars read and written as Kubernetes tooling does.
//!
//! Reading rules were checked with `kubectl kustomize` (kubectl 1.32,
//! kustomize v5.5) on a ConfigMap holding each scalar: its output is what
//! Flux applies. `kubectl label --local -o json` shows what Kubernetes' own
//! decoder (sigs.k8s.io/yaml, go-yaml v2, YAML 1.1) makes of the same file;
//! where that differs the comment says so. Writing is checked by reading
//! back with our reader, with YAML 1.2 core's patterns and with PyYAML
//! (YAML 1.1) when python3 has it.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{json, Map, Value};

use super::{parse_yaml_documents, to_yaml, to_yaml_document};

fn read(text: &str) -> Result<Value, String> {
    parse_yaml_documents(&format!("k: {text}\n"), Path::new("t.yaml"))
        .map(|docs| docs[0].0["k"].clone())
        .map_err(|err| err.to_string())
}

/// (scalar as written, value kustomize gives it).
const TABLE: &[(&str, &str)] = &[
    // Octal with a leading 0, as volumes' `defaultMode` (kubectl kustomize
    // and kubectl label agree).
    ("0755", "493"),
    ("0400", "256"),
    ("0_7", "7"),
    ("0755_", "493"),
    ("00", "0"),
    ("09", "9"),
    ("07.5", "7.5"),
    // YAML 1.1 booleans are strings to kustomize, printed quoted, so the
    // cluster gets strings (kubectl label alone would say true/false).
    ("on", "\"on\""),
    ("Off", "\"Off\""),
    ("yes", "\"yes\""),
    ("NO", "\"NO\""),
    ("y", "\"y\""),
    ("n", "\"n\""),
    ("\"on\"", "\"on\""),
    ("'true'", "\"true\""),
    ("true", "true"),
    ("True", "true"),
    ("TRUE", "true"),
    ("False", "false"),
    ("tRUE", "\"tRUE\""),
    ("~", "null"),
    ("null", "null"),
    ("Null", "null"),
    ("NULL", "null"),
    ("nULL", "\"nULL\""),
    ("", "null"),
    // Integers: Go's ParseInt(s, 0, 64) after removing `_`.
    ("0b1010", "10"),
    ("0B11", "3"),
    ("-0b101", "-5"),
    ("+0b101", "5"),
    ("0b2", "\"0b2\""),
    ("0x1F", "31"),
    ("0X1F", "31"),
    ("+0x1F", "31"),
    ("-0x1F", "-31"),
    ("0x_1F", "31"),
    ("0o17", "15"),
    ("0O17", "15"),
    ("0o", "\"0o\""),
    ("0x", "\"0x\""),
    ("1_000", "1000"),
    ("1__0", "10"),
    ("1_", "1"),
    ("-_1", "-1"),
    ("_1", "\"_1\""),
    ("+12", "12"),
    ("-0", "0"),
    ("9223372036854775807", "9223372036854775807"),
    ("-9223372036854775808", "-9223372036854775808"),
    ("9223372036854775808", "9223372036854775808"),
    ("18446744073709551615", "18446744073709551615"),
    ("0xFFFFFFFFFFFFFFFF", "18446744073709551615"),
    // Beyond 64 bits: a float (kustomize prints 1.8446744073709552e+19).
    ("18446744073709551616", "1.8446744073709552e19"),
    ("-9223372036854775809", "-9223372036854775808"),
    ("12345678901234567890123", "1.2345678901234568e22"),
    // Sexagesimal numbers are YAML 1.1 only; go-yaml v2 and v3 keep strings
    // (PyYAML would say 90).
    ("1:30", "\"1:30\""),
    ("1:30.5", "\"1:30.5\""),
    ("-1:30", "\"-1:30\""),
    // Floats; integral ones come out of kustomize's JSON as integers.
    ("1.5e3", "1500"),
    ("1.5E3", "1500"),
    ("1e3", "1000"),
    ("1e+3", "1000"),
    ("-.5e3", "-500"),
    ("1_000.5", "1000.5"),
    ("1.0", "1"),
    ("1.", "1"),
    ("0.0", "0"),
    ("-0.0", "0"),
    (".5", "0.5"),
    ("+.5", "0.5"),
    ("0.000001", "0.000001"),
    ("3.0e-5", "0.00003"),
    ("6.8523015e+5", "685230.15"),
    ("1e20", "100000000000000000000"),
    ("1e21", "1e21"),
    ("1e400", "\"1e400\""),
    ("12e", "\"12e\""),
    ("0x1p-2", "\"0x1p-2\""),
    ("1.2.3", "\"1.2.3\""),
    (".", "\".\""),
    ("+", "\"+\""),
    ("._5", "\"._5\""),
    (".5_0", "0.5"),
    ("0.5_", "0.5"),
    ("1_.5", "1.5"),
    ("1e1_0", "10000000000"),
    ("1_0e1", "100"),
    ("-0x8000000000000000", "-9223372036854775808"),
    ("-0x8000000000000001", "\"-0x8000000000000001\""),
    ("+18446744073709551615", "1.8446744073709552e19"),
    (
        "0o777777777777777777777777",
        "\"0o777777777777777777777777\"",
    ),
    ("+.nan", "\"+.nan\""),
    ("-.nan", "\"-.nan\""),
    (".Nan", "\".Nan\""),
    ("Infinity", "\"Infinity\""),
    ("+inf", "\"+inf\""),
    ("123abc", "\"123abc\""),
    // Timestamps: go-yaml v3 makes a time, JSON prints it in RFC 3339.
    ("2026-01-01", "\"2026-01-01T00:00:00Z\""),
    ("2026-1-1", "\"2026-01-01T00:00:00Z\""),
    ("2026-01-01t10:00:00Z", "\"2026-01-01T10:00:00Z\""),
    ("2026-01-01T1:2:3Z", "\"2026-01-01T01:02:03Z\""),
    ("2026-01-01T10:00:00+02:00", "\"2026-01-01T10:00:00+02:00\""),
    ("2026-01-01T10:00:00-00:00", "\"2026-01-01T10:00:00Z\""),
    (
        "2001-12-14t21:59:43.10-05:00",
        "\"2001-12-14T21:59:43.1-05:00\"",
    ),
    ("2026-01-01T10:00:00.500Z", "\"2026-01-01T10:00:00.5Z\""),
    ("2026-01-01T10:00:00.000Z", "\"2026-01-01T10:00:00Z\""),
    (
        "2026-01-01T10:00:00.123456789123Z",
        "\"2026-01-01T10:00:00.123456789Z\"",
    ),
    ("2026-01-01 10:00:00.5", "\"2026-01-01T10:00:00.5Z\""),
    ("2026-01-01   10:00:00", "\"2026-01-01T10:00:00Z\""),
    ("2024-02-29", "\"2024-02-29T00:00:00Z\""),
    ("0001-01-01", "\"0001-01-01T00:00:00Z\""),
    ("2026-01-01T10:00:00,5Z", "\"2026-01-01T10:00:00.5Z\""),
    // Not timestamps to Go: left as written.
    ("2026-01-01T10:00:00", "\"2026-01-01T10:00:00\""),
    ("2026-01-01 10:00:00Z", "\"2026-01-01 10:00:00Z\""),
    ("2026-01-01T10:00:00+0200", "\"2026-01-01T10:00:00+0200\""),
    ("2026-01-01T10:00:00+02", "\"2026-01-01T10:00:00+02\""),
    ("2001-12-14 21:59:43.10 -5", "\"2001-12-14 21:59:43.10 -5\""),
    ("2026-02-30", "\"2026-02-30\""),
    ("2025-02-29", "\"2025-02-29\""),
    ("2026-13-01", "\"2026-13-01\""),
    ("2026-001-01", "\"2026-001-01\""),
    ("2026-01-01T10:00:00z", "\"2026-01-01T10:00:00z\""),
    ("2026-01-01T10:00:60Z", "\"2026-01-01T10:00:60Z\""),
    ("2026-01-01T10:00:00.Z", "\"2026-01-01T10:00:00.Z\""),
    ("2026-01-01T10:00:00 Z", "\"2026-01-01T10:00:00 Z\""),
    ("2026-01-01T10:00:00+25:00", "\"2026-01-01T10:00:00+25:00\""),
    ("2026-01-01T10:00:00+23:61", "\"2026-01-01T10:00:00+23:61\""),
    ("2026-01-01T24:00:00Z", "\"2026-01-01T24:00:00Z\""),
    ("12026-01-01", "\"12026-01-01\""),
    ("\"2026-01-01\"", "\"2026-01-01\""),
    // YAML 1.1's merge and value keys are plain strings as values.
    ("<<", "\"<<\""),
    ("=", "\"=\""),
    // Tags.
    ("!!str 0755", "\"0755\""),
    ("!!str", "\"\""),
    ("!!str 1", "\"1\""),
    ("!!str true", "\"true\""),
    ("!!int \"12\"", "12"),
    ("!!float \"1\"", "1"),
    ("!!null \"\"", "null"),
    ("!!timestamp 2026-01-01", "\"2026-01-01T00:00:00Z\""),
    ("!foo 12", "\"12\""),
    ("!foo {a: 1}", "{\"a\": 1}"),
    // Block scalars are strings.
    ("|\n  0755", "\"0755\\n\""),
    (">-\n  on", "\"on\""),
];

#[test]
fn plain_scalars_read_as_kustomize_reads_them() {
    for (text, expected) in TABLE {
        let expected: Value = serde_json::from_str(expected).unwrap();
        assert_eq!(read(text), Ok(expected), "reading {text:?}");
    }
}

#[test]
fn scalars_json_cannot_hold_or_tags_that_do_not_fit_are_errors() {
    // kubectl kustomize: "json: unsupported value: +Inf"; "cannot decode
    // !!str `yes` as a !!bool".
    for text in [
        ".inf",
        "-.Inf",
        "+.INF",
        ".nan",
        ".NaN",
        "!!bool \"yes\"",
        "!!int x",
        "!!null x",
        "!!binary aGk=",
    ] {
        let err = read(text).unwrap_err();
        assert!(
            err.starts_with("t.yaml:1:4: invalid YAML: "),
            "{text}: {err}"
        );
    }
}

#[test]
fn keys_keep_their_text() {
    // kubectl kustomize prints the keys of `1.5: f`, `2026-01-01: d`,
    // `on: x` and `1: y` as "1.5", "2026-01-01", "on" and "1".
    let text = "1.5: f\n2026-01-01: d\non: x\n1: y\n0755: z\n\"q\": q\n";
    let (value, _) = &parse_yaml_documents(text, Path::new("t.yaml")).unwrap()[0];
    assert_eq!(
        value,
        &json!({"1.5": "f", "2026-01-01": "d", "on": "x", "1": "y", "0755": "z", "q": "q"})
    );
}

#[test]
fn duplicate_keys_and_alias_bombs_are_errors() {
    let err = parse_yaml_documents("a: 1\nb: 2\na: 3\n", Path::new("t.yaml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.yaml:3:1: invalid YAML: duplicate mapping key `a`"
    );
    let mut bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n".to_string();
    for i in 1..8 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let err = parse_yaml_documents(&bomb, Path::new("t.yaml")).unwrap_err();
    assert!(err.to_string().contains("too many nodes"), "{err}");
}

/// The table against the real tool, where `kubectl` is installed.
#[test]
fn table_matches_kubectl_kustomize() {
    let Some(built) = kubectl_kustomize(TABLE) else {
        println!("skipped: `kubectl kustomize` is not available");
        return;
    };
    for (index, (text, _)) in TABLE.iter().enumerate() {
        let theirs = &built["data"][format!("k{index:03}")];
        assert_eq!(&read(text).unwrap(), theirs, "reading {text:?}");
    }
}

/// Builds a ConfigMap holding `k000: <scalar>`... with `kubectl kustomize`
/// and reads its output.
fn kubectl_kustomize(table: &[(&str, &str)]) -> Option<Value> {
    let dir = tempfile::tempdir().ok()?;
    let mut cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\ndata:\n".to_string();
    for (index, (text, _)) in table.iter().enumerate() {
        let text = text.replace('\n', "\n  ");
        cm.push_str(&format!("  k{index:03}: {text}\n"));
    }
    std::fs::write(dir.path().join("cm.yaml"), cm).ok()?;
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "resources: [cm.yaml]\n",
    )
    .ok()?;
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .ok()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    Some(
        parse_yaml_documents(&text, Path::new("out.yaml")).unwrap()[0]
            .0
            .clone(),
    )
}

/// Strings that some reader would take for something else, or that need
/// quoting or a block scalar to survive.
const TRICKY: &[&str] = &[
    "",
    " ",
    "  lead",
    "trail ",
    "\ttab",
    "tab\t",
    "a\tb",
    "y",
    "Y",
    "yes",
    "No",
    "on",
    "OFF",
    "n",
    "true",
    "False",
    "~",
    "null",
    "NULL",
    "0755",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "+12",
    "-0",
    "1:30",
    "1:30.5",
    "190:20:30",
    "1.5",
    "1.",
    ".5",
    "1e3",
    "1.0e+3",
    ".inf",
    "-.Inf",
    ".NaN",
    "1.2.3",
    ".",
    "2026-01-01",
    "2026-1-1",
    "2001-12-14 21:59:43.10 -5",
    "2026-01-01T10:00:00Z",
    "<<",
    "=",
    "- item",
    "-",
    "--",
    "---",
    "--- x",
    "...",
    "? q",
    "?",
    ": v",
    ":",
    "a: b",
    "a:",
    "a #b",
    "#c",
    "&anchor",
    "*alias",
    "!tag",
    "|",
    ">",
    "'",
    "\"",
    "%YAML",
    "@at",
    "`tick",
    "{",
    "}",
    "[",
    "]",
    ",",
    "a,b",
    "[a]",
    "{a: 1}",
    "line\n",
    "two\nlines",
    "two\nlines\n",
    "kept\n\n",
    "\nlead newline",
    "\n",
    "\n\n",
    " x\ny",
    "x\n y",
    "x \ny",
    "x\ny ",
    "tab\tin\nblock",
    "\ttab first\nline",
    "cr\r\nlf",
    "nel\u{85}x",
    "ls\u{2028}x",
    "bom\u{feff}x",
    "bell\u{7}",
    "del\u{7f}",
    "c1\u{9b}",
    "é",
    "日本語",
    "emoji 🎉",
    "quote\"d",
    "back\\slash",
    "it's",
    "a: b\nc: d\n",
    "0755\n",
    "- a\n- b\n",
    "#!/bin/sh\necho hi\n",
    "key=value",
    "a=b",
    "-1",
    "+1",
    "- 1",
    "1 ",
    " 1",
    "%",
    "@",
    "!",
    "&",
    "*",
    "x\u{0}y",
    "ends with colon:",
    "1e",
    "0x",
    "0b",
    "0o",
];

fn tricky_object(strings: &[String]) -> Value {
    let mut map = Map::new();
    map.insert("list".to_string(), json!(strings));
    let mut by_key = Map::new();
    for (index, s) in strings.iter().enumerate() {
        // Keys too, made unique.
        let key = if by_key.contains_key(s.as_str()) {
            format!("{s}{index}")
        } else {
            s.clone()
        };
        by_key.insert(key, json!({ "v": s, "l": [s, [s]] }));
    }
    map.insert("map".to_string(), Value::Object(by_key));
    Value::Object(map)
}

/// A small deterministic generator: mixes of the tricky strings'
/// characters, indicators, spaces, newlines and unicode.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            "1",
            "7",
            "9",
            "_",
            ".",
            ":",
            "-",
            "+",
            "e",
            "x",
            "o",
            "b",
            " ",
            "  ",
            "\n",
            "\t",
            "#",
            "&",
            "*",
            "!",
            "|",
            ">",
            "'",
            "\"",
            "%",
            "@",
            "`",
            "{",
            "}",
            "[",
            "]",
            ",",
            "?",
            "~",
            "=",
            "<<",
            "é",
            "日",
            "\u{85}",
            "\u{2028}",
            "\r",
            "\u{1}",
            "\\",
            "on",
            "yes",
            "null",
            "true",
            ".inf",
            "2026-01-01",
            "T",
            "Z",
            "---",
            "...",
        ];
        let len = self.next() % 6;
        (0..len)
            .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
            .collect()
    }
}

fn generated() -> Vec<String> {
    let mut mix = Mix(0x9e37_79b9_7f4a_7c15);
    let mut strings: Vec<String> = TRICKY.iter().map(ToString::to_string).collect();
    strings.extend((0..1000).map(|_| mix.string()));
    strings
}

/// YAML 1.2 core schema patterns for plain scalars that are not strings.
fn core_12_non_string(s: &str) -> bool {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
        r"^(null|Null|NULL|~||true|True|TRUE|false|False|FALSE|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN)$",
    )
    .unwrap()
    });
    RE.is_match(s)
}

#[test]
fn written_strings_read_back_as_the_same_strings() {
    let strings = generated();
    let object = tricky_object(&strings);
    let text = to_yaml(std::slice::from_ref(&object));
    let back = parse_yaml_documents(&text, Path::new("w.yaml"))
        .unwrap_or_else(|err| panic!("{err}\n{text}"));
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].0, object, "{text}");
    // Each plain scalar written is a string to YAML 1.2 core too (values
    // only: keys are strings anyway).
    for event in Parser::new_from_str(&text) {
        if let (Event::Scalar(s, ScalarStyle::Plain, _, _), _) = event.unwrap() {
            assert!(!core_12_non_string(&s), "{s:?} written plain");
        }
    }
}

#[test]
fn writing_quotes_what_other_readers_would_retype() {
    let object = json!({
        "on": "on", "mode": "0755", "date": "2026-01-01", "empty": "", "time": "1:30",
        "<<": "=", "cmd": ["--verbose", "- x", "a: b"], "n": 1, "f": 1.5, "one": 1.0,
        "big": 1e20, "small": 1.5e-7, "none": null, "yes": true, "e": {}, "l": [],
        "script": "#!/bin/sh\necho hi\n", "nl": "a\nb", "keep": "a\n\n", "lead": " a\nb",
    });
    assert_eq!(
        to_yaml_document(&object),
        r#""on": "on"
mode: "0755"
date: "2026-01-01"
empty: ""
time: "1:30"
"<<": "="
cmd:
- --verbose
- "- x"
- "a: b"
"n": 1
f: 1.5
one: 1.0
big: 1.0e+20
small: 1.5e-7
none: null
"yes": true
e: {}
l: []
script: |
  #!/bin/sh
  echo hi
nl: |-
  a
  b
keep: |+
  a

lead: " a\nb"
"#
    );
}

#[test]
fn nested_layout() {
    let object =
        json!({"a": [{"b": 1, "c": [1, [2, 3]]}, [{"d": "x\ny\n"}]], "m": {"k": {"j": []}}});
    assert_eq!(
        to_yaml_document(&object),
        "a:\n- b: 1\n  c:\n  - 1\n  - - 2\n    - 3\n- - d: |\n      x\n      y\nm:\n  k:\n    j: []\n"
    );
}

/// PyYAML, a YAML 1.1 reader, where python3 has it.
#[test]
fn pyyaml_reads_written_strings_back() {
    let strings = generated();
    let object = tricky_object(&strings);
    let text = to_yaml(&[object.clone(), json!({"fixed": TRICKY})]);
    let script = "import sys, json\ntry:\n    import yaml\nexcept ImportError:\n    sys.exit(3)\n\
                  print(json.dumps(list(yaml.safe_load_all(sys.stdin))))\n";
    let child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("skipped: no python3");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.code() == Some(3) {
        println!("skipped: python3 has no yaml module");
        return;
    }
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(theirs, json!([object, {"fixed": TRICKY}]));
}

/// Kubernetes' own decoder (sigs.k8s.io/yaml over go-yaml v2, YAML 1.1),
/// through `kubectl label --local`, where `kubectl` is installed.
#[test]
fn kubectl_reads_written_strings_back() {
    let strings = generated();
    let data: Map<String, Value> = strings
        .iter()
        .enumerate()
        .map(|(index, s)| (format!("k{index:04}"), json!(s)))
        .collect();
    let cm =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t"}, "data": data});
    let Ok(dir) = tempfile::tempdir() else { return };
    let file = dir.path().join("cm.yaml");
    std::fs::write(&file, to_yaml_document(&cm)).unwrap();
    let Ok(output) = Command::new("kubectl")
        .args(["label", "--local", "-o", "json", "-f"])
        .arg(&file)
        .arg("rekon=test")
        .output()
    else {
        println!("skipped: `kubectl` is not available");
        return;
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(theirs["data"], cm["data"]);
}

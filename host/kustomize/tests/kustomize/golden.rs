//! Golden cases: trees under `tests/golden/<case>/input/` with what
//! `kubectl kustomize` printed for them, recorded by `tests/golden.sh`.
//!
//! `input/` is both rekon's source root and the build path, so a case's
//! bases, components and patches live inside it. `expected.yaml` holds
//! kubectl's output, compared as parsed objects in order (see
//! [`crate::oracle`]); `expected-error.txt` means kubectl refused the tree,
//! and rekon must refuse it too (its message is kept for information only).
//!
//! Cases rekon cannot build like kubectl yet are listed in [`PENDING`] with
//! the feature they wait for: the test expects them to differ and fails when
//! one starts to agree, so whoever lands a feature removes its cases here.

use std::path::{Path, PathBuf};

use crate::oracle::{self, Outcome};

/// (case, what it waits for). Keep sorted by case.
const PENDING: &[(&str, &str)] = &[(
    "labels-overlay-relabels-base-selector",
    "kustomize relabels the selectors a base's labels shared a value with",
)];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// kubectl's recorded outcome for a case.
fn expected(case: &Path) -> Outcome {
    let yaml = case.join("expected.yaml");
    let error = case.join("expected-error.txt");
    if let Ok(text) = std::fs::read_to_string(&yaml) {
        let objects = oracle::parse_kubectl(&text, &yaml.display().to_string())
            .unwrap_or_else(|err| panic!("{err}"));
        Outcome::Objects(objects)
    } else if let Ok(text) = std::fs::read_to_string(&error) {
        Outcome::Error(text)
    } else {
        panic!(
            "{}: neither expected.yaml nor expected-error.txt; run tests/golden.sh",
            case.display()
        )
    }
}

#[test]
fn golden_cases_build_as_kubectl_built_them() {
    let mut cases: Vec<String> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    for (case, _) in PENDING {
        assert!(
            cases.iter().any(|c| c == case),
            "PENDING names {case}, which is not a case"
        );
    }

    let mut failures = Vec::new();
    let (mut passed, mut pending) = (0, 0);
    for case in &cases {
        let dir = golden_dir().join(case);
        let difference = oracle::compare(&expected(&dir), &oracle::rekon(&dir.join("input")));
        match (PENDING.iter().find(|(c, _)| c == case), difference) {
            (None, None) => passed += 1,
            (None, Some(report)) => failures.push(format!("{case}: {report}")),
            (Some(_), Some(_)) => pending += 1,
            (Some((_, feature)), None) => failures.push(format!(
                "{case}: now builds as kubectl does; remove it from PENDING (it waited for {feature})"
            )),
        }
    }
    println!(
        "golden: {passed} passed, {pending} pending, {} failed, of {}",
        failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

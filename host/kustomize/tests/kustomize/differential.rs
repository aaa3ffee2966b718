//! Differential test: random kustomization trees built by rekon and by
//! `kubectl kustomize`, compared as parsed objects (see [`crate::oracle`]).
//! When kubectl refuses a tree rekon must refuse it too, and the other way
//! round.
//!
//! Skipped, with one printed line, where kubectl is not installed (`$KUBECTL`
//! names another binary). `REKON_KUSTOMIZE_TREES` sets the number of trees
//! (default 300, what CI runs) and `REKON_KUSTOMIZE_SEED` the first tree's
//! seed (default 1; tree `i` uses seed + i, so one tree is replayed with its
//! seed and `REKON_KUSTOMIZE_TREES=1`). `REKON_KUSTOMIZE_FEATURES=all`
//! enables every feature, to see what the pending ones would find.
//!
//! A mismatch prints the tree, both outputs and the first difference, and
//! writes the tree to `<target>/kustomize-diff/seed-N/input/`, ready to be
//! copied to `tests/golden/<case>/input/` (then run `tests/golden.sh`).
//!
//! Random trees use every feature but those in [`LEFT_OUT`]: the ones rekon
//! does not build like kubectl yet, each with a note; whoever lands one
//! removes it there (and the golden cases it fixes from `PENDING` in
//! [`crate::golden`]).

mod generate;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::oracle;
use generate::Feature;

/// Features random trees leave out, and why:
/// * `Relabel`: kubectl's labels without selectors change the selectors an
///   earlier label of the same key set (golden
///   `labels-overlay-relabels-base-selector`).
const LEFT_OUT: &[Feature] = &[Feature::Relabel];

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
        Err(_) => default,
    }
}

/// Where mismatching trees are written: next to cargo's test scratch
/// directory, in the target directory.
fn diff_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the scratch directory is inside the target directory")
        .join("kustomize-diff")
}

/// Builds one tree both ways; a report when they disagree.
fn check(seed: u64, features: &[Feature]) -> Option<String> {
    let files = generate::tree(seed, features);
    let scratch = tempfile::tempdir().unwrap();
    write_tree(scratch.path(), &files);
    let kubectl = oracle::kubectl(scratch.path());
    let rekon = oracle::rekon(scratch.path());
    let difference = oracle::compare(&kubectl, &rekon)?;
    let saved = diff_dir().join(format!("seed-{seed}"));
    let _ = std::fs::remove_dir_all(&saved);
    write_tree(&saved.join("input"), &files);
    std::fs::write(saved.join("kubectl.txt"), kubectl.text()).unwrap();
    std::fs::write(saved.join("rekon.txt"), rekon.text()).unwrap();
    Some(format!(
        "===== seed {seed}: mismatch (tree saved in {})\n{}\n----- kubectl\n{}\n----- rekon\n{}\n----- first difference\n{difference}",
        saved.display(),
        oracle::describe_tree(scratch.path()),
        kubectl.text(),
        rekon.text(),
    ))
}

fn write_tree(dir: &Path, files: &[(String, String)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn random_trees_build_as_kubectl_builds_them() {
    let Some(version) = oracle::kubectl_version() else {
        println!("differential: skipped, no kubectl to run (set KUBECTL or install kubectl)");
        return;
    };
    let trees = env_number("REKON_KUSTOMIZE_TREES", 300);
    let first = env_number("REKON_KUSTOMIZE_SEED", 1);
    let features: Vec<Feature> =
        if std::env::var("REKON_KUSTOMIZE_FEATURES").as_deref() == Ok("all") {
            Feature::ALL.to_vec()
        } else {
            Feature::ALL
                .iter()
                .copied()
                .filter(|f| !LEFT_OUT.contains(f))
                .collect()
        };
    println!("differential: {trees} trees from seed {first} with {version}");

    let started = Instant::now();
    let next = AtomicU64::new(0);
    let mismatches = Mutex::new(Vec::new());
    // kubectl runs as a child process, so a few more threads than cores keep
    // both cores busy while others wait on it.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= trees {
                    break;
                }
                if let Some(report) = check(first + i, &features) {
                    mismatches.lock().unwrap().push((first + i, report));
                }
            });
        }
    });
    let mut mismatches = mismatches.into_inner().unwrap();
    mismatches.sort();
    println!(
        "differential: {} of {trees} trees differ ({:.1} s)",
        mismatches.len(),
        started.elapsed().as_secs_f64()
    );
    for (_, report) in &mismatches {
        println!("{report}");
    }
    let seeds: Vec<String> = mismatches
        .iter()
        .map(|(seed, _)| seed.to_string())
        .collect();
    assert!(
        mismatches.is_empty(),
        "mismatching seeds: {}",
        seeds.join(", ")
    );
}

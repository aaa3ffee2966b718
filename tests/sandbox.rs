//! Hostile and broken plugins are stopped or refused with a clear error, and
//! a good plugin keeps working after each of them.

use crate::support;

use std::time::{Duration, Instant};

use rekon::plugin::{CallFailure, Limits, PluginError, PluginSource};
use serde_json::json;

fn deployment() -> String {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "website"},
           "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    .to_string()
}

fn hostile(limits: Limits) -> rekon::plugin::Plugin {
    support::load("hostile_plugin", limits)
}

/// The same hostile plugin, asked to behave, still works: no state leaks
/// from a failed call into the next.
fn assert_still_works(plugin: &rekon::plugin::Plugin) {
    let input = vec![deployment()];
    let out = plugin
        .mutate(&json!({"mode": "ok"}), &input)
        .expect("a good call after a bad one");
    assert!(out.replaced.is_empty() && out.removed.is_empty() && out.added.is_empty());
}

fn call_failure(mode: &str, limits: Limits) -> (CallFailure, Duration, rekon::plugin::Plugin) {
    let plugin = hostile(limits);
    let started = Instant::now();
    let err = plugin
        .mutate(&json!({ "mode": mode }), &[deployment()])
        .unwrap_err();
    let elapsed = started.elapsed();
    let PluginError::Call {
        plugin: name,
        export,
        failure,
    } = err
    else {
        panic!("expected a call failure, got {err}")
    };
    assert_eq!(name, "hostile-plugin");
    assert_eq!(export, "mutate");
    (failure, elapsed, plugin)
}

#[test]
fn an_endless_loop_is_stopped_at_the_deadline() {
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let (failure, elapsed, plugin) = call_failure("loop", limits);
    assert_eq!(failure, CallFailure::Timeout { timeout_ms: 200 });
    assert!(failure.to_string().contains("deadline of 200 ms exceeded"));
    assert!(
        elapsed < Duration::from_secs(5),
        "stopped after {elapsed:?}"
    );
    assert_still_works(&plugin);
}

#[test]
fn unbounded_allocation_hits_the_memory_cap() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let (failure, _, plugin) = call_failure("alloc", limits);
    let CallFailure::MemoryCap {
        cap_mib,
        requested_mib,
        ..
    } = &failure
    else {
        panic!("expected the memory cap, got {failure}")
    };
    assert_eq!(*cap_mib, 16);
    assert!(*requested_mib >= 16, "{failure}");
    assert_still_works(&plugin);
}

#[test]
fn a_trap_is_reported_with_a_symbolized_backtrace() {
    let (failure, _, plugin) = call_failure("trap", Limits::default());
    let CallFailure::Trap {
        reason, backtrace, ..
    } = &failure
    else {
        panic!("expected a trap, got {failure}")
    };
    assert!(reason.contains("unreachable"), "{reason}");
    // Frames are demangled: Rust paths without their hash, no `_ZN...E`.
    assert_eq!(
        backtrace.first().map(String::as_str),
        Some("hostile_plugin::trap"),
        "{backtrace:?}"
    );
    assert!(
        backtrace
            .iter()
            .any(|f| f.starts_with("<hostile_plugin::Hostile as ") && f.ends_with(">::mutate")),
        "{backtrace:?}"
    );
    assert!(
        !backtrace.iter().any(|f| f.contains("_ZN")),
        "mangled frame in {backtrace:?}"
    );
    assert_still_works(&plugin);
}

#[test]
fn a_panic_message_reaches_the_error() {
    let (failure, _, plugin) = call_failure("panic", Limits::default());
    let text = failure.to_string();
    assert!(
        text.contains("hostile plugin panicked on purpose"),
        "{text}"
    );
    // The whole message, as `rekon` prints it, has readable frames.
    assert!(text.contains("core::panicking::panic_fmt"), "{text}");
    assert!(!text.contains("_ZN"), "{text}");
    assert_still_works(&plugin);
}

#[test]
fn a_huge_result_is_refused() {
    let limits = Limits {
        max_output_bytes: 1 << 20,
        memory_bytes: 128 << 20,
        ..Limits::default()
    };
    let (failure, _, plugin) = call_failure("huge", limits);
    let CallFailure::OutputTooLarge { bytes, cap } = failure else {
        panic!("expected output cap, got {failure}")
    };
    assert_eq!(cap, 1 << 20);
    assert!(bytes > cap);
    assert_still_works(&plugin);
}

#[test]
fn a_log_flood_is_cut_and_the_call_still_succeeds() {
    let plugin = hostile(Limits::default());
    let input = vec![deployment()];
    let out = plugin
        .mutate(&json!({"mode": "log-flood"}), &input)
        .unwrap();
    assert!(out.replaced.is_empty() && out.removed.is_empty() && out.added.is_empty());
}

#[test]
fn imports_the_host_does_not_grant_are_refused_at_load() {
    let err = support::runtime()
        .load(&PluginSource {
            name: "greedy".into(),
            path: support::wasm("greedy_plugin"),
            sha256: None,
            limits: Limits::default(),
        })
        .expect_err("greedy plugin must be refused");
    let text = err.to_string();
    assert!(
        matches!(err, PluginError::ImportNotGranted { .. }),
        "{text}"
    );
    assert!(
        text.contains("plugin `greedy`") && text.contains("evil:net/socket"),
        "{text}"
    );
}

#[test]
fn another_minor_contract_is_refused_naming_both_versions() {
    let err = support::runtime()
        .load(&PluginSource {
            name: "future".into(),
            path: support::wasm("future_contract_plugin"),
            sha256: None,
            limits: Limits::default(),
        })
        .expect_err("a 0.3 plugin must be refused");
    let text = err.to_string();
    assert!(
        text.contains(
            "built against contract rekon:plugin@0.3.0, but this host speaks rekon:plugin@0.2.0"
        ),
        "{text}"
    );
}

#[test]
fn non_components_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let text_file = dir.path().join("notes.wasm");
    std::fs::write(&text_file, b"hello").unwrap();
    let load = |path: &std::path::Path| {
        support::runtime()
            .load(&PluginSource {
                name: "bad".into(),
                path: path.to_path_buf(),
                sha256: None,
                limits: Limits::default(),
            })
            .err()
            .unwrap()
            .to_string()
    };
    let e = load(&core);
    assert!(
        e.contains("plugin `bad`") && e.contains("core WebAssembly module, not a component"),
        "{e}"
    );
    let e = load(&text_file);
    assert!(e.contains("not a WebAssembly file"), "{e}");
    let e = load(&dir.path().join("missing.wasm"));
    assert!(
        e.contains("cannot read") && e.contains("missing.wasm"),
        "{e}"
    );
}

#[test]
fn a_pinned_digest_must_match() {
    let err = support::runtime()
        .load(&PluginSource {
            name: "pinned".into(),
            path: support::wasm("hostile_plugin"),
            sha256: Some("sha256:00ff".into()),
            limits: Limits::default(),
        })
        .err()
        .unwrap();
    assert!(matches!(err, PluginError::DigestMismatch { .. }), "{err}");
}

#[test]
fn invalid_settings_are_refused_naming_the_plugin() {
    let plugin = support::load("readiness_probe", Limits::default());
    let err = plugin
        .check_settings(&json!({"readinessProbe": {"initialDelaySeconds": "soon"}}))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("plugin `readiness-probe`: settings refused:"),
        "{err}"
    );
    assert!(err.contains("initialDelaySeconds"), "{err}");
}

#[test]
fn a_mutator_cannot_be_used_as_an_image_policy() {
    let plugin = hostile(Limits::default());
    let err = plugin.rank(&json!({}), "r", &[]).unwrap_err().to_string();
    assert!(err.contains("implements the manifest-mutator world, but is configured as a plugin of the image-policy world"), "{err}");
}

#[test]
fn files_env_args_and_sockets_are_denied() {
    let plugin = hostile(Limits::default());
    let err = plugin
        .mutate(&json!({"mode": "escape"}), &[deployment()])
        .unwrap_err()
        .to_string();
    // The plugin reports every attempt; none may have got through.
    for attempt in [
        "list-root",
        "list-cwd",
        "read-passwd",
        "tcp-connect",
        "env",
        "args",
    ] {
        assert!(
            err.contains(&format!("{attempt}=denied")),
            "{attempt}: {err}"
        );
    }
    assert!(!err.contains("ALLOWED"), "{err}");
    assert_still_works(&plugin);
}

/// Pool slots keep the pages a finished call wrote resident for the next
/// call (`plugin::engine`): whatever an earlier call left there must be gone.
/// The `residue` mode counts the non-zero bytes of 4 MiB it takes straight
/// from `memory.grow` and then fills them; each call of the same input grows
/// at the same place, so the next call reads the pages the last one filled.
#[test]
fn memory_kept_resident_between_calls_is_zeroed() {
    // A runtime of its own: the shared one's pool serves other tests at the
    // same time, and its resident bytes would be theirs too.
    let runtime = rekon::plugin::Runtime::new(rekon::plugin::RuntimeOptions {
        cache_dir: Some(support::repo().join("target/rekon-test-cache")),
        ..Default::default()
    })
    .unwrap();
    let plugin = runtime
        .load(&PluginSource {
            name: "hostile-plugin".into(),
            path: support::wasm("hostile_plugin"),
            sha256: None,
            limits: Limits::default(),
        })
        .unwrap();
    let residue = || {
        let changes = plugin
            .mutate(&json!({"mode": "residue"}), &[deployment()])
            .unwrap();
        let object: serde_json::Value = serde_json::from_str(&changes.replaced[0].object).unwrap();
        let annotation = |key: &str| {
            object["metadata"]["annotations"][key]
                .as_str()
                .unwrap()
                .to_owned()
        };
        (
            annotation("hostile.rekon.dev/residue"),
            annotation("hostile.rekon.dev/residue-at"),
        )
    };
    let (first, at) = residue();
    assert_eq!(first, "0", "the first call's memory");
    if runtime.keeps_memory_resident() {
        let kept = runtime.resident_memory_bytes();
        assert!(
            kept >= 4 << 20,
            "the 4 MiB the call filled should be kept resident, {kept} bytes are"
        );
    } else {
        eprintln!(
            "this kernel has no PAGEMAP_SCAN (Linux 6.7+): no memory is kept resident, \
             so this only checks that each call starts from zeroed memory"
        );
    }
    for call in 2..=4 {
        let (count, page) = residue();
        // Same pages as the first call, or the check would prove nothing.
        assert_eq!(page, at, "call {call} grew memory elsewhere");
        assert_eq!(count, "0", "call {call} saw bytes an earlier call wrote");
    }
}

/// A plugin on the SDK's bump allocator starts with its 8 MiB arena in its
/// initial memory (plugins/sdk/src/alloc.rs), so a memory cap below that
/// refuses it when it is loaded, saying what it asked for; at 10 MiB it runs.
#[test]
fn a_cap_below_a_bump_plugins_arena_is_refused_at_load() {
    let source = |mib: usize| PluginSource {
        name: "readiness-probe".into(),
        path: support::wasm("readiness_probe"),
        sha256: None,
        limits: Limits {
            memory_bytes: mib << 20,
            ..Limits::default()
        },
    };
    let err = support::runtime().load(&source(8)).unwrap_err();
    let PluginError::Call {
        plugin, failure, ..
    } = &err
    else {
        panic!("expected a call failure, got {err}")
    };
    assert_eq!(plugin, "readiness-probe");
    let CallFailure::MemoryCap {
        cap_mib,
        requested_mib,
        ..
    } = failure
    else {
        panic!("expected the memory cap, got {failure}")
    };
    assert_eq!((*cap_mib, *requested_mib), (8, 10), "{err}");
    let plugin = support::runtime().load(&source(10)).unwrap();
    let out = plugin
        .mutate(
            &json!({"readinessProbe": {"initialDelaySeconds": 10}}),
            &[deployment()],
        )
        .unwrap();
    assert!(
        out.replaced.is_empty(),
        "the Deployment has no probe to tune"
    );
}

//! `rekon run` end to end, with real parts (tests/support/world.rs): a tag
//! pushed to Debian's `docker-registry` and announced by a Harbor webhook
//! ends as a commit in a bare repository served by `git daemon` and as the
//! Deployment applied to the API server double; plugin files are swapped and
//! broken while rekon runs; SIGTERM and SIGKILL are survived.
//!
//! Also the plugin swap gate on its own ([`PluginSet`]), without servers.

use crate::support;

use std::time::Duration;

use rekon::config::Config;
use rekon::daemon::{PluginEvent, PluginSet};
use rekon::render::Renderer;
use rekon::source::Roots;
use rekon::status::StatusBoard;
use serde_json::json;
use support::registry::free_port;
use support::registry::{ABC, DEF};
use support::world::{
    git, harbor_push, http, replace, status_at, terminate, World, DEPLOYMENT, TOKEN,
};

#[test]
fn rekon_run_reconciles_from_tag_push_to_applied_and_swaps_plugins_live() {
    let Some(world) = World::new() else { return };
    let mut rekon = world.start();

    // Start: the source is fetched, the scan picks the newest arm64 tag
    // (ABC; FFF is amd64 only), automation pushes it, and the push is applied.
    world.wait("the frontend runs ABC", || world.image().ends_with(ABC));
    assert_eq!(world.stamp(), "v1");
    let status = world.status().unwrap();
    assert_eq!(status["ready"], true);
    assert_eq!(status["images"]["flux-system:frontend"]["revision"], ABC);
    world.wait("ingress is applied after frontend", || {
        world.item("kustomizations", "ingress")["ready"] == true
    });
    assert_eq!(
        status["plugins"]["image-validator"]["ready"], true,
        "{status:#}"
    );

    // A wrong token triggers nothing.
    let (code, _) = http(
        world.listen,
        "POST",
        "/hook/harbor",
        &[("Authorization", "nope")],
        &harbor_push(DEF),
    );
    assert_eq!(code, 401);

    // Push DEF and deliver Harbor's webhook: scan, commit, push, fetch, apply.
    let before = world.head();
    world.registry.push(DEF, &["arm64", "amd64"]);
    let (code, body) = http(
        world.listen,
        "POST",
        "/hook/harbor",
        &[("Authorization", TOKEN)],
        &harbor_push(DEF),
    );
    assert_eq!(code, 202, "{body}");
    assert!(body.contains("flux-system:frontend"), "{body}");
    world.wait("the frontend runs DEF", || world.image().ends_with(DEF));
    let head = world.head();
    assert_ne!(head, before);
    let message = git(
        &world.dir.path().join("remote/site.git"),
        &["log", "-1", "--format=%an %B", "main"],
    );
    assert!(
        message.starts_with("rekon-bot") && message.contains(DEF),
        "{message}"
    );
    world.wait("the kustomization reports the pushed commit", || {
        world.item("kustomizations", "frontend")["revision"] == head.as_str()
    });

    // Swap the mutator's file while rekon runs: v2 is applied, same process.
    let pid = rekon.id();
    let first_sha = world.item("plugins", "stamp")["revision"].clone();
    replace(
        &support::wasm("stamp_v2_plugin"),
        &world.dir.path().join("plugins/stamp.wasm"),
    );
    world.wait("stamp v2 is applied", || world.stamp() == "v2");
    assert!(
        rekon.try_wait().unwrap().is_none(),
        "rekon restarted or died"
    );
    assert_eq!(rekon.id(), pid);
    assert_ne!(world.item("plugins", "stamp")["revision"], first_sha);

    // A broken file is refused; the old version keeps working: a new commit
    // is applied, still stamped v2.
    let stamp_sha = world.item("plugins", "stamp")["revision"].clone();
    std::fs::write(
        world.dir.path().join("plugins/stamp.new"),
        b"\0asm not really",
    )
    .unwrap();
    std::fs::rename(
        world.dir.path().join("plugins/stamp.new"),
        world.dir.path().join("plugins/stamp.wasm"),
    )
    .unwrap();
    world.wait("the broken stamp is refused", || {
        let s = world.item("plugins", "stamp");
        s["ready"] == false && s["message"].as_str().unwrap_or("").contains("refused")
    });
    assert_eq!(world.item("plugins", "stamp")["revision"], stamp_sha);
    let clone = world.dir.path().join("clone");
    git(
        world.dir.path(),
        &["clone", "-q", &world.url(), clone.to_str().unwrap()],
    );
    let deployment = clone.join(DEPLOYMENT);
    let text = std::fs::read_to_string(&deployment).unwrap();
    let labelled = text.replacen(
        "    app: frontend\nspec:",
        "    app: frontend\n    tier: web\nspec:",
        1,
    );
    assert_ne!(labelled, text);
    std::fs::write(&deployment, labelled).unwrap();
    git(&clone, &["commit", "-q", "-am", "label the frontend"]);
    git(&clone, &["push", "-q", "origin", "main"]);
    let pushed = world.head();
    world.wait(
        "the labelled frontend is applied with the old plugin",
        || world.item("kustomizations", "frontend")["revision"] == pushed.as_str(),
    );
    assert_eq!(world.stamp(), "v2");
    assert_eq!(
        world.deployment().unwrap()["metadata"]["labels"]["tier"],
        "web"
    );

    // A version that loads fine but oversteps its grant in a render (it
    // moves objects to kube-system) is taken out of service at its first
    // render, v2 is put back, and the render applies with v2.
    replace(
        &support::wasm("stamp_v3_plugin"),
        &world.dir.path().join("plugins/stamp.wasm"),
    );
    world.wait("the overstepping stamp is rolled back", || {
        let s = world.item("plugins", "stamp");
        s["revision"] == stamp_sha
            && s["message"]
                .as_str()
                .unwrap_or("")
                .contains("overstepped its grant")
    });
    let message = world.item("plugins", "stamp")["message"].clone();
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("it moved or renamed Namespace/website to Namespace/kube-system/website")
            && message.as_str().unwrap().contains("still running"),
        "{message}"
    );
    // v2 is in service: the next commit is applied, stamped v2.
    let text = std::fs::read_to_string(&deployment).unwrap();
    std::fs::write(
        &deployment,
        text.replacen("    tier: web\n", "    tier: edge\n", 1),
    )
    .unwrap();
    git(
        &clone,
        &["commit", "-q", "-am", "move the frontend to the edge tier"],
    );
    git(&clone, &["push", "-q", "origin", "main"]);
    let pushed = world.head();
    world.wait("the next commit is applied with v2", || {
        world.item("kustomizations", "frontend")["revision"] == pushed.as_str()
    });
    assert_eq!(world.stamp(), "v2");
    assert_eq!(
        world.deployment().unwrap()["metadata"]["labels"]["tier"],
        "edge"
    );

    // Metrics count what happened.
    let (code, metrics) = http(world.listen, "GET", "/metrics", &[], "");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("rekon_plugin_calls_total{plugin=\"stamp\"}"),
        "{metrics}"
    );

    // SIGTERM: a clean exit.
    terminate(&mut rekon, || world.log());
}

#[test]
fn a_killed_rekon_carries_on_where_it_was() {
    let Some(world) = World::new() else { return };
    let mut rekon = world.start();
    world.wait("the frontend runs ABC", || world.image().ends_with(ABC));
    let head = world.head();
    world.wait("the frontend is applied at the pushed commit", || {
        world.item("kustomizations", "frontend")["revision"] == head.as_str()
    });
    rekon.kill().unwrap(); // SIGKILL
    rekon.wait().unwrap();

    // The next start finds its state (the lock is gone with the process),
    // remembers what was applied, and makes no new commit for the same tag.
    let mut again = world.start();
    world.wait("the restarted rekon is ready", || {
        world.status().is_some_and(|s| s["ready"] == true)
    });
    assert_eq!(
        world.item("kustomizations", "frontend")["revision"],
        head.as_str()
    );
    world.wait("the image is scanned again", || {
        world.item("images", "flux-system:frontend")["ready"] == true
    });
    world.wait("automation ran", || {
        world.item("automation", "git")["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("no change"))
    });
    assert_eq!(world.head(), head, "a second commit for the same tag");
    again.kill().unwrap();
    again.wait().unwrap();
}

/// Two `rekon run --leader-elect` (a Deployment's old and new pod, or two
/// replicas): only the Lease holder reconciles and is ready; when it stops,
/// the other takes over.
#[test]
fn only_the_lease_holder_reconciles_and_the_standby_takes_over() {
    let Some(world) = World::new() else { return };
    let elect = ["--leader-elect"];
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = world.spawn(&world.config_for("state-a", port_a), &elect, "a.log");
    world.wait("a leads and applies", || {
        status_at(port_a).is_some_and(|s| s["kustomizations"]["frontend"]["ready"] == true)
    });
    let mut b = world.spawn(&world.config_for("state-b", port_b), &elect, "b.log");
    world.wait("b serves", || status_at(port_b).is_some());
    // b waits: not ready (so a Service sends webhooks to the leader only),
    // nothing reconciled.
    std::thread::sleep(Duration::from_secs(2));
    let standby = status_at(port_b).unwrap();
    assert_eq!(standby["ready"], false, "{standby:#}");
    assert!(
        standby["kustomizations"]["frontend"]["last_run"].is_null(),
        "{standby:#}"
    );
    assert_eq!(http(port_b, "GET", "/readyz", &[], "").0, 503);
    let lease = world
        .api
        .object("coordination.k8s.io/v1", "Lease", "rekon-system", "rekon")
        .expect("the lease");
    let holder = lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap()
        .to_string();

    // The leader stops (SIGTERM releases the lease); b takes over.
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(a.id() as i32, libc::SIGTERM) };
    assert!(a.wait().unwrap().success());
    world.wait("b leads and applies", || {
        status_at(port_b)
            .is_some_and(|s| s["ready"] == true && s["kustomizations"]["frontend"]["ready"] == true)
    });
    let lease = world
        .api
        .object("coordination.k8s.io/v1", "Lease", "rekon-system", "rekon")
        .unwrap();
    assert_ne!(lease["spec"]["holderIdentity"].as_str().unwrap(), holder);
    b.kill().unwrap();
    b.wait().unwrap();
}

/// The swap gate without servers: a candidate must load, accept its
/// settings and pass its suite; work in flight keeps its version.
#[test]
fn plugin_versions_are_verified_before_they_replace_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stamp.wasm");
    std::fs::copy(support::wasm("stamp_v2_plugin"), &file).unwrap();
    // A suite that only v2 passes.
    std::fs::write(
        dir.path().join("stamp-test.yaml"),
        "plugin: stamp.wasm\ncases:\n  - name: stamps v2\n    objects:\n      - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n    expect:\n      objects:\n        - {apiVersion: v1, kind: ConfigMap, metadata: {name: a, annotations: {rekon.dev/stamp: v2}}}\n",
    )
    .unwrap();
    std::fs::copy(
        support::wasm("stamp_v1_plugin"),
        dir.path().join("free.wasm"),
    )
    .unwrap();
    let config_path = dir.path().join("rekon.toml");
    std::fs::write(
        &config_path,
        "[plugins.stamp]\npath = \"stamp.wasm\"\ntests = \"stamp-test.yaml\"\n\
         [plugins.free]\npath = \"free.wasm\"\n\
         [[kustomizations]]\nname = \"k\"\npath = \".\"\nmutators = [\"stamp\", \"free\"]\n",
    )
    .unwrap();
    let config = Config::load(&config_path).unwrap();
    let roots = Roots::local(&config);
    let board = StatusBoard::new();
    let runtime = std::sync::Arc::new(
        rekon::plugin::Runtime::new(rekon::plugin::RuntimeOptions {
            cache_dir: Some(support::repo().join("target/rekon-test-cache")),
            ..Default::default()
        })
        .unwrap(),
    );
    let set = PluginSet::new(runtime, &config);
    let events = set.refresh(&config, &roots, &board);
    assert!(
        matches!(
            &events[..],
            [PluginEvent::Loaded { .. }, PluginEvent::Loaded { .. }]
        ),
        "{events:?}"
    );
    let v2 = set.snapshot()["stamp"].sha256().to_string();
    assert!(
        set.refresh(&config, &roots, &board).is_empty(),
        "an unchanged file is not reloaded"
    );

    // Work that started now keeps v1 of `free` after the swap below.
    let in_flight = set.snapshot();
    replace(
        &support::wasm("stamp_v2_plugin"),
        &dir.path().join("free.wasm"),
    );
    let events = set.refresh(&config, &roots, &board);
    assert!(
        matches!(&events[..], [PluginEvent::Swapped { name, .. }] if name == "free"),
        "{events:?}"
    );
    let object =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}).to_string();
    let old = in_flight["free"]
        .mutate(&json!({}), std::slice::from_ref(&object))
        .unwrap();
    assert!(old.replaced[0].object.contains("\"v1\""), "{old:?}");
    let new = set.snapshot()["free"]
        .mutate(&json!({}), std::slice::from_ref(&object))
        .unwrap();
    assert!(new.replaced[0].object.contains("\"v2\""), "{new:?}");

    // v1 fails stamp's suite: refused, v2 stays.
    replace(&support::wasm("stamp_v1_plugin"), &file);
    let events = set.refresh(&config, &roots, &board);
    match &events[..] {
        [PluginEvent::Refused { name, reason, .. }] => {
            assert_eq!(name, "stamp");
            assert!(
                reason.contains("test suite") && reason.contains("stamps v2"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(set.snapshot()["stamp"].sha256(), v2);
    let shown = &board.snapshot().plugins["stamp"];
    assert_eq!(shown.ready, Some(false));
    assert!(
        shown.message.contains("refused") && shown.message.contains("still running"),
        "{shown:?}"
    );

    // Not a component at all: refused, v2 stays; a refused file is not retried.
    std::fs::write(&file, b"garbage").unwrap();
    let events = set.refresh(&config, &roots, &board);
    assert!(
        matches!(&events[..], [PluginEvent::Refused { reason, .. }] if reason.contains("not a WebAssembly")),
        "{events:?}"
    );
    assert!(set.refresh(&config, &roots, &board).is_empty());
    assert_eq!(set.snapshot()["stamp"].sha256(), v2);

    // Renders use what the snapshot holds.
    let k = &config.kustomizations[0];
    assert!(Renderer::with_plugins(set.snapshot(), k).is_ok());
    let mut partial = set.snapshot();
    partial.remove("free");
    let err = Renderer::with_plugins(partial, k)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("plugin `free` is not loaded"), "{err}");
}

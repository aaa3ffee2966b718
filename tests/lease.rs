//! Leader election through a Lease, and the in-cluster install manifests,
//! end to end over real HTTP against the API server double: contenders are
//! real `kube` clients reached through a kubeconfig, as two rekons on two
//! machines would be.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease as LeaseObject;
use kube::api::{Api, PostParams};
use rekon::apply::lease::{Attempt, Lease, LeaseConfig, LeaseError};
use rekon::apply::Cluster;
use rekon_apiserver_double::{ApiServer, Fault};
use serde_json::{json, Value};

const NS: &str = "rekon-system";

/// A cluster and a kubeconfig for it.
struct Site {
    dir: tempfile::TempDir,
    server: ApiServer,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let server = ApiServer::start();
        server
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        Site { dir, server }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    async fn cluster(&self) -> Cluster {
        Cluster::connect(Some(&self.path("kubeconfig")), None)
            .await
            .unwrap()
    }

    /// A contender `identity` with short timings (the double answers in
    /// microseconds; a real cluster wants client-go's 15 s / 10 s / 2 s).
    async fn contender(&self, identity: &str, lease_seconds: u64) -> Lease {
        let config = LeaseConfig {
            lease_duration: Duration::from_secs(lease_seconds),
            renew_deadline: Duration::from_millis(600),
            retry_period: Duration::from_millis(100),
            ..LeaseConfig::new(NS, "rekon", identity.into())
        };
        self.cluster().await.lease(config)
    }

    /// The stored Lease's spec.
    fn spec(&self) -> Value {
        self.server
            .object("coordination.k8s.io/v1", "Lease", NS, "rekon")
            .expect("the lease exists")["spec"]
            .clone()
    }
}

fn held_by(err: LeaseError) -> String {
    match err {
        LeaseError::Held { holder, .. } => holder,
        other => panic!("expected Held, got {other}"),
    }
}

#[tokio::test]
async fn one_contender_acquires_the_other_sees_it_and_takes_over_after_release() {
    let site = Site::new();
    let mut a = site.contender("a", 15).await;
    let mut b = site.contender("b", 15).await;

    a.acquire(Duration::ZERO).await.unwrap();
    let err = b.acquire(Duration::ZERO).await.unwrap_err();
    assert!(
        err.to_string().starts_with(
            "the lease rekon-system/rekon is held by `a` (renewed 0s ago, expires in 1"
        ),
        "{err}"
    );
    assert_eq!(held_by(err), "a");
    let spec = site.spec();
    assert_eq!(spec["holderIdentity"], "a");
    assert_eq!(spec["leaseDurationSeconds"], 15);
    assert_eq!(spec["leaseTransitions"], 0);
    assert_eq!(spec["acquireTime"], spec["renewTime"]);
    assert!(!b.is_held());

    // A renewal moves renewTime and nothing else.
    tokio::time::sleep(Duration::from_millis(5)).await;
    a.renew().await.unwrap();
    let renewed = site.spec();
    assert_eq!(renewed["acquireTime"], spec["acquireTime"]);
    assert_ne!(renewed["renewTime"], spec["renewTime"]);
    assert_eq!(renewed["leaseTransitions"], 0);

    a.release().await.unwrap();
    let released = site.spec();
    assert_eq!(released["holderIdentity"], "");
    assert_eq!(released["leaseDurationSeconds"], 1);
    assert!(!a.is_held());

    b.acquire(Duration::ZERO).await.unwrap();
    let taken = site.spec();
    assert_eq!(taken["holderIdentity"], "b");
    assert_eq!(taken["leaseDurationSeconds"], 15);
    assert_eq!(taken["leaseTransitions"], 1);
    assert_eq!(held_by(a.acquire(Duration::ZERO).await.unwrap_err()), "b");
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_by_a_waiting_contender() {
    let site = Site::new();
    let mut a = site.contender("a", 1).await;
    let mut b = site.contender("b", 1).await;
    a.acquire(Duration::ZERO).await.unwrap();
    // `a` dies without releasing: `b` waits for the lease to expire.
    drop(a);
    assert_eq!(held_by(b.acquire(Duration::ZERO).await.unwrap_err()), "a");
    let started = std::time::Instant::now();
    b.acquire(Duration::from_secs(3)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    let spec = site.spec();
    assert_eq!(spec["holderIdentity"], "b");
    assert_eq!(spec["leaseTransitions"], 1);
    assert_ne!(spec["acquireTime"], json!(null));
}

#[tokio::test]
async fn a_stale_resource_version_is_refused_and_not_applied() {
    let site = Site::new();
    let mut a = site.contender("a", 15).await;
    a.acquire(Duration::ZERO).await.unwrap();
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(site.path("kubeconfig")).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let api: Api<LeaseObject> = Api::namespaced(client, NS);
    let mut stale = api.get("rekon").await.unwrap();
    a.renew().await.unwrap();
    let before = site.spec();
    stale.spec.as_mut().unwrap().holder_identity = Some("intruder".into());
    let err = api
        .replace("rekon", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert!(
        status.message.contains("the object has been modified"),
        "{}",
        status.message
    );
    assert_eq!(site.spec(), before, "the stale write changed nothing");
    a.renew().await.unwrap();
}

#[tokio::test]
async fn the_loser_of_a_race_backs_off_and_sees_the_winner() {
    let site = Site::new();
    let mut old = site.contender("old", 1).await;
    old.acquire(Duration::ZERO).await.unwrap();
    drop(old);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Both read the expired lease; `slow`'s takeover reaches the server
    // after `fast`'s, with the resourceVersion both read.
    site.server.inject(
        Fault::delay(Duration::from_millis(400))
            .method("PUT")
            .path_contains("/leases/rekon"),
    );
    let mut slow = site.contender("slow", 15).await;
    let mut fast = site.contender("fast", 15).await;
    let (slow_try, fast_try) = tokio::join!(slow.try_acquire_or_renew(), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        fast.try_acquire_or_renew().await
    });
    assert_eq!(fast_try.unwrap(), Attempt::Held);
    assert_eq!(slow_try.unwrap(), Attempt::Contended);
    assert_eq!(site.server.faults_left(), 0);
    let puts: Vec<u16> = site
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.status)
        .collect();
    assert_eq!(puts, [200, 409], "fast's takeover, then slow's refused one");
    let spec = site.spec();
    assert_eq!(spec["holderIdentity"], "fast");
    assert_eq!(spec["leaseTransitions"], 1, "one takeover, not two");
    assert!(!slow.is_held());
    match slow.try_acquire_or_renew().await.unwrap() {
        Attempt::HeldBy(record) => assert_eq!(record.holder, "fast"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn hold_renews_while_working_and_stops_the_work_when_the_lease_is_lost() {
    let site = Site::new();
    let mut a = site.contender("a", 1).await;
    let mut b = site.contender("b", 1).await;
    a.acquire(Duration::ZERO).await.unwrap();
    let first = site.spec()["renewTime"].clone();
    // Longer than the lease: only renewals keep `b` out.
    let out = a
        .hold(async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            7
        })
        .await
        .unwrap();
    assert_eq!(out, 7);
    assert_ne!(site.spec()["renewTime"], first);
    assert_eq!(held_by(b.acquire(Duration::ZERO).await.unwrap_err()), "a");

    // Someone else takes the lease (a hand edit): the next renewal sees it
    // and the work stops.
    let now = site.spec()["renewTime"].clone();
    site.server
        .edit_as(
            "kubectl-edit",
            "coordination.k8s.io/v1",
            "Lease",
            NS,
            "rekon",
            &json!({"spec": {"holderIdentity": "intruder", "renewTime": now, "leaseDurationSeconds": 60}}),
        )
        .unwrap();
    let mut finished = false;
    let err = a
        .hold(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            finished = true;
        })
        .await
        .unwrap_err();
    assert!(!finished);
    assert!(
        matches!(&err, LeaseError::Lost { why, .. } if why == "`intruder` holds it now"),
        "{err}"
    );
    assert!(!a.is_held());
    a.release().await.unwrap();
    assert_eq!(
        site.spec()["holderIdentity"],
        "intruder",
        "a lost lease is not released"
    );
}

#[tokio::test]
async fn a_renewal_failing_past_the_deadline_loses_the_lease() {
    let site = Site::new();
    let mut a = site.contender("a", 15).await;
    a.acquire(Duration::ZERO).await.unwrap();
    site.server
        .inject(Fault::status(503).path_contains("/leases/rekon").times(100));
    let started = std::time::Instant::now();
    let err = a
        .hold(tokio::time::sleep(Duration::from_secs(10)))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        err.to_string()
            .starts_with("lost the lease rekon-system/rekon: not renewed for 600ms"),
        "{err}"
    );
}

/// `rekon` on a copy of tests/data/apply with the arguments, not waiting.
fn spawn(site: &Site, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args(args)
        .arg("--kubeconfig")
        .arg(site.path("kubeconfig"))
        .arg("--config")
        .arg(site.path("rekon.toml"))
        .env(
            "REKON_CACHE_DIR",
            support::repo().join("target/rekon-test-cache"),
        )
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn two_concurrent_leader_elected_applies_apply_once() {
    let site = Site::new();
    copy_dir(&support::repo().join("tests/data/apply"), site.dir.path());
    std::fs::write(
        site.path("rekon.toml"),
        "[[kustomizations]]\nname = \"shop\"\npath = \"site\"\ntimeout = \"5s\"\n",
    )
    .unwrap();
    // Whoever gets the lease is slowed down at its first dry-run, so the
    // other one certainly tries while the lease is held.
    site.server
        .inject(Fault::delay(Duration::from_secs(3)).dry_run(true));
    let runs = [
        spawn(&site, &["apply", "--leader-elect"]),
        spawn(&site, &["apply", "--leader-elect"]),
    ];
    let outputs: Vec<Output> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
    let (winner, loser) = match codes.as_slice() {
        [Some(0), Some(3)] => (&outputs[0], &outputs[1]),
        [Some(3), Some(0)] => (&outputs[1], &outputs[0]),
        _ => panic!(
            "{codes:?}\n{}\n{}\n{}\n{}",
            text(&outputs[0].stdout),
            text(&outputs[0].stderr),
            text(&outputs[1].stdout),
            text(&outputs[1].stderr)
        ),
    };
    assert!(
        text(&winner.stdout).starts_with("kustomization shop: 4 created"),
        "{}",
        text(&winner.stdout)
    );
    assert_eq!(text(&loser.stdout), "");
    let err = text(&loser.stderr);
    assert!(
        err.starts_with("rekon: the lease rekon-system/rekon is held by `")
            && err.contains("another rekon is applying; nothing was applied"),
        "{err}"
    );
    let deployment_writes = site
        .server
        .requests()
        .iter()
        .filter(|r| r.is_apply() && r.path.ends_with("/deployments/web"))
        .count();
    assert_eq!(deployment_writes, 1);
    let spec = site.spec();
    assert_eq!(spec["holderIdentity"], "", "released at the end");
    assert_eq!(spec["leaseTransitions"], 0);

    // The lease was released: the next run applies (nothing to change).
    let again = spawn(&site, &["apply", "--leader-elect"])
        .wait_with_output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(text(&again.stdout).starts_with("kustomization shop: 4 unchanged"));
    assert_eq!(site.spec()["leaseTransitions"], 1);
}

#[tokio::test]
async fn acquiring_retries_a_failing_server_while_it_may_wait() {
    let site = Site::new();
    let mut a = site.contender("a", 15).await;
    site.server.inject(
        Fault::status(503)
            .method("GET")
            .path_contains("/leases/rekon")
            .times(2),
    );
    let err = a.acquire(Duration::ZERO).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("reading lease rekon-system/rekon: the server is currently unable"),
        "{err}"
    );
    a.acquire(Duration::from_secs(2)).await.unwrap();
    assert_eq!(site.server.faults_left(), 0);
    assert_eq!(site.spec()["holderIdentity"], "a");
}

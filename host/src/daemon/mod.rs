//! `rekon run`: the long-running reconciler.
//!
//! One tokio task per item, each on its own interval (with jitter) and
//! doorbell ([`schedule::Trigger`]):
//!
//! ```text
//! source fetch ──new revision──> kustomizations reading it, plugin refresh
//! plugin refresh ─swap──> kustomizations and images using the plugin
//! webhook / interval ──> image scan ─new choice─> automation (commit, push)
//! automation push ──> fetch of the source on that remote ──> apply
//! kustomization applied ──> kustomizations that depend on it
//! ```
//!
//! A semaphore bounds how many runs work at once (`[run] concurrency`);
//! rendering, git and plugin compilation run on blocking threads so the
//! HTTP server stays responsive. Failures retry with back-off
//! ([`schedule::next_delay`]); `suspend` leaves an item alone. State lives in
//! one directory ([`state`]); shutdown lets runs in flight finish, for at
//! most a grace period. Failures, recoveries, change sets, pushes and plugin
//! swaps are also handed to [`crate::alerts`] (a queue, never waited on).

mod plugins;
pub mod schedule;
mod state;
mod work;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch, RwLock, Semaphore};
use tokio::task::JoinSet;

use crate::alerts::{self, Alerts, Severity};
use crate::apply::lease::{LeaseConfig, LeaseError};
use crate::apply::Cluster;
use crate::config::Config;
use crate::images::PolicyResult;
use crate::plugin::Runtime;
use crate::server::{self, Metrics, ServerState};
use crate::source::Roots;
use crate::status::{
    timestamp, ImageDetail, Kind, KustomizationDetail, Level, PluginDetail, StatusBoard,
};

pub use plugins::{Event as PluginEvent, PluginSet};
pub use state::{Remembered, State, StateError};

use schedule::{next_delay, wait, Trigger, Wake};
use work::{NotDone, Outcome};

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The configuration has no state directory.
    #[error("{}: no state directory: set state-dir in the config, or $REKON_STATE_DIR", file.display())]
    NoStateDir {
        /// The configuration file.
        file: std::path::PathBuf,
    },
    /// The state directory cannot be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// The HTTP server could not listen.
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// Leadership was lost or could not be sought.
    #[error(transparent)]
    Lease(#[from] LeaseError),
}

/// How the daemon runs, beyond the configuration file.
pub struct Options {
    /// The plugin runtime (its cache directory is the plugin cache).
    pub runtime: Arc<Runtime>,
    /// The cluster kustomizations are applied to.
    pub cluster: Cluster,
    /// Hold this Lease while reconciling (`None`: no leader election).
    pub lease: Option<LeaseConfig>,
    /// How long runs in flight may take to finish after shutdown is asked.
    pub shutdown_grace: Duration,
    /// The configuration before its Flux objects were read (`None`: no
    /// `[flux]`). When a source moves, the Flux objects are read again from
    /// it; if they say something new, the daemon stops with
    /// [`Exit::Reconfigured`].
    pub flux_base: Option<Config>,
}

/// Why [`run`] returned.
#[derive(Debug)]
pub enum Exit {
    /// Shutdown was asked.
    Stopped,
    /// The Flux objects changed: run again with this configuration (runs
    /// in flight have finished; the state directory carries over).
    Reconfigured(Box<Config>),
}

/// The doorbells of every item.
struct Triggers {
    sources: HashMap<String, Trigger>,
    kustomizations: HashMap<String, Trigger>,
    images: HashMap<String, Trigger>,
    automation: Trigger,
    plugins: Trigger,
    /// Read the Flux objects again (a source moved).
    flux: Trigger,
}

/// What every task shares.
struct Shared {
    config: Config,
    plugins: PluginSet,
    board: Arc<StatusBoard>,
    metrics: Arc<Metrics>,
    state: State,
    cluster: Cluster,
    /// Where each source's files are now.
    roots: std::sync::RwLock<Roots>,
    /// Per git source: fetches write, renders read.
    checkout_locks: HashMap<String, RwLock<()>>,
    /// Per image policy: the last certain choice (what automation writes).
    chosen: Mutex<BTreeMap<String, PolicyResult>>,
    permits: Semaphore,
    triggers: Triggers,
    shutdown: watch::Receiver<bool>,
    /// Stops every task (shutdown, or a new configuration).
    stop: Arc<watch::Sender<bool>>,
    /// See [`Options::flux_base`].
    flux_base: Option<Config>,
    /// The configuration the Flux objects now give, once it differs.
    reconfigured: Mutex<Option<Box<Config>>>,
    /// Where events go to `[alerts]` and Flux Alerts (never waits).
    alerts: Alerts,
    /// Chart listings, kept between renders for their sources' intervals.
    charts: Arc<crate::charts::Resolver>,
}

/// Run until `shutdown` completes (SIGTERM in the binary), then let runs in
/// flight finish within the grace period and return.
pub async fn run(
    config: Config,
    options: Options,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Exit, DaemonError> {
    let state_dir = config
        .state_dir
        .clone()
        .ok_or_else(|| DaemonError::NoStateDir {
            file: config.file.clone(),
        })?;
    let state = State::open(&state_dir)?;
    let (stop, stopped) = watch::channel(false);
    let board = Arc::new(StatusBoard::new());
    let metrics = Arc::new(Metrics::new());
    let runtime = options.runtime;
    let plugins = PluginSet::new(runtime, &config);
    for (name, stats) in plugins.stats() {
        metrics.plugin(name, stats.clone());
        board.plugin_stats(name, stats.clone());
    }
    let remembered = state.remembered();
    register(&board, &config, &remembered);
    let alerts = alerts::start(
        config.alerts.clone(),
        alerts::Settings::default(),
        metrics.clone(),
        board.clone(),
    );

    let (trigger_tx, trigger_rx) = mpsc::channel(64);
    let server_state = ServerState {
        board: board.clone(),
        metrics: metrics.clone(),
        receivers: config.receivers.clone(),
        images: config
            .images
            .values()
            .map(|i| (i.policy_name.clone(), i.repository.clone()))
            .collect(),
        triggers: trigger_tx,
        token: config.server.token.clone(),
    };
    let server = {
        let mut stopped = stopped.clone();
        tokio::spawn(server::serve(listener, server_state, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }))
    };
    let stop = Arc::new(stop);
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: letting runs in flight finish");
            let _ = stop.send(true);
        })
    };

    let triggers = Triggers {
        sources: keys(config.sources.keys()),
        kustomizations: keys(config.kustomizations.iter().map(|k| &k.name)),
        images: keys(config.images.keys()),
        automation: Trigger::default(),
        plugins: Trigger::default(),
        flux: Trigger::default(),
    };
    let shared = Arc::new(Shared {
        checkout_locks: config
            .sources
            .keys()
            .map(|s| (s.clone(), RwLock::new(())))
            .collect(),
        roots: std::sync::RwLock::new(Roots::local(&config)),
        chosen: Mutex::default(),
        permits: Semaphore::new(config.run.concurrency),
        plugins,
        board,
        metrics,
        state,
        cluster: options.cluster,
        triggers,
        shutdown: stopped.clone(),
        stop,
        flux_base: options.flux_base,
        reconfigured: Mutex::default(),
        alerts,
        charts: Arc::default(),
        config,
    });

    let outcome = match options.lease {
        None => {
            reconcile_until_stopped(shared.clone(), trigger_rx, options.shutdown_grace).await;
            Ok(())
        }
        Some(lease_config) => {
            lead(
                shared.clone(),
                lease_config,
                trigger_rx,
                options.shutdown_grace,
            )
            .await
        }
    };
    // Leadership lost: stop serving too, so the process exits and restarts.
    stopper.abort();
    let reconfigured = shared.reconfigured.lock().expect("lock").take();
    // The server stops with the tasks (a new configuration serves anew).
    let _ = shared.stop.send(true);
    drop(shared);
    let _ = server.await;
    outcome.map(|()| reconfigured.map_or(Exit::Stopped, Exit::Reconfigured))
}

/// Seek the lease (as long as it takes), then reconcile while holding it.
async fn lead(
    shared: Arc<Shared>,
    config: LeaseConfig,
    triggers: mpsc::Receiver<server::Trigger>,
    grace: Duration,
) -> Result<(), DaemonError> {
    let mut lease = shared.cluster.lease(config);
    let mut stopped = shared.shutdown.clone();
    tracing::info!("seeking lease {} as {}", lease.name(), lease.identity());
    // A standby replica waits for ever (until shutdown).
    let forever = Duration::from_secs(100 * 365 * 24 * 3600);
    tokio::select! {
        acquired = lease.acquire(forever) => acquired?,
        _ = stopped.wait_for(|s| *s) => return Ok(()),
    }
    tracing::info!("holding lease {} as {}", lease.name(), lease.identity());
    let held = lease
        .hold(reconcile_until_stopped(shared.clone(), triggers, grace))
        .await;
    if let Err(e) = lease.release().await {
        tracing::warn!("{e}");
    }
    held.map_err(DaemonError::from)
}

/// Start every item's task and the trigger router; return after shutdown
/// once they finished (or the grace period ran out).
async fn reconcile_until_stopped(
    shared: Arc<Shared>,
    mut triggers: mpsc::Receiver<server::Trigger>,
    grace: Duration,
) {
    // Sources first, then plugins (which may live in them), then readiness.
    // A source whose first fetch failed retries soon, not after its interval.
    let mut fetched = HashMap::new();
    for (name, source) in &shared.config.sources {
        if source.suspend {
            // Not fetched: read what an earlier run checked out, if anything.
            if let Some(checkout) = crate::source::existing(shared.state.dir(), source) {
                shared.board.update(Kind::Source, name, |s| {
                    s.revision = Some(checkout.revision.clone());
                    s.message = "suspended: using the last checkout".into();
                });
                shared
                    .roots
                    .write()
                    .expect("roots lock")
                    .set(name, checkout);
            }
        } else {
            let outcome = run_once(
                &shared,
                Kind::Source,
                name,
                work::fetch_source(shared.clone(), name.clone()),
            )
            .await;
            fetched.insert(name.clone(), outcome == Some(true));
        }
    }
    refresh_plugins(&shared).await;
    shared.board.set_ready(true);

    let mut tasks = JoinSet::new();
    for s in shared.config.sources.values() {
        let (name, interval) = (s.name.clone(), s.interval);
        let suspended = s.suspend;
        let first = if fetched.get(&name) == Some(&true) {
            next_delay(interval, 0, shared.config.run.jitter)
        } else {
            next_delay(interval, 1, 0.0)
        };
        let sh = shared.clone();
        tasks.spawn(run_item(
            shared.clone(),
            Kind::Source,
            name.clone(),
            When {
                interval,
                suspended,
                first,
                retry: None,
            },
            move || work::fetch_source(sh.clone(), name.clone()),
        ));
    }
    for k in &shared.config.kustomizations {
        let name = k.name.clone();
        let sh = shared.clone();
        tasks.spawn(run_item(
            shared.clone(),
            Kind::Kustomization,
            name.clone(),
            When {
                interval: k.interval,
                suspended: k.suspend,
                first: Duration::ZERO,
                // Flux retries a failed Kustomization at its `retryInterval`.
                retry: k.flux.as_ref().map(|f| f.retry_interval),
            },
            move || work::reconcile(sh.clone(), name.clone()),
        ));
    }
    for image in shared.config.images.values() {
        let name = image.policy_name.clone();
        let sh = shared.clone();
        tasks.spawn(run_item(
            shared.clone(),
            Kind::Image,
            name.clone(),
            When {
                interval: image.interval,
                suspended: image.suspend,
                first: Duration::ZERO,
                retry: None,
            },
            move || work::scan_image(sh.clone(), name.clone()),
        ));
    }
    if shared.config.git.is_some() && !shared.config.images.is_empty() {
        // Also on an interval: someone may have reverted a marker by hand.
        let every = shared
            .config
            .images
            .values()
            .map(|i| i.interval)
            .min()
            .unwrap_or(Duration::from_secs(300));
        let sh = shared.clone();
        tasks.spawn(run_item(
            shared.clone(),
            Kind::Automation,
            AUTOMATION.into(),
            When {
                interval: every,
                suspended: false,
                first: every,
                retry: None,
            },
            move || work::automate(sh.clone()),
        ));
    }
    {
        let sh = shared.clone();
        tasks.spawn(async move {
            let mut stopped = sh.shutdown.clone();
            loop {
                let next = timestamp(SystemTime::now() + sh.config.run.plugin_poll);
                for name in sh.config.plugins.keys() {
                    sh.board
                        .update(Kind::Plugin, name, |s| s.next_run = Some(next.clone()));
                }
                if wait(
                    sh.config.run.plugin_poll,
                    &sh.triggers.plugins,
                    &mut stopped,
                )
                .await
                    == Wake::Shutdown
                {
                    return;
                }
                refresh_plugins(&sh).await;
            }
        });
    }
    if shared.flux_base.is_some() {
        let sh = shared.clone();
        tasks.spawn(async move {
            let mut stopped = sh.shutdown.clone();
            let forever = Duration::from_secs(100 * 365 * 24 * 3600);
            while wait(forever, &sh.triggers.flux, &mut stopped).await != Wake::Shutdown {
                rediscover(&sh).await;
            }
        });
    }
    {
        // Webhooks ring images, sources and kustomizations.
        let sh = shared.clone();
        tasks.spawn(async move {
            let mut stopped = sh.shutdown.clone();
            loop {
                let trigger = tokio::select! {
                    t = triggers.recv() => t,
                    _ = stopped.wait_for(|s| *s) => None,
                };
                let Some(trigger) = trigger else { return };
                let (kind, name, reason, bell) = match &trigger {
                    server::Trigger::ScanImage { policy, reason } => {
                        (Kind::Image, policy, reason, sh.triggers.images.get(policy))
                    }
                    server::Trigger::FetchSource { source, reason } => (
                        Kind::Source,
                        source,
                        reason,
                        sh.triggers.sources.get(source),
                    ),
                    server::Trigger::Reconcile {
                        kustomization,
                        reason,
                    } => (
                        Kind::Kustomization,
                        kustomization,
                        reason,
                        sh.triggers.kustomizations.get(kustomization),
                    ),
                };
                match bell {
                    Some(t) => {
                        tracing::info!("{kind} {name}: run requested: {reason}");
                        sh.board.event(
                            Level::Info,
                            kind,
                            name,
                            &format!("run requested: {reason}"),
                        );
                        t.ring();
                    }
                    None => tracing::warn!("run requested for an unknown {kind} {name}: {reason}"),
                }
            }
        });
    }

    let mut stopped = shared.shutdown.clone();
    let _ = stopped.wait_for(|s| *s).await;
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            "runs still in flight after {grace:?}: abandoned (the next start redoes them)"
        );
        tasks.abort_all();
    }
}

/// Read the Flux objects again from the sources as they are now. A
/// configuration that differs from the running one stops the daemon
/// (runs in flight finish) so that [`run`] returns it; one that does not
/// read is reported and the running configuration stays.
async fn rediscover(shared: &Arc<Shared>) {
    let Some(base) = &shared.flux_base else {
        return;
    };
    let mut next = base.clone();
    let mut roots = shared.roots.read().expect("roots lock").clone();
    let access = crate::flux::Access {
        cluster: Some(&shared.cluster),
        fetch: true,
    };
    let entry = base
        .flux
        .as_ref()
        .and_then(|f| f.source.clone())
        .unwrap_or_else(|| "local".into());
    match crate::flux::expand(&mut next, &mut roots, access).await {
        Ok(graph) => {
            if shape(&next) == shape(&shared.config) {
                tracing::debug!("Flux objects read again: nothing changed");
                return;
            }
            for note in graph.notes.iter().chain(&graph.problems) {
                tracing::warn!("{note}");
            }
            let message = "the Flux objects changed: restarting with the new configuration";
            tracing::info!("{message}");
            shared
                .board
                .event(Level::Info, Kind::Source, &entry, message);
            *shared.reconfigured.lock().expect("lock") = Some(Box::new(next));
            let _ = shared.stop.send(true);
        }
        Err(e) => {
            let message =
                format!("the Flux objects do not read, keeping the running configuration: {e}");
            tracing::error!("{message}");
            shared
                .board
                .event(Level::Warning, Kind::Source, &entry, &message);
        }
    }
}

/// What the daemon runs, to compare two configurations (the types hold
/// durations, paths and plugin settings; none implements `PartialEq`).
fn shape(config: &Config) -> String {
    format!(
        "{:?}{:?}{:?}{:?}{:?}{:?}",
        config.sources,
        config.kustomizations,
        config.images,
        config.git,
        config.registries,
        config.receivers
    )
}

/// The status-board name of the image automation (it writes to `[git]`).
const AUTOMATION: &str = "git";

/// Load, verify and swap changed plugins; ring what uses a swapped one.
async fn refresh_plugins(shared: &Arc<Shared>) {
    let sh = shared.clone();
    let events = tokio::task::spawn_blocking(move || {
        let roots = sh.roots.read().expect("roots lock").clone();
        sh.plugins.refresh(&sh.config, &roots, &sh.board)
    })
    .await
    .unwrap_or_default();
    for event in events {
        let (name, severity, reason, revision, message) = match &event {
            PluginEvent::Loaded { .. } => continue,
            PluginEvent::Swapped { name, from, to } => (
                name,
                Severity::Info,
                "PluginSwapped",
                to,
                format!("swapped {from} -> {to}"),
            ),
            PluginEvent::Refused {
                name,
                sha256,
                reason,
            } => (
                name,
                Severity::Error,
                "PluginRefused",
                sha256,
                format!("refused: {reason}"),
            ),
        };
        shared.alerts.emit(
            alerts::Event::new(Kind::Plugin, name, severity, reason, message)
                .at_revision(Some(revision.as_str()).filter(|r| !r.is_empty())),
        );
        let PluginEvent::Swapped { name, .. } = event else {
            continue;
        };
        for k in &shared.config.kustomizations {
            if k.mutators
                .iter()
                .chain(&k.validators)
                .any(|u| u.plugin == name)
            {
                shared.triggers.kustomizations[&k.name].ring();
            }
        }
        for image in shared.config.images.values() {
            if image.policy == name {
                shared.triggers.images[&image.policy_name].ring();
            }
        }
    }
}

/// When an item runs.
struct When {
    /// Between successful runs (with jitter).
    interval: Duration,
    /// Never (`suspend`).
    suspended: bool,
    /// The first run, from now.
    first: Duration,
    /// After a failure (`None`: rekon's back-off, see [`next_delay`]).
    retry: Option<Duration>,
}

/// The loop of one item: wait, take a permit, run, record, repeat.
async fn run_item<F, Fut>(shared: Arc<Shared>, kind: Kind, name: String, when: When, work: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Outcome>,
{
    let When {
        interval,
        suspended,
        first,
        retry,
    } = when;
    if suspended {
        tracing::info!("{kind} {name} is suspended");
        return;
    }
    let trigger = match kind {
        Kind::Source => shared.triggers.sources[&name].clone(),
        Kind::Kustomization => shared.triggers.kustomizations[&name].clone(),
        Kind::Image => shared.triggers.images[&name].clone(),
        Kind::Automation => shared.triggers.automation.clone(),
        Kind::Plugin => unreachable!("plugins have their own loop"),
    };
    let mut stopped = shared.shutdown.clone();
    let mut delay = first;
    let mut failures = 0;
    loop {
        shared.board.update(kind, &name, |s| {
            s.next_run = Some(timestamp(SystemTime::now() + delay));
        });
        if wait(delay, &trigger, &mut stopped).await == Wake::Shutdown {
            return;
        }
        let outcome = run_once(&shared, kind, &name, work()).await;
        delay = match outcome {
            Some(true) => {
                failures = 0;
                next_delay(interval, 0, shared.config.run.jitter)
            }
            Some(false) => {
                failures += 1;
                retry.unwrap_or_else(|| next_delay(interval, failures, shared.config.run.jitter))
            }
            // Waiting: look again soon; whatever it waits for also rings.
            None => Duration::from_secs(5).min(interval),
        };
    }
}

/// Run `work` under a permit and record it: `Some(ok)`, or `None` when it
/// was only waiting.
async fn run_once(
    shared: &Shared,
    kind: Kind,
    name: &str,
    work: impl Future<Output = Outcome>,
) -> Option<bool> {
    let _permit = shared
        .permits
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let started = Instant::now();
    let outcome = work.await;
    let took = started.elapsed();
    let now = timestamp(SystemTime::now());
    let ok = match &outcome {
        Ok(_) => Some(true),
        Err(NotDone::Failed(_)) => Some(false),
        Err(NotDone::Waiting(_)) => None,
    };
    if let Some(ok) = ok {
        shared.metrics.reconcile(kind, name, took, ok);
    }
    match &outcome {
        Ok(done) => {
            tracing::info!("{kind} {name}: {}", done.message);
            shared.board.event(Level::Info, kind, name, &done.message);
        }
        Err(NotDone::Failed(why)) => {
            tracing::warn!("{kind} {name}: {why}");
            shared.board.event(Level::Warning, kind, name, why);
        }
        Err(NotDone::Waiting(why)) => tracing::debug!("{kind} {name}: {why}"),
    }
    // Whether it had failed (not merely waited) before this run: a success
    // now is a recovery.
    let mut had_failed = false;
    let alert = match &outcome {
        Err(NotDone::Failed(why)) => Some((Severity::Error, "ReconciliationFailed", why.clone())),
        Ok(done) => Some((
            Severity::Info,
            "ReconciliationSucceeded",
            format!("recovered: {}", done.message),
        )),
        Err(NotDone::Waiting(_)) => None,
    };
    let revision = match &outcome {
        Ok(done) => done.revision.clone(),
        _ => attempted_revision(shared, kind, name),
    };
    shared.board.update(kind, name, |s| {
        had_failed = s.ready == Some(false) && !s.waiting;
        s.duration_ms = Some(took.as_millis() as u64);
        s.waiting = false;
        match outcome {
            Ok(done) => {
                s.ready = Some(true);
                if done.revision.is_some() {
                    s.revision = done.revision;
                }
                s.message = done.message;
            }
            Err(NotDone::Failed(why)) => {
                s.ready = Some(false);
                s.record_error(now.clone(), why.clone());
                s.message = why;
            }
            Err(NotDone::Waiting(why)) => {
                s.ready = Some(false);
                s.waiting = true;
                s.message = why;
            }
        }
        s.last_run = Some(now);
    });
    if let Some((severity, reason, message)) = alert {
        if severity == Severity::Error || had_failed {
            shared.alerts.emit(
                alerts::Event::new(kind, name, severity, reason, message)
                    .at_revision(revision.as_deref()),
            );
        }
    }
    ok
}

/// The revision a failed run of a kustomization was at (its source's), for
/// its alert (a forge marks that commit failed).
fn attempted_revision(shared: &Shared, kind: Kind, name: &str) -> Option<String> {
    if kind != Kind::Kustomization {
        return None;
    }
    let k = shared
        .config
        .kustomizations
        .iter()
        .find(|k| k.name == name)?;
    let roots = shared.roots.read().expect("roots lock");
    roots.revision(k.source.as_deref()).map(str::to_string)
}

/// Put every item on the board, with what an earlier run remembered.
fn register(board: &StatusBoard, config: &Config, remembered: &Remembered) {
    for s in config.sources.values() {
        board.register(Kind::Source, &s.name, s.suspend);
    }
    if config.git.is_some() && !config.images.is_empty() {
        board.register(Kind::Automation, AUTOMATION, false);
    }
    for k in &config.kustomizations {
        board.register(Kind::Kustomization, &k.name, k.suspend);
        board.update(Kind::Kustomization, &k.name, |s| {
            if let Some(rev) = remembered.applied.get(&k.name) {
                s.revision = Some(rev.clone());
            }
            let detail = s
                .kustomization
                .get_or_insert_with(KustomizationDetail::default);
            detail.source = k.source.clone();
            detail.path = k.path.display().to_string();
            detail.depends_on = k.depends_on.clone();
            detail.plugins = k
                .mutators
                .iter()
                .chain(&k.validators)
                .map(|u| u.plugin.clone())
                .collect();
        });
    }
    for i in config.images.values() {
        board.register(Kind::Image, &i.policy_name, i.suspend);
        board.update(Kind::Image, &i.policy_name, |s| {
            if let Some(tag) = remembered.chosen.get(&i.policy_name) {
                s.revision = Some(tag.clone());
            }
            let detail = s.image.get_or_insert_with(ImageDetail::default);
            detail.repository = i.repository.clone();
            detail.platform = i.platform.as_ref().map(ToString::to_string);
            detail.policy = i.policy.clone();
        });
    }
    for name in config.plugins.keys() {
        board.register(Kind::Plugin, name, false);
        board.update(Kind::Plugin, name, |s| {
            s.plugin.get_or_insert_with(PluginDetail::default);
        });
    }
}

fn keys<'a>(names: impl Iterator<Item = &'a String>) -> HashMap<String, Trigger> {
    names.map(|n| (n.clone(), Trigger::default())).collect()
}

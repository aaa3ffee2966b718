//! What `rekon run` is doing, item by item: the board the scheduler writes
//! and `/status` (and so `rekon status`) reads.
//!
//! The daemon [`StatusBoard::register`]s every source, kustomization, image
//! and plugin at start and [`StatusBoard::update`]s an item after each run;
//! the server takes a [`Snapshot`] per request. The board is a plain
//! `RwLock`: writes are a few per reconcile, reads one per request, so no
//! lock is ever held across an await or a plugin call.
//!
//! Besides one line per item, the board keeps what the status page shows on
//! an item's own page ([`KustomizationDetail`], [`ImageDetail`],
//! [`PluginDetail`], the item's last [`ItemStatus::errors`]) and a bounded
//! ring of the [`Event`]s the daemon logs. Every addition to the JSON of
//! `/status` is a new field with a default, so a `rekon status` of either
//! version reads the other's answer.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// What an item on the board is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A git source.
    Source,
    /// A kustomization (render, check, apply).
    Kustomization,
    /// An image policy (registry scan and ranking).
    Image,
    /// A plugin (loaded, swapped or refused).
    Plugin,
    /// Image automation (the chosen tags committed and pushed to `[git]`).
    Automation,
}

impl Kind {
    /// Every kind, in the order `rekon status` prints them.
    pub const ALL: [Kind; 5] = [
        Kind::Source,
        Kind::Kustomization,
        Kind::Image,
        Kind::Automation,
        Kind::Plugin,
    ];
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Source => "source",
            Kind::Kustomization => "kustomization",
            Kind::Image => "image",
            Kind::Plugin => "plugin",
            Kind::Automation => "automation",
        })
    }
}

/// The state of one item.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ItemStatus {
    /// Whether its last run succeeded; `None` until it has run.
    pub ready: Option<bool>,
    /// `suspend = true` in the config: the scheduler skips it.
    pub suspended: bool,
    /// What it is at: a git sha, the chosen tag, a plugin's sha256.
    pub revision: Option<String>,
    /// When it last ran (RFC 3339, UTC).
    pub last_run: Option<String>,
    /// How long that run took.
    pub duration_ms: Option<u64>,
    /// The last result or error, on one line.
    pub message: String,
    /// Its last run could not start yet (a dependency, a source not
    /// fetched): `ready` is false, but nothing failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waiting: bool,
    /// When the scheduler runs it next unless something rings it sooner
    /// (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<String>,
    /// Its last failures, newest first, in full (several lines, where
    /// `message` has one): at most [`MAX_ERRORS`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Logged>,
    /// A kustomization's last render and apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomization: Option<KustomizationDetail>,
    /// An image's last scan and commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageDetail>,
    /// A plugin's versions and calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginDetail>,
}

/// What the status page calls the state of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// Its last run failed.
    Failed,
    /// Its last run waited for something else.
    Waiting,
    /// It has not run yet.
    Pending,
    /// Its last run succeeded.
    Ready,
    /// `suspend = true`: not run.
    Suspended,
}

impl State {
    /// Every state, worst first (the order of the status page).
    pub const ALL: [State; 5] = [
        State::Failed,
        State::Waiting,
        State::Pending,
        State::Ready,
        State::Suspended,
    ];
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Failed => "failed",
            State::Waiting => "waiting",
            State::Pending => "pending",
            State::Ready => "ready",
            State::Suspended => "suspended",
        })
    }
}

impl ItemStatus {
    /// Whether this item counts as healthy: it ran and succeeded, or it is
    /// suspended (a suspended item is not expected to run).
    pub fn healthy(&self) -> bool {
        self.suspended || self.ready == Some(true)
    }

    /// Its state, as the status page shows it.
    pub fn state(&self) -> State {
        match (self.suspended, self.ready) {
            (true, _) => State::Suspended,
            (false, None) => State::Pending,
            (false, Some(true)) => State::Ready,
            (false, Some(false)) if self.waiting => State::Waiting,
            (false, Some(false)) => State::Failed,
        }
    }

    /// Record a failure in [`ItemStatus::errors`], keeping the newest
    /// [`MAX_ERRORS`].
    pub fn record_error(&mut self, at: String, message: String) {
        self.errors.insert(0, Logged { at, message });
        self.errors.truncate(MAX_ERRORS);
    }
}

/// How many failures an item keeps.
pub const MAX_ERRORS: usize = 5;
/// How many events the board keeps.
pub const MAX_EVENTS: usize = 200;
/// How many plugin versions (loads, swaps, refusals) a plugin keeps.
pub const MAX_VERSIONS: usize = 20;
/// How many ranked tags an image keeps (the top of the ranking).
pub const MAX_RANKED: usize = 10;
/// How many changed fields a kustomization keeps from its last render.
pub const MAX_CHANGES: usize = 200;

/// A message with its time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Logged {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// What, in full.
    pub message: String,
}

/// A kustomization's last render and apply.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct KustomizationDetail {
    /// Its source (`None`: the config's directory).
    pub source: Option<String>,
    /// Its path in the source.
    pub path: String,
    /// The kustomizations it waits for.
    pub depends_on: Vec<String>,
    /// Its mutators then validators, in chain order.
    pub plugins: Vec<String>,
    /// When it was last applied (RFC 3339, UTC), and at which revision.
    pub applied_at: Option<String>,
    /// The revision of that apply.
    pub applied_revision: Option<String>,
    /// The objects of that apply, in apply order.
    pub objects: Vec<ObjectAction>,
    /// The objects it pruned (or kept), with what happened.
    pub pruned: Vec<ObjectAction>,
    /// The fields each mutator changed in the last render (what
    /// `rekon render --explain` prints), the first [`MAX_CHANGES`].
    pub changes: Vec<FieldChanged>,
    /// How many fields they changed in all.
    pub changes_total: usize,
    /// Validator findings below error severity in the last render.
    pub findings: Vec<String>,
    /// The Helm releases of the last apply (k3s HelmCharts rekon applied).
    #[serde(default)]
    pub helm_releases: Vec<HelmReleaseStatus>,
}

/// A Helm release rekon applied as a k3s HelmChart.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct HelmReleaseStatus {
    /// The HelmRelease id, `namespace/name` (the HelmChart's
    /// `rekon.dev/helm-release` annotation).
    pub release: String,
    /// `spec.chart`.
    pub chart: String,
    /// `spec.version` (`-` when unset: the latest).
    pub version: String,
    /// `installed`, `installing`, `not installed after 5m: …`, `failed: …`,
    /// or `applied` when the kustomization does not wait.
    pub state: String,
}

/// One object and what was done to it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ObjectAction {
    /// `Kind/namespace/name` (or `Kind/name`).
    pub object: String,
    /// `created`, `configured`, `unchanged`, `recreated`; for a pruned
    /// object what happened (`deleted`, `kept: …`).
    pub action: String,
}

/// One field a mutator changed, as `rekon render --explain` prints it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FieldChanged {
    /// The plugin.
    pub plugin: String,
    /// `Kind/namespace/name`.
    pub object: String,
    /// The field's path (`spec.template.spec.containers[0].image`).
    pub path: String,
    /// The value before, shortened (`(absent)` when added).
    pub before: String,
    /// The value after, shortened (`(absent)` when removed).
    pub after: String,
}

/// An image's last scan and the last commit it caused.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageDetail {
    /// `host/path`.
    pub repository: String,
    /// The platform a chosen tag must offer (`linux/arm64`).
    pub platform: Option<String>,
    /// The policy plugin.
    pub policy: String,
    /// When the last scan ran (RFC 3339, UTC).
    pub scanned_at: Option<String>,
    /// Tags the registry listed.
    pub tags: usize,
    /// Of those, dropped by `exclude`.
    pub excluded: usize,
    /// The list is the stored one: the registry could not be read.
    pub stale: bool,
    /// The top of the plugin's ranking, best first (at most [`MAX_RANKED`]).
    pub ranking: Vec<String>,
    /// Ranked tags passed over for lacking the platform, with what they offer.
    pub skipped: Vec<SkippedTag>,
    /// The tag chosen.
    pub chosen: Option<String>,
    /// The last commit image automation pushed for this image.
    pub last_commit: Option<CommitRecord>,
}

/// A tag passed over for its platforms.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SkippedTag {
    /// The tag.
    pub tag: String,
    /// The platforms it offers.
    pub offered: Vec<String>,
}

/// A commit image automation pushed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CommitRecord {
    /// The commit id.
    pub commit: String,
    /// When it was pushed (RFC 3339, UTC).
    pub at: String,
    /// Its changes of this image, `FILE:LINE OLD -> NEW`.
    pub changes: Vec<String>,
}

/// A plugin's versions, world, capabilities and calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PluginDetail {
    /// The world of the version in use.
    pub world: Option<String>,
    /// The capabilities in force in its calls.
    pub capabilities: Vec<String>,
    /// Versions seen, newest first (at most [`MAX_VERSIONS`]).
    pub versions: Vec<PluginVersion>,
    /// Calls made, every version of it.
    pub calls: u64,
    /// Calls that trapped, hit the memory cap or returned too much.
    pub traps: u64,
    /// Calls stopped at their deadline.
    pub timeouts: u64,
}

/// One version of a plugin the daemon looked at.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PluginVersion {
    /// Its sha256 (empty when the file could not be read).
    pub sha256: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// `loaded`, `swapped` or `refused`.
    pub outcome: String,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How much an event matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Work done.
    Info,
    /// Something failed or was refused.
    Warning,
}

/// Something the daemon did, as it logs it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// When it last happened (RFC 3339, UTC).
    pub at: String,
    /// How much it matters.
    pub level: Level,
    /// The kind of item.
    pub kind: Kind,
    /// The item.
    pub name: String,
    /// What happened, on one line.
    pub message: String,
    /// How many times in a row it happened (a source fetched every minute
    /// at the same revision is one event, not a flood).
    pub count: u32,
}

/// The whole board at one moment, as `/status` serves it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    /// rekon's version.
    pub version: String,
    /// When the daemon started (RFC 3339, UTC).
    pub started: String,
    /// Whether the daemon finished starting (config read, plugins loaded).
    pub ready: bool,
    /// Git sources by name.
    pub sources: BTreeMap<String, ItemStatus>,
    /// Kustomizations by name.
    pub kustomizations: BTreeMap<String, ItemStatus>,
    /// Images by policy name (`NS:NAME`).
    pub images: BTreeMap<String, ItemStatus>,
    /// Plugins by configured name.
    pub plugins: BTreeMap<String, ItemStatus>,
    /// Image automation (one item, `[git]`, when configured).
    #[serde(default)]
    pub automation: BTreeMap<String, ItemStatus>,
    /// What the daemon did lately, newest first (at most [`MAX_EVENTS`]).
    #[serde(default)]
    pub events: Vec<Event>,
    /// Alerts by name: what they sent and what failed.
    #[serde(default)]
    pub alerts: BTreeMap<String, AlertStatus>,
    /// Events dropped because the alert queue was full.
    #[serde(default)]
    pub alerts_dropped: u64,
}

/// What one alert delivered.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AlertStatus {
    /// Its provider's type.
    pub provider: String,
    /// Deliveries that succeeded.
    pub sent: u64,
    /// Deliveries that failed after their retries.
    pub failed: u64,
    /// When the last delivery succeeded (RFC 3339).
    #[serde(default)]
    pub last_sent: Option<String>,
    /// The last failure, when it happened and why (URLs redacted).
    #[serde(default)]
    pub last_error: Option<String>,
}

impl Snapshot {
    /// The items of one kind.
    pub fn items(&self, kind: Kind) -> &BTreeMap<String, ItemStatus> {
        match kind {
            Kind::Source => &self.sources,
            Kind::Kustomization => &self.kustomizations,
            Kind::Image => &self.images,
            Kind::Plugin => &self.plugins,
            Kind::Automation => &self.automation,
        }
    }

    fn items_mut(&mut self, kind: Kind) -> &mut BTreeMap<String, ItemStatus> {
        match kind {
            Kind::Source => &mut self.sources,
            Kind::Kustomization => &mut self.kustomizations,
            Kind::Image => &mut self.images,
            Kind::Plugin => &mut self.plugins,
            Kind::Automation => &mut self.automation,
        }
    }

    /// Whether the daemon is ready and every item [healthy](ItemStatus::healthy).
    pub fn all_ready(&self) -> bool {
        self.ready
            && Kind::ALL
                .iter()
                .all(|&kind| self.items(kind).values().all(ItemStatus::healthy))
    }

    /// How many items are in each state, worst first; states no item is in
    /// are left out.
    pub fn counts(&self) -> Vec<(State, usize)> {
        State::ALL
            .iter()
            .map(|&state| {
                let n = Kind::ALL
                    .iter()
                    .flat_map(|&kind| self.items(kind).values())
                    .filter(|item| item.state() == state)
                    .count();
                (state, n)
            })
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

/// The live board, shared by the scheduler (writes) and the server (reads).
#[derive(Debug)]
pub struct StatusBoard {
    inner: RwLock<Snapshot>,
    /// Events, newest at the front.
    events: RwLock<VecDeque<Event>>,
    /// Each plugin's call counters, read into its detail per snapshot.
    call_stats: RwLock<BTreeMap<String, Arc<crate::plugin::CallStats>>>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusBoard {
    /// An empty, not yet ready board, started now.
    pub fn new() -> StatusBoard {
        StatusBoard {
            inner: RwLock::new(Snapshot {
                version: env!("CARGO_PKG_VERSION").to_string(),
                started: timestamp(SystemTime::now()),
                ready: false,
                sources: BTreeMap::new(),
                kustomizations: BTreeMap::new(),
                images: BTreeMap::new(),
                plugins: BTreeMap::new(),
                automation: BTreeMap::new(),
                events: Vec::new(),
                alerts: BTreeMap::new(),
                alerts_dropped: 0,
            }),
            events: RwLock::default(),
            call_stats: RwLock::default(),
        }
    }

    /// Show plugin `name`'s call counters on its page (they live in the
    /// plugin runtime and are read at each snapshot).
    pub fn plugin_stats(&self, name: &str, stats: Arc<crate::plugin::CallStats>) {
        self.call_stats
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_string(), stats);
    }

    /// Record an event (the daemon also logs it). The same message for the
    /// same item as its previous event is counted, not repeated; the oldest
    /// events go past [`MAX_EVENTS`].
    pub fn event(&self, level: Level, kind: Kind, name: &str, message: &str) {
        let at = timestamp(SystemTime::now());
        let message = one_line(message);
        let mut events = self
            .events
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let previous = events.iter().position(|e| e.kind == kind && e.name == name);
        if let Some(i) = previous.filter(|&i| {
            let e = &events[i];
            e.level == level && e.message == message
        }) {
            let mut again = events.remove(i).expect("the index was found");
            again.at = at;
            again.count += 1;
            events.push_front(again);
            return;
        }
        events.push_front(Event {
            at,
            level,
            kind,
            name: name.to_string(),
            message,
            count: 1,
        });
        events.truncate(MAX_EVENTS);
    }

    /// Put an item on the board (not run yet), or set the `suspended` flag of
    /// one already there without losing its history (a config reload).
    pub fn register(&self, kind: Kind, name: &str, suspended: bool) {
        self.write()
            .items_mut(kind)
            .entry(name.to_string())
            .or_default()
            .suspended = suspended;
    }

    /// Change an item in place. An item not registered yet is added, so a
    /// result is never lost to the order in which the daemon starts things.
    pub fn update(&self, kind: Kind, name: &str, f: impl FnOnce(&mut ItemStatus)) {
        let mut board = self.write();
        let item = board.items_mut(kind).entry(name.to_string()).or_default();
        f(item);
        // The table prints one line per item.
        if item.message.contains(['\n', '\r']) {
            item.message = one_line(&item.message);
        }
    }

    /// Change alert `name`'s delivery counts (added when not there yet).
    pub fn alert(&self, name: &str, f: impl FnOnce(&mut AlertStatus)) {
        f(self.write().alerts.entry(name.to_string()).or_default());
    }

    /// Count an event dropped because the alert queue was full.
    pub fn alert_dropped(&self) {
        self.write().alerts_dropped += 1;
    }

    /// Mark the daemon as started (config read, plugins loaded): `/readyz`
    /// answers 200 from then on.
    pub fn set_ready(&self, ready: bool) {
        self.write().ready = ready;
    }

    /// A copy of the board as it is now.
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        snapshot.events = self
            .events
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .cloned()
            .collect();
        let stats = self
            .call_stats
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (name, stats) in stats.iter() {
            let item = snapshot.plugins.entry(name.clone()).or_default();
            let detail = item.plugin.get_or_insert_with(PluginDetail::default);
            detail.calls = stats.calls.load(Ordering::Relaxed);
            detail.traps = stats.traps.load(Ordering::Relaxed);
            detail.timeouts = stats.timeouts.load(Ordering::Relaxed);
        }
        snapshot
    }

    // A panic in an update closure must not take the status page down with it:
    // the board holds plain data, so a poisoned lock is still consistent.
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Snapshot> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `text` on one line: runs of whitespace (newlines included) become one space.
fn one_line(text: &str) -> String {
    if text.contains(['\n', '\r']) {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        text.to_string()
    }
}

/// `time` as RFC 3339 in UTC with whole seconds (`2026-01-02T03:04:05Z`),
/// the form of [`ItemStatus::last_run`] and [`Snapshot::started`].
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Hashes (runs of 40 or more hex digits: git commits, sha256 digests)
/// shortened to 8 digits; tags and anything else as they are.
pub fn short_revision(revision: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 40 {
            out.push_str(&run[..8]);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in revision.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// "12s ago", "5m ago", "3h ago", "2d ago"; the text itself when it is not
/// an RFC 3339 time.
pub fn age(rfc3339: &str, now: SystemTime) -> String {
    let Ok(then) = humantime::parse_rfc3339_weak(rfc3339) else {
        return rfc3339.to_string();
    };
    // A clock step can put `then` after `now`: that is "just now" too.
    let secs = now.duration_since(then).unwrap_or_default().as_secs();
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// "in 12s", "in 5m", "in 3h", "in 2d" (a time past is "now"); the text
/// itself when it is not an RFC 3339 time.
pub fn until(rfc3339: &str, now: SystemTime) -> String {
    let Ok(then) = humantime::parse_rfc3339_weak(rfc3339) else {
        return rfc3339.to_string();
    };
    match then.duration_since(now).map(|d| d.as_secs()) {
        Err(_) | Ok(0) => "now".to_string(),
        Ok(secs @ 1..60) => format!("in {secs}s"),
        Ok(secs @ 60..3600) => format!("in {}m", secs / 60),
        Ok(secs @ 3600..86400) => format!("in {}h", secs / 3600),
        Ok(secs) => format!("in {}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_update_and_readiness() {
        let board = StatusBoard::new();
        board.register(Kind::Source, "repo", false);
        board.register(Kind::Kustomization, "frontend", true);
        let s = board.snapshot();
        assert!(!s.ready && !s.all_ready());
        assert_eq!(s.sources["repo"].ready, None);
        assert!(s.kustomizations["frontend"].suspended);

        board.set_ready(true);
        assert!(!board.snapshot().all_ready(), "the source has not run");
        board.update(Kind::Source, "repo", |i| {
            i.ready = Some(true);
            i.revision = Some("abc".into());
            i.message = "fetched\nmain".into();
        });
        let s = board.snapshot();
        assert!(s.all_ready(), "{s:?}");
        assert_eq!(s.sources["repo"].message, "fetched main");
        // Re-registering keeps what the item did.
        board.register(Kind::Source, "repo", true);
        let s = board.snapshot();
        assert_eq!(s.sources["repo"].revision.as_deref(), Some("abc"));
        assert!(s.sources["repo"].suspended);

        board.update(Kind::Plugin, "late", |i| i.ready = Some(false));
        assert!(!board.snapshot().all_ready());
    }

    #[test]
    fn events_are_newest_first_counted_and_bounded() {
        let board = StatusBoard::new();
        board.event(Level::Info, Kind::Source, "repo", "fetched main@abc");
        board.event(
            Level::Warning,
            Kind::Kustomization,
            "app",
            "denied:\n  error: x",
        );
        board.event(Level::Info, Kind::Source, "repo", "fetched main@abc");
        let events = board.snapshot().events;
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!((events[0].name.as_str(), events[0].count), ("repo", 2));
        assert_eq!(events[1].message, "denied: error: x");
        board.event(Level::Info, Kind::Source, "repo", "fetched main@def");
        assert_eq!(board.snapshot().events[0].message, "fetched main@def");
        for i in 0..MAX_EVENTS + 10 {
            board.event(Level::Info, Kind::Image, "img", &format!("scan {i}"));
        }
        let events = board.snapshot().events;
        assert_eq!(events.len(), MAX_EVENTS);
        assert_eq!(events[0].message, format!("scan {}", MAX_EVENTS + 9));
    }

    #[test]
    fn states_counts_and_kept_errors() {
        let board = StatusBoard::new();
        board.register(Kind::Kustomization, "a", false);
        board.register(Kind::Kustomization, "b", true);
        board.update(Kind::Kustomization, "c", |s| {
            s.ready = Some(false);
            s.waiting = true;
        });
        board.update(Kind::Kustomization, "d", |s| {
            s.ready = Some(false);
            for i in 0..MAX_ERRORS + 2 {
                s.record_error(format!("t{i}"), format!("failure {i}\nin detail"));
            }
        });
        let s = board.snapshot();
        assert_eq!(
            s.counts(),
            [
                (State::Failed, 1),
                (State::Waiting, 1),
                (State::Pending, 1),
                (State::Suspended, 1)
            ]
        );
        let d = &s.kustomizations["d"];
        assert_eq!(d.errors.len(), MAX_ERRORS);
        assert_eq!(
            d.errors[0].message,
            format!("failure {}\nin detail", MAX_ERRORS + 1)
        );
        // /status of an older rekon (no new fields) still reads.
        let old = r#"{"version":"0.1.0","started":"2026-01-02T00:00:00Z","ready":true,
            "sources":{"repo":{"ready":true,"suspended":false,"revision":null,
            "last_run":null,"duration_ms":null,"message":""}},
            "kustomizations":{},"images":{},"plugins":{}}"#;
        let parsed: Snapshot = serde_json::from_str(old).unwrap();
        assert_eq!(parsed.sources["repo"].state(), State::Ready);
        assert!(parsed.events.is_empty());
    }

    #[test]
    fn relative_times() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_322_800);
        assert_eq!(until("2026-01-02T03:00:12Z", now), "in 12s");
        assert_eq!(until("2026-01-02T03:05:00Z", now), "in 5m");
        assert_eq!(until("2026-01-02T02:59:00Z", now), "now");
        assert_eq!(age("2026-01-02T02:59:48Z", now), "12s ago");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_312_000);
        assert_eq!(timestamp(t), "2026-01-02T00:00:00Z");
        assert_eq!(Kind::Kustomization.to_string(), "kustomization");
    }
}

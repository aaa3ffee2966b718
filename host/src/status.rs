//! What `rekon run` is doing, item by item: the board the scheduler writes
//! and `/status` (and so `rekon status`) reads.
//!
//! The daemon [`StatusBoard::register`]s every source, kustomization, image
//! and plugin at start and [`StatusBoard::update`]s an item after each run;
//! the server takes a [`Snapshot`] per request. The board is a plain
//! `RwLock`: writes are a few per reconcile, reads one per request, so no
//! lock is ever held across an await or a plugin call.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::RwLock;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// What an item on the board is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
}

impl ItemStatus {
    /// Whether this item counts as healthy: it ran and succeeded, or it is
    /// suspended (a suspended item is not expected to run).
    pub fn healthy(&self) -> bool {
        self.suspended || self.ready == Some(true)
    }
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
}

/// The live board, shared by the scheduler (writes) and the server (reads).
#[derive(Debug)]
pub struct StatusBoard {
    inner: RwLock<Snapshot>,
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
            }),
        }
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
            item.message = item
                .message
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
        }
    }

    /// Mark the daemon as started (config read, plugins loaded): `/readyz`
    /// answers 200 from then on.
    pub fn set_ready(&self, ready: bool) {
        self.write().ready = ready;
    }

    /// A copy of the board as it is now.
    pub fn snapshot(&self) -> Snapshot {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    // A panic in an update closure must not take the status page down with it:
    // the board holds plain data, so a poisoned lock is still consistent.
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Snapshot> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `time` as RFC 3339 in UTC with whole seconds (`2026-01-02T03:04:05Z`),
/// the form of [`ItemStatus::last_run`] and [`Snapshot::started`].
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
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
    fn timestamps_are_rfc3339_utc() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_312_000);
        assert_eq!(timestamp(t), "2026-01-02T00:00:00Z");
        assert_eq!(Kind::Kustomization.to_string(), "kustomization");
    }
}

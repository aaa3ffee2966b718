//! The daemon's plugins, swapped while it runs.
//!
//! Every `plugin-poll` (and after each source fetch) each configured plugin
//! file is looked at: size and mtime first, then its sha256. A new digest is
//! a candidate: compiled (or loaded from the cache), checked against the
//! pin, its world and every settings it is used with, and run through its own
//! test suite when the config names one. Only a candidate that passes all of
//! that replaces the current version; one that fails is refused, the old
//! version stays, and the plugin's status says why. Work in flight holds a
//! [`PluginSet::snapshot`] and finishes with the versions it started with.
//!
//! A version that passed all that can still overstep its grant in a real
//! render (on objects its suite did not have): [`PluginSet::roll_back`] then
//! puts the version before it back, and the file stays refused until it
//! changes again.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::config::{Config, PluginConfig};
use crate::plugin::{CallStats, Plugin, PluginSource, Runtime, World};
use crate::source::Roots;
use crate::status::{Kind, Level, PluginDetail, PluginVersion, StatusBoard, MAX_VERSIONS};

/// What happened to one plugin in a [`PluginSet::refresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A version was loaded where there was none.
    Loaded {
        /// The plugin.
        name: String,
        /// Its sha256.
        sha256: String,
    },
    /// A new version replaced the old one.
    Swapped {
        /// The plugin.
        name: String,
        /// The old sha256.
        from: String,
        /// The new sha256.
        to: String,
    },
    /// A new version was refused; the old one (if any) stays.
    Refused {
        /// The plugin.
        name: String,
        /// The refused file's sha256 (empty when it could not be read).
        sha256: String,
        /// Why.
        reason: String,
    },
}

/// How a file looked when it was last read, so an unchanged file is not
/// hashed again on every poll.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    len: u64,
    modified: Option<SystemTime>,
    sha256: String,
}

#[derive(Default)]
struct Entry {
    current: Option<Plugin>,
    /// The version `current` replaced, for [`PluginSet::roll_back`].
    previous: Option<Plugin>,
    seen: Option<Seen>,
    /// The last file problem reported, so a missing file is said once, not every poll.
    unreadable: Option<String>,
}

/// The current version of every configured plugin.
pub struct PluginSet {
    runtime: Arc<Runtime>,
    current: RwLock<BTreeMap<String, Plugin>>,
    entries: Mutex<BTreeMap<String, Entry>>,
    stats: BTreeMap<String, Arc<CallStats>>,
}

impl PluginSet {
    /// An empty set for the plugins of `config` (nothing loaded yet).
    pub fn new(runtime: Arc<Runtime>, config: &Config) -> PluginSet {
        PluginSet {
            runtime,
            current: RwLock::default(),
            entries: Mutex::default(),
            stats: config
                .plugins
                .keys()
                .map(|name| (name.clone(), Arc::default()))
                .collect(),
        }
    }

    /// The call counters of each plugin, kept across versions.
    pub fn stats(&self) -> &BTreeMap<String, Arc<CallStats>> {
        &self.stats
    }

    /// The current versions, for one unit of work.
    pub fn snapshot(&self) -> HashMap<String, Plugin> {
        let current = self.current.read().expect("plugin set lock");
        current
            .iter()
            .map(|(name, plugin)| (name.clone(), plugin.clone()))
            .collect()
    }

    /// Look at every plugin file and swap in verified new versions. Blocking
    /// (compiling a plugin takes a while): run it off the async threads.
    pub fn refresh(&self, config: &Config, roots: &Roots, board: &StatusBoard) -> Vec<Event> {
        let mut events = Vec::new();
        let mut entries = self.entries.lock().expect("plugin entries lock");
        for (name, declared) in &config.plugins {
            let entry = entries.entry(name.clone()).or_default();
            let Some((file, tests)) = roots.plugin_files(declared) else {
                let source = declared.source.as_deref().unwrap_or_default();
                board.update(Kind::Plugin, name, |s| {
                    s.message = format!("waiting for source `{source}` to be fetched");
                });
                continue;
            };
            // An `oci://` plugin is pulled (a digest reference only once; a
            // tag is asked for on every poll, so a moved tag is seen).
            let file = if is_oci(declared) {
                let cache = config.cache_dir.as_deref();
                match crate::plugin::oci::resolve_blocking(
                    name,
                    declared,
                    &config.registries,
                    cache,
                ) {
                    Ok(file) => file,
                    Err(e) => {
                        let reason = e.to_string();
                        if entry.unreadable.as_ref() != Some(&reason) {
                            events.push(self.refuse(
                                board,
                                name,
                                entry,
                                String::new(),
                                reason.clone(),
                            ));
                            entry.unreadable = Some(reason);
                        }
                        continue;
                    }
                }
            } else {
                file
            };
            let seen = match look(&file, entry.seen.as_ref()) {
                Ok(seen) => seen,
                Err(reason) => {
                    if entry.unreadable.as_ref() != Some(&reason) {
                        events.push(self.refuse(board, name, entry, String::new(), reason.clone()));
                        entry.unreadable = Some(reason);
                        entry.seen = None;
                    }
                    continue;
                }
            };
            entry.unreadable = None;
            if entry.seen.as_ref() == Some(&seen) {
                continue;
            }
            let sha256 = seen.sha256.clone();
            entry.seen = Some(seen);
            if entry.current.as_ref().is_some_and(|p| p.sha256() == sha256) {
                continue;
            }
            match self.verify(config, name, declared, &file, tests.as_deref()) {
                Ok(plugin) => {
                    let plugin = plugin.with_stats(self.stats[name].clone());
                    let event = match &entry.current {
                        None => Event::Loaded {
                            name: name.clone(),
                            sha256: sha256.clone(),
                        },
                        Some(old) => Event::Swapped {
                            name: name.clone(),
                            from: old.sha256().to_string(),
                            to: sha256.clone(),
                        },
                    };
                    tracing::info!(plugin = %name, sha256 = %short(&sha256), "{}", describe(&event));
                    board.event(Level::Info, Kind::Plugin, name, &describe(&event));
                    let now = crate::status::timestamp(SystemTime::now());
                    board.update(Kind::Plugin, name, |s| {
                        s.ready = Some(true);
                        s.revision = Some(sha256.clone());
                        s.last_run = Some(now.clone());
                        s.message = describe(&event);
                        let detail = s.plugin.get_or_insert_with(PluginDetail::default);
                        detail.world = Some(plugin.world().to_string());
                        detail.capabilities = plugin
                            .admission()
                            .effective
                            .names()
                            .into_iter()
                            .map(str::to_string)
                            .collect();
                        version(
                            detail,
                            PluginVersion {
                                sha256: sha256.clone(),
                                at: now,
                                outcome: match event {
                                    Event::Loaded { .. } => "loaded",
                                    _ => "swapped in",
                                }
                                .into(),
                                reason: None,
                            },
                        );
                    });
                    self.current
                        .write()
                        .expect("plugin set lock")
                        .insert(name.clone(), plugin.clone());
                    entry.previous = entry.current.replace(plugin);
                    events.push(event);
                }
                Err(reason) => events.push(self.refuse(board, name, entry, sha256, reason)),
            }
        }
        events
    }

    /// Take version `sha256` of plugin `name` out of service for `reason`
    /// and put the version it replaced back. Returns whether that happened
    /// (not when `sha256` is no longer current or there is no version
    /// before it: then the render's failure stands). The refused file is
    /// not loaded again until it changes.
    pub fn roll_back(&self, name: &str, sha256: &str, reason: &str, board: &StatusBoard) -> bool {
        let mut entries = self.entries.lock().expect("plugin entries lock");
        let Some(entry) = entries.get_mut(name) else {
            return false;
        };
        if entry.current.as_ref().map(Plugin::sha256) != Some(sha256) {
            return false;
        }
        let Some(previous) = entry.previous.take() else {
            return false;
        };
        self.current
            .write()
            .expect("plugin set lock")
            .insert(name.to_string(), previous.clone());
        entry.current = Some(previous);
        self.refuse(board, name, entry, sha256.to_string(), reason.to_string());
        let back = entry
            .current
            .as_ref()
            .map(Plugin::sha256)
            .unwrap_or_default();
        board.update(Kind::Plugin, name, |s| {
            s.ready = Some(true);
            s.revision = Some(back.to_string());
        });
        true
    }

    fn refuse(
        &self,
        board: &StatusBoard,
        name: &str,
        entry: &Entry,
        sha256: String,
        reason: String,
    ) -> Event {
        let keeping = match &entry.current {
            Some(old) => format!("; still running {}", short(old.sha256())),
            None => "; no version is loaded".to_string(),
        };
        tracing::warn!(plugin = %name, "new version refused: {reason}{keeping}");
        let message = format!(
            "version {} refused: {}{keeping}",
            if sha256.is_empty() {
                "?"
            } else {
                short(&sha256)
            },
            first_line(&reason)
        );
        board.event(Level::Warning, Kind::Plugin, name, &message);
        let now = crate::status::timestamp(SystemTime::now());
        board.update(Kind::Plugin, name, |s| {
            s.ready = Some(false);
            s.last_run = Some(now.clone());
            s.message = message;
            s.record_error(now.clone(), reason.clone());
            version(
                s.plugin.get_or_insert_with(PluginDetail::default),
                PluginVersion {
                    sha256: sha256.clone(),
                    at: now,
                    outcome: "refused".into(),
                    reason: Some(reason.clone()),
                },
            );
        });
        Event::Refused {
            name: name.to_string(),
            sha256,
            reason,
        }
    }

    /// Load `file` as plugin `name` and check it the way the config uses it.
    fn verify(
        &self,
        config: &Config,
        name: &str,
        declared: &PluginConfig,
        file: &Path,
        tests: Option<&Path>,
    ) -> Result<Plugin, String> {
        let plugin = self
            .runtime
            .load(&PluginSource {
                name: name.to_string(),
                path: file.to_path_buf(),
                sha256: declared.sha256.clone(),
                limits: declared.limits.clone(),
            })
            .map_err(|e| e.to_string())?;
        let uses = uses(config, name);
        if let Some((world, _)) = uses.iter().find(|(w, _)| *w != plugin.world()) {
            return Err(format!(
                "it implements the {} world, but the config uses it as a {world} plugin",
                plugin.world()
            ));
        }
        // The declared settings are checked only when nothing uses the
        // plugin: a use's own settings replace them.
        let mut all: Vec<&serde_json::Value> = uses.iter().map(|(_, s)| *s).collect();
        if all.is_empty() {
            all.push(&declared.settings);
        }
        let mut checked: Vec<&serde_json::Value> = Vec::new();
        for settings in all {
            if !checked.contains(&settings) {
                plugin.check_settings(settings).map_err(|e| e.to_string())?;
                checked.push(settings);
            }
        }
        if let Some(suite) = tests {
            let report = crate::testing::run_suite_against(&plugin, suite);
            if report.failed() > 0 {
                let first = report
                    .results
                    .iter()
                    .find_map(|r| match &r.outcome {
                        crate::testing::Outcome::Fail(why) => {
                            Some(format!("{}: {}", r.case, first_line(why)))
                        }
                        crate::testing::Outcome::Pass => None,
                    })
                    .unwrap_or_default();
                return Err(format!(
                    "its test suite {} failed {} of {} cases (first: {first})",
                    suite.display(),
                    report.failed(),
                    report.results.len()
                ));
            }
        }
        Ok(plugin)
    }
}

/// Put `seen` first in the plugin's versions, keeping the newest [`MAX_VERSIONS`].
fn version(detail: &mut PluginDetail, seen: PluginVersion) {
    detail.versions.insert(0, seen);
    detail.versions.truncate(MAX_VERSIONS);
}

fn is_oci(declared: &PluginConfig) -> bool {
    declared
        .path
        .to_str()
        .is_some_and(|p| p.starts_with("oci://"))
}

/// Every (world, settings) the config uses plugin `name` with.
fn uses<'a>(config: &'a Config, name: &str) -> Vec<(World, &'a serde_json::Value)> {
    let mut out = Vec::new();
    for k in &config.kustomizations {
        for u in k.mutators.iter().filter(|u| u.plugin == name) {
            out.push((World::ManifestMutator, &u.settings));
        }
        for u in k.validators.iter().filter(|u| u.plugin == name) {
            out.push((World::ManifestValidator, &u.settings));
        }
    }
    for image in config.images.values().filter(|i| i.policy == name) {
        out.push((World::ImagePolicy, &image.settings));
    }
    out
}

/// Stat `file`, and hash it unless size and mtime match `before`.
fn look(file: &Path, before: Option<&Seen>) -> Result<Seen, String> {
    let meta = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let (len, modified) = (meta.len(), meta.modified().ok());
    if let Some(b) = before.filter(|b| b.len == len && b.modified == modified) {
        return Ok(b.clone());
    }
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(Seen {
        len,
        modified,
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}

fn describe(event: &Event) -> String {
    match event {
        Event::Loaded { sha256, .. } => format!("loaded {}", short(sha256)),
        Event::Swapped { from, to, .. } => format!("swapped {} -> {}", short(from), short(to)),
        Event::Refused { reason, .. } => format!("refused: {}", first_line(reason)),
    }
}

fn short(sha256: &str) -> &str {
    &sha256[..sha256.len().min(12)]
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

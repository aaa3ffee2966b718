//! `/metrics`: Prometheus text exposition (format 0.0.4) of what the daemon
//! did, with the `prometheus-client` crate.
//!
//! | metric | labels | meaning |
//! |---|---|---|
//! | `rekon_reconcile_total` | kind, name | runs of a source, kustomization, image or plugin load |
//! | `rekon_reconcile_errors_total` | kind, name | those that failed |
//! | `rekon_reconcile_duration_seconds` | kind, name | histogram of their durations |
//! | `rekon_plugin_calls_total` | plugin | calls into a plugin, every version of it |
//! | `rekon_plugin_traps_total` | plugin | calls that trapped, hit the memory cap or returned too much |
//! | `rekon_plugin_timeouts_total` | plugin | calls stopped at their deadline |
//! | `rekon_image_tags_scanned` | image | tags the last scan of an image listed |
//! | `rekon_applied_revision_info` | kustomization, revision | 1 for the revision last applied |
//! | `rekon_alerts_sent_total` | alert | events an alert delivered |
//! | `rekon_alert_failures_total` | alert | deliveries that failed after their retries |
//! | `rekon_alerts_dropped_total` | | events dropped because the alert queue was full |

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::plugin::CallStats;
use crate::status::Kind;

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ItemLabels {
    kind: String,
    name: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImageLabels {
    image: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RevisionLabels {
    kustomization: String,
    revision: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    alert: String,
}

type HistogramFamily = Family<ItemLabels, Histogram, fn() -> Histogram>;

/// The daemon's metrics. Cheap to update from any task; encoded per scrape.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ItemLabels, Counter>,
    errors: Family<ItemLabels, Counter>,
    durations: HistogramFamily,
    tags: Family<ImageLabels, Gauge>,
    revisions: Family<RevisionLabels, Gauge>,
    /// The revision each kustomization's info gauge carries, to remove it
    /// when the next one is applied.
    applied: Mutex<HashMap<String, String>>,
    plugins: Arc<PluginCounters>,
    alerts_sent: Family<AlertLabels, Counter>,
    alert_failures: Family<AlertLabels, Counter>,
    alerts_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric registered, none observed yet.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("rekon");
        let reconciles = Family::<ItemLabels, Counter>::default();
        let errors = Family::<ItemLabels, Counter>::default();
        // 10 ms to about 10 minutes: a plugin load or a scan is quick, a
        // kustomization waiting for a rollout can take its whole timeout.
        let durations: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 3.0, 11)));
        let tags = Family::<ImageLabels, Gauge>::default();
        let revisions = Family::<RevisionLabels, Gauge>::default();
        let plugins = Arc::new(PluginCounters::default());
        registry.register(
            "reconcile",
            "Runs of a source, kustomization, image or plugin load",
            reconciles.clone(),
        );
        registry.register("reconcile_errors", "Runs that failed", errors.clone());
        registry.register_with_unit(
            "reconcile_duration",
            "How long runs took",
            Unit::Seconds,
            durations.clone(),
        );
        registry.register(
            "image_tags_scanned",
            "Tags the last scan of an image listed",
            tags.clone(),
        );
        registry.register(
            "applied_revision_info",
            "The revision last applied per kustomization (value 1)",
            revisions.clone(),
        );
        registry.register_collector(Box::new(plugins.clone()));
        let alerts_sent = Family::<AlertLabels, Counter>::default();
        let alert_failures = Family::<AlertLabels, Counter>::default();
        let alerts_dropped = Counter::default();
        registry.register(
            "alerts_sent",
            "Events an alert delivered",
            alerts_sent.clone(),
        );
        registry.register(
            "alert_failures",
            "Alert deliveries that failed after their retries",
            alert_failures.clone(),
        );
        registry.register(
            "alerts_dropped",
            "Events dropped because the alert queue was full",
            alerts_dropped.clone(),
        );
        Metrics {
            registry,
            reconciles,
            errors,
            durations,
            tags,
            revisions,
            applied: Mutex::default(),
            plugins,
            alerts_sent,
            alert_failures,
            alerts_dropped,
        }
    }

    /// Count one run of an item, its duration and whether it failed.
    pub fn reconcile(&self, kind: Kind, name: &str, duration: Duration, ok: bool) {
        let labels = ItemLabels {
            kind: kind.to_string(),
            name: name.to_string(),
        };
        self.reconciles.get_or_create(&labels).inc();
        if !ok {
            self.errors.get_or_create(&labels).inc();
        }
        self.durations
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }

    /// Record how many tags a scan of `image` (its policy name) listed.
    pub fn tags_scanned(&self, image: &str, count: usize) {
        self.tags
            .get_or_create(&ImageLabels {
                image: image.to_string(),
            })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Record the revision `kustomization` now has applied; the series of its
    /// previous revision goes, so a query sees exactly one.
    pub fn applied_revision(&self, kustomization: &str, revision: &str) {
        let mut applied = lock(&self.applied);
        if let Some(old) = applied.insert(kustomization.to_string(), revision.to_string()) {
            if old != revision {
                self.revisions.remove(&RevisionLabels {
                    kustomization: kustomization.to_string(),
                    revision: old,
                });
            }
        }
        self.revisions
            .get_or_create(&RevisionLabels {
                kustomization: kustomization.to_string(),
                revision: revision.to_string(),
            })
            .set(1);
    }

    /// Count one delivery of `alert`, sent or failed (after its retries).
    pub fn alert(&self, alert: &str, sent: bool) {
        let labels = AlertLabels {
            alert: alert.to_string(),
        };
        if sent {
            self.alerts_sent.get_or_create(&labels).inc();
        } else {
            self.alert_failures.get_or_create(&labels).inc();
        }
    }

    /// Count an event dropped because the alert queue was full.
    pub fn alert_dropped(&self) {
        self.alerts_dropped.inc();
    }

    /// Export the call counters of plugin `name`. The counters are read at
    /// each scrape; calling this again for the same name replaces the
    /// counters exported (a hot swap normally keeps the same ones, see
    /// [`crate::plugin::Plugin::with_stats`]).
    pub fn plugin(&self, name: &str, stats: Arc<CallStats>) {
        lock(&self.plugins.stats).insert(name.to_string(), stats);
    }

    /// Everything, in the Prometheus text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String does not fail; should an encoder ever refuse
        // something, the scrape still gets what was written before it.
        if prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("encoding the metrics failed part way");
        }
        out
    }
}

/// Plugins' [`CallStats`], read at scrape time: the atomics are the counters,
/// so nothing is copied on the hot path of a plugin call.
#[derive(Debug, Default)]
struct PluginCounters {
    stats: Mutex<BTreeMap<String, Arc<CallStats>>>,
}

/// A counter derived from [`CallStats`]: name, help and how to read it.
type PluginCounter = (&'static str, &'static str, fn(&CallStats) -> u64);

impl Collector for PluginCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = lock(&self.stats);
        if stats.is_empty() {
            return Ok(());
        }
        let counters: [PluginCounter; 3] = [
            (
                "plugin_calls",
                "Calls into a plugin, all its versions.",
                |s| s.calls.load(Ordering::Relaxed),
            ),
            (
                "plugin_traps",
                "Plugin calls that trapped, hit the memory cap or returned too much.",
                |s| s.traps.load(Ordering::Relaxed),
            ),
            (
                "plugin_timeouts",
                "Plugin calls stopped at their deadline.",
                |s| s.timeouts.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, read) in counters {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (plugin, s) in stats.iter() {
                let labels = [("plugin", plugin.as_str())];
                metric
                    .encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&read(s), None)?;
            }
        }
        Ok(())
    }
}

// The maps hold plain data: a panic elsewhere leaves them usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

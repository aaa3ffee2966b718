//! Settings of readiness-probe and their checks.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Settings of the readiness-probe plugin.
///
/// ```json
/// {
///   "match": {"namespaces": ["website"], "names": ["frontend"]},
///   "readinessProbe": {"initialDelaySeconds": 10, "periodSeconds": 5}
/// }
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Settings {
    /// Which workloads and containers to change; empty selects every workload.
    #[serde(rename = "match")]
    pub selector: Selector,
    /// Fields to set on `readinessProbe`.
    pub readiness_probe: Option<ProbeSettings>,
    /// Fields to set on `livenessProbe`.
    pub liveness_probe: Option<ProbeSettings>,
    /// Fields to set on `startupProbe`.
    pub startup_probe: Option<ProbeSettings>,
    /// Add a probe to containers that lack it (default `false`: only containers
    /// that already have the probe are changed). Each configured probe then
    /// needs a handler; probes are only added to regular containers, not to
    /// init containers.
    pub add_if_missing: bool,
}

/// Which objects and containers are in scope. Every list that is given must
/// match (an empty or missing list matches everything).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Selector {
    /// `metadata.namespace` globs (`*`, `?`). An object without a namespace
    /// only matches `""` (or no list).
    pub namespaces: Vec<String>,
    /// `metadata.name` globs.
    pub names: Vec<String>,
    /// Labels the object (`metadata.labels` of the workload itself) must all have.
    pub labels: BTreeMap<String, String>,
    /// Container name globs; other containers of a matching workload are left alone.
    pub containers: Vec<String>,
}

/// The probe fields this plugin sets. Only the fields given are set; the
/// others keep their values.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ProbeSettings {
    /// Seconds after start before the first probe (at least 0).
    pub initial_delay_seconds: Option<u32>,
    /// Seconds between probes (at least 1).
    pub period_seconds: Option<u32>,
    /// Seconds before a probe times out (at least 1).
    pub timeout_seconds: Option<u32>,
    /// Successes in a row to count as healthy (at least 1; must be 1 for
    /// liveness and startup probes).
    pub success_threshold: Option<u32>,
    /// Failures in a row to count as unhealthy (at least 1).
    pub failure_threshold: Option<u32>,
    /// Grace period when a liveness or startup probe kills the container (at least 1).
    pub termination_grace_period_seconds: Option<u32>,
    /// Handler used only to add a missing probe (`addIfMissing`): an existing
    /// probe keeps its own handler.
    pub http_get: Option<Map<String, Value>>,
    /// Handler used only to add a missing probe; see `httpGet`.
    pub tcp_socket: Option<Map<String, Value>>,
    /// Handler used only to add a missing probe; see `httpGet`.
    pub exec: Option<Map<String, Value>>,
    /// Handler used only to add a missing probe; see `httpGet`.
    pub grpc: Option<Map<String, Value>>,
}

/// The three probes of a container, with the field names Kubernetes uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// `readinessProbe`.
    Readiness,
    /// `livenessProbe`.
    Liveness,
    /// `startupProbe`.
    Startup,
}

impl ProbeKind {
    /// The container field.
    pub fn field(self) -> &'static str {
        match self {
            ProbeKind::Readiness => "readinessProbe",
            ProbeKind::Liveness => "livenessProbe",
            ProbeKind::Startup => "startupProbe",
        }
    }
}

impl ProbeSettings {
    /// The timing fields that are set, as Kubernetes names them.
    pub fn fields(&self) -> Vec<(&'static str, u32)> {
        [
            ("initialDelaySeconds", self.initial_delay_seconds),
            ("periodSeconds", self.period_seconds),
            ("timeoutSeconds", self.timeout_seconds),
            ("successThreshold", self.success_threshold),
            ("failureThreshold", self.failure_threshold),
            (
                "terminationGracePeriodSeconds",
                self.termination_grace_period_seconds,
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect()
    }

    /// The handler given, as `(field, value)`.
    pub fn handler(&self) -> Option<(&'static str, &Map<String, Value>)> {
        self.handlers().into_iter().next()
    }

    fn handlers(&self) -> Vec<(&'static str, &Map<String, Value>)> {
        [
            ("httpGet", &self.http_get),
            ("tcpSocket", &self.tcp_socket),
            ("exec", &self.exec),
            ("grpc", &self.grpc),
        ]
        .into_iter()
        .filter_map(|(name, h)| h.as_ref().map(|h| (name, h)))
        .collect()
    }

    /// Kubernetes' own limits, so a bad value fails when the plugin loads
    /// rather than when the API server refuses the workload.
    fn check(&self, kind: ProbeKind, add_if_missing: bool) -> Result<(), String> {
        let field = kind.field();
        if self.fields().is_empty() && self.handler().is_none() {
            return Err(format!("{field}: set at least one field"));
        }
        for (name, value) in self.fields() {
            if value > i32::MAX as u32 {
                return Err(format!(
                    "{field}.{name}: {value} is larger than Kubernetes allows ({})",
                    i32::MAX
                ));
            }
            if name != "initialDelaySeconds" && value < 1 {
                return Err(format!("{field}.{name}: must be at least 1"));
            }
        }
        if kind != ProbeKind::Readiness && self.success_threshold.is_some_and(|v| v != 1) {
            return Err(format!("{field}.successThreshold: must be 1 for a {field} (Kubernetes refuses other values)"));
        }
        if kind == ProbeKind::Readiness && self.termination_grace_period_seconds.is_some() {
            return Err(format!(
                "{field}.terminationGracePeriodSeconds: only liveness and startup probes have it"
            ));
        }
        let handlers = self.handlers();
        if handlers.len() > 1 {
            let names: Vec<_> = handlers.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "{field}: give one handler, not {}",
                names.join(" and ")
            ));
        }
        if add_if_missing && handlers.is_empty() {
            return Err(format!(
                "{field}: addIfMissing needs a handler to add the probe with (httpGet, tcpSocket, exec or grpc)"
            ));
        }
        Ok(())
    }
}

impl Settings {
    /// The configured probes.
    pub fn probes(&self) -> Vec<(ProbeKind, &ProbeSettings)> {
        [
            (ProbeKind::Readiness, &self.readiness_probe),
            (ProbeKind::Liveness, &self.liveness_probe),
            (ProbeKind::Startup, &self.startup_probe),
        ]
        .into_iter()
        .filter_map(|(kind, p)| p.as_ref().map(|p| (kind, p)))
        .collect()
    }

    /// Whether the settings are empty: no probe, no selector, no `addIfMissing`.
    /// The plugin then changes nothing (it is accepted so a plugin can be
    /// declared before it is configured).
    pub fn is_empty(&self) -> bool {
        let s = &self.selector;
        self.probes().is_empty()
            && !self.add_if_missing
            && s.namespaces.is_empty()
            && s.names.is_empty()
            && s.labels.is_empty()
            && s.containers.is_empty()
    }

    /// Checks the settings; errors start with the field path.
    pub fn check(&self) -> Result<(), String> {
        let probes = self.probes();
        if probes.is_empty() && !self.is_empty() {
            // A selector without anything to set is a half-written configuration.
            return Err("give at least one of readinessProbe, livenessProbe, startupProbe".into());
        }
        for (kind, probe) in probes {
            probe.check(kind, self.add_if_missing)?;
        }
        Ok(())
    }
}

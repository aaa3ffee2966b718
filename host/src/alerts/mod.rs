//! Alerts: `rekon run` tells chat rooms, webhooks and forges what it did,
//! as Flux's notification-controller does for Flux's controllers.
//!
//! The daemon emits an [`Event`] where something worth telling happens (a
//! reconcile failed or recovered, a kustomization was applied with changes or
//! had drift corrected, an image update was committed, a plugin was swapped
//! or refused). Each alert ([`AlertConfig`], from `[alerts.NAME]` or a Flux
//! `Alert` and its `Provider`) filters events as Flux does ([`matches`]:
//! `eventSeverity`, `eventSources` with `*` and `matchLabels`,
//! `inclusionList`/`exclusionList` on the message, `suspend`) and sends them
//! in its provider's format ([`providers`]).
//!
//! Why it is built so:
//! - Sending never holds up reconciling: [`Alerts::emit`] only puts the
//!   event in a bounded queue (`try_send`); when the queue is full the event
//!   is dropped and counted, since a slow webhook must not slow an apply.
//! - One dispatcher task ([`dispatch`]) reads the queue, filters, dedupes and
//!   hands each delivery to its own task, which retries with back-off; a
//!   failed delivery is counted in `/metrics` and shown by `rekon status`.
//! - The same event (alert, object, severity, message, revision) is sent at
//!   most once in a window (5 minutes, as Flux's notification-controller rate
//!   limits identical events by default), so a kustomization failing the same
//!   way on every retry is one message, not one per retry.
//! - Secrets (webhook URLs, tokens) are read at each delivery, never logged;
//!   error messages name the provider and show URLs without path or query.

pub mod dispatch;
pub mod providers;
#[cfg(test)]
mod sink;

use std::collections::BTreeMap;
use std::time::SystemTime;

pub use crate::config::{AlertConfig, AlertsConfig, ProviderConfig, ProviderKind, Severity};
pub use dispatch::{start, Alerts, Settings};

use crate::status::Kind;

/// Something `rekon run` did, about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The object's Flux kind (`Kustomization`, `GitRepository`,
    /// `ImagePolicy`, `ImageUpdateAutomation`; rekon's plugins are `Plugin`).
    pub kind: String,
    /// Its namespace (empty for rekon.toml items, which have none).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Info or error.
    pub severity: Severity,
    /// A short CamelCase reason, as Flux's (`ReconciliationFailed`, ...).
    pub reason: String,
    /// What happened.
    pub message: String,
    /// The revision involved (a commit id, a tag, a plugin's sha256).
    pub revision: Option<String>,
    /// Extra metadata (the alert's `eventMetadata` and `summary` are added
    /// when it is sent).
    pub metadata: BTreeMap<String, String>,
    /// When it happened.
    pub at: SystemTime,
}

impl Event {
    /// An event about item `name` of kind `kind` on the status board.
    pub fn new(
        kind: Kind,
        name: &str,
        severity: Severity,
        reason: &str,
        message: impl Into<String>,
    ) -> Event {
        let (kind, namespace, name) = flux_identity(kind, name);
        Event {
            kind: kind.to_string(),
            namespace,
            name,
            severity,
            reason: reason.to_string(),
            message: message.into(),
            revision: None,
            metadata: BTreeMap::new(),
            at: SystemTime::now(),
        }
    }

    /// The same with a revision.
    pub fn at_revision(mut self, revision: Option<&str>) -> Event {
        self.revision = revision.map(str::to_string);
        self
    }

    /// The Flux controller that would have sent it (`reportingController`).
    pub fn controller(&self) -> &'static str {
        match self.kind.as_str() {
            "Kustomization" => "kustomize-controller",
            "GitRepository" => "source-controller",
            "ImagePolicy" => "image-reflector-controller",
            "ImageUpdateAutomation" => "image-automation-controller",
            _ => "rekon",
        }
    }

    /// Its object's Flux API version.
    pub fn api_version(&self) -> &'static str {
        match self.kind.as_str() {
            "Kustomization" => "kustomize.toolkit.fluxcd.io/v1",
            "GitRepository" => "source.toolkit.fluxcd.io/v1",
            "ImagePolicy" => "image.toolkit.fluxcd.io/v1",
            "ImageUpdateAutomation" => "image.toolkit.fluxcd.io/v1",
            _ => "rekon.dev/v1",
        }
    }

    /// `Kind namespace/name`, the key of [`AlertsConfig::labels`].
    pub fn object(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// A board item as Flux names it: kind, namespace, name. Flux items are
/// `namespace/name` (`NS:NAME` for images); rekon.toml items have no namespace.
pub fn flux_identity(kind: Kind, name: &str) -> (&'static str, String, String) {
    let flux_kind = match kind {
        Kind::Source => "GitRepository",
        Kind::Kustomization => "Kustomization",
        Kind::Image => "ImagePolicy",
        Kind::Automation => "ImageUpdateAutomation",
        Kind::Plugin => "Plugin",
    };
    let split = match kind {
        Kind::Image => name.split_once(':'),
        _ => name.split_once('/'),
    };
    let (namespace, name) = split.unwrap_or(("", name));
    (flux_kind, namespace.to_string(), name.to_string())
}

/// Whether `alert` takes `event` (`labels`: of the objects, for `matchLabels`).
pub fn matches(
    alert: &AlertConfig,
    event: &Event,
    labels: &BTreeMap<String, BTreeMap<String, String>>,
) -> bool {
    if alert.suspend || event.severity < alert.severity {
        return false;
    }
    let object_labels = labels.get(&event.object());
    let source_matches = alert.sources.is_empty()
        || alert.sources.iter().any(|s| {
            s.kind.eq_ignore_ascii_case(&event.kind)
                && (s.name == "*" || s.name == event.name)
                && s.namespace.as_ref().is_none_or(|ns| *ns == event.namespace)
                && s.match_labels
                    .iter()
                    .all(|(k, v)| object_labels.and_then(|l| l.get(k)) == Some(v))
        });
    source_matches
        && (alert.inclusions.is_empty()
            || alert.inclusions.iter().any(|r| r.is_match(&event.message)))
        && !alert.exclusions.iter().any(|r| r.is_match(&event.message))
}

/// `event` as `alert` sends it: the revision and the alert's `summary` and
/// `eventMetadata` in its metadata (the event's own keys win, as in Flux).
pub fn for_alert(alert: &AlertConfig, event: &Event) -> Event {
    let mut e = event.clone();
    if let Some(revision) = &event.revision {
        e.metadata
            .entry("revision".into())
            .or_insert_with(|| revision.clone());
    }
    if let Some(summary) = &alert.summary {
        e.metadata
            .entry("summary".into())
            .or_insert_with(|| summary.clone());
    }
    for (k, v) in &alert.metadata {
        e.metadata.entry(k.clone()).or_insert_with(|| v.clone());
    }
    e
}

/// `url` with only its scheme and host (and port): what error messages show
/// of an address, whose path or query may hold a token.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            match u.port() {
                Some(port) => format!("{}://{host}:{port}/…", u.scheme()),
                None => format!("{}://{host}/…", u.scheme()),
            }
        }
        Err(_) => "(an address that is not a URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::alerts::parse_source as source;
    use crate::config::EventSource;

    fn alert(severity: Severity, sources: Vec<EventSource>) -> AlertConfig {
        AlertConfig {
            name: "a".into(),
            provider: ProviderConfig {
                kind: ProviderKind::Generic,
                address: None,
                channel: None,
                username: None,
                token: None,
                password: None,
                headers: Vec::new(),
                proxy: None,
            },
            severity,
            sources,
            inclusions: Vec::new(),
            exclusions: Vec::new(),
            summary: None,
            metadata: BTreeMap::new(),
            suspend: false,
        }
    }

    fn event(kind: Kind, name: &str, severity: Severity, message: &str) -> Event {
        Event::new(kind, name, severity, "Test", message)
    }

    #[test]
    fn flux_names_split_into_namespace_and_name() {
        let e = event(Kind::Kustomization, "flux-system/apps", Severity::Info, "m");
        assert_eq!(
            (e.kind.as_str(), e.namespace.as_str(), e.name.as_str()),
            ("Kustomization", "flux-system", "apps")
        );
        let e = event(Kind::Image, "flux-system:frontend", Severity::Info, "m");
        assert_eq!(
            (e.kind.as_str(), e.namespace.as_str(), e.name.as_str()),
            ("ImagePolicy", "flux-system", "frontend")
        );
        let e = event(Kind::Source, "website", Severity::Info, "m");
        assert_eq!(
            (e.kind.as_str(), e.namespace.as_str(), e.name.as_str()),
            ("GitRepository", "", "website")
        );
    }

    #[test]
    fn severity_error_takes_errors_only_and_info_everything() {
        let info = event(Kind::Kustomization, "apps", Severity::Info, "applied");
        let error = event(Kind::Kustomization, "apps", Severity::Error, "failed");
        let none = BTreeMap::new();
        assert!(matches(&alert(Severity::Info, vec![]), &info, &none));
        assert!(matches(&alert(Severity::Info, vec![]), &error, &none));
        assert!(!matches(&alert(Severity::Error, vec![]), &info, &none));
        assert!(matches(&alert(Severity::Error, vec![]), &error, &none));
        let mut suspended = alert(Severity::Info, vec![]);
        suspended.suspend = true;
        assert!(!matches(&suspended, &error, &none));
    }

    #[test]
    fn event_sources_match_kind_name_wildcard_namespace_and_labels() {
        let none = BTreeMap::new();
        let apps = event(Kind::Kustomization, "flux-system/apps", Severity::Info, "m");
        let site = event(Kind::Source, "flux-system/site", Severity::Info, "m");
        let by = |s: &[&str]| {
            alert(
                Severity::Info,
                s.iter().map(|s| source(s).unwrap()).collect(),
            )
        };
        assert!(matches(&by(&["Kustomization/*"]), &apps, &none));
        assert!(!matches(&by(&["Kustomization/*"]), &site, &none));
        assert!(matches(&by(&["Kustomization/apps"]), &apps, &none));
        assert!(!matches(&by(&["Kustomization/infra"]), &apps, &none));
        assert!(matches(
            &by(&["Kustomization/flux-system/apps"]),
            &apps,
            &none
        ));
        assert!(!matches(&by(&["Kustomization/other/apps"]), &apps, &none));
        assert!(matches(
            &by(&["Kustomization/infra", "GitRepository/*"]),
            &site,
            &none
        ));

        let mut labelled = by(&["Kustomization/*"]);
        labelled.sources[0]
            .match_labels
            .insert("team".into(), "web".into());
        assert!(!matches(&labelled, &apps, &none), "no labels known");
        let mut labels = BTreeMap::new();
        labels.insert(
            "Kustomization flux-system/apps".to_string(),
            BTreeMap::from([("team".to_string(), "web".to_string())]),
        );
        assert!(matches(&labelled, &apps, &labels));
        labels.insert(
            "Kustomization flux-system/apps".to_string(),
            BTreeMap::from([("team".to_string(), "db".to_string())]),
        );
        assert!(!matches(&labelled, &apps, &labels));
    }

    #[test]
    fn exclusions_and_inclusions_are_regexes_on_the_message() {
        let none = BTreeMap::new();
        let mut a = alert(Severity::Info, vec![]);
        a.exclusions = crate::config::alerts::regexes(["^waiting", "dependency"]).unwrap();
        assert!(!matches(
            &a,
            &event(Kind::Kustomization, "x", Severity::Error, "waiting for it"),
            &none
        ));
        assert!(!matches(
            &a,
            &event(
                Kind::Kustomization,
                "x",
                Severity::Error,
                "a dependency failed"
            ),
            &none
        ));
        assert!(matches(
            &a,
            &event(Kind::Kustomization, "x", Severity::Error, "apply failed"),
            &none
        ));
        a.inclusions = crate::config::alerts::regexes(["failed$"]).unwrap();
        assert!(matches(
            &a,
            &event(Kind::Kustomization, "x", Severity::Error, "apply failed"),
            &none
        ));
        assert!(!matches(
            &a,
            &event(Kind::Kustomization, "x", Severity::Info, "applied"),
            &none
        ));
    }

    #[test]
    fn metadata_merges_without_overriding_the_event() {
        let mut a = alert(Severity::Info, vec![]);
        a.summary = Some("prod".into());
        a.metadata.insert("cluster".into(), "pi".into());
        a.metadata.insert("revision".into(), "not this".into());
        let e = event(Kind::Kustomization, "x", Severity::Info, "m").at_revision(Some("abc"));
        let sent = for_alert(&a, &e);
        assert_eq!(sent.metadata["revision"], "abc");
        assert_eq!(sent.metadata["summary"], "prod");
        assert_eq!(sent.metadata["cluster"], "pi");
    }

    #[test]
    fn urls_are_redacted_to_scheme_and_host() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/s3cret?x=1"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/bot123:abc/send"),
            "http://127.0.0.1:8080/…"
        );
        assert!(!redact_url("not a url s3cret").contains("s3cret"));
    }
}

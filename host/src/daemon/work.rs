//! One run of each kind of item: fetch a source, reconcile a kustomization,
//! scan an image, write the chosen images to git. Each returns what the
//! status board shows; scheduling is [`super::run_item`]'s job.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::alerts::{Event, Severity};
use crate::apply::Action;
use crate::config::Kustomization;
use crate::images::automation::{certain_choice, work_tree};
use crate::images::commit::{update, Mode};
use crate::images::message::CommitMessage;
use crate::images::registry::RegistryClient;
use crate::images::scan::scan;
use crate::images::tagstore::TagStore;
use crate::plugin::{Plugin, PluginError};
use crate::render::{ChangeKind, RenderError, Rendered, Renderer};
use crate::retry::Retry;
use crate::status::{
    timestamp, CommitRecord, FieldChanged, HelmReleaseStatus, ImageDetail, Kind,
    KustomizationDetail, ObjectAction, SkippedTag, MAX_CHANGES, MAX_RANKED,
};

use super::Shared;

/// A run that did its work.
#[derive(Debug)]
pub struct Done {
    /// What it is at now: a commit id, a tag.
    pub revision: Option<String>,
    /// One line for the status board.
    pub message: String,
}

/// A run that did not.
#[derive(Debug)]
pub enum NotDone {
    /// It failed; retried with back-off.
    Failed(String),
    /// It cannot start yet (a dependency, a source not fetched); not a failure.
    Waiting(String),
}

impl<E: std::fmt::Display> From<E> for NotDone {
    fn from(e: E) -> Self {
        NotDone::Failed(format!("{e:#}"))
    }
}

/// The outcome of one run.
pub type Outcome = Result<Done, NotDone>;

/// Fetch source `name`; when its revision moved, ring what reads it.
pub async fn fetch_source(shared: Arc<Shared>, name: String) -> Outcome {
    let source = shared.config.sources[&name].clone();
    let state_dir = shared.state.dir().to_path_buf();
    let checkout = {
        // No render reads the checkout while it is being reset.
        let _writing = shared.checkout_locks[&name].write().await;
        tokio::task::spawn_blocking(move || crate::source::sync(&state_dir, &source)).await??
    };
    let before = {
        let mut roots = shared.roots.write().expect("roots lock");
        let before = roots.revision(Some(&name)).map(str::to_string);
        roots.set(&name, checkout.clone());
        before
    };
    let short = &checkout.revision[..12.min(checkout.revision.len())];
    let branch = &shared.config.sources[&name].git.branch;
    if before.as_deref() != Some(checkout.revision.as_str()) {
        tracing::info!(source = %name, revision = %checkout.revision, "new revision");
        for k in &shared.config.kustomizations {
            if k.source.as_deref() == Some(name.as_str()) {
                shared.triggers.kustomizations[&k.name].ring();
            }
        }
        shared.triggers.plugins.ring();
        if shared.flux_base.is_some() {
            shared.triggers.flux.ring();
        }
    }
    Ok(Done {
        revision: Some(checkout.revision.clone()),
        message: format!("fetched {branch}@{short}"),
    })
}

/// Render kustomization `name` with the current plugins and apply it.
pub async fn reconcile(shared: Arc<Shared>, name: String) -> Outcome {
    let mut k = shared
        .config
        .kustomizations
        .iter()
        .find(|k| k.name == name)
        .expect("a configured kustomization")
        .clone();
    // As kustomize-controller: `substituteFrom` is read on every reconcile.
    if let Some(flux) = k.flux.as_mut() {
        if flux
            .post_build
            .as_ref()
            .is_some_and(|p| !p.substitute_from.is_empty())
        {
            crate::flux::refresh_vars(flux, &shared.cluster).await?;
        }
    }
    let (root, revision) = {
        let roots = shared.roots.read().expect("roots lock");
        let Some(root) = roots.dir(k.source.as_deref()) else {
            return Err(NotDone::Waiting(format!(
                "waiting for source `{}` to be fetched",
                k.source.as_deref().unwrap_or_default()
            )));
        };
        let revision = roots.revision(k.source.as_deref()).unwrap_or("local");
        (root.to_path_buf(), revision.to_string())
    };
    // Dependencies must be applied, and at this revision when they read the same source.
    let remembered = shared.state.remembered();
    let snapshot = shared.board.snapshot();
    for dep in &k.depends_on {
        let ready = snapshot
            .items(Kind::Kustomization)
            .get(dep)
            .is_some_and(|s| s.ready == Some(true));
        let dep_source = shared
            .config
            .kustomizations
            .iter()
            .find(|d| &d.name == dep)
            .and_then(|d| d.source.clone());
        let current = dep_source != k.source
            || remembered.applied.get(dep).map(String::as_str) == Some(revision.as_str());
        if !ready || !current {
            return Err(NotDone::Waiting(format!(
                "waiting for dependency `{dep}` to be applied{}",
                if ready {
                    format!(" at {}", short(&revision))
                } else {
                    String::new()
                }
            )));
        }
    }
    let rendered = match render(&shared, &k, &root).await? {
        // A version that oversteps its grant is taken out of service and
        // the one before it put back, so one bad update does not stop
        // every reconcile; the render then runs again.
        (Err(RenderError::Plugin(PluginError::Overstep { plugin, overstep })), plugins)
            if plugins.get(&plugin).is_some_and(|p| {
                shared.plugins.roll_back(
                    &plugin,
                    p.sha256(),
                    &format!("it overstepped its grant in a render of `{name}`: {overstep}"),
                    &shared.board,
                )
            }) =>
        {
            render(&shared, &k, &root).await?.0?
        }
        (result, _) => result?,
    };
    shared.board.update(Kind::Kustomization, &name, |s| {
        let detail = s
            .kustomization
            .get_or_insert_with(KustomizationDetail::default);
        detail.changes_total = rendered.changes.len();
        detail.changes = rendered
            .changes
            .iter()
            .take(MAX_CHANGES)
            .map(|c| FieldChanged {
                plugin: c.plugin.clone(),
                object: c.object.clone(),
                path: match c.change {
                    ChangeKind::Field => c.field.path.clone(),
                    ChangeKind::Added => "(object added)".into(),
                    ChangeKind::Removed => "(object removed)".into(),
                },
                before: crate::explain::short(&c.field.before),
                after: crate::explain::short(&c.field.after),
            })
            .collect();
        detail.findings = rendered.findings.iter().map(ToString::to_string).collect();
    });
    let objects: Vec<serde_json::Value> = rendered.objects.into_iter().map(|o| o.object).collect();
    let report = shared.cluster.apply(&k, &objects).await?;
    shared.board.update(Kind::Kustomization, &name, |s| {
        let detail = s
            .kustomization
            .get_or_insert_with(KustomizationDetail::default);
        detail.applied_at = Some(timestamp(std::time::SystemTime::now()));
        detail.applied_revision = Some(revision.clone());
        detail.objects = report
            .applied
            .iter()
            .map(|a| ObjectAction {
                object: object_name(&a.object),
                action: a.action.to_string(),
            })
            .collect();
        detail.pruned = report
            .pruned
            .iter()
            .map(|p| ObjectAction {
                object: object_name(&p.object),
                action: p.outcome.to_string(),
            })
            .collect();
        detail.helm_releases = helm_releases(&objects, &report);
    });
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for a in &report.applied {
        *counts.entry(a.action.to_string()).or_default() += 1;
    }
    let mut summary: Vec<String> = counts.iter().map(|(a, n)| format!("{n} {a}")).collect();
    if !report.pruned.is_empty() {
        summary.push(format!("{} pruned", report.pruned.len()));
    }
    if !report.succeeded() {
        let unhealthy: Vec<String> = report
            .health
            .iter()
            .filter(|h| h.state != crate::apply::HealthState::Ready)
            .map(|h| format!("{} {}", h.object, h.message))
            .collect();
        return Err(NotDone::Failed(format!(
            "applied {} at {} but not healthy: {}",
            summary.join(", "),
            short(&revision),
            unhealthy.join("; ")
        )));
    }
    shared.state.update(|r| {
        r.applied.insert(name.clone(), revision.clone());
    })?;
    shared.metrics.applied_revision(&name, &revision);
    // Something changed in the cluster: at a new revision it is the change
    // set (Flux's `Progressing` event); at the revision already applied it
    // was drift, now corrected.
    let changed: Vec<String> = report
        .applied
        .iter()
        .filter(|a| a.action != Action::Unchanged)
        .map(|a| format!("{} {}", object_name(&a.object), a.action))
        .chain(
            report
                .pruned
                .iter()
                .map(|p| format!("{} {}", object_name(&p.object), p.outcome)),
        )
        .collect();
    if !changed.is_empty() {
        let drift = remembered.applied.get(&name) == Some(&revision);
        let (reason, what) = if drift {
            ("DriftCorrected", "drift corrected")
        } else {
            ("Progressing", "applied")
        };
        shared.alerts.emit(
            Event::new(
                Kind::Kustomization,
                &name,
                Severity::Info,
                reason,
                format!("{what} at {}:\n{}", short(&revision), changed.join("\n")),
            )
            .at_revision(Some(&revision)),
        );
    }
    for other in &shared.config.kustomizations {
        if other.depends_on.contains(&name) {
            shared.triggers.kustomizations[&other.name].ring();
        }
    }
    Ok(Done {
        message: format!("applied {}: {}", short(&revision), summary.join(", ")),
        revision: Some(revision),
    })
}

/// Scan image `name`; a new certain choice rings the automation.
/// Render `k` from `root` with the current plugin versions, holding the
/// checkout's read lock; the versions used come back with the result.
async fn render(
    shared: &Arc<Shared>,
    k: &Kustomization,
    root: &std::path::Path,
) -> Result<(Result<Rendered, RenderError>, HashMap<String, Plugin>), NotDone> {
    let plugins = shared.plugins.snapshot();
    let renderer = Renderer::with_plugins(plugins.clone(), k)?.with_charts(
        Arc::clone(&shared.config.charts),
        Arc::clone(&shared.charts),
    );
    let _reading = match &k.source {
        Some(source) => Some(shared.checkout_locks[source].read().await),
        None => None,
    };
    let (k, root) = (k.clone(), root.to_path_buf());
    let result = tokio::task::spawn_blocking(move || renderer.render(&root, &k)).await?;
    Ok((result, plugins))
}

pub async fn scan_image(shared: Arc<Shared>, name: String) -> Outcome {
    let image = &shared.config.images[&name];
    let Some(plugin) = shared.plugins.snapshot().remove(&image.policy) else {
        return Err(NotDone::Failed(format!(
            "policy plugin `{}` is not loaded (see `rekon status`)",
            image.policy
        )));
    };
    let client = RegistryClient::new(&image.registry)?;
    let store = TagStore::new(shared.state.dir().join("tags"));
    let result = scan(image, &client, &plugin, &store).await?;
    shared.metrics.tags_scanned(&name, result.tags);
    shared.board.update(Kind::Image, &name, |s| {
        let detail = s.image.get_or_insert_with(ImageDetail::default);
        detail.scanned_at = Some(timestamp(std::time::SystemTime::now()));
        detail.tags = result.tags;
        detail.excluded = result.excluded;
        detail.stale = result.stale;
        detail.ranking = result.ranking.iter().take(MAX_RANKED).cloned().collect();
        detail.skipped = result
            .skipped
            .iter()
            .map(|k| SkippedTag {
                tag: k.tag.clone(),
                offered: k.offered.iter().map(ToString::to_string).collect(),
            })
            .collect();
        detail.chosen = result.chosen.clone();
    });
    let choice = match certain_choice(image, &result) {
        Ok(choice) => choice,
        Err(why) => {
            // Uncertain: this image sits out the next automation pass.
            shared.chosen.lock().expect("chosen lock").remove(&name);
            return Err(NotDone::Failed(format!("left alone: {why}")));
        }
    };
    let tag = choice.tag.clone();
    // A digest re-resolved under the same tag (digest-reflection) is a change too.
    let changed = shared
        .chosen
        .lock()
        .expect("chosen lock")
        .insert(name.clone(), choice.clone())
        .is_none_or(|old| old != choice);
    shared.state.update(|r| {
        r.chosen.insert(name.clone(), tag.clone());
    })?;
    if changed {
        shared.triggers.automation.ring();
    }
    Ok(Done {
        message: format!(
            "{} tags, chose {tag} in {:.0?}",
            result.tags, result.duration
        ),
        revision: Some(tag),
    })
}

/// Write the current certain choices to git in one commit and push; a push
/// rings the sources that read that remote, so the change is applied next.
pub async fn automate(shared: Arc<Shared>) -> Outcome {
    let Some(git) = shared.config.git.clone() else {
        return Ok(Done {
            revision: None,
            message: "no [git] table: nothing to write".into(),
        });
    };
    let mut policies = shared.chosen.lock().expect("chosen lock").clone();
    // An ImageUpdateAutomation's `policySelector`.
    if let Some(selected) = &git.policies {
        policies.retain(|name, _| selected.contains(name));
    }
    if policies.is_empty() {
        return Err(NotDone::Waiting("waiting for a certain image scan".into()));
    }
    let state_dir = shared.state.dir().to_path_buf();
    let outcome = tokio::task::spawn_blocking(move || {
        let tree = work_tree(&state_dir, &git)?;
        anyhow::Ok(update(
            &tree,
            &git.path,
            &policies,
            &CommitMessage::of(&git)?,
            Mode::Push,
            Retry::REMOTE,
        )?)
    })
    .await??;
    let changes = outcome.update.changes().count();
    if let Some(commit) = outcome.commit.filter(|_| outcome.pushed) {
        let at = timestamp(std::time::SystemTime::now());
        let mut by_image: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for change in outcome.update.changes() {
            by_image
                .entry(change.policy.as_str())
                .or_default()
                .push(change.to_string());
        }
        for (policy, changes) in by_image {
            shared.board.update(Kind::Image, policy, |s| {
                s.image.get_or_insert_with(ImageDetail::default).last_commit = Some(CommitRecord {
                    commit: commit.to_string(),
                    at: at.clone(),
                    changes,
                });
            });
        }
    }
    let Some(commit) = outcome.commit.filter(|_| outcome.pushed) else {
        return Ok(Done {
            revision: Some(outcome.base.to_string()),
            message: format!("no change (remote at {})", short(&outcome.base.to_string())),
        });
    };
    let url = &shared.config.git.as_ref().expect("checked above").url;
    for source in shared.config.sources.values() {
        if &source.git.url == url {
            shared.triggers.sources[&source.name].ring();
        }
    }
    let commit = commit.to_string();
    shared.alerts.emit(
        Event::new(
            Kind::Automation,
            super::AUTOMATION,
            Severity::Info,
            "Succeeded",
            format!(
                "pushed commit {} to {} ({changes} change(s))",
                short(&commit),
                crate::git::redact(url)
            ),
        )
        .at_revision(Some(&commit)),
    );
    Ok(Done {
        message: format!("pushed {} ({changes} change(s))", short(&commit)),
        revision: Some(commit),
    })
}

/// The Helm releases among the applied `objects` (HelmCharts annotated
/// `rekon.dev/helm-release` by the Helm plugin), with their health.
fn helm_releases(
    objects: &[serde_json::Value],
    report: &crate::apply::ApplyReport,
) -> Vec<HelmReleaseStatus> {
    use crate::apply::HealthState;
    let text = |o: &serde_json::Value, p: &str| {
        o.pointer(p)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    objects
        .iter()
        .filter(|o| o["apiVersion"] == "helm.cattle.io/v1" && o["kind"] == "HelmChart")
        .filter_map(|o| {
            let release = text(o, "/metadata/annotations/rekon.dev~1helm-release")?;
            let (namespace, name) = (text(o, "/metadata/namespace"), text(o, "/metadata/name")?);
            let health = report.health.iter().find(|h| {
                h.object.kind == "HelmChart"
                    && h.object.name == name
                    && (namespace.is_none() || h.object.namespace == namespace)
            });
            let state = match health {
                None => "applied".to_string(),
                Some(h) => match h.state {
                    HealthState::Ready => "installed".into(),
                    HealthState::InProgress => "installing".into(),
                    HealthState::TimedOut => format!("not installed: {}", h.message),
                    HealthState::Failed => format!("failed: {}", h.message),
                },
            };
            Some(HelmReleaseStatus {
                release,
                chart: text(o, "/spec/chart").unwrap_or_default(),
                version: text(o, "/spec/version").unwrap_or_else(|| "-".into()),
                state,
            })
        })
        .collect()
}

/// `Kind/namespace/name` (or `Kind/name`), as `rekon render --explain` names objects.
fn object_name(o: &crate::apply::ObjectRef) -> String {
    match &o.namespace {
        Some(ns) => format!("{}/{ns}/{}", o.kind, o.name),
        None => format!("{}/{}", o.kind, o.name),
    }
}

fn short(revision: &str) -> &str {
    &revision[..12.min(revision.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{ApplyReport, Health, HealthState, ObjectRef};
    use serde_json::json;

    #[test]
    fn helm_releases_are_the_annotated_helm_charts_with_their_health() {
        let chart = |name: &str, version: Option<&str>| {
            let mut c = json!({"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
                "metadata": {"name": name, "namespace": "apps",
                    "annotations": {"rekon.dev/helm-release": format!("apps/{name}")}},
                "spec": {"chart": name}});
            if let Some(v) = version {
                c["spec"]["version"] = json!(v);
            }
            c
        };
        let health = |name: &str, state, message: &str| Health {
            object: ObjectRef {
                api_version: "helm.cattle.io/v1".into(),
                kind: "HelmChart".into(),
                namespace: Some("apps".into()),
                name: name.into(),
            },
            state,
            message: message.into(),
        };
        let objects = [
            chart("podinfo", Some("6.5.4")),
            chart("redis", None),
            json!({"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart", "metadata": {"name": "foreign", "namespace": "apps"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "podinfo", "namespace": "apps"}}),
        ];
        let report = ApplyReport {
            kustomization: "apps".into(),
            applied: Vec::new(),
            pruned: Vec::new(),
            health: vec![
                health("podinfo", HealthState::Ready, "installed"),
                health(
                    "redis",
                    HealthState::Failed,
                    "install Job apps/helm-install-redis failed: backoff",
                ),
            ],
        };
        let states: Vec<(String, String, String, String)> = helm_releases(&objects, &report)
            .into_iter()
            .map(|r| (r.release, r.chart, r.version, r.state))
            .collect();
        assert_eq!(
            states,
            [
                (
                    "apps/podinfo".into(),
                    "podinfo".into(),
                    "6.5.4".into(),
                    "installed".into()
                ),
                (
                    "apps/redis".into(),
                    "redis".into(),
                    "-".into(),
                    "failed: install Job apps/helm-install-redis failed: backoff".into()
                ),
            ]
        );
    }
}

//! Apply rendered objects to a cluster, as Flux's kustomize-controller does.
//!
//! For one kustomization ([`Cluster::apply`]):
//!
//! 1. **Discovery** maps each object's apiVersion/kind to the API resource
//!    serving it, so any kind works, CRDs included.
//! 2. **Dry-run**: every object is sent as a server-side apply with
//!    `dryRun=All`. If the server refuses any, nothing is applied and the
//!    error names each refused object and why ([`ApplyError::DryRun`]). The
//!    answer, compared with the live object (without `status` and
//!    server-maintained metadata), says whether the object is `created`,
//!    `configured` or `unchanged`; unchanged objects are not sent again.
//!    Two kinds of objects cannot be checked before their prerequisites
//!    exist: custom resources whose CRD is in the same set, and objects in a
//!    Namespace the set creates. They are checked right after stage one,
//!    still before anything of stage two is applied
//!    ([`ApplyError::LateDryRun`]).
//! 3. **Stage one**: CRDs and Namespaces are applied; rekon waits until each
//!    CRD is `Established`, then runs discovery again.
//! 4. **Stage two**: everything else, in kustomize's kind order, in waves
//!    when objects carry `rekon.dev/depends-on: ns/name,...` (Flux
//!    HelmRelease `dependsOn`, written by the Helm plugin): objects without
//!    it first; an object only after the HelmCharts of the releases it
//!    names (labelled `helm.rekon.dev/release-namespace`/`-name`, in this
//!    set or already in the cluster) are ready ([`helm`]). A cycle is an
//!    error before anything is applied; a release that fails or is not
//!    ready within the timeout stops the apply, naming it. Stage one
//!    ignores the annotation.
//! 5. **Inventory and prune**: objects the previous apply recorded that left
//!    git are deleted in reverse order if they still carry the ownership
//!    label ([`OWNER_LABEL`]) and are not annotated
//!    `rekon.dev/prune: disabled`; then the new inventory is written to the
//!    cluster ([`inventory`]). It is written only after a successful apply,
//!    so a failed one loses nothing.
//! 6. **Health**: Deployments, StatefulSets, DaemonSets, Jobs and k3s
//!    HelmCharts (ready when k3s's install Job for their spec completed:
//!    [`helm`]) are watched (polled) until ready, failed or the
//!    kustomization's timeout. HelmCharts are watched even when the
//!    kustomization does not `wait`, as Flux's helm-controller reports every
//!    HelmRelease's readiness.
//!
//! Every write uses server-side apply with field manager `rekon`. `force`
//! is set only to take fields over from kubectl and Flux (see
//! [`Reason::Conflict`]); Flux forces every apply, which would let rekon
//! fight other controllers forever. Transient failures (5xx, 429, dropped
//! connections, optimistic-concurrency conflicts) are retried with backoff
//! ([`Retry`]). An immutable-field refusal names the field, and the object is
//! deleted and recreated only when the kustomization sets `allow-recreate`.

mod api;
mod diff;
mod discovery;
mod error;
mod health;
mod helm;
pub mod inventory;
pub mod lease;
mod object;
mod plan;
mod prune;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch};
use kube::Client;
use serde_json::Value;

pub use api::Retry;
pub use diff::{Change, ObjectDiff};
pub use error::{ApplyError, FieldConflict, Reason, Refusal};
pub use health::HealthState;
pub use object::{ObjectRef, Stage, FIELD_MANAGER, OWNER_LABEL, PRUNE_ANNOTATION};
pub use prune::{PruneOutcome, Pruned};

use api::{field_conflicts, immutable_field, with_retry};
use discovery::{groups, Resolver};
use error::reason;
use helm::{ReleaseId, WaveError};
use plan::{Checked, Desired, Planned, Verdict};

use crate::config::Kustomization;

/// How rekon paces its requests.
#[derive(Debug, Clone)]
pub struct Options {
    /// Retries of transient failures.
    pub retry: Retry,
    /// Delay between two polls while waiting for CRDs, deletions and rollouts.
    pub poll_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retry: Retry::CLUSTER,
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// What apply did with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It did not exist.
    Created,
    /// It existed and had drifted from git.
    Configured,
    /// It already matched git; nothing was sent.
    Unchanged,
    /// An immutable field changed: deleted and created again.
    Recreated,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Recreated => "recreated",
        })
    }
}

/// One applied object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The object.
    pub object: ObjectRef,
    /// What was done.
    pub action: Action,
}

/// The health of one workload after the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The workload.
    pub object: ObjectRef,
    /// Its final state.
    pub state: HealthState,
    /// What it reported last (`1/2 replicas available`).
    pub message: String,
}

/// Everything one apply did.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    /// The kustomization.
    pub kustomization: String,
    /// Every object, in apply order.
    pub applied: Vec<Applied>,
    /// Objects that left git (empty when `prune = false`).
    pub pruned: Vec<Pruned>,
    /// Workload health (empty when `wait = false`).
    pub health: Vec<Health>,
}

impl ApplyReport {
    /// Whether every workload is ready and every prune succeeded.
    pub fn succeeded(&self) -> bool {
        self.health.iter().all(|h| h.state == HealthState::Ready)
            && !self
                .pruned
                .iter()
                .any(|p| matches!(p.outcome, PruneOutcome::Failed(_)))
    }

    /// What was done with the object of `kind` named `name`.
    pub fn action(&self, kind: &str, name: &str) -> Option<Action> {
        self.applied
            .iter()
            .find(|a| a.object.kind == kind && a.object.name == name)
            .map(|a| a.action)
    }
}

/// A connection to one cluster (a clone shares the connection pool).
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    options: Options,
    /// The configuration the client was made from (to impersonate a
    /// service account); `None` for a client made elsewhere.
    config: Option<kube::Config>,
}

impl Cluster {
    /// Connect with `kubeconfig` (a file), else `$KUBECONFIG` or
    /// `~/.kube/config`, else the in-cluster service account; `context`
    /// picks another kubeconfig context.
    pub async fn connect(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
    ) -> Result<Cluster, ApplyError> {
        let (client, config) = api::connect(kubeconfig, context).await?;
        Ok(Cluster {
            client,
            options: Options::default(),
            config: Some(config),
        })
    }

    /// Use an existing client.
    pub fn new(client: Client) -> Cluster {
        Cluster {
            client,
            options: Options::default(),
            config: None,
        }
    }

    /// The same cluster as `user` (`system:serviceaccount:NS:NAME`), by
    /// impersonation, as kustomize-controller applies a Kustomization with
    /// a `serviceAccountName`.
    pub fn impersonating(&self, user: &str) -> Result<Cluster, ApplyError> {
        let Some(config) = &self.config else {
            return Err(ApplyError::Config(format!(
                "cannot act as {user}: the client was not made from a kubeconfig"
            )));
        };
        let mut config = config.clone();
        config.auth_info.impersonate = Some(user.to_string());
        let client =
            Client::try_from(config.clone()).map_err(|e| ApplyError::Config(e.to_string()))?;
        Ok(Cluster {
            client,
            options: self.options.clone(),
            config: Some(config),
        })
    }

    /// The `data` of ConfigMap or Secret `namespace/name` (a Secret's
    /// values decoded), or `None` when it does not exist.
    pub async fn read_data(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, Vec<u8>>>, ApplyError> {
        use k8s_openapi::api::core::v1::{ConfigMap, Secret};
        let what = format!("{kind} {namespace}/{name}");
        let failed = |e: kube::Error| ApplyError::Request {
            action: "reading",
            object: what.clone(),
            reason: reason(&e),
        };
        let retry = &self.options.retry;
        match kind {
            "Secret" => {
                let api: kube::Api<Secret> = kube::Api::namespaced(self.client.clone(), namespace);
                let secret = with_retry(retry, &format!("reading {what}"), || api.get_opt(name))
                    .await
                    .map_err(failed)?;
                Ok(secret.map(|s| {
                    s.data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.0))
                        .collect()
                }))
            }
            _ => {
                let api: kube::Api<ConfigMap> =
                    kube::Api::namespaced(self.client.clone(), namespace);
                let map = with_retry(retry, &format!("reading {what}"), || api.get_opt(name))
                    .await
                    .map_err(failed)?;
                Ok(map.map(|m| {
                    m.data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.into_bytes()))
                        .collect()
                }))
            }
        }
    }

    /// Change retries and polling.
    pub fn with_options(mut self, options: Options) -> Cluster {
        self.options = options;
        self
    }

    /// Apply `objects` (one kustomization's render) as described in the
    /// module documentation.
    pub async fn apply(
        &self,
        k: &Kustomization,
        objects: &[Value],
    ) -> Result<ApplyReport, ApplyError> {
        if let Some(user) = k.flux.as_ref().and_then(|f| f.impersonate()) {
            return Box::pin(self.impersonating(&user)?.apply_as(k, objects)).await;
        }
        self.apply_as(k, objects).await
    }

    async fn apply_as(
        &self,
        k: &Kustomization,
        objects: &[Value],
    ) -> Result<ApplyReport, ApplyError> {
        let retry = &self.options.retry;
        let inventory = inventory::read(&self.client, retry, &k.owner()).await?;
        let (mut resolver, mut desired) = self.prepare(k, objects, &inventory).await?;
        let waves = waves(k, &desired)?;
        let namespaces = created_namespaces(&desired);

        let plans = self.check_all(k, &desired, &namespaces).await?;
        if let Some(refusals) = plans.refusals() {
            return Err(ApplyError::DryRun {
                kustomization: k.name.clone(),
                refusals,
            });
        }
        let mut plans = plans.planned();

        let mut applied = Vec::with_capacity(desired.len());
        for (d, p) in desired.iter().zip(&plans) {
            if d.id.stage() == Stage::Definitions {
                applied.push(self.execute(k, d, p).await?);
            }
        }
        self.wait_established(k, &desired).await?;

        if plans.iter().any(|p| p.verdict == Verdict::Deferred) {
            if desired
                .iter()
                .any(|d| d.id.kind == "CustomResourceDefinition")
            {
                resolver =
                    Resolver::run(&self.client, retry, &discovery_groups(&desired, &inventory))
                        .await?;
                for d in desired.iter_mut().filter(|d| d.target.is_none()) {
                    d.target = resolver.resolve(&d.id);
                }
            }
            let mut refusals = Vec::new();
            for (d, p) in desired.iter().zip(plans.iter_mut()) {
                if p.verdict != Verdict::Deferred {
                    continue;
                }
                match plan::check(&self.client, retry, k, d, &HashSet::new()).await? {
                    Checked::Planned(planned) => *p = planned,
                    Checked::Refused(reason) => refusals.push(Refusal {
                        object: d.id.clone(),
                        reason,
                    }),
                }
            }
            if !refusals.is_empty() {
                return Err(ApplyError::LateDryRun {
                    kustomization: k.name.clone(),
                    refusals,
                });
            }
        }

        let replaced = self.jobs_to_replace(&desired, &plans).await;
        for wave in 0..=waves.iter().copied().max().unwrap_or(0) {
            self.wait_releases(k, &desired, &waves, wave, &replaced)
                .await?;
            for ((d, p), _) in desired
                .iter()
                .zip(&plans)
                .zip(&waves)
                .filter(|(_, w)| **w == wave)
            {
                if d.id.stage() == Stage::Objects {
                    applied.push(self.execute(k, d, p).await?);
                }
            }
        }

        let ids: Vec<ObjectRef> = desired.iter().map(|d| d.id.clone()).collect();
        let stale = prune::stale(&inventory, &ids);
        let pruned = if k.prune {
            self.delete_stale(&k.owner(), &resolver, &stale, false)
                .await
        } else {
            Vec::new()
        };
        // Stale objects stay recorded until they are gone or no longer
        // rekon's: with `prune = false` for `rekon prune`, after a failed
        // delete for the next apply.
        let mut entries = ids;
        entries.extend(stale.into_iter().filter(|s| {
            !k.prune
                || pruned
                    .iter()
                    .any(|p| &p.object == s && matches!(p.outcome, PruneOutcome::Failed(_)))
        }));
        inventory::write(&self.client, retry, &k.owner(), &entries).await?;

        let mut health = if k.wait {
            self.wait_healthy(&desired, k.timeout, false, &replaced)
                .await
        } else {
            // A HelmChart stands in for a HelmRelease, whose readiness
            // Flux's helm-controller reports whatever the Kustomization's
            // `wait`: its install is watched even when nothing else is.
            let charts: Vec<Desired> = desired
                .iter()
                .filter(|d| helm::is_helm_chart(&d.id))
                .cloned()
                .collect();
            self.wait_healthy(&charts, k.timeout, false, &replaced)
                .await
        };
        // Flux's `healthChecks`: objects of any kind, applied here or not,
        // waited for within the same timeout.
        let checks = k.flux.as_ref().map_or(&[][..], |f| &f.health_checks[..]);
        if !checks.is_empty() {
            let resolver = Resolver::run(&self.client, retry, &groups(checks)).await?;
            let extra: Vec<Desired> = checks
                .iter()
                .map(|id| Desired {
                    id: id.clone(),
                    object: Value::Null,
                    target: resolver.resolve(id),
                    defined_in_set: false,
                })
                .collect();
            health.extend(
                self.wait_healthy(&extra, k.timeout, true, &HashMap::new())
                    .await,
            );
        }
        Ok(ApplyReport {
            kustomization: k.name.clone(),
            applied,
            pruned,
            health,
        })
    }

    /// Delete (or with `dry_run`, list) the objects `k` applied before that
    /// are no longer among `objects`, with the same ownership rules as
    /// [`Cluster::apply`]; then record what is left in the inventory.
    pub async fn prune(
        &self,
        k: &Kustomization,
        objects: &[Value],
        dry_run: bool,
    ) -> Result<Vec<Pruned>, ApplyError> {
        let retry = &self.options.retry;
        let inventory = inventory::read(&self.client, retry, &k.owner()).await?;
        let (resolver, desired) = self.prepare(k, objects, &inventory).await?;
        let ids: Vec<ObjectRef> = desired.into_iter().map(|d| d.id).collect();
        let stale = prune::stale(&inventory, &ids);
        let pruned = self
            .delete_stale(&k.owner(), &resolver, &stale, dry_run)
            .await;
        if !dry_run && !stale.is_empty() {
            let entries: Vec<ObjectRef> = inventory
                .into_iter()
                .filter(|e| {
                    pruned
                        .iter()
                        .all(|p| &p.object != e || matches!(p.outcome, PruneOutcome::Failed(_)))
                })
                .collect();
            inventory::write(&self.client, retry, &k.owner(), &entries).await?;
        }
        Ok(pruned)
    }

    /// Discovery over the groups of `objects` and `inventory`, then the
    /// objects made ready to apply.
    async fn prepare(
        &self,
        k: &Kustomization,
        objects: &[Value],
        inventory: &[ObjectRef],
    ) -> Result<(Resolver, Vec<Desired>), ApplyError> {
        let ids = plan::identities(&k.owner(), objects)?;
        let groups = groups(ids.iter().chain(inventory));
        let resolver = Resolver::run(&self.client, &self.options.retry, &groups).await?;
        let desired = plan::prepare(
            &k.owner(),
            objects,
            &resolver,
            self.client.default_namespace(),
        )?;
        Ok((resolver, desired))
    }

    /// Dry-run every object.
    async fn check_all(
        &self,
        k: &Kustomization,
        desired: &[Desired],
        namespaces: &HashSet<String>,
    ) -> Result<Plans, ApplyError> {
        let mut checked = Vec::with_capacity(desired.len());
        for d in desired {
            let c = plan::check(&self.client, &self.options.retry, k, d, namespaces).await?;
            checked.push((d.id.clone(), c));
        }
        Ok(Plans(checked))
    }

    /// Apply one object as planned.
    async fn execute(
        &self,
        k: &Kustomization,
        d: &Desired,
        p: &Planned,
    ) -> Result<Applied, ApplyError> {
        let done = |action| Applied {
            object: d.id.clone(),
            action,
        };
        let (action, force) = match p.verdict {
            Verdict::Unchanged => return Ok(done(Action::Unchanged)),
            Verdict::Apply {
                created: true,
                force,
            } => (Action::Created, force),
            Verdict::Apply {
                created: false,
                force,
            } => (Action::Configured, force),
            Verdict::Recreate => {
                self.delete_and_wait(k, d).await?;
                (Action::Recreated, false)
            }
            Verdict::Deferred => {
                unreachable!("deferred objects are checked again before stage two")
            }
        };
        let target = d.target.as_ref().expect("planned objects have a target");
        let api = target.api(&self.client, d.id.namespace.as_deref());
        let params = plan::params(false, force);
        let what = d.id.to_string();
        let patch = Patch::Apply(&d.object);
        with_retry(&self.options.retry, &format!("applying {what}"), || {
            api.patch(&d.id.name, &params, &patch)
        })
        .await
        .map_err(|e| {
            // The cluster changed since the dry-run: say how, as the dry-run would.
            let why = match (field_conflicts(&e), immutable_field(&e)) {
                (Some(conflicts), _) => Reason::Conflict(conflicts).to_string(),
                (None, Some((field, message))) => Reason::Immutable { field, message }.to_string(),
                (None, None) => reason(&e),
            };
            ApplyError::Request {
                action: "applying",
                object: what.clone(),
                reason: why,
            }
        })?;
        Ok(done(action))
    }

    /// Delete an object and wait until it is gone (finalizers may hold it).
    async fn delete_and_wait(&self, k: &Kustomization, d: &Desired) -> Result<(), ApplyError> {
        let target = d.target.as_ref().expect("planned objects have a target");
        let api = target.api(&self.client, d.id.namespace.as_deref());
        let what = d.id.to_string();
        let failed = |e: kube::Error| ApplyError::Request {
            action: "deleting (to recreate)",
            object: what.clone(),
            reason: reason(&e),
        };
        let retry = &self.options.retry;
        let params = DeleteParams::background();
        match with_retry(retry, &format!("deleting {what}"), || {
            api.delete(&d.id.name, &params)
        })
        .await
        {
            Ok(_) => {}
            Err(e) if api::is_not_found(&e) => {}
            Err(e) => return Err(failed(e)),
        }
        let deadline = Instant::now() + k.timeout;
        loop {
            let live = with_retry(retry, &format!("reading {what}"), || {
                api.get_opt(&d.id.name)
            })
            .await
            .map_err(failed)?;
            if live.is_none() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ApplyError::NotDeleted {
                    object: d.id.clone(),
                    timeout: k.timeout,
                });
            }
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// Wait until every CRD of the set is `Established`.
    async fn wait_established(
        &self,
        k: &Kustomization,
        desired: &[Desired],
    ) -> Result<(), ApplyError> {
        let deadline = Instant::now() + k.timeout;
        for d in desired
            .iter()
            .filter(|d| d.id.kind == "CustomResourceDefinition")
        {
            let target = d.target.as_ref().expect("CRDs are a built-in kind");
            let api = target.api(&self.client, None);
            let what = d.id.to_string();
            loop {
                let live = plan::read_live(&api, &d.id.name, &what, &self.options.retry)
                    .await?
                    .unwrap_or(Value::Null);
                let conditions = live
                    .pointer("/status/conditions")
                    .cloned()
                    .unwrap_or(Value::Null);
                let established = conditions.as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                });
                if established {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(ApplyError::NotEstablished {
                        name: d.id.name.clone(),
                        timeout: k.timeout,
                        last: conditions.to_string(),
                    });
                }
                tokio::time::sleep(self.options.poll_interval).await;
            }
        }
        Ok(())
    }

    /// Poll the workloads of `desired` until each is ready or failed, or
    /// `timeout` runs out.
    ///
    /// `listed`: `desired` are health checks asked for by name: every kind
    /// is read, one the cluster does not serve fails, and one not found yet
    /// is waited for.
    async fn wait_healthy(
        &self,
        desired: &[Desired],
        timeout: Duration,
        listed: bool,
        replaced: &JobsToReplace,
    ) -> Vec<Health> {
        let deadline = Instant::now() + timeout;
        let mut done: Vec<Health> = Vec::new();
        if listed {
            done.extend(
                desired
                    .iter()
                    .filter(|d| d.target.is_none())
                    .map(|d| Health {
                        object: d.id.clone(),
                        state: HealthState::Failed,
                        message: "the cluster does not serve this kind".into(),
                    }),
            );
        }
        let mut pending: Vec<&Desired> = desired
            .iter()
            .filter(|d| {
                (listed || health::has_health(&d.id.kind) || helm::is_helm_chart(&d.id))
                    && d.target.is_some()
            })
            .collect();
        loop {
            let mut still = Vec::new();
            for d in pending {
                let target = d.target.as_ref().expect("filtered above");
                let api = target.api(&self.client, d.id.namespace.as_deref());
                let what = d.id.to_string();
                let (state, message) =
                    match with_retry(&self.options.retry, &format!("reading {what}"), || {
                        api.get_opt(&d.id.name)
                    })
                    .await
                    {
                        Ok(Some(live)) if helm::is_helm_chart(&d.id) => {
                            let stale = replaced.get(&d.id).map(String::as_str);
                            self.chart_health(&plan::to_value(live), stale).await
                        }
                        Ok(Some(live)) => health::assess(&plan::to_value(live)),
                        Ok(None) if listed => (HealthState::InProgress, "not found".into()),
                        Ok(None) => (HealthState::Failed, "not found".into()),
                        Err(e) => (
                            HealthState::InProgress,
                            format!("cannot read it: {}", reason(&e)),
                        ),
                    };
                if state == HealthState::InProgress {
                    still.push((d, message));
                } else {
                    done.push(Health {
                        object: d.id.clone(),
                        state,
                        message,
                    });
                }
            }
            if still.is_empty() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                done.extend(still.into_iter().map(|(d, message)| Health {
                    object: d.id.clone(),
                    state: HealthState::TimedOut,
                    message: format!("{message} after {}", humantime::format_duration(timeout)),
                }));
                break;
            }
            tokio::time::sleep(self.options.poll_interval.min(deadline - now)).await;
            pending = still.into_iter().map(|(d, _)| d).collect();
        }
        // Report in apply order, whatever order they finished in.
        done.sort_by_key(|h| desired.iter().position(|d| d.id == h.object));
        done
    }
}

impl Cluster {
    /// The install Jobs k3s is about to replace: for each HelmChart of
    /// `desired` whose spec this apply changes (its dry-run moves its
    /// generation), the uid of its install Job now. Until k3s replaces
    /// that Job, it is the previous spec's (see [`helm`]).
    async fn jobs_to_replace(&self, desired: &[Desired], plans: &[Planned]) -> JobsToReplace {
        let generation = |o: &Option<Value>| {
            o.as_ref()
                .and_then(|o| o.pointer("/metadata/generation"))
                .and_then(Value::as_i64)
        };
        let mut replaced = HashMap::new();
        for (d, p) in desired.iter().zip(plans) {
            if !helm::is_helm_chart(&d.id)
                || !matches!(p.verdict, Verdict::Apply { created: false, .. })
                || generation(&p.live) == generation(&p.merged)
            {
                continue;
            }
            let Some(live) = &p.live else { continue };
            if let Some(uid) = self.install_job(live).await.ok().flatten().and_then(|job| {
                job.pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }) {
                replaced.insert(d.id.clone(), uid);
            }
        }
        replaced
    }

    /// A HelmChart's install Job, if it exists.
    async fn install_job(&self, chart: &Value) -> Result<Option<Value>, kube::Error> {
        let namespace = chart
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let name = helm::job_name(chart);
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &helm::job_resource());
        with_retry(
            &self.options.retry,
            &format!("reading Job {namespace}/{name}"),
            || api.get_opt(&name),
        )
        .await
        .map(|job| job.map(plan::to_value))
    }

    /// A HelmChart's state, read with its install Job; `stale`: the uid of
    /// the Job of its previous spec, if this apply changed the spec.
    async fn chart_health(&self, chart: &Value, stale: Option<&str>) -> (HealthState, String) {
        match self.install_job(chart).await {
            Ok(job) => helm::assess(chart, job.as_ref(), stale),
            Err(e) => (
                HealthState::InProgress,
                format!("cannot read its install Job: {}", reason(&e)),
            ),
        }
    }

    /// The state of the HelmChart installing `release`: the one in `desired`,
    /// else the one the cluster has.
    async fn release_health(
        &self,
        desired: &[Desired],
        release: &ReleaseId,
        replaced: &JobsToReplace,
    ) -> (HealthState, String) {
        let in_set = desired.iter().find(|d| {
            helm::is_helm_chart(&d.id) && helm::release_of(&d.object).as_ref() == Some(release)
        });
        let retry = &self.options.retry;
        let live = match in_set {
            Some(d) => {
                let api: Api<DynamicObject> = Api::namespaced_with(
                    self.client.clone(),
                    d.id.namespace.as_deref().unwrap_or("default"),
                    &helm::chart_resource(),
                );
                with_retry(retry, &format!("reading {}", d.id), || {
                    api.get_opt(&d.id.name)
                })
                .await
            }
            None => {
                let api: Api<DynamicObject> =
                    Api::all_with(self.client.clone(), &helm::chart_resource());
                let params = ListParams::default().labels(&release.selector());
                with_retry(
                    retry,
                    &format!("listing the HelmChart of {release}"),
                    || api.list(&params),
                )
                .await
                .map(|list| list.items.into_iter().next())
            }
        };
        match live {
            Ok(Some(chart)) => {
                let stale = in_set.and_then(|d| replaced.get(&d.id)).map(String::as_str);
                self.chart_health(&plan::to_value(chart), stale).await
            }
            Ok(None) => (HealthState::InProgress, "has no HelmChart".into()),
            Err(e) => (
                HealthState::InProgress,
                format!("cannot read its HelmChart: {}", reason(&e)),
            ),
        }
    }

    /// Wait until every release the objects of `wave` depend on is ready,
    /// within the kustomization's timeout.
    async fn wait_releases(
        &self,
        k: &Kustomization,
        desired: &[Desired],
        waves: &[usize],
        wave: usize,
        replaced: &JobsToReplace,
    ) -> Result<(), ApplyError> {
        let objects = dependents(desired);
        let mut pending: BTreeSet<ReleaseId> = helm::releases_of_wave(&objects, waves, wave);
        let deadline = Instant::now() + k.timeout;
        let dependent = |release: &ReleaseId| {
            objects
                .iter()
                .zip(waves)
                .find(|((_, o), w)| {
                    **w == wave && helm::depends_on(o).unwrap_or_default().contains(release)
                })
                .map(|((id, _), _)| Box::new((*id).clone()))
                .expect("a release of this wave has a dependent in it")
        };
        while !pending.is_empty() {
            let mut last = Vec::new();
            for release in std::mem::take(&mut pending) {
                let (state, message) = self.release_health(desired, &release, replaced).await;
                match state {
                    HealthState::Ready => {}
                    HealthState::Failed => {
                        return Err(ApplyError::Dependency {
                            object: dependent(&release),
                            why: format!("failed: {message}"),
                            release: release.to_string(),
                        })
                    }
                    _ => {
                        last.push((release.clone(), message));
                        pending.insert(release);
                    }
                }
            }
            let now = Instant::now();
            if let Some((release, message)) = last.into_iter().next().filter(|_| now >= deadline) {
                return Err(ApplyError::Dependency {
                    object: dependent(&release),
                    why: format!(
                        "is not ready after {}: {message}",
                        humantime::format_duration(k.timeout)
                    ),
                    release: release.to_string(),
                });
            }
            if !pending.is_empty() {
                tokio::time::sleep(self.options.poll_interval.min(deadline - now)).await;
            }
        }
        Ok(())
    }
}

/// Uids of install Jobs of a previous HelmChart spec, by HelmChart.
type JobsToReplace = HashMap<ObjectRef, String>;

/// Each object with what its dependencies are read from: stage one ignores
/// `rekon.dev/depends-on`, so its objects count as having none.
fn dependents(desired: &[Desired]) -> Vec<(&ObjectRef, &Value)> {
    const NONE: &Value = &Value::Null;
    desired
        .iter()
        .map(|d| match d.id.stage() {
            Stage::Objects => (&d.id, &d.object),
            Stage::Definitions => (&d.id, NONE),
        })
        .collect()
}

/// The apply wave of each object of `desired` ([`helm::waves`]).
fn waves(k: &Kustomization, desired: &[Desired]) -> Result<Vec<usize>, ApplyError> {
    helm::waves(&dependents(desired)).map_err(|e| match e {
        WaveError::Malformed { object, entry } => ApplyError::BadDependsOn { object, entry },
        WaveError::Cycle(cycle) => ApplyError::DependencyCycle {
            kustomization: k.name.clone(),
            cycle,
        },
    })
}

/// The dry-run answers of a set, in its order.
struct Plans(Vec<(ObjectRef, Checked)>);

impl Plans {
    /// Every refusal, or `None` if there is none.
    fn refusals(&self) -> Option<Vec<Refusal>> {
        let refusals: Vec<Refusal> = self
            .0
            .iter()
            .filter_map(|(id, c)| match c {
                Checked::Refused(reason) => Some(Refusal {
                    object: id.clone(),
                    reason: reason.clone(),
                }),
                Checked::Planned(_) => None,
            })
            .collect();
        (!refusals.is_empty()).then_some(refusals)
    }

    /// The plans, when there is no refusal.
    fn planned(self) -> Vec<Planned> {
        self.0
            .into_iter()
            .filter_map(|(_, c)| match c {
                Checked::Planned(p) => Some(p),
                Checked::Refused(_) => None,
            })
            .collect()
    }
}

/// Names of the Namespaces `desired` creates.
fn created_namespaces(desired: &[Desired]) -> HashSet<String> {
    desired
        .iter()
        .filter(|d| d.id.kind == "Namespace" && d.id.group().is_empty())
        .map(|d| d.id.name.clone())
        .collect()
}

fn discovery_groups(desired: &[Desired], inventory: &[ObjectRef]) -> Vec<String> {
    groups(desired.iter().map(|d| &d.id).chain(inventory))
}

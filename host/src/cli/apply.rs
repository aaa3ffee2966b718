//! `rekon apply`, and what `rekon diff` and `rekon prune` share with it:
//! the cluster flags, rendering before touching the cluster, the runtime.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

use crate::apply::lease::{self, LeaseConfig, LeaseError};
use crate::apply::{ApplyReport, Cluster};
use crate::config::{Config, Kustomization};
use crate::render::Renderer;
use crate::source::Roots;

/// Apply kustomizations to the cluster, as Flux's kustomize-controller does.
///
/// Renders each kustomization of the config (or only NAME) with its plugins,
/// then: a server-side dry-run of every object (if the server refuses one,
/// nothing is applied and each refusal is printed); CRDs and Namespaces are
/// applied first, then everything else, with server-side apply (field
/// manager `rekon`), sending only new or drifted objects; objects applied
/// before that left git are pruned (only those labelled
/// rekon.dev/kustomization=NAME and not annotated rekon.dev/prune=disabled);
/// the inventory is recorded in ConfigMap rekon-system/rekon-inventory-NAME;
/// then Deployments, StatefulSets, DaemonSets and Jobs are waited for.
///
/// Per kustomization in rekon.toml: prune = false keeps objects that left
/// git, wait = false skips the health wait, timeout = "5m" bounds the waits,
/// allow-recreate = true deletes and recreates objects whose immutable
/// fields changed (otherwise that is an error naming the field).
///
/// With --leader-elect, rekon first acquires the Lease --lease-namespace/
/// --lease-name (coordination.k8s.io/v1, as client-go's leader election),
/// renews it while applying and releases it at the end, so two rekons (a
/// CronJob, a systemd timer, a laptop) never apply at once. If another rekon
/// holds a live lease, rekon waits up to --lease-wait for it, then exits 3
/// naming the holder, having applied nothing.
///
/// Exit status: 0 applied and healthy, 1 applied but a workload is not ready
/// or a prune failed, 2 error (nothing applied if the dry-run refused),
/// 3 another rekon holds the lease (nothing applied).
///
/// Examples:
///   rekon apply --config examples/pi-website/rekon.toml
///   rekon apply --kubeconfig ~/.kube/pi.yaml frontend
///   KUBECONFIG=~/.kube/pi.yaml rekon apply --context pi
///   rekon apply --leader-elect --lease-wait 1m
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ApplyArgs {
    #[command(flatten)]
    config: super::ConfigArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    election: ElectionArgs,
    /// Apply only this kustomization.
    name: Option<String>,
}

/// Which Lease to hold (`rekon apply`, `rekon run`).
#[derive(Debug, Args)]
pub struct LeaseArgs {
    /// Work only while holding the Lease (see above).
    #[arg(long)]
    leader_elect: bool,
    /// Namespace of the Lease (created if missing).
    #[arg(long, value_name = "NS", default_value = lease::DEFAULT_NAMESPACE, requires = "leader_elect")]
    lease_namespace: String,
    /// Name of the Lease.
    #[arg(long, value_name = "NAME", default_value = lease::DEFAULT_NAME, requires = "leader_elect")]
    lease_name: String,
}

impl LeaseArgs {
    /// The Lease to hold, as this process, when --leader-elect is given.
    pub fn config(&self) -> Option<LeaseConfig> {
        self.leader_elect
            .then(|| LeaseConfig::new(&self.lease_namespace, &self.lease_name, lease::identity()))
    }
}

/// Leader election before applying.
#[derive(Debug, Args)]
struct ElectionArgs {
    #[command(flatten)]
    lease: LeaseArgs,
    /// How long to wait for a lease another rekon holds before exiting 3.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration, requires = "leader_elect")]
    lease_wait: std::time::Duration,
}

/// Which cluster to talk to.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Kubeconfig file [default: $KUBECONFIG, else ~/.kube/config, else the in-cluster service account].
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use instead of the current one.
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
}

impl ClusterArgs {
    /// Connect to the cluster.
    pub async fn connect(&self) -> anyhow::Result<Cluster> {
        Ok(Cluster::connect(self.kubeconfig.as_deref(), self.context.as_deref()).await?)
    }
}

/// Render the selected kustomizations of `config_path` (all of them before
/// anything touches the cluster): each with its objects.
pub fn render(
    cli: &super::Cli,
    config_args: &super::ConfigArgs,
    cluster: Option<&ClusterArgs>,
    name: Option<&str>,
) -> anyhow::Result<(Config, Vec<Vec<Value>>)> {
    let (config, roots) = load_with_sources(config_args, cluster)?;
    let selected = config.select(name)?;
    let runtime = cli.runtime(config.cache_dir.clone())?;
    let renderer = Renderer::load(&config, &runtime, &selected)?;
    let mut rendered = Vec::with_capacity(selected.len());
    for k in &selected {
        let r = renderer
            .render(roots.of(k), k)
            .with_context(|| format!("rendering {}", config.file.display()))?;
        for finding in &r.findings {
            eprintln!("{finding}");
        }
        for line in &r.unresolved {
            eprintln!("warning: {line}");
        }
        rendered.push(r.objects.into_iter().map(|o| o.object).collect());
    }
    Ok((config, rendered))
}

/// Load the configuration and fetch its git sources (once each), so
/// one-shot commands read the same files `rekon run` would; with `[flux]`,
/// read its Flux objects (the Secrets they name from `cluster`; without
/// one, `substituteFrom` reads the repository's own ConfigMaps and
/// Secrets). Plugins kept in a source get absolute paths.
pub fn load_with_sources(
    config_args: &super::ConfigArgs,
    cluster: Option<&ClusterArgs>,
) -> anyhow::Result<(Config, Roots)> {
    let mut config = config_args.load()?;
    let mut roots = Roots::fetch(&config)?;
    if config.flux.is_some() {
        block_on(async {
            let cluster = match cluster {
                Some(c) => Some(c.connect().await?),
                None => None,
            };
            let access = crate::flux::Access {
                cluster: cluster.as_ref(),
                fetch: true,
            };
            crate::flux::expand(&mut config, &mut roots, access).await?;
            anyhow::Ok(())
        })??;
    }
    roots.locate_plugins(&mut config);
    Ok((config, roots))
}

/// The selected kustomizations with their objects.
pub fn selected<'a>(
    config: &'a Config,
    name: Option<&str>,
    rendered: Vec<Vec<Value>>,
) -> anyhow::Result<Vec<(&'a Kustomization, Vec<Value>)>> {
    Ok(config.select(name)?.into_iter().zip(rendered).collect())
}

/// A runtime for the cluster calls: one thread is plenty (requests go one
/// at a time) and a Pi has few cores.
pub fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(future))
}

pub fn run(cli: &super::Cli, args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let (config, rendered) = render(cli, &args.config, Some(&args.cluster), args.name.as_deref())?;
    let work = selected(&config, args.name.as_deref(), rendered)?;
    block_on(async {
        let cluster = args.cluster.connect().await?;
        let apply_all = async {
            let mut ok = true;
            for (k, objects) in &work {
                let report = cluster
                    .apply(k, objects)
                    .await
                    .with_context(|| format!("applying kustomization `{}`", k.name))?;
                print!("{}", table(&report));
                ok &= report.succeeded();
            }
            anyhow::Ok(ok)
        };
        let e = &args.election;
        let ok = if let Some(config) = e.lease.config() {
            let mut lease = cluster.lease(config);
            match lease.acquire(e.lease_wait).await {
                Err(held @ LeaseError::Held { .. }) => {
                    eprintln!("rekon: {held}");
                    return Ok(ExitCode::from(3));
                }
                acquired => acquired?,
            }
            tracing::info!("holding lease {} as {}", lease.name(), lease.identity());
            let outcome = lease.hold(apply_all).await;
            // Released on failure too: the next run need not wait for expiry.
            if let Err(e) = lease.release().await {
                tracing::warn!("{e}");
            }
            outcome??
        } else {
            apply_all.await?
        };
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })?
}

/// The report as aligned sections: objects, pruned objects, health.
fn table(report: &ApplyReport) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for a in &report.applied {
        let action = a.action.to_string();
        match counts.iter_mut().find(|(name, _)| *name == action) {
            Some((_, n)) => *n += 1,
            None => counts.push((action, 1)),
        }
    }
    let summary: Vec<String> = counts.iter().map(|(a, n)| format!("{n} {a}")).collect();
    let mut sections: Vec<[&str; 3]> = vec![["OBJECT", "ACTION", ""]];
    let mut rows: Vec<Vec<[String; 3]>> = vec![report
        .applied
        .iter()
        .map(|a| [a.object.to_string(), a.action.to_string(), String::new()])
        .collect()];
    if !report.pruned.is_empty() {
        sections.push(["PRUNED", "OUTCOME", ""]);
        rows.push(
            report
                .pruned
                .iter()
                .map(|p| [p.object.to_string(), p.outcome.to_string(), String::new()])
                .collect(),
        );
    }
    if !report.health.is_empty() {
        sections.push(["HEALTH", "STATE", "DETAIL"]);
        rows.push(
            report
                .health
                .iter()
                .map(|h| [h.object.to_string(), h.state.to_string(), h.message.clone()])
                .collect(),
        );
    }
    let width = |col: usize| {
        rows.iter()
            .flatten()
            .map(|r| r[col].len())
            .chain(sections.iter().map(|s| s[col].len()))
            .max()
            .unwrap_or(0)
    };
    let (w0, w1) = (width(0), width(1));
    let line = |cells: [&str; 3]| {
        let text = format!("  {:w0$}  {:w1$}  {}", cells[0], cells[1], cells[2]);
        format!("{}\n", text.trim_end())
    };
    let mut out = format!(
        "kustomization {}: {}\n",
        report.kustomization,
        if summary.is_empty() {
            "no objects".to_string()
        } else {
            summary.join(", ")
        }
    );
    for (header, rows) in sections.into_iter().zip(&rows) {
        out += &line(header);
        for r in rows {
            out += &line([&r[0], &r[1], &r[2]]);
        }
    }
    out
}

//! `rekon prune`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::apply::{block_on, render, selected, ClusterArgs};
use crate::apply::PruneOutcome;

/// Delete objects rekon applied that are no longer in git.
///
/// Renders each kustomization (or only NAME), reads what rekon applied last
/// time from its inventory (ConfigMap rekon-system/rekon-inventory-NAME),
/// and deletes, in reverse apply order, the objects no longer rendered.
/// Objects without the label rekon.dev/kustomization=NAME (not rekon's, or
/// taken over by someone else) and objects annotated
/// rekon.dev/prune=disabled are never deleted. `rekon apply` prunes by
/// itself unless the kustomization sets prune = false; this command is for
/// that case and for looking first.
///
/// Exit status: 0 done, 1 a delete failed, 2 error.
///
/// Examples:
///   rekon prune --dry-run --config examples/pi-website/rekon.toml
///   rekon prune --kubeconfig ~/.kube/pi.yaml frontend
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct PruneArgs {
    #[command(flatten)]
    config: super::ConfigArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Only list what would be deleted (and what is kept, and why).
    #[arg(long)]
    dry_run: bool,
    /// Prune only this kustomization.
    name: Option<String>,
}

pub fn run(cli: &super::Cli, args: &PruneArgs) -> anyhow::Result<ExitCode> {
    let (config, rendered) = render(cli, &args.config, Some(&args.cluster), args.name.as_deref())?;
    let work = selected(&config, args.name.as_deref(), rendered)?;
    block_on(async {
        let cluster = args.cluster.connect().await?;
        let mut failed = false;
        for (k, objects) in &work {
            let pruned = cluster
                .prune(k, objects, args.dry_run)
                .await
                .with_context(|| format!("pruning kustomization `{}`", k.name))?;
            for p in pruned {
                failed |= matches!(p.outcome, PruneOutcome::Failed(_));
                println!("{}: {} {}", k.name, p.object, p.outcome);
            }
        }
        Ok(ExitCode::from(u8::from(failed)))
    })?
}

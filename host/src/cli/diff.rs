//! `rekon diff`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::apply::{block_on, render, selected, ClusterArgs};

/// Show what `rekon apply` would change, without changing anything.
///
/// Renders each kustomization (or only NAME), sends every object as a
/// server-side dry-run, and prints a unified diff of the live object and the
/// dry-run result as YAML (managedFields, status and other server-maintained
/// metadata left out), headed "► KIND/NAMESPACE/NAME created|configured|
/// recreated". Objects that would be pruned are listed as "deleted".
///
/// Exit status, as `flux diff`: 0 no differences, 1 differences, 2 error
/// (including objects the server would refuse, each named with the reason).
///
/// Examples:
///   rekon diff --config examples/pi-website/rekon.toml
///   rekon diff --kubeconfig ~/.kube/pi.yaml frontend
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct DiffArgs {
    #[command(flatten)]
    config: super::ConfigArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Diff only this kustomization.
    name: Option<String>,
}

pub fn run(cli: &super::Cli, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let (config, rendered) = render(cli, &args.config, Some(&args.cluster), args.name.as_deref())?;
    let work = selected(&config, args.name.as_deref(), rendered)?;
    block_on(async {
        let cluster = args.cluster.connect().await?;
        let mut differs = false;
        for (k, objects) in &work {
            let diffs = cluster
                .diff(k, objects)
                .await
                .with_context(|| format!("diffing kustomization `{}`", k.name))?;
            for d in diffs {
                differs = true;
                println!("► {} {}", d.object, d.change);
                print!("{}", d.diff);
            }
        }
        Ok(ExitCode::from(u8::from(differs)))
    })?
}

//! `rekon render`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::render::{self, RenderError, Renderer};

/// Render kustomizations to multi-document YAML, after all plugins ran.
///
/// Builds each kustomization of the config (or only NAME) from the source
/// tree (fetching the [sources.NAME] git repositories it reads), runs its
/// mutators in order and its validators, and prints the final objects as
/// YAML on stdout (the Secrets of kustomizations that decrypt SOPS files
/// show `**SOPS**` for their values, as `flux build` does). Validator
/// warnings go to stderr; an error-severity violation prints the findings
/// and exits 1 with nothing on stdout.
///
/// With --explain, prints instead one line per field a mutator changed:
///   PLUGIN: KIND/NAMESPACE/NAME FIELD.PATH: OLD -> NEW
///
/// With --flux PATH (or [flux] in the config), the kustomizations are the
/// Flux Kustomizations found from PATH, built as kustomize-controller
/// builds them (postBuild variables from the repository's own ConfigMaps
/// and Secrets; a variable without a value is named on stderr):
///   rekon render --flux clusters/production flux-system/apps
///   rekon render --config examples/pi-website/rekon-flux.toml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RenderArgs {
    #[command(flatten)]
    config: super::ConfigArgs,
    /// List which plugin changed which field of which object, instead of the YAML.
    #[arg(long)]
    explain: bool,
    /// Render only this kustomization.
    name: Option<String>,
}

pub fn run(cli: &super::Cli, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let (config, roots) = super::apply::load_with_sources(&args.config, None)?;
    let selected = config.select(args.name.as_deref())?;
    let runtime = cli.runtime(config.cache_dir.clone())?;
    let renderer = Renderer::load(&config, &runtime, &selected)?;
    let mut rendered = Vec::new();
    for k in selected {
        match renderer.render(roots.of(k), k) {
            Ok(r) => rendered.push(r),
            Err(err @ RenderError::Denied { .. }) => {
                eprintln!("{err}");
                return Ok(ExitCode::from(1));
            }
            Err(err) => {
                return Err(err).with_context(|| format!("rendering {}", config.file.display()))
            }
        }
    }
    for finding in rendered.iter().flat_map(|r| &r.findings) {
        eprintln!("{finding}");
    }
    for line in rendered.iter().flat_map(|r| &r.unresolved) {
        eprintln!("warning: {line}");
    }
    if args.explain {
        for change in rendered.iter().flat_map(|r| &r.changes) {
            println!("{change}");
        }
    } else {
        print!("{}", render::to_yaml(&rendered));
    }
    Ok(ExitCode::SUCCESS)
}

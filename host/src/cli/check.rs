//! `rekon check`: validate a configuration without running it.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use crate::daemon::{PluginEvent, PluginSet};
use crate::render::{RenderError, Renderer};
use crate::source::Roots;
use crate::status::StatusBoard;

/// Check a configuration the way `rekon run` would start it, without
/// applying, scanning or pushing anything.
///
/// Checks, and prints one line per item:
///   - the file itself (every error names the line and the field);
///   - each [sources.NAME]: fetched into the state dir (skipped with --offline);
///   - each plugin: loads, implements the world its uses need, accepts every
///     settings it is used with, and passes its own test suite (tests = ...);
///   - with Flux objects ([flux] or --flux PATH): every object found, with
///     its file and line (GitRepositories, Kustomizations and their
///     dependsOn, image objects), and what is not applied (Flux's own
///     controllers and CRDs);
///   - each kustomization: builds and passes its mutators and validators.
///
/// Exit status: 0 all good, 1 a problem was found (each is printed), 2 the
/// file cannot be read or parsed.
///
/// Examples:
///   rekon check --config examples/pi-website/rekon.toml
///   rekon check --offline        # no network: git sources are not fetched
///   rekon check --flux clusters/production --offline
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    #[command(flatten)]
    config: super::ConfigArgs,
    /// With Flux objects: the cluster their Secrets and `substituteFrom`
    /// are read from (skipped with --offline; then `substituteFrom` reads
    /// the repository's own ConfigMaps and Secrets).
    #[command(flatten)]
    cluster: super::apply::ClusterArgs,
    /// Do not fetch git sources (what lives in them is not checked).
    #[arg(long)]
    offline: bool,
}

pub fn run(cli: &super::Cli, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.config.load()?;
    println!("ok    {}: parsed", config.file.display());
    let mut problems = 0;
    let mut roots = Roots::local(&config);
    if args.offline {
        for name in config.sources.keys() {
            println!("skip  source {name}: --offline");
        }
    } else if let Some(state_dir) = &config.state_dir {
        for (name, source) in &config.sources {
            match crate::source::sync(state_dir, source) {
                Ok(checkout) => {
                    println!(
                        "ok    source {name}: {}@{}",
                        source.git.branch, checkout.revision
                    );
                    roots.set(name, checkout);
                }
                Err(e) => {
                    problems += 1;
                    println!("FAIL  {e}");
                }
            }
        }
    }

    if config.flux.is_some() {
        let expanded = super::apply::block_on(async {
            let cluster = if args.offline {
                None
            } else {
                match args.cluster.connect().await {
                    Ok(c) => Some(c),
                    Err(e) => {
                        println!("skip  cluster: {e} (Secrets cannot be read; substituteFrom reads the repository)");
                        None
                    }
                }
            };
            let access = crate::flux::Access {
                cluster: cluster.as_ref(),
                fetch: !args.offline,
            };
            crate::flux::expand(&mut config, &mut roots, access).await
        })?;
        match expanded {
            Ok(graph) => {
                print!("{}", graph_lines(&graph));
                problems += graph.problems.len();
            }
            Err(e) => {
                println!("FAIL  {e}");
                eprintln!("1 problem(s) in {}", config.file.display());
                return Ok(ExitCode::from(1));
            }
        }
    }
    let runtime = Arc::new(cli.runtime(config.cache_dir.clone())?);
    let plugins = PluginSet::new(runtime, &config);
    for event in plugins.refresh(&config, &roots, &StatusBoard::new()) {
        match event {
            PluginEvent::Loaded { name, sha256 } => {
                println!("ok    plugin {name}: sha256 {sha256}")
            }
            PluginEvent::Refused { name, reason, .. } => {
                problems += 1;
                println!("FAIL  plugin {name}: {reason}");
            }
            PluginEvent::Swapped { .. } => unreachable!("a fresh set has nothing to swap"),
        }
    }
    for name in config.plugins.keys() {
        if !plugins.snapshot().contains_key(name)
            && config.plugins[name].source.is_some()
            && args.offline
        {
            println!("skip  plugin {name}: in a git source (--offline)");
        }
    }

    for k in &config.kustomizations {
        let Some(root) = roots.dir(k.source.as_deref()) else {
            println!("skip  kustomization {}: its source was not fetched", k.name);
            continue;
        };
        let result = Renderer::with_plugins(plugins.snapshot(), k).and_then(|r| r.render(root, k));
        match result {
            Ok(r) => {
                println!(
                    "ok    kustomization {}: {} objects",
                    k.name,
                    r.objects.len()
                );
                for finding in &r.findings {
                    println!("      {finding}");
                }
                for line in &r.unresolved {
                    println!("      warning: {line}");
                }
            }
            // A plugin that did not load was already reported.
            Err(RenderError::NotLoaded { .. }) => {
                println!(
                    "skip  kustomization {}: a plugin it uses did not load",
                    k.name
                );
            }
            Err(e) => {
                problems += 1;
                println!("FAIL  {e}");
            }
        }
    }
    if problems > 0 {
        eprintln!("{problems} problem(s) in {}", config.file.display());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The discovered Flux objects, one line each with where it is defined,
/// then what is left out and the problems.
fn graph_lines(graph: &crate::flux::Graph) -> String {
    let mut out = String::new();
    for item in &graph.items {
        out += &format!(
            "ok    {} {} ({}:{}): {}\n",
            item.kind,
            item.name,
            item.file.display(),
            item.line,
            item.detail
        );
    }
    for note in &graph.notes {
        out += &format!("note  {note}\n");
    }
    for problem in &graph.problems {
        out += &format!("FAIL  {problem}\n");
    }
    out
}

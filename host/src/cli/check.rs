//! `rekon check`: validate a configuration without running it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use crate::config::Config;
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
///   - each kustomization: builds and passes its mutators and validators.
///
/// Exit status: 0 all good, 1 a problem was found (each is printed), 2 the
/// file cannot be read or parsed.
///
/// Examples:
///   rekon check --config examples/pi-website/rekon.toml
///   rekon check --offline        # no network: git sources are not fetched
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    /// The configuration file.
    #[arg(short, long, default_value = "rekon.toml", env = "REKON_CONFIG")]
    config: PathBuf,
    /// Do not fetch git sources (what lives in them is not checked).
    #[arg(long)]
    offline: bool,
}

pub fn run(cli: &super::Cli, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
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

//! `rekon images scan`: list each configured image's tags, rank them with
//! its policy plugin and report the tag a node would get.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::config::{Config, ImageConfig};
use crate::images::registry::RegistryClient;
use crate::images::scan::{scan, ScanResult};
use crate::images::tagstore::TagStore;
use crate::plugin::{Plugin, PluginSource, Runtime};

/// Scan registries for the images under [images."NS:NAME"] in the config.
///
/// For each image: lists the repository's tags (paging through tags/list),
/// drops the tags matching its exclusion list, ranks the rest with its
/// image-policy plugin and, when the image names a platform, walks the
/// ranking until a tag whose manifest (or index) offers that platform.
/// Tag lists are kept under the state dir (state-dir in the config,
/// $REKON_STATE_DIR, $XDG_STATE_HOME/rekon or ~/.local/state/rekon), one
/// tag per line; when the registry cannot be read the last good list is
/// used and the scan is reported STALE.
///
/// Prints per image: tag count, when they were listed and how long the scan
/// took, the chosen tag, the tags skipped for their platform, and the top of
/// the ranking.
///
/// Exit status: 0 every image scanned and a tag chosen; 1 a scan failed, used
/// a stale list or chose nothing; 2 an error in the configuration.
///
/// Examples:
///   rekon images scan --config examples/pi-website/rekon.toml
///   rekon images scan flux-system:frontend --top 10
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct ScanArgs {
    #[command(flatten)]
    config: super::ConfigArgs,
    /// How many ranked tags to show.
    #[arg(long, default_value_t = 5, value_name = "N")]
    top: usize,
    /// Scan only these images (their policy names).
    #[arg(value_name = "NS:NAME")]
    images: Vec<String>,
}

pub fn run(cli: &super::Cli, args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_for_images(&args.config)?;
    let images = selected(&config, &args.images)?;
    let state_dir = config
        .state_dir
        .clone()
        .context("no directory for tag lists: set state-dir in the config, or $REKON_STATE_DIR")?;
    let store = TagStore::new(state_dir.join("tags"));
    let runtime = cli.runtime(config.cache_dir.clone())?;
    let mut plugins = HashMap::new();
    for image in &images {
        if !plugins.contains_key(&image.policy) {
            plugins.insert(
                image.policy.clone(),
                load(&runtime, &config, &image.policy)?,
            );
        }
        plugins[&image.policy]
            .check_settings(&image.settings)
            .with_context(|| format!("image {}", image.policy_name))?;
    }
    let mut ok = true;
    super::apply::block_on(async {
        for image in &images {
            // A missing secret or CA file fails this image, not the others.
            let scanned = match RegistryClient::new(&image.registry) {
                Ok(client) => scan(image, &client, &plugins[&image.policy], &store)
                    .await
                    .map_err(anyhow::Error::from),
                Err(e) => Err(e.into()),
            };
            match scanned {
                Ok(result) => {
                    print!("{}", report(&result, image, args.top));
                    ok &= result.succeeded();
                }
                Err(e) => {
                    println!("{}  {}\n  FAILED: {e}", image.policy_name, image.repository);
                    ok = false;
                }
            }
        }
    })?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn selected<'a>(config: &'a Config, names: &[String]) -> anyhow::Result<Vec<&'a ImageConfig>> {
    if config.images.is_empty() {
        anyhow::bail!(
            "{}: no [images.\"NS:NAME\"] tables to scan",
            config.file.display()
        );
    }
    if names.is_empty() {
        return Ok(config.images.values().collect());
    }
    names
        .iter()
        .map(|n| {
            config.images.get(n).with_context(|| {
                format!(
                    "no image `{n}` in {} (known: {})",
                    config.file.display(),
                    config.images.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            })
        })
        .collect()
}

pub(super) fn load(runtime: &Runtime, config: &Config, name: &str) -> anyhow::Result<Plugin> {
    // The config checked that the plugin is declared.
    let declared = &config.plugins[name];
    let path = crate::plugin::oci::resolve_blocking(
        name,
        declared,
        &config.registries,
        config.cache_dir.as_deref(),
    )?;
    Ok(runtime.load(&PluginSource {
        name: name.to_string(),
        path,
        sha256: declared.sha256.clone(),
        limits: declared.limits.clone(),
    })?)
}

fn report(r: &ScanResult, image: &ImageConfig, top: usize) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", r.policy_name, r.repository);
    let _ = writeln!(
        out,
        "  tags: {} ({} excluded), listed {}, scan took {:.2?}",
        r.tags,
        r.excluded,
        humantime::format_rfc3339_seconds(r.listed_at),
        r.duration,
    );
    if r.stale {
        let _ = writeln!(
            out,
            "  STALE: using the tag list of the last good scan ({})",
            humantime::format_rfc3339_seconds(r.listed_at)
        );
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "  error: {e}");
    }
    let needs = image
        .platform
        .as_ref()
        .map(|p| format!(" (offers {p})"))
        .unwrap_or_default();
    match &r.chosen {
        Some(tag) => {
            let _ = writeln!(out, "  chosen: {tag}{needs}");
            if let Some(digest) = &r.digest {
                let _ = writeln!(out, "  digest: {digest}");
            }
        }
        None if r.error.is_some() => {
            let _ = writeln!(out, "  chosen: none (see the error)");
        }
        None => {
            let _ = writeln!(out, "  chosen: none: no ranked tag{needs}");
        }
    }
    for s in &r.skipped {
        let offered: Vec<String> = s.offered.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  skipped: {} (offers {})",
            s.tag,
            if offered.is_empty() {
                "no platform".to_string()
            } else {
                offered.join(", ")
            }
        );
    }
    let shown = &r.ranking[..r.ranking.len().min(top)];
    let _ = writeln!(
        out,
        "  ranking ({} of {}): {}",
        shown.len(),
        r.ranking.len(),
        shown.join(", ")
    );
    out
}

//! `rekon images update`: scan every image, rewrite the markers in a work
//! tree of the [git] remote, commit once and push.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::images::automation::{certain_choice, work_tree};
use crate::images::commit::{update, Mode};
use crate::images::message::CommitMessage;
use crate::images::registry::RegistryClient;
use crate::images::scan::scan;
use crate::images::tagstore::TagStore;
use crate::images::{Policies, WarningKind};
use crate::retry::Retry;

/// Scan, rewrite the image markers in git, commit once and push.
///
/// Scans every image under [images."NS:NAME"] (as `rekon images scan`),
/// fetches the [git] remote into a work tree under the state dir, resets it
/// to the remote head (the push-branch when it exists, else the branch),
/// rewrites the markers under [git] path with each chosen tag and makes ONE
/// commit holding every change, with the message template's {changes}
/// listing them (file:line, policy, old -> new). Nothing changed: no commit.
///
/// A rejected push (someone pushed first) fetches, redoes the update on the
/// new head and pushes again, with back-off, a few times; their commit and
/// ours both stay. On any error the work tree is reset and the remote is
/// untouched.
///
/// An image whose scan is not certain (the registry could not be read, so
/// the list is the stored one; or a platform check failed; or no tag was
/// chosen) is left out of the pass: its markers keep their value. Deploying
/// from a stale list could move a Pi to a tag whose platform was never
/// checked, and skipping one pass costs only time.
///
/// Prints each image's choice, each change, and the commit id; --dry-run
/// prints a unified diff and writes nothing; --no-push commits in the work
/// tree only.
///
/// Exit status: 0 every image scanned with certainty and the pass done
/// (also when nothing changed); 1 some image was left out; 2 an error
/// (nothing pushed).
///
/// Examples:
///   rekon images update --config examples/pi-website/rekon.toml --dry-run
///   rekon images update --no-push
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct UpdateArgs {
    #[command(flatten)]
    config: super::ConfigArgs,
    /// Print what would change and a unified diff; commit nothing.
    #[arg(long)]
    dry_run: bool,
    /// Commit in the work tree but do not push.
    #[arg(long, conflicts_with = "dry_run")]
    no_push: bool,
}

pub fn run(cli: &super::Cli, args: &UpdateArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_for_images(&args.config)?;
    let git = config.git.as_ref().with_context(|| {
        format!(
            "{}: no [git] table: `rekon images update` needs the remote to commit to",
            config.file.display()
        )
    })?;
    if config.images.is_empty() {
        anyhow::bail!("{}: no [images.\"NS:NAME\"] tables", config.file.display());
    }
    let state_dir = config
        .state_dir
        .clone()
        .context("no state directory: set state-dir in the config, or $REKON_STATE_DIR")?;
    let store = TagStore::new(state_dir.join("tags"));
    let runtime = cli.runtime(config.cache_dir.clone())?;
    let mut plugins = HashMap::new();
    for image in config.images.values() {
        if !plugins.contains_key(&image.policy) {
            let plugin = super::images_scan::load(&runtime, &config, &image.policy)?;
            plugins.insert(image.policy.clone(), plugin);
        }
        plugins[&image.policy]
            .check_settings(&image.settings)
            .with_context(|| format!("image {}", image.policy_name))?;
    }

    let mut policies = Policies::new();
    let mut left_out = Vec::new();
    super::apply::block_on(async {
        for image in config.images.values() {
            let scanned = match RegistryClient::new(&image.registry) {
                Ok(client) => scan(image, &client, &plugins[&image.policy], &store)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let name = &image.policy_name;
            match scanned.and_then(|r| certain_choice(image, &r)) {
                Ok(choice) => {
                    println!("{name}: {}", choice.reference());
                    policies.insert(name.clone(), choice);
                }
                Err(why) => {
                    println!("{name}: left alone: {why}");
                    left_out.push(name.clone());
                }
            }
        }
    })?;
    let status = if left_out.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    // An ImageUpdateAutomation's `policySelector`.
    if let Some(selected) = &git.policies {
        policies.retain(|name, _| selected.contains(name));
    }
    if policies.is_empty() {
        eprintln!("no image was scanned with certainty: git left alone");
        return Ok(status);
    }

    let tree = work_tree(&state_dir, git)?;
    let mode = match (args.dry_run, args.no_push) {
        (true, _) => Mode::DryRun,
        (false, true) => Mode::Commit,
        (false, false) => Mode::Push,
    };
    let outcome = update(
        &tree,
        &git.path,
        &policies,
        &CommitMessage::of(git)?,
        mode,
        Retry::REMOTE,
    )?;
    for warning in &outcome.update.warnings {
        match &warning.kind {
            WarningKind::UnknownPolicy { policy } if left_out.contains(policy) => {}
            _ => eprintln!("warning: {warning}"),
        }
    }
    for change in outcome.update.changes() {
        println!("{change}");
    }
    if mode == Mode::DryRun {
        for file in &outcome.update.files {
            print!("{}", super::images::diff(file));
        }
    }
    let changes = outcome.update.changes().count();
    match (outcome.commit, outcome.pushed) {
        _ if mode == Mode::DryRun => eprintln!(
            "{changes} change(s) on {} (dry run: nothing written)",
            outcome.base
        ),
        (None, _) => eprintln!("no change: no commit (remote at {})", outcome.base),
        (Some(id), true) => println!(
            "commit {id} pushed to {} ({changes} change(s), attempt {})",
            git.push_branch, outcome.attempts
        ),
        (Some(id), false) => println!(
            "commit {id} in {} (not pushed; {changes} change(s))",
            tree.dir().display()
        ),
    }
    Ok(status)
}

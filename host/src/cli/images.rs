//! `rekon images set`; `rekon images scan` and `rekon images update` are in
//! `images_scan.rs` and `images_update.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::images::{apply_to_tree, FileUpdate, PolicyResult};

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    Set(SetArgs),
    Scan(super::images_scan::ScanArgs),
    Update(super::images_update::UpdateArgs),
}

/// Write images at their policy markers, offline (for CI pipelines and tests).
///
/// Looks at every *.yaml / *.yml / Kustomization under --path (skipping .git, not following
/// symlinks; only files containing "$imagepolicy" are parsed) for Flux image
/// policy markers at the end of a line:
///   image: harbor.lan/website/frontend:1.0 # {"$imagepolicy": "flux-system:frontend"}
///   newTag: "1.0"  # {"$imagepolicy": "flux-system:frontend:tag"}
///   newName: nginx # {"$imagepolicy": "flux-system:frontend:name"}
///   digest: sha256:… # {"$imagepolicy": "flux-system:frontend:digest"}
/// and writes the given policy's image there: NAME:TAG[@DIGEST], or only the
/// tag, name or digest. Only the value changes; comments, quotes,
/// indentation and line endings stay. A value that already names the same
/// repository (nginx = docker.io/library/nginx) keeps its spelling.
///
/// Prints one line per change, FILE:LINE POLICY OLD -> NEW, and with
/// --dry-run a unified diff, writing nothing. Markers naming a policy not
/// given are reported on stderr and left alone. Files are written only after
/// every file was checked, each one atomically.
///
/// Exit status: 0 done (also when nothing changed), 2 an error (it names the
/// file and line, e.g. a marker on a block scalar or a :digest marker for a
/// policy given without digest).
///
/// Examples:
///   rekon images set flux-system:frontend=harbor.lan/website/frontend:main-def5678-1767312000
///   rekon images set --path examples/pi-website --dry-run \
///       flux-system:frontend=harbor.lan/website/frontend:main-def5678-1767312000
///   rekon images set --path deploy flux-system:api=harbor.lan/website/api:1.4.2@sha256:<hex>
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct SetArgs {
    /// The directory to update (or one file).
    #[arg(long, value_name = "DIR", default_value = ".")]
    path: PathBuf,
    /// Print the changes and a unified diff; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// A policy and its latest image, e.g. flux-system:frontend=harbor.lan/web/frontend:1.2.
    #[arg(required = true, value_name = "NS:NAME=IMAGE:TAG[@DIGEST]", value_parser = parse_policy)]
    policies: Vec<(String, PolicyResult)>,
}

pub fn run(cli: &super::Cli, cmd: &ImagesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ImagesCommand::Set(args) => set(args),
        ImagesCommand::Scan(args) => super::images_scan::run(cli, args),
        ImagesCommand::Update(args) => super::images_update::run(cli, args),
    }
}

fn set(args: &SetArgs) -> anyhow::Result<ExitCode> {
    let mut policies = BTreeMap::new();
    for (policy, result) in &args.policies {
        if policies.insert(policy.clone(), result.clone()).is_some() {
            anyhow::bail!("policy {policy} is given twice");
        }
    }
    let update = apply_to_tree(&args.path, &policies, args.dry_run)?;
    for warning in &update.warnings {
        eprintln!("warning: {warning}");
    }
    for change in update.changes() {
        println!("{change}");
    }
    if args.dry_run {
        for file in &update.files {
            print!("{}", diff(file));
        }
    }
    let changes = update.changes().count();
    eprintln!(
        "{changes} change(s) in {} file(s){}; {} YAML file(s), {} with markers",
        update.files.len(),
        if args.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        },
        update.yaml_files,
        update.marked_files,
    );
    Ok(ExitCode::SUCCESS)
}

/// `NS:NAME=IMAGE:TAG[@DIGEST]`
fn parse_policy(arg: &str) -> Result<(String, PolicyResult), String> {
    let (policy, image) = arg
        .split_once('=')
        .ok_or("expected NS:NAME=IMAGE:TAG[@DIGEST]")?;
    match policy.split(':').collect::<Vec<_>>()[..] {
        [namespace, name] if !namespace.is_empty() && !name.is_empty() => {}
        _ => return Err(format!("{policy:?}: the policy must be NAMESPACE:NAME")),
    }
    let result = PolicyResult::parse(image).map_err(|e| e.to_string())?;
    Ok((policy.to_owned(), result))
}

pub(super) fn diff(file: &FileUpdate) -> String {
    let path = file.path.display().to_string();
    similar::TextDiff::from_lines(&file.before, &file.after)
        .unified_diff()
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

//! `rekon plugin run | inspect | compile`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::plugin::capabilities::{self, Capabilities, Capability, Grant};
use crate::plugin::{
    precompile_for_target, write_atomically, Limits, Plugin, PluginError, PluginInfo, PluginSource,
    Runtime, Severity, Tag, World,
};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    Run(RunArgs),
    Inspect(InspectArgs),
    Compile(CompileArgs),
    Annotate(AnnotateArgs),
    New(super::plugin_new::NewArgs),
    Push(super::plugin_oci::PushArgs),
    Pull(super::plugin_oci::PullArgs),
}

/// Run one plugin on one input, as the reconciler would.
///
/// Input and output depend on the plugin's world:
///   image-policy        tags in, one per line; the ranking out, best first, one per line
///   manifest-mutator    YAML objects in; the mutated YAML out
///   manifest-validator  YAML objects in; one line per finding out; exit 1 on any error finding
///
/// Examples:
///   printf 'main-abc-1\nmain-def-2\n' | rekon plugin run --plugin flux_policy.wasm \
///       --settings '{"policy":{"numerical":{"order":"asc"}},"filterTags":{"pattern":"^main-[a-f0-9]+-(?P<ts>[0-9]+)","extract":"$ts"}}'
///   rekon plugin run --plugin readiness_probe.wasm --settings @settings.json --input deployment.yaml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// The plugin component (.wasm, or an artifact of `rekon plugin compile`).
    #[arg(long, value_name = "FILE")]
    plugin: PathBuf,
    /// Settings as JSON text, or @FILE to read them from a JSON file.
    #[arg(long, value_name = "JSON|@FILE", default_value = "{}")]
    settings: String,
    /// The input file, or - for stdin.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    input: String,
    /// The repository name passed to an image-policy plugin.
    #[arg(long, default_value = "registry.invalid/input")]
    repository: String,
    /// Deadline of the call in milliseconds.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Memory cap of the call in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=crate::config::MAX_MEMORY_MIB as u64))]
    memory_mib: u64,
    /// Grant what the plugin declares (clock, random, secrets, create[:KINDS],
    /// delete[:KINDS], rename, sources); repeat for more.
    #[arg(long, value_name = "GRANT", value_parser = grant_entry)]
    grant: Vec<String>,
}

/// Check one `--grant` entry as clap parses it, so a typo is named at once.
fn grant_entry(entry: &str) -> Result<String, String> {
    Grant::parse([entry]).map(|_| entry.to_string())
}

fn grant_of(entries: &[String]) -> Grant {
    // Each entry was checked by `grant_entry`.
    Grant::parse(entries.iter().map(String::as_str)).unwrap_or_default()
}

/// Show what a plugin is: world, contract version, description, declared
/// capabilities and interest (which objects it is shown), and each import
/// with what the host provides for it.
///
/// With --grant or --config it also says whether that grant admits the
/// plugin (--config finds the [plugins.NAME] table whose path is FILE).
///
/// Examples:
///   rekon plugin inspect capability_probe.wasm --grant clock
///   rekon plugin inspect plugins/flux-policy.wasm --config rekon.toml --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct InspectArgs {
    /// The plugin component.
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Something granted (clock, random, secrets, create[:KINDS],
    /// delete[:KINDS], rename, sources); repeat for more.
    #[arg(long, value_name = "GRANT", value_parser = grant_entry)]
    grant: Vec<String>,
    /// Take the grant from the table of this rekon.toml that configures FILE.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Write what a plugin declares into its component.
///
/// Replaces the component's `rekon.capabilities` custom section (and, with
/// it, any declaration its core modules carry, e.g. from the Rust SDK's
/// `declare_capabilities!`); everything else is copied byte for byte. For
/// components from any language (componentize-js, componentize-py, ...).
/// Without --capability the plugin declares nothing beyond `log`.
///
/// With --interest it also replaces the `rekon.interest` section: the
/// objects of a render the plugin is shown (an object is shown when any
/// rule matches). Each rule is a JSON object with optional `groups` ("" is
/// the core group), `kinds`, `namespaces` and `selector` (a label selector:
/// matchLabels, matchExpressions). Without --interest the section stays as
/// it is; --every-object removes it (the plugin is shown every object).
/// Secrets are shown only to plugins granted `secrets`, whatever the rules.
///
/// Examples:
///   rekon plugin annotate policy.wasm --capability clock -o policy.annotated.wasm
///   rekon plugin annotate affinity.wasm \
///     --interest '{"groups":["apps"],"kinds":["Deployment","StatefulSet","DaemonSet"]}' -o affinity.wasm
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct AnnotateArgs {
    /// The plugin component (.wasm).
    file: PathBuf,
    /// A capability it needs (clock, random, secrets, create, delete,
    /// rename, sources); repeat for more.
    #[arg(long, value_name = "CAP")]
    capability: Vec<Capability>,
    /// A rule of the objects it is shown (JSON, see above); repeat for more.
    #[arg(long, value_name = "JSON", conflicts_with = "every_object")]
    interest: Vec<String>,
    /// Remove its interest declaration: it is shown every object.
    #[arg(long)]
    every_object: bool,
    /// Output file (may be FILE itself; written atomically).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
}

/// Precompile a plugin for this or another machine.
///
/// Writes native code that `rekon` on the target loads in milliseconds
/// instead of compiling on start (a Pi compiles slowly), with what the
/// component declares (capabilities, interest) recorded in front of it.
/// Configure the artifact as the plugin's `path` like a `.wasm`. Only load
/// artifacts you built yourself: they are native code.
///
/// Example:
///   rekon plugin compile plugins/flux-policy.wasm --target aarch64-unknown-linux-gnu -o flux-policy.cwasm
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct CompileArgs {
    /// The plugin component (.wasm).
    file: PathBuf,
    /// Target triple [default: this machine].
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,
    /// Output file.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
}

pub fn run(cli: &super::Cli, cmd: &PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Run(args) => run_plugin(cli, args),
        PluginCommand::Inspect(args) => inspect(cli, args),
        PluginCommand::Compile(args) => compile(args),
        PluginCommand::Annotate(args) => annotate(args),
        PluginCommand::New(args) => super::plugin_new::run(args),
        PluginCommand::Push(args) => super::plugin_oci::push(cli, args),
        PluginCommand::Pull(args) => super::plugin_oci::pull(args),
    }
}

/// Load `path` under its file name. The runtime comes back too: its epoch
/// ticker enforces the call deadline, so it must outlive the calls.
fn load(cli: &super::Cli, path: &Path, limits: Limits) -> anyhow::Result<(Runtime, Plugin)> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let runtime = cli.runtime(None)?;
    let plugin = load_as(&runtime, name, path, limits)?;
    Ok((runtime, plugin))
}

fn load_as(
    runtime: &Runtime,
    name: String,
    path: &Path,
    limits: Limits,
) -> Result<Plugin, PluginError> {
    runtime.load(&PluginSource {
        name,
        path: path.to_path_buf(),
        sha256: None,
        limits,
    })
}

fn run_plugin(cli: &super::Cli, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let limits = Limits {
        timeout: Duration::from_millis(args.timeout_ms),
        memory_bytes: (args.memory_mib as usize) << 20,
        grant: grant_of(&args.grant),
        ..Limits::default()
    };
    let (_runtime, plugin) = load(cli, &args.plugin, limits)?;
    let settings = read_settings(&args.settings)?;
    plugin.check_settings(&settings)?;
    let input = read_input(&args.input)?;
    let input_name = PathBuf::from(if args.input == "-" {
        "<stdin>"
    } else {
        &args.input
    });
    match plugin.world() {
        World::ImagePolicy => {
            let tags: Vec<Tag> = input
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|name| Tag {
                    name: name.to_string(),
                    digest: None,
                    created: None,
                })
                .collect();
            for tag in plugin.rank(&settings, &args.repository, &tags)? {
                println!("{tag}");
            }
            Ok(ExitCode::SUCCESS)
        }
        World::ManifestMutator => {
            let objects = yaml_values(&input, &input_name)?;
            let refs: Vec<&Value> = objects.iter().collect();
            // The same path as a render: interest, Secrets and the grant apply.
            let mutation = plugin.mutate_objects(&settings, &refs)?;
            print!(
                "{}",
                rekon_kustomize::to_yaml(&mutation.apply(objects.clone()))
            );
            Ok(ExitCode::SUCCESS)
        }
        World::ManifestValidator => {
            let objects = yaml_values(&input, &input_name)?;
            let refs: Vec<&Value> = objects.iter().collect();
            let violations = plugin.validate_objects(&settings, &refs)?;
            let mut denied = false;
            for v in &violations {
                let severity = match v.severity {
                    Severity::Error => {
                        denied = true;
                        "error"
                    }
                    Severity::Warning => "warning",
                    Severity::Info => "info",
                };
                let o = &v.object;
                println!(
                    "{severity}: [{}] {}/{} {}: {}",
                    o.index, o.kind, o.name, v.path, v.message
                );
            }
            if violations.is_empty() {
                eprintln!("no findings");
            }
            Ok(if denied {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// `rekon plugin inspect --json`: the plugin, and what the given grant makes of it.
#[derive(serde::Serialize)]
struct Inspection {
    #[serde(flatten)]
    info: PluginInfo,
    /// The grant from --grant and --config (`null`: none given).
    granted: Option<Grant>,
    /// Why that grant refuses the plugin (`null`: it admits it, or none given).
    refused: Option<String>,
}

fn inspect(cli: &super::Cli, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let mut name = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let mut given: Option<Grant> = None;
    if let Some(config) = &args.config {
        let (configured, grant) = configured_grant(config, &args.file)?;
        name = configured;
        given = Some(grant);
    }
    for entry in &args.grant {
        let grant = given.get_or_insert_with(Grant::none);
        // Checked by `grant_entry`.
        grant.add(entry).map_err(anyhow::Error::msg)?;
    }
    let runtime = cli.runtime(None)?;
    let mut limits = Limits {
        grant: given.clone().unwrap_or_default(),
        ..Limits::default()
    };
    // Show the plugin anyway, with the grant adjusted to what it declares,
    // and say why the given grant refuses it. Two adjustments at most: what
    // is missing, and what is granted but not declared.
    let mut refused = None;
    let mut attempts = 0;
    let plugin = loop {
        let err = match load_as(&runtime, name.clone(), &args.file, limits.clone()) {
            Ok(plugin) => break plugin,
            Err(err) => err,
        };
        attempts += 1;
        match &err {
            PluginError::CapabilityNotGranted { missing, .. } if attempts <= 2 => {
                limits.grant.capabilities = limits.grant.capabilities.union(*missing);
            }
            PluginError::GrantNotDeclared { undeclared, .. } if attempts <= 2 => {
                limits.grant.capabilities = limits.grant.capabilities.without(*undeclared);
            }
            _ => return Err(err.into()),
        }
        if given.is_some() && refused.is_none() {
            refused = Some(err.to_string());
        }
    };
    let inspection = Inspection {
        info: plugin.info(),
        granted: given,
        refused,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_inspection(&inspection);
    Ok(ExitCode::SUCCESS)
}

/// The name and grant of the `[plugins.NAME]` table of `config` whose path is `file`.
fn configured_grant(config: &Path, file: &Path) -> anyhow::Result<(String, Grant)> {
    let loaded = crate::config::Config::load(config)?;
    let wanted =
        std::fs::canonicalize(file).with_context(|| format!("reading {}", file.display()))?;
    loaded
        .plugins
        .iter()
        .find(|(_, p)| std::fs::canonicalize(&p.path).is_ok_and(|p| p == wanted))
        .map(|(name, p)| (name.clone(), p.limits.grant.clone()))
        .with_context(|| {
            format!(
                "{}: no [plugins.NAME] table has path {} (its plugins: {})",
                config.display(),
                file.display(),
                loaded
                    .plugins
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

fn print_inspection(inspection: &Inspection) {
    let info = &inspection.info;
    println!("file:      {}", info.path.display());
    println!("sha256:    {}", info.sha256);
    println!("world:     {}", info.world);
    println!("contract:  {}", info.contract);
    println!("plugin:    {} {}", info.plugin_name, info.plugin_version);
    println!("summary:   {}", info.summary);
    if !info.settings_example.is_empty() {
        println!("settings:  {}", info.settings_example);
    }
    println!("capabilities:");
    if info.declared_in == capabilities::DeclaredIn::NotRecorded {
        println!("  declared:  not recorded (artifact from an older `rekon plugin compile`): it gets exactly the grant");
    } else {
        println!("  declared:  {} ({})", info.declared, info.declared_in);
    }
    match &inspection.granted {
        Some(granted) => println!("  granted:   {granted}"),
        None => println!("  granted:   (not given: use --grant GRANT or --config FILE)"),
    }
    match &inspection.refused {
        Some(why) => println!("  refused:   {why}"),
        None if inspection.granted.is_some() => println!("  in force:  {}", info.grant),
        None => {}
    }
    println!("interest:");
    if info.interest.is_declared() {
        println!("  declared:  ({})", info.interest_declared_in);
        for line in info.interest.lines() {
            println!("    {line}");
        }
    } else if info.interest_declared_in == capabilities::DeclaredIn::NotRecorded {
        println!(
            "  every object (not recorded in an artifact from an older `rekon plugin compile`)"
        );
    } else {
        println!("  every object (no declaration)");
    }
    println!(
        "  Secrets:   {}",
        if info.effective.contains(Capability::Secrets) {
            "shown (granted `secrets`)"
        } else {
            "withheld (not granted `secrets`)"
        }
    );
    println!("imports:");
    let width = info.imports.iter().map(String::len).max().unwrap_or(0);
    for import in &info.import_uses {
        println!("  {:width$}  {}", import.import, import.provides);
    }
}

fn compile(args: &CompileArgs) -> anyhow::Result<ExitCode> {
    let wasm =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let artifact = precompile_for_target(&wasm, args.target.as_deref())
        .with_context(|| format!("compiling {}", args.file.display()))?;
    write_atomically(&args.output, &artifact)?;
    eprintln!(
        "wrote {} ({} bytes) for {}",
        args.output.display(),
        artifact.len(),
        args.target.as_deref().unwrap_or("this machine")
    );
    Ok(ExitCode::SUCCESS)
}

fn annotate(args: &AnnotateArgs) -> anyhow::Result<ExitCode> {
    let wasm =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let declared: Capabilities = args.capability.iter().copied().collect();
    let context = || format!("annotating {}", args.file.display());
    let mut annotated = capabilities::annotate(&wasm, declared).with_context(context)?;
    let mut interest_note = String::new();
    if !args.interest.is_empty() || args.every_object {
        let text = args.interest.join("\n");
        // Parsed as the host will read it, so a bad rule is refused here.
        if !args.every_object {
            crate::plugin::Interest::parse(&text, capabilities::DeclaredIn::Component).map_err(
                |e| anyhow::anyhow!("--interest: {}", e.to_string().trim_start_matches("its ")),
            )?;
        }
        annotated = capabilities::replace_section(
            &annotated,
            crate::plugin::interest::SECTION,
            (!args.every_object).then_some(text.as_str()),
        )
        .with_context(context)?;
        interest_note = if args.every_object {
            "; shown every object".into()
        } else {
            format!("; shown objects matching {} rule(s)", args.interest.len())
        };
    }
    write_atomically(&args.output, &annotated)?;
    eprintln!(
        "wrote {}: declares {declared}{interest_note}",
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn read_settings(arg: &str) -> anyhow::Result<Value> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some(file) => (
            std::fs::read_to_string(file)
                .with_context(|| format!("reading settings file {file}"))?,
            file.to_string(),
        ),
        None => (arg.to_string(), "--settings".to_string()),
    };
    serde_json::from_str(&text).with_context(|| format!("{origin}: settings must be JSON"))
}

fn read_input(arg: &str) -> anyhow::Result<String> {
    if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        Ok(text)
    } else {
        std::fs::read_to_string(arg).with_context(|| format!("reading {arg}"))
    }
}

fn yaml_values(text: &str, file: &Path) -> anyhow::Result<Vec<Value>> {
    let docs = rekon_kustomize::parse_yaml_documents(text, file)?;
    Ok(docs.into_iter().map(|(v, _)| v).collect())
}

//! `rekon plugin run | inspect | compile`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::plugin::{
    precompile_for_target, write_atomically, Limits, Plugin, PluginSource, Severity, Tag, World,
};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    Run(RunArgs),
    Inspect(InspectArgs),
    Compile(CompileArgs),
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
}

/// Show what a plugin is: world, contract version, description, imports.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The plugin component.
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Precompile a plugin for this or another machine.
///
/// Writes native code that `rekon` on the target loads in milliseconds
/// instead of compiling on start (a Pi compiles slowly). Configure the
/// artifact as the plugin's `path` like a `.wasm`. Only load artifacts you
/// built yourself: they are native code.
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
    }
}

fn load(cli: &super::Cli, path: &Path, limits: Limits) -> anyhow::Result<Plugin> {
    let runtime = cli.runtime(None)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    Ok(runtime.load(&PluginSource {
        name,
        path: path.to_path_buf(),
        sha256: None,
        limits,
    })?)
}

fn run_plugin(cli: &super::Cli, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let limits = Limits {
        timeout: Duration::from_millis(args.timeout_ms),
        memory_bytes: (args.memory_mib as usize) << 20,
        ..Limits::default()
    };
    let plugin = load(cli, &args.plugin, limits)?;
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
            let objects = yaml_objects(&input, &input_name)?;
            let out = plugin.mutate(&settings, &objects)?;
            let values: Vec<Value> = out
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    serde_json::from_str(t)
                        .with_context(|| format!("plugin returned invalid JSON for object {i}"))
                })
                .collect::<anyhow::Result<_>>()?;
            print!("{}", rekon_kustomize::to_yaml(&values));
            Ok(ExitCode::SUCCESS)
        }
        World::ManifestValidator => {
            let objects = yaml_objects(&input, &input_name)?;
            let violations = plugin.validate(&settings, &objects)?;
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

fn inspect(cli: &super::Cli, args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let info = load(cli, &args.file, Limits::default())?.info();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("file:      {}", info.path.display());
    println!("sha256:    {}", info.sha256);
    println!("world:     {}", info.world);
    println!("contract:  {}", info.contract);
    println!("plugin:    {} {}", info.plugin_name, info.plugin_version);
    println!("summary:   {}", info.summary);
    if !info.settings_example.is_empty() {
        println!("settings:  {}", info.settings_example);
    }
    println!("imports:");
    for import in &info.imports {
        println!("  {import}");
    }
    Ok(ExitCode::SUCCESS)
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

fn yaml_objects(text: &str, file: &Path) -> anyhow::Result<Vec<String>> {
    let docs = rekon_kustomize::parse_yaml_documents(text, file)?;
    Ok(docs.into_iter().map(|(v, _)| v.to_string()).collect())
}

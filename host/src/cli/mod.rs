//! The `rekon` command line. Each subcommand lives in its own module; this one
//! parses arguments, sets up logging and maps results to exit codes.

mod apply;
mod check;
mod diff;
mod images;
mod images_scan;
mod images_update;
mod plugin;
mod plugin_new;
mod plugin_oci;
mod prune;
mod render;
mod run;
mod status;
mod test;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::plugin::{Runtime, RuntimeOptions};

/// rekon: GitOps for small Kubernetes clusters, with policies as WebAssembly plugins.
///
/// rekon renders the manifests in a git checkout (kustomize-compatible), runs
/// mutator and validator plugins over them, applies the result to the cluster
/// with server-side apply, and rewrites image references marked with
/// `# {"$imagepolicy": ...}`. Plugins are WebAssembly components built against the
/// WIT contract in `wit/`; they run sandboxed (no files, network or env, a
/// deadline and a memory cap per call).
///
/// Examples:
///   rekon render --config examples/pi-website/rekon.toml
///   rekon render --config rekon.toml --explain frontend
///   rekon test plugins/
///   rekon apply --config rekon.toml --kubeconfig ~/.kube/pi.yaml
///   rekon images set --path . flux-system:frontend=harbor.lan/website/frontend:main-def5678-1767312000
///   rekon plugin run --plugin flux_policy.wasm --settings @policy.json --input tags.txt
#[derive(Debug, Parser)]
#[command(name = "rekon", version, verbatim_doc_comment, max_term_width = 100)]
pub struct Cli {
    /// Log more (default: warnings and plugin compilations; -v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Directory for compiled plugins [default: $REKON_CACHE_DIR, $XDG_CACHE_HOME/rekon or ~/.cache/rekon].
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile plugins without reading or writing the cache.
    #[arg(long, global = true)]
    no_cache: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Render(render::RenderArgs),
    /// Run, inspect or precompile one plugin, or start a new one (`plugin new`).
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Image automation: scan registries for tags; write policies' images at their markers; commit and push.
    #[command(subcommand)]
    Images(images::ImagesCommand),
    Test(test::TestArgs),
    Apply(apply::ApplyArgs),
    Diff(diff::DiffArgs),
    Prune(prune::PruneArgs),
    Run(run::RunArgs),
    Check(check::CheckArgs),
    Status(status::StatusArgs),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // Rust ignores SIGPIPE, which turns `rekon ... | head` into a panic on
    // the next print; the default disposition ends the process quietly.
    // SAFETY: called first thing, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match &cli.command {
        Command::Render(args) => render::run(&cli, args),
        Command::Plugin(cmd) => plugin::run(&cli, cmd),
        Command::Images(cmd) => images::run(&cli, cmd),
        Command::Test(args) => test::run(&cli, args),
        Command::Apply(args) => apply::run(&cli, args),
        Command::Diff(args) => diff::run(&cli, args),
        Command::Prune(args) => prune::run(&cli, args),
        Command::Run(args) => run::run(&cli, args),
        Command::Check(args) => check::run(&cli, args),
        Command::Status(args) => status::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        // Warnings, plus which plugin is being compiled and how long it took:
        // seconds on a Pi at a first start, which would otherwise pass in silence.
        0 => "warn,rekon::plugin::cache=info",
        1 => "rekon=debug,info",
        _ => "rekon=trace,debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal, plain text for a log file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Where the configuration comes from: a `rekon.toml`, or `--flux PATH`.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// The configuration file.
    #[arg(short, long, default_value = "rekon.toml", env = "REKON_CONFIG")]
    config: PathBuf,
    /// Run the Flux repository at PATH (e.g. clusters/production) without a
    /// rekon.toml: kustomizations, sources and image automation come from its
    /// Flux objects (as `[flux] path = PATH` in a rekon.toml).
    #[arg(long, value_name = "PATH")]
    flux: Option<PathBuf>,
    /// The checkout --flux reads [default: the current directory].
    #[arg(long, value_name = "DIR", requires = "flux")]
    source: Option<PathBuf>,
}

impl ConfigArgs {
    /// The configuration, before its Flux objects are read.
    pub fn load(&self) -> Result<crate::config::Config, crate::config::ConfigError> {
        match &self.flux {
            Some(path) => crate::config::Config::for_flux(
                self.source.as_deref().unwrap_or(std::path::Path::new(".")),
                path,
            ),
            None => crate::config::Config::load(&self.config),
        }
    }
}

/// The configuration for `rekon images`: with `[flux]`, its Flux objects
/// read (the Secrets of ImageRepositories and of the automation's
/// GitRepository from the cluster the kubeconfig or the in-cluster account
/// reaches, when one does).
fn load_for_images(args: &ConfigArgs) -> anyhow::Result<crate::config::Config> {
    let mut config = args.load()?;
    if config.flux.is_some() {
        let mut roots = crate::source::Roots::fetch(&config)?;
        apply::block_on(async {
            let cluster = crate::apply::Cluster::connect(None, None).await;
            if let Err(e) = &cluster {
                tracing::warn!("no cluster to read the Flux objects' Secrets from: {e}");
            }
            let access = crate::flux::Access {
                cluster: cluster.as_ref().ok(),
                fetch: false,
            };
            crate::flux::expand(&mut config, &mut roots, access).await?;
            anyhow::Ok(())
        })??;
    }
    Ok(config)
}

impl Cli {
    /// The runtime, with the cache the flags (or the config) ask for.
    fn runtime(&self, config_cache: Option<PathBuf>) -> anyhow::Result<Runtime> {
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir
                .clone()
                .or(config_cache)
                .or_else(crate::config::default_cache_dir)
                .map(|d| d.join("plugins"))
        };
        Ok(Runtime::new(RuntimeOptions {
            cache_dir,
            ..Default::default()
        })?)
    }
}

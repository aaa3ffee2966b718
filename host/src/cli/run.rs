//! `rekon run`: the daemon.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::apply::{ClusterArgs, LeaseArgs};
use crate::daemon::{self, DaemonError, Exit, Options};

/// Run the reconciler until stopped (SIGTERM or Ctrl-C).
///
/// Everything rekon.toml declares runs on its own interval (with jitter):
/// [sources.NAME] are fetched; kustomizations are rendered with their
/// plugins and applied (at once when their source moves, after the
/// kustomizations they depend on); images are scanned (at once when a
/// receiver's webhook arrives) and the chosen tags are committed and pushed
/// to [git]; plugin files are watched and a new version is swapped in only
/// after it loads, accepts its settings and passes its own test suite
/// (`tests = "..."`), otherwise the old one stays and `rekon status` says
/// why. Failures retry with back-off; `suspend = true` leaves an item alone.
///
/// The HTTP server ([server] listen, loopback by default) answers /healthz,
/// /readyz, /metrics (Prometheus), /status (JSON, read by `rekon status`)
/// and the receivers' POST /hook/NAME.
///
/// State (tag lists, applied revisions, git checkouts) lives in state-dir
/// and is written atomically; a killed rekon carries on at the next start.
/// On SIGTERM, runs in flight may finish for --shutdown-grace, then rekon
/// exits.
///
/// With --flux PATH (or [flux] in the config), what runs is what the Flux
/// objects found from PATH declare (see `rekon check`); they are read again
/// whenever a source moves, and when they changed rekon restarts its loop
/// in the same process with the new configuration. Objects that no longer
/// read are reported and the running configuration stays.
///
/// With --leader-elect, only the holder of the Lease reconciles (the others
/// serve health and wait, not ready), so two replicas never apply or push
/// at once; a leader that loses the lease exits 1 to be restarted.
///
/// Exit status: 0 stopped by a signal, 1 the lease was lost, 2 error.
///
/// Examples:
///   rekon run --config /etc/rekon/rekon.toml
///   rekon run --kubeconfig ~/.kube/pi.yaml --listen 0.0.0.0:9797
///   rekon run --leader-elect            # in the cluster (examples/install)
///   rekon run --flux clusters/production --source . --kubeconfig ~/.kube/pi.yaml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    #[command(flatten)]
    config: super::ConfigArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Serve on this address instead of [server] listen.
    #[arg(long, value_name = "ADDR", env = "REKON_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    lease: LeaseArgs,
    /// How long runs in flight may take to finish after SIGTERM.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = humantime::parse_duration)]
    shutdown_grace: Duration,
}

pub fn run(cli: &super::Cli, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.config.load()?;
    let runtime = std::sync::Arc::new(cli.runtime(config.cache_dir.clone())?);
    // One thread for the scheduler and the server; renders, git and plugin
    // compiles go to blocking threads. A Pi has four small cores.
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = tokio.block_on(async {
        let addr = args.listen.unwrap_or(config.server.listen);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .and_then(|l| l.into_std())
            .with_context(|| {
                format!("cannot listen on {addr} (set [server] listen or --listen)")
            })?;
        let cluster = args.cluster.connect().await?;
        // Kept apart from the daemon: a new configuration restarts the
        // daemon, and a signal must not be lost in between.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            stop_signal().await;
            let _ = stop.send(true);
        });
        let flux_base = config.flux.is_some().then(|| config.clone());
        if config.flux.is_some() {
            // Discovery fetches what the Flux Kustomizations read; the
            // daemon then keeps every source fetched on its interval, and
            // reads the Flux objects again when one moves.
            let mut roots = crate::source::Roots::fetch(&config)?;
            let access = crate::flux::Access {
                cluster: Some(&cluster),
                fetch: true,
            };
            let graph = crate::flux::expand(&mut config, &mut roots, access).await?;
            for note in graph.notes.iter().chain(&graph.problems) {
                tracing::warn!("{note}");
            }
        }
        loop {
            let options = Options {
                runtime: runtime.clone(),
                cluster: cluster.clone(),
                lease: args.lease.config(),
                shutdown_grace: args.shutdown_grace,
                flux_base: flux_base.clone(),
            };
            let mut stopped = stopped.clone();
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            // The same socket across restarts: connections wait in its backlog.
            let listener = tokio::net::TcpListener::from_std(listener.try_clone()?)
                .with_context(|| format!("listening on {addr}"))?;
            match daemon::run(config, options, listener, shutdown).await {
                Ok(Exit::Stopped) => return anyhow::Ok(ExitCode::SUCCESS),
                Ok(Exit::Reconfigured(next)) => config = *next,
                // Lost leadership is not a failure of rekon: exit 1 so the
                // supervisor restarts it as a contender.
                Err(DaemonError::Lease(e)) => {
                    eprintln!("rekon: {e}");
                    return anyhow::Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
    });
    // Blocking threads still busy (a plugin compile) are not waited for.
    tokio.shutdown_timeout(Duration::from_secs(1));
    result
}

/// SIGTERM (Kubernetes, systemd) or SIGINT (a terminal).
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM ({e}); stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

//! `rekon status`: what a running `rekon run` is doing, read from its
//! `/status` and printed like `flux get all`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use clap::Args;

use crate::config::{Config, DEFAULT_LISTEN};
use crate::status::{age, short_revision, ItemStatus, Kind, Snapshot};

/// How long `rekon status` waits for the daemon.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Show what a running `rekon run` is doing, like `flux get all`.
///
/// Reads /status from the daemon's HTTP server and prints a table per kind
/// (sources, kustomizations, images, plugins) with, for each item:
///   NAME       its name in the config
///   READY      True, False, Unknown (not run yet) or Suspended
///   REVISION   git commit, chosen tag or plugin sha256 (hashes shortened)
///   LAST RUN   how long ago it last ran
///   MESSAGE    the last result or error
///
/// The daemon is asked at --url; else at the [server] listen address of
/// --config (an unspecified address such as 0.0.0.0 means this machine);
/// else at http://127.0.0.1:9797, the default listen address. When the
/// daemon requires a token ([server] token-env or token-file), --config
/// reads it from the same variable or file and sends it.
///
/// Exit status: 0 the daemon has started and every item is ready (or
/// suspended); 1 something is not ready (still starting, failed, or not run
/// yet); 2 the daemon could not be reached or did not answer a status.
///
/// Examples:
///   rekon status
///   rekon status --config /etc/rekon/rekon.toml
///   rekon status --url http://pi.lan:9797 --json | jq .kustomizations
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    /// The daemon's address, e.g. http://pi.lan:9797 [default: http://127.0.0.1:9797].
    #[arg(long, value_name = "URL", conflicts_with = "config")]
    url: Option<String>,
    /// Find the daemon at the [server] listen address of this configuration.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the status as JSON, as /status serves it.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let mut token = None;
    let base = match (&args.url, &args.config) {
        // `pi.lan:9797` is what one types after seeing `[server] listen`.
        (Some(url), _) if !url.contains("://") => format!("http://{}", url.trim_end_matches('/')),
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(file)) => {
            let server = Config::load(file)?.server;
            if let Some(secret) = &server.token {
                token = Some(
                    secret
                        .read()
                        .map_err(|e| anyhow::anyhow!("{}: [server] token: {e}", file.display()))?,
                );
            }
            url_of(server.listen)
        }
        (None, None) => format!("http://{DEFAULT_LISTEN}"),
    };
    let snapshot = super::apply::block_on(fetch(&base, token.as_deref()))??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&snapshot)?);
    } else {
        print!("{}", table(&snapshot, SystemTime::now()));
    }
    Ok(if snapshot.all_ready() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The URL of a daemon listening on `listen`, as seen from this machine.
fn url_of(listen: SocketAddr) -> String {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}")
}

async fn fetch(base: &str, token: Option<&str>) -> anyhow::Result<Snapshot> {
    // reqwest builds a TLS configuration even for plain HTTP; rekon's
    // rustls has ring as its only provider, installed once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        // The daemon is usually on loopback; a proxy from the environment
        // would only get in the way.
        .no_proxy()
        .build()
        .context("setting up the HTTP client")?;
    let url = format!("{base}/status");
    let mut request = client.get(&url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| {
        let cause = root_cause(&e);
        if e.is_connect() || e.is_timeout() {
            anyhow::anyhow!(
                "cannot reach the rekon daemon at {base}: {cause}\n\
                 Is it running? Start it with `rekon run --config rekon.toml`; \
                 if it listens elsewhere, give --url or --config (its [server] listen)."
            )
        } else {
            anyhow::anyhow!("asking {url}: {cause}")
        }
    })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    if status == reqwest::StatusCode::UNAUTHORIZED {
        anyhow::bail!(
            "{url} requires the daemon's [server] token: give --config with the \
             configuration that names it (token-env or token-file)"
        );
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        anyhow::bail!(
            "{url} answered {status}: {} (is this a rekon daemon?)",
            text.lines().next().unwrap_or("").trim()
        );
    }
    serde_json::from_slice(&body)
        .with_context(|| format!("{url} did not answer a rekon status (is this a rekon daemon?)"))
}

/// The innermost cause of an error: "Connection refused (os error 111)"
/// rather than reqwest's "error sending request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(source) = inner.source() {
        inner = source;
    }
    inner.to_string()
}

/// The status as tables, one per kind that has items.
fn table(snapshot: &Snapshot, now: SystemTime) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "rekon {} {}, started {}",
        snapshot.version,
        if snapshot.ready { "ready" } else { "starting" },
        age(&snapshot.started, now),
    );
    let titles = [
        "SOURCES",
        "KUSTOMIZATIONS",
        "IMAGES",
        "AUTOMATION",
        "PLUGINS",
    ];
    let mut empty = true;
    for (kind, title) in Kind::ALL.into_iter().zip(titles) {
        let items = snapshot.items(kind);
        if items.is_empty() {
            continue;
        }
        empty = false;
        let mut rows = vec![[
            "NAME".to_string(),
            "READY".into(),
            "REVISION".into(),
            "LAST RUN".into(),
            "MESSAGE".into(),
        ]];
        rows.extend(items.iter().map(|(name, item)| {
            [
                name.clone(),
                ready(item).into(),
                item.revision.as_deref().map_or("-".into(), short_revision),
                item.last_run.as_deref().map_or("-".into(), |t| age(t, now)),
                item.message.clone(),
            ]
        }));
        let _ = writeln!(out, "\n{title}");
        columns(&mut out, &rows);
    }
    if empty {
        out.push_str("\nno sources, kustomizations, images or plugins yet\n");
    }
    let releases: Vec<[String; 5]> = snapshot
        .kustomizations
        .iter()
        .filter_map(|(name, item)| Some((name, item.kustomization.as_ref()?)))
        .flat_map(|(name, k)| {
            k.helm_releases.iter().map(move |r| {
                [
                    r.release.clone(),
                    name.clone(),
                    r.chart.clone(),
                    r.version.clone(),
                    r.state.clone(),
                ]
            })
        })
        .collect();
    if !releases.is_empty() {
        let _ = writeln!(out, "\nHELM RELEASES");
        let mut rows = vec![[
            "RELEASE".to_string(),
            "KUSTOMIZATION".into(),
            "CHART".into(),
            "VERSION".into(),
            "STATE".into(),
        ]];
        rows.extend(releases);
        columns(&mut out, &rows);
    }
    if !snapshot.alerts.is_empty() || snapshot.alerts_dropped > 0 {
        let _ = writeln!(out, "\nALERTS");
        let mut rows = vec![[
            "NAME".to_string(),
            "PROVIDER".into(),
            "SENT".into(),
            "FAILED".into(),
            "LAST ERROR".into(),
        ]];
        rows.extend(snapshot.alerts.iter().map(|(name, a)| {
            [
                name.clone(),
                a.provider.clone(),
                a.sent.to_string(),
                a.failed.to_string(),
                a.last_error.clone().unwrap_or_else(|| "-".into()),
            ]
        }));
        columns(&mut out, &rows);
        if snapshot.alerts_dropped > 0 {
            let _ = writeln!(
                out,
                "{} event(s) dropped: the alert queue was full",
                snapshot.alerts_dropped
            );
        }
    }
    out
}

/// Rows in aligned columns, the last one (a message) as long as it is.
fn columns(out: &mut String, rows: &[[String; 5]]) {
    let mut widths = [0; 4];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(widths) {
            let _ = write!(line, "{cell:<w$}  ");
        }
        line.push_str(&row[4]);
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn ready(item: &ItemStatus) -> &'static str {
    match (item.suspended, item.ready) {
        (true, _) => "Suspended",
        (false, Some(true)) => "True",
        (false, Some(false)) => "False",
        (false, None) => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_releases_get_a_table_of_their_own() {
        let board = crate::status::StatusBoard::new();
        board.register(Kind::Kustomization, "apps", false);
        board.update(Kind::Kustomization, "apps", |s| {
            s.kustomization = Some(crate::status::KustomizationDetail {
                helm_releases: vec![crate::status::HelmReleaseStatus {
                    release: "apps/podinfo".into(),
                    chart: "podinfo".into(),
                    version: "6.5.4".into(),
                    state: "installed".into(),
                }],
                ..Default::default()
            });
        });
        let out = table(&board.snapshot(), SystemTime::now());
        let section = out.split("HELM RELEASES\n").nth(1).expect("a Helm section");
        assert_eq!(
            section.lines().take(2).collect::<Vec<_>>(),
            [
                "RELEASE       KUSTOMIZATION  CHART    VERSION  STATE",
                "apps/podinfo  apps           podinfo  6.5.4    installed",
            ]
        );
    }

    #[test]
    fn hashes_are_shortened_and_tags_kept() {
        let sha1 = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d";
        assert_eq!(short_revision(sha1), "1a2b3c4d");
        assert_eq!(
            short_revision(&format!("main@sha1:{sha1}")),
            "main@sha1:1a2b3c4d"
        );
        assert_eq!(
            short_revision(&format!("sha256:{}", "ab".repeat(32))),
            "sha256:abababab"
        );
        assert_eq!(
            short_revision("main-def5678-1767312000"),
            "main-def5678-1767312000"
        );
    }

    #[test]
    fn ages_read_like_flux() {
        let now = humantime::parse_rfc3339("2026-01-02T03:00:00Z").unwrap();
        assert_eq!(age("2026-01-02T02:59:48Z", now), "12s ago");
        assert_eq!(age("2026-01-02T02:55:00Z", now), "5m ago");
        assert_eq!(age("2026-01-02T00:00:00Z", now), "3h ago");
        assert_eq!(age("2025-12-31T03:00:00Z", now), "2d ago");
        assert_eq!(age("2026-01-02T03:00:05Z", now), "0s ago");
        assert_eq!(age("yesterday", now), "yesterday");
    }

    #[test]
    fn unspecified_listen_addresses_mean_this_machine() {
        assert_eq!(
            url_of("0.0.0.0:9797".parse().unwrap()),
            "http://127.0.0.1:9797"
        );
        assert_eq!(url_of("[::]:80".parse().unwrap()), "http://[::1]:80");
        assert_eq!(
            url_of("10.0.0.5:9797".parse().unwrap()),
            "http://10.0.0.5:9797"
        );
    }

    #[test]
    fn alerts_show_their_deliveries_and_failures() {
        let board = crate::status::StatusBoard::new();
        board.alert("chat", |a| {
            a.provider = "slack".into();
            a.sent = 3;
            a.failed = 1;
            a.last_error = Some("POST https://hooks.slack.com/… answered 500".into());
        });
        board.alert_dropped();
        let text = table(&board.snapshot(), SystemTime::now());
        let alerts = text.split("\nALERTS\n").nth(1).expect(&text);
        let mut lines = alerts.lines();
        assert!(lines
            .next()
            .unwrap()
            .starts_with("NAME  PROVIDER  SENT  FAILED  LAST ERROR"));
        assert_eq!(
            lines.next().unwrap(),
            "chat  slack     3     1       POST https://hooks.slack.com/… answered 500"
        );
        assert_eq!(
            lines.next().unwrap(),
            "1 event(s) dropped: the alert queue was full"
        );
    }
}

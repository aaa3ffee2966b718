//! The queue between the daemon and the providers: [`Alerts::emit`] never
//! waits, one dispatcher task filters and dedupes, each delivery retries on
//! its own task.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, Semaphore};

use super::providers::{self, Request};
use super::{for_alert, matches, AlertsConfig, Event};
use crate::server::Metrics;
use crate::status::{timestamp, StatusBoard};

/// How the dispatcher queues, retries and dedupes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Events waiting to be dispatched; more are dropped (and counted).
    pub queue: usize,
    /// Tries per delivery, the first included.
    pub attempts: u32,
    /// The wait after the first failed try, doubled after each next one.
    pub backoff: Duration,
    /// The same event is sent at most once in this window (Flux's
    /// notification-controller rate limits identical events for 5 minutes).
    pub dedupe: Duration,
    /// Per request, connecting included.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            queue: 256,
            attempts: 4,
            backoff: Duration::from_secs(2),
            dedupe: Duration::from_secs(300),
            timeout: Duration::from_secs(15),
        }
    }
}

/// Deliveries at once: a Pi has little to spare, and chat APIs rate limit.
const CONCURRENT: usize = 4;

/// The daemon's handle: cheap to clone, [`Alerts::emit`] never blocks.
#[derive(Clone)]
pub struct Alerts {
    queue: Option<mpsc::Sender<Event>>,
    metrics: Arc<Metrics>,
    board: Arc<StatusBoard>,
}

impl Alerts {
    /// Queue `event` for the alerts that take it. With no alert configured
    /// it is nothing; when the queue is full the event is dropped and counted.
    pub fn emit(&self, event: Event) {
        let Some(queue) = &self.queue else { return };
        match queue.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(event)) => {
                tracing::warn!(
                    "alert queue full: event about {} {} dropped",
                    event.kind,
                    event.name
                );
                self.metrics.alert_dropped();
                self.board.alert_dropped();
            }
            // The dispatcher has stopped (shutdown): nothing to tell.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Start the dispatcher of `config`'s alerts (on the current tokio runtime)
/// and return the handle that feeds it. The dispatcher stops when every
/// handle is dropped.
pub fn start(
    config: AlertsConfig,
    settings: Settings,
    metrics: Arc<Metrics>,
    board: Arc<StatusBoard>,
) -> Alerts {
    if config.alerts.is_empty() {
        return Alerts {
            queue: None,
            metrics,
            board,
        };
    }
    for alert in &config.alerts {
        board.alert(&alert.name, |s| {
            s.provider = alert.provider.kind.to_string()
        });
    }
    let (tx, rx) = mpsc::channel(settings.queue.max(1));
    tokio::spawn(dispatch(
        rx,
        Arc::new(config),
        settings,
        metrics.clone(),
        board.clone(),
    ));
    Alerts {
        queue: Some(tx),
        metrics,
        board,
    }
}

async fn dispatch(
    mut queue: mpsc::Receiver<Event>,
    config: Arc<AlertsConfig>,
    settings: Settings,
    metrics: Arc<Metrics>,
    board: Arc<StatusBoard>,
) {
    // reqwest builds a TLS configuration even for plain HTTP; rekon's
    // rustls has ring as its only provider, installed once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let permits = Arc::new(Semaphore::new(CONCURRENT));
    // Hash of (alert, event without its time) → when it was last sent.
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    while let Some(event) = queue.recv().await {
        let now = Instant::now();
        sent.retain(|_, at| now.duration_since(*at) < settings.dedupe);
        for alert in &config.alerts {
            if !matches(alert, &event, &config.labels) {
                continue;
            }
            let key = dedupe_key(&alert.name, &event);
            if sent.contains_key(&key) {
                tracing::debug!(alert = %alert.name, "{}: same event sent lately, not again", event.object());
                continue;
            }
            sent.insert(key, now);
            let failed = |why: String| {
                tracing::warn!(alert = %alert.name, "alert not sent: {why}");
                metrics.alert(&alert.name, false);
                board.alert(&alert.name, |s| {
                    s.failed += 1;
                    s.last_error = Some(format!("{}: {why}", timestamp(SystemTime::now())));
                });
            };
            let request = match providers::build(&alert.provider, &for_alert(alert, &event)) {
                Ok(Some(request)) => request,
                Ok(None) => continue,
                Err(why) => {
                    failed(format!("{} provider: {why}", alert.provider.kind));
                    continue;
                }
            };
            let client = match client(&request, settings.timeout) {
                Ok(client) => client,
                Err(why) => {
                    failed(why);
                    continue;
                }
            };
            let (name, settings, metrics, board, permits) = (
                alert.name.clone(),
                settings.clone(),
                metrics.clone(),
                board.clone(),
                permits.clone(),
            );
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let outcome = deliver(&client, &request, &settings).await;
                metrics.alert(&name, outcome.is_ok());
                let at = timestamp(SystemTime::now());
                board.alert(&name, |s| match outcome {
                    Ok(()) => {
                        s.sent += 1;
                        s.last_sent = Some(at);
                    }
                    Err(why) => {
                        tracing::warn!(alert = %name, "alert not sent: {why}");
                        s.failed += 1;
                        s.last_error = Some(format!("{at}: {why}"));
                    }
                });
            });
        }
    }
}

/// What makes two events the same for deduping: all but the time.
fn dedupe_key(alert: &str, event: &Event) -> u64 {
    let mut h = DefaultHasher::new();
    (
        alert,
        &event.kind,
        &event.namespace,
        &event.name,
        event.severity,
        &event.message,
        &event.revision,
        &event.metadata,
    )
        .hash(&mut h);
    h.finish()
}

fn client(request: &Request, timeout: Duration) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("rekon/", env!("CARGO_PKG_VERSION")))
        // Only the proxy the provider names, not one from the environment.
        .no_proxy();
    if let Some(proxy) = &request.proxy {
        let proxy = reqwest::Proxy::all(proxy)
            .map_err(|_| format!("proxy {} is not a proxy URL", super::redact_url(proxy)))?;
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|e| format!("setting up the HTTP client: {}", chain(&e.without_url())))
}

/// Send `request`, retrying connection failures, 429 and 5xx with back-off.
async fn deliver(
    client: &reqwest::Client,
    request: &Request,
    settings: &Settings,
) -> Result<(), String> {
    let mut delay = settings.backoff;
    let mut attempt = 1;
    loop {
        let mut builder = client
            .request(request.method.clone(), &request.url)
            .body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let (retry, why) = match builder.send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => {
                let status = response.status();
                (
                    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS,
                    format!("{} answered {status}", request.describe()),
                )
            }
            // reqwest's message names the URL: left out, it may hold a token.
            Err(e) => (
                true,
                format!("{}: {}", request.describe(), chain(&e.without_url())),
            ),
        };
        if !retry || attempt >= settings.attempts {
            return Err(if attempt > 1 {
                format!("{why} (after {attempt} tries)")
            } else {
                why
            });
        }
        tracing::debug!("{why}; retrying in {delay:?}");
        tokio::time::sleep(delay).await;
        delay *= 2;
        attempt += 1;
    }
}

/// An error and its sources, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

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

/// The client `request` goes out with (through its proxy, if any).
pub(super) fn client(request: &Request, timeout: Duration) -> Result<reqwest::Client, String> {
    // reqwest builds a TLS configuration even for plain HTTP; rekon's
    // rustls has ring as its only provider, installed once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
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
pub(super) async fn deliver(
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::alerts::sink::Sink;
    use crate::alerts::{AlertConfig, ProviderConfig, ProviderKind, Severity};
    use crate::config::Secret;
    use crate::status::{AlertStatus, Kind};

    fn config(address: &str) -> AlertsConfig {
        AlertsConfig {
            alerts: vec![AlertConfig {
                name: "hook".into(),
                provider: ProviderConfig {
                    kind: ProviderKind::Generic,
                    address: Some(Secret::Value {
                        from: "test".into(),
                        value: address.into(),
                    }),
                    channel: None,
                    username: None,
                    token: None,
                    password: None,
                    headers: Vec::new(),
                    proxy: None,
                },
                severity: Severity::Info,
                sources: Vec::new(),
                inclusions: Vec::new(),
                exclusions: Vec::new(),
                summary: None,
                metadata: BTreeMap::new(),
                suspend: false,
            }],
            labels: BTreeMap::new(),
        }
    }

    fn quick() -> Settings {
        Settings {
            backoff: Duration::from_millis(1),
            ..Settings::default()
        }
    }

    fn failed(message: &str) -> Event {
        Event::new(
            Kind::Kustomization,
            "apps",
            Severity::Error,
            "ReconciliationFailed",
            message,
        )
    }

    /// The alert's counts once `done` holds of them.
    async fn settled(board: &StatusBoard, done: impl Fn(&AlertStatus) -> bool) -> AlertStatus {
        loop {
            if let Some(a) = board.snapshot().alerts.get("hook").filter(|a| done(a)) {
                return a.clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn failed_tries_are_retried_then_counted_once() {
        let (sink, url) = Sink::start().await;
        sink.answer(&[503, 429]);
        let (metrics, board) = (Arc::new(Metrics::new()), Arc::new(StatusBoard::new()));
        let alerts = start(
            config(&format!("{url}/s3cret")),
            quick(),
            metrics.clone(),
            board.clone(),
        );
        alerts.emit(failed("boom"));
        let status = settled(&board, |a| a.sent == 1).await;
        assert_eq!((status.failed, status.provider.as_str()), (0, "generic"));
        assert_eq!(sink.taken().len(), 3, "two failures, then the delivery");
        assert!(metrics
            .encode()
            .contains("rekon_alerts_sent_total{alert=\"hook\"} 1"));

        // A 400 is not retried; the error shows the host, not the path.
        sink.answer(&[400]);
        alerts.emit(failed("another"));
        let status = settled(&board, |a| a.failed == 1).await;
        let error = status.last_error.unwrap();
        assert!(
            error.ends_with(&format!("POST {url}/… answered 400 Bad Request")),
            "{error}"
        );
        assert!(!error.contains("s3cret"));
        assert_eq!(sink.taken().len(), 4);
        assert!(metrics
            .encode()
            .contains("rekon_alert_failures_total{alert=\"hook\"} 1"));
    }

    #[tokio::test]
    async fn the_same_event_is_sent_once_within_the_window() {
        let (sink, url) = Sink::start().await;
        let board = Arc::new(StatusBoard::new());
        let alerts = start(
            config(&url),
            quick(),
            Arc::new(Metrics::new()),
            board.clone(),
        );
        alerts.emit(failed("boom"));
        alerts.emit(failed("boom"));
        alerts.emit(failed("boom again"));
        settled(&board, |a| a.sent == 2).await;
        let messages: Vec<String> = sink
            .taken()
            .iter()
            .map(|c| c.json()["message"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(messages, ["boom", "boom again"]);

        // Past the window it is sent again.
        let (sink, url) = Sink::start().await;
        let board = Arc::new(StatusBoard::new());
        let settings = Settings {
            dedupe: Duration::ZERO,
            ..quick()
        };
        let alerts = start(
            config(&url),
            settings,
            Arc::new(Metrics::new()),
            board.clone(),
        );
        alerts.emit(failed("boom"));
        alerts.emit(failed("boom"));
        settled(&board, |a| a.sent == 2).await;
        assert_eq!(sink.taken().len(), 2);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        let (_sink, url) = Sink::start().await;
        let (metrics, board) = (Arc::new(Metrics::new()), Arc::new(StatusBoard::new()));
        let settings = Settings {
            queue: 1,
            ..quick()
        };
        let alerts = start(config(&url), settings, metrics.clone(), board.clone());
        // On this single-threaded runtime the dispatcher cannot run between
        // these calls: the first is queued, the next two find the queue full.
        for i in 0..3 {
            alerts.emit(failed(&format!("boom {i}")));
        }
        assert_eq!(board.snapshot().alerts_dropped, 2);
        assert!(metrics.encode().contains("rekon_alerts_dropped_total 2"));
        settled(&board, |a| a.sent == 1).await;
    }

    #[tokio::test]
    async fn without_alerts_nothing_is_queued() {
        let board = Arc::new(StatusBoard::new());
        let alerts = start(
            AlertsConfig::default(),
            Settings {
                queue: 1,
                ..quick()
            },
            Arc::new(Metrics::new()),
            board.clone(),
        );
        for _ in 0..3 {
            alerts.emit(failed("boom"));
        }
        assert_eq!(board.snapshot().alerts_dropped, 0);
        assert!(board.snapshot().alerts.is_empty());
    }
}

//! Leader election through a `coordination.k8s.io/v1` Lease, so two rekons
//! (a CronJob run that overran, a systemd timer on the Pi, a laptop) never
//! apply to one cluster at the same time.
//!
//! The record and the rules are client-go's (`leaderelection` with a
//! `LeaseLock`), so `kubectl get lease -o yaml` reads the same as for any
//! controller: `spec.holderIdentity`, `leaseDurationSeconds`, `acquireTime`,
//! `renewTime` and `leaseTransitions`.
//!
//! - **Acquire**: read the Lease; create it if it does not exist; take it
//!   over if it has no holder or its holder's `renewTime +
//!   leaseDurationSeconds` has passed (`leaseTransitions` + 1, new
//!   `acquireTime`); otherwise it is [`Attempt::HeldBy`] its holder.
//! - **Renew**: the holder writes a new `renewTime` every `retry_period`;
//!   if no renewal succeeds for `renew_deadline` (shorter than the lease
//!   duration, so the holder gives up before anyone may take over), the
//!   lease is lost and [`Lease::hold`] stops the work.
//! - **Release**: the holder clears `holderIdentity` and sets a 1 s
//!   duration (as client-go's `ReleaseOnCancel`), so the next contender
//!   need not wait for the lease to expire.
//!
//! Every write is a create (`POST`) or a replace (`PUT`) carrying the
//! `metadata.resourceVersion` that was read: when two contenders race, the
//! server refuses the stale write with 409 and its author backs off
//! ([`Attempt::Contended`]). Server-side apply would not do: it merges
//! instead of failing on a concurrent change.
//!
//! Expiry compares the holder's `renewTime` with this machine's clock, so
//! the clocks of the contenders must agree to well within the lease
//! duration (NTP; on a Pi running k3s and rekon, one clock).

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease as LeaseObject, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use kube::Client;

use super::api::missing_namespace;
use super::error::reason;
use super::object::FIELD_MANAGER;
use super::Cluster;

/// Namespace of rekon's Lease unless told otherwise (the inventories' too).
pub const DEFAULT_NAMESPACE: &str = super::inventory::NAMESPACE;
/// Name of rekon's Lease unless told otherwise.
pub const DEFAULT_NAME: &str = "rekon";

/// Which Lease, who contends for it, and the timings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This contender's `holderIdentity` (see [`identity`]).
    pub identity: String,
    /// How long a lease lasts after its last renewal before another
    /// contender may take it over.
    pub lease_duration: Duration,
    /// How long the holder keeps trying to renew before it gives up.
    pub renew_deadline: Duration,
    /// Delay between two renewals, and between two tries to acquire.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// `namespace/name` for `identity` with client-go's defaults for
    /// controllers: 15 s lease, 10 s renew deadline, 2 s retry period
    /// (k3s's own controllers use them on a Pi).
    pub fn new(namespace: &str, name: &str, identity: String) -> LeaseConfig {
        LeaseConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// A `holderIdentity` for this process: `$POD_NAME` (set by the install
/// manifests from the downward API) or the host name, then `_` and 16
/// random hex digits, so two processes on one host differ too.
pub fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(hostname)
        .unwrap_or_else(|| "rekon".into());
    // RandomState is seeded from the OS's randomness once per process:
    // enough to tell processes apart without a dependency for it.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{host}_{:016x}", hasher.finish())
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    (!name.is_empty()).then_some(name)
}

/// What a Lease says, as client-go's `LeaderElectionRecord`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `spec.holderIdentity` (empty: released, nobody holds it).
    pub holder: String,
    /// `spec.leaseDurationSeconds`.
    pub lease_duration: Duration,
    /// `spec.acquireTime`.
    pub acquired: Option<Timestamp>,
    /// `spec.renewTime`.
    pub renewed: Option<Timestamp>,
    /// `spec.leaseTransitions`.
    pub transitions: i32,
}

impl Record {
    fn of(lease: &LeaseObject) -> Record {
        let spec = lease.spec.clone().unwrap_or_default();
        Record {
            holder: spec.holder_identity.unwrap_or_default(),
            lease_duration: Duration::from_secs(
                spec.lease_duration_seconds.unwrap_or(0).max(0) as u64
            ),
            acquired: spec.acquire_time.map(|t| t.0),
            renewed: spec.renew_time.map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }

    /// When the lease expires: `renewTime + leaseDurationSeconds`
    /// (`None` when it was never renewed, which counts as expired).
    pub fn expires(&self) -> Option<Timestamp> {
        let duration = SignedDuration::try_from(self.lease_duration).ok()?;
        self.renewed?.checked_add(duration).ok()
    }

    /// Whether another contender may take the lease over at `now`.
    pub fn is_free(&self, now: Timestamp) -> bool {
        self.holder.is_empty() || self.expires().is_none_or(|e| e <= now)
    }
}

/// The outcome of one try to acquire or renew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This contender holds the lease (acquired or renewed it).
    Held,
    /// Another contender holds a live lease.
    HeldBy(Record),
    /// The Lease changed between the read and the write (409): another
    /// contender won this round. Read again before deciding anything.
    Contended,
}

/// Why leader election failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another contender holds a live lease (after waiting, if asked to).
    #[error(
        "the lease {lease} is held by `{holder}` (renewed {renewed}, expires {expires}): another rekon is applying; nothing was applied"
    )]
    Held {
        /// `namespace/name`.
        lease: String,
        /// Its `holderIdentity`.
        holder: String,
        /// How long ago it was renewed (`3s ago`).
        renewed: String,
        /// When it expires unless renewed (`in 12s`).
        expires: String,
    },
    /// The holder could not renew the lease in time, or another contender
    /// took it over: the work was stopped.
    #[error("lost the lease {lease}: {why}; stopped applying")]
    Lost {
        /// `namespace/name`.
        lease: String,
        /// What happened.
        why: String,
    },
    /// A request failed.
    #[error("{action} lease {lease}: {reason}")]
    Request {
        /// `reading`, `creating`, `renewing`, ...
        action: &'static str,
        /// `namespace/name`.
        lease: String,
        /// The server's or the transport's message.
        reason: String,
    },
}

/// One contender for one Lease.
pub struct Lease {
    api: Api<LeaseObject>,
    namespaces: Api<Namespace>,
    config: LeaseConfig,
    /// The Lease as this contender last wrote it, while it holds it
    /// (its resourceVersion is the precondition of the next write).
    held: Option<LeaseObject>,
    /// When the last renewal succeeded.
    renewed_at: Option<Instant>,
}

impl Cluster {
    /// A contender for the Lease of `config` on this cluster.
    pub fn lease(&self, config: LeaseConfig) -> Lease {
        Lease::new(self.client.clone(), config)
    }
}

impl Lease {
    /// A contender for the Lease of `config`, through `client`.
    pub fn new(client: Client, config: LeaseConfig) -> Lease {
        Lease {
            api: Api::namespaced(client.clone(), &config.namespace),
            namespaces: Api::all(client),
            config,
            held: None,
            renewed_at: None,
        }
    }

    /// `namespace/name`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.config.namespace, self.config.name)
    }

    /// This contender's identity.
    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Whether this contender holds the lease (as of its last write).
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// One round of client-go's `tryAcquireOrRenew`: read the Lease, then
    /// create, renew or take it over, or report who holds it.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, LeaseError> {
        let now = Timestamp::now();
        let live = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.failed("reading", &e))?;
        let Some(live) = live else {
            return self.create(now).await;
        };
        let record = Record::of(&live);
        let mine = record.holder == self.config.identity;
        if !mine && !record.is_free(now) {
            self.held = None;
            return Ok(Attempt::HeldBy(record));
        }
        let mut next = live.clone();
        next.metadata.managed_fields = None;
        next.spec = Some(LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.duration_seconds()),
            // A renewal keeps the acquire time; a takeover is a transition.
            acquire_time: Some(MicroTime(if mine {
                record.acquired.unwrap_or(now)
            } else {
                now
            })),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(record.transitions + i32::from(!mine)),
            ..live.spec.clone().unwrap_or_default()
        });
        match self
            .api
            .replace(&self.config.name, &self.post_params(), &next)
            .await
        {
            Ok(written) => Ok(self.now_held(written)),
            Err(e) if is_conflict(&e) => {
                self.held = None;
                Ok(Attempt::Contended)
            }
            Err(e) => Err(self.failed(if mine { "renewing" } else { "taking over" }, &e)),
        }
    }

    /// Acquire the lease, trying every `retry_period` for up to `wait`
    /// (zero: one try) while another contender holds it or the server
    /// fails; then the last reason is the error.
    pub async fn acquire(&mut self, wait: Duration) -> Result<(), LeaseError> {
        let deadline = Instant::now() + wait;
        loop {
            let failure = match self.try_acquire_or_renew().await {
                Ok(Attempt::Held) => return Ok(()),
                // Read again at once: the winner of the race is the holder.
                Ok(Attempt::Contended) => continue,
                Ok(Attempt::HeldBy(record)) => self.held_by(&record),
                Err(e) => e,
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(failure);
            }
            let pause = self.config.retry_period.min(deadline - now);
            tracing::info!("{failure}; trying again in {pause:?}");
            tokio::time::sleep(pause).await;
        }
    }

    /// Renew the lease once (it must be held).
    pub async fn renew(&mut self) -> Result<(), LeaseError> {
        match self.try_acquire_or_renew().await? {
            Attempt::Held => Ok(()),
            Attempt::HeldBy(record) => Err(self.lost(format!("`{}` holds it now", record.holder))),
            Attempt::Contended => Err(self.lost("it was changed by another client".into())),
        }
    }

    /// Run `work` while holding the lease, renewing it every
    /// `retry_period`. If no renewal succeeds for `renew_deadline`, or
    /// another contender holds the lease, `work` is dropped (stopped at its
    /// next request) and the lease is [`LeaseError::Lost`].
    pub async fn hold<F: Future>(&mut self, work: F) -> Result<F::Output, LeaseError> {
        let mut work = pin!(work);
        let mut renewals = pin!(self.keep_renewed());
        std::future::poll_fn(|cx| {
            if let Poll::Ready(out) = work.as_mut().poll(cx) {
                return Poll::Ready(Ok(out));
            }
            renewals.as_mut().poll(cx).map(Err)
        })
        .await
    }

    /// Renew until the lease is lost; only ever returns the loss.
    async fn keep_renewed(&mut self) -> LeaseError {
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            let last = self.renewed_at.unwrap_or_else(Instant::now);
            let left = self.config.renew_deadline.saturating_sub(last.elapsed());
            // A hung request must not outlast the deadline.
            let why = match tokio::time::timeout(left, self.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Held)) => continue,
                Ok(Ok(Attempt::HeldBy(record))) => {
                    return self.lost(format!("`{}` holds it now", record.holder))
                }
                Ok(Ok(Attempt::Contended)) => "it was changed by another client".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "the renewal timed out".to_string(),
            };
            tracing::warn!("renewing lease {}: {why}", self.name());
            if last.elapsed() >= self.config.renew_deadline {
                return self.lost(format!(
                    "not renewed for {:?} ({why})",
                    self.config.renew_deadline
                ));
            }
        }
    }

    /// Give the lease up, if held: no holder and a 1 s duration, so the
    /// next contender takes it at once. A lease taken over meanwhile is
    /// left alone (the write's precondition fails).
    pub async fn release(&mut self) -> Result<(), LeaseError> {
        let Some(mut lease) = self.held.take() else {
            return Ok(());
        };
        self.renewed_at = None;
        let now = MicroTime(Timestamp::now());
        let spec = lease.spec.get_or_insert_with(Default::default);
        spec.holder_identity = Some(String::new());
        spec.lease_duration_seconds = Some(1);
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        lease.metadata.managed_fields = None;
        match self
            .api
            .replace(&self.config.name, &self.post_params(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => Err(self.failed("releasing", &e)),
        }
    }

    async fn create(&mut self, now: Timestamp) -> Result<Attempt, LeaseError> {
        let lease = LeaseObject {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                labels: Some([("app.kubernetes.io/managed-by".into(), "rekon".into())].into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.config.identity.clone()),
                lease_duration_seconds: Some(self.duration_seconds()),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..Default::default()
            }),
        };
        let params = self.post_params();
        let mut result = self.api.create(&params, &lease).await;
        if matches!(&result, Err(e) if missing_namespace(e).is_some()) {
            // First run on a fresh cluster (the inventory creates the same
            // namespace on its first write).
            self.create_namespace().await?;
            result = self.api.create(&params, &lease).await;
        }
        match result {
            Ok(written) => Ok(self.now_held(written)),
            // AlreadyExists: another contender created it first.
            Err(e) if is_conflict(&e) => Ok(Attempt::Contended),
            Err(e) => Err(self.failed("creating", &e)),
        }
    }

    async fn create_namespace(&self) -> Result<(), LeaseError> {
        // A plain create, not a server-side apply as field manager `rekon`:
        // that would own the Namespace's fields with a set other than the
        // one a kustomization applying this namespace owns.
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(self.config.namespace.clone()),
                labels: Some([("app.kubernetes.io/managed-by".into(), "rekon".into())].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        match self
            .namespaces
            .create(&self.post_params(), &namespace)
            .await
        {
            // AlreadyExists: created meanwhile (by the inventory, another rekon).
            Err(e) if !is_conflict(&e) => Err(self.failed("creating the namespace of", &e)),
            _ => Ok(()),
        }
    }

    fn now_held(&mut self, written: LeaseObject) -> Attempt {
        self.held = Some(written);
        self.renewed_at = Some(Instant::now());
        Attempt::Held
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.config.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    fn post_params(&self) -> PostParams {
        PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        }
    }

    fn failed(&self, action: &'static str, err: &kube::Error) -> LeaseError {
        LeaseError::Request {
            action,
            lease: self.name(),
            reason: reason(err),
        }
    }

    fn lost(&mut self, why: String) -> LeaseError {
        self.held = None;
        LeaseError::Lost {
            lease: self.name(),
            why,
        }
    }

    fn held_by(&self, record: &Record) -> LeaseError {
        let now = Timestamp::now();
        let ago = |t: Option<Timestamp>| match t {
            Some(t) => format!("{} ago", seconds(now.duration_since(t))),
            None => "never".into(),
        };
        let expires = match record.expires() {
            Some(e) => format!("in {}", seconds(e.duration_since(now))),
            None => "now".into(),
        };
        LeaseError::Held {
            lease: self.name(),
            holder: record.holder.clone(),
            renewed: ago(record.renewed),
            expires,
        }
    }
}

/// `12s`, whole seconds, never negative.
fn seconds(d: SignedDuration) -> String {
    format!("{}s", d.as_secs().max(0))
}

/// A 409: a stale resourceVersion on replace, or AlreadyExists on create.
fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 409)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(holder: &str, renewed: &str, seconds: u64) -> Record {
        Record {
            holder: holder.into(),
            lease_duration: Duration::from_secs(seconds),
            acquired: None,
            renewed: Some(renewed.parse().unwrap()),
            transitions: 0,
        }
    }

    #[test]
    fn a_lease_is_free_when_released_expired_or_never_renewed() {
        let now: Timestamp = "2026-01-01T00:00:20Z".parse().unwrap();
        assert!(!record("a", "2026-01-01T00:00:10Z", 15).is_free(now));
        assert!(
            record("a", "2026-01-01T00:00:05Z", 15).is_free(now),
            "expired exactly now"
        );
        assert!(
            record("", "2026-01-01T00:00:19Z", 15).is_free(now),
            "released"
        );
        let never = Record {
            renewed: None,
            ..record("a", "2026-01-01T00:00:19Z", 15)
        };
        assert!(never.is_free(now));
        assert_eq!(
            record("a", "2026-01-01T00:00:10Z", 15).expires(),
            Some("2026-01-01T00:00:25Z".parse().unwrap())
        );
    }

    #[test]
    fn identities_differ_between_calls_and_name_the_host() {
        let (a, b) = (identity(), identity());
        assert_ne!(a, b);
        let (host, suffix) = a.rsplit_once('_').unwrap();
        assert!(!host.is_empty());
        assert_eq!(suffix.len(), 16);
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()));
    }
}

//! An in-process Kubernetes API server double for rekon's apply tests.
//!
//! [`ApiServer::start`] serves real HTTP/1 on `127.0.0.1:<random port>` from
//! its own thread, and [`ApiServer::write_kubeconfig`] writes a kubeconfig
//! pointing at it, so the code under test uses the real `kube` client end to
//! end. The test drives the "cluster" directly: it reads objects, acts as
//! other field managers, sets rollout outcomes, reject rules and faults, and
//! reads the request log. `README.md` lists exactly what is modelled and
//! what is not.
//!
//! ```
//! use rekon_apiserver_double::ApiServer;
//! let server = ApiServer::start();
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! assert!(server.object("v1", "Namespace", "", "default").is_some());
//! ```

mod admission;
mod controllers;
mod error;
mod faults;
mod fields;
mod helm;
mod http;
mod resources;
mod selector;
mod store;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::Value;
use tokio::sync::oneshot;

pub use admission::Reject;
pub use controllers::Rollout;
pub use error::ApiError;
pub use faults::{Fault, FaultAction};
pub use http::RequestRecord;

use http::{lock, Shared};
use resources::Resource;
use store::Store;

/// A running API server double. Dropping it stops the server.
pub struct ApiServer {
    address: SocketAddr,
    state: Arc<Mutex<Shared>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Start a server with an empty cluster (namespaces `default`,
    /// `kube-system` and `kube-public`) on a free loopback port.
    pub fn start() -> ApiServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let address = listener.local_addr().expect("a bound address");
        let state = Arc::new(Mutex::new(Shared {
            store: Store::new(),
            faults: Vec::new(),
            log: Vec::new(),
            address: address.to_string(),
        }));
        let (tx, rx) = oneshot::channel();
        let served = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("apiserver-double-{}", address.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                    http::serve(listener, served, rx).await;
                });
            })
            .expect("spawning the server thread");
        ApiServer {
            address,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A kubeconfig (context `apiserver-double`, namespace `default`, a bearer
    /// token the double accepts without checking).
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1
kind: Config
clusters:
  - name: apiserver-double
    cluster:
      server: {}
contexts:
  - name: apiserver-double
    context:
      cluster: apiserver-double
      user: apiserver-double
      namespace: default
current-context: apiserver-double
users:
  - name: apiserver-double
    user:
      token: apiserver-double-token
",
            self.url()
        )
    }

    /// Write [`ApiServer::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// The stored object, or `None`. `namespace` is ignored for cluster-scoped kinds.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let shared = lock(&self.state);
        let r = shared.store.resources.by_kind(api_version, kind)?;
        shared.store.get(r, namespace, name).ok()
    }

    /// Every stored object, in a stable order (compare two snapshots to
    /// prove that nothing changed).
    pub fn objects(&self) -> Vec<Value> {
        lock(&self.state).store.all()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.state).log.clone()
    }

    /// Forget the requests logged so far.
    pub fn clear_requests(&self) {
        lock(&self.state).log.clear();
    }

    /// Server-side apply `object` as field manager `manager`, as another
    /// client would (not logged). The namespace defaults to `default`.
    pub fn apply_as(&self, manager: &str, object: &Value, force: bool) -> Result<Value, ApiError> {
        let mut shared = lock(&self.state);
        let r = resource_of(&shared.store, object)?;
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let ns = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let written = shared
            .store
            .apply(&r, ns, name, object.clone(), manager, force, false)?;
        Ok(written.object)
    }

    /// JSON merge patch of an object as field manager `manager` (an
    /// `Update`, as `kubectl edit` or a controller writes), not logged.
    pub fn edit_as(
        &self,
        manager: &str,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ApiError> {
        let mut shared = lock(&self.state);
        let r = resource_of(
            &shared.store,
            &serde_json::json!({"apiVersion": api_version, "kind": kind}),
        )?;
        let written = shared
            .store
            .update(&r, namespace, name, patch.clone(), manager, false)?;
        Ok(written.object)
    }

    /// Delete an object as another client would (not logged).
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let mut shared = lock(&self.state);
        let r = resource_of(
            &shared.store,
            &serde_json::json!({"apiVersion": api_version, "kind": kind}),
        )?;
        shared.store.delete(&r, namespace, name, false).map(drop)
    }

    /// How workloads named `namespace/name` roll out from now on (also
    /// re-runs the controller on the ones already stored).
    pub fn set_rollout(&self, namespace: &str, name: &str, rollout: Rollout) {
        lock(&self.state)
            .store
            .set_rollout(namespace, name, rollout);
    }

    /// Make the install Jobs of the HelmChart `namespace/name` fail from now
    /// on, the Job's `Failed` condition saying `message` (k3s's Job
    /// controller says `Job has reached the specified backoff limit`).
    /// Re-runs the helm-controller on a stored HelmChart.
    pub fn fail_helm_install(&self, namespace: &str, name: &str, message: &str) {
        lock(&self.state)
            .store
            .fail_helm_install(namespace, name, message);
    }

    /// Pause k3s's helm-controller: HelmChart changes do not replace their
    /// install Jobs until it is resumed (`false`), as when k3s is slow.
    pub fn pause_helm_controller(&self, paused: bool) {
        lock(&self.state).store.pause_helm_controller(paused);
    }

    /// Add a reject rule (checked on dry-runs too).
    pub fn reject(&self, rule: Reject) {
        lock(&self.state).store.rejections.push(rule);
    }

    /// Remove every reject rule.
    pub fn clear_rejections(&self) {
        lock(&self.state).store.rejections.clear();
    }

    /// Add a fault rule.
    pub fn inject(&self, fault: Fault) {
        lock(&self.state).faults.push(fault);
    }

    /// How many uses the fault rules have left in total.
    pub fn faults_left(&self) -> usize {
        lock(&self.state).faults.iter().map(|f| f.remaining).sum()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn resource_of(store: &Store, object: &Value) -> Result<Resource, ApiError> {
    let s = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    store
        .resources
        .by_kind(s("/apiVersion"), s("/kind"))
        .cloned()
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "no kind \"{}\" is registered for version \"{}\"",
                s("/kind"),
                s("/apiVersion")
            ))
        })
}

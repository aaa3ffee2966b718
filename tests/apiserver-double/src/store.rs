//! The object store and the write paths: server-side apply, JSON merge patch
//! (an `Update` by a named manager) and delete, with managed fields,
//! generations, resource versions, uids and timestamps.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::admission::{self, Reject};
use crate::controllers::{self, Rollout};
use crate::error::ApiError;
use crate::fields::{self, FieldSet, Path};
use crate::helm;
use crate::resources::{Resource, Resources};
use crate::selector::Selector;

/// Where an object lives: objects are shared by every version of a kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    group: String,
    plural: String,
    namespace: String,
    name: String,
}

impl Key {
    fn new(r: &Resource, namespace: &str, name: &str) -> Key {
        Key {
            group: r.group.clone(),
            plural: r.plural.clone(),
            namespace: if r.namespaced {
                namespace.into()
            } else {
                String::new()
            },
            name: name.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Apply,
    Update,
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
struct Manager {
    name: String,
    operation: Operation,
    api_version: String,
    fields: FieldSet,
    time: String,
}

#[derive(Debug, Clone)]
struct Stored {
    object: Value,
    managers: Vec<Manager>,
}

/// Everything the server holds, plus the rules tests set on it.
#[derive(Debug)]
pub struct Store {
    /// What is served.
    pub resources: Resources,
    objects: BTreeMap<Key, Stored>,
    last_rv: u64,
    last_uid: u64,
    last_ip: u32,
    /// Rollout mode by (namespace, name).
    pub rollouts: HashMap<(String, String), Rollout>,
    /// Reject rules, checked on every create and update.
    pub rejections: Vec<Reject>,
    /// HelmCharts by (namespace, name) whose install Jobs fail, with the
    /// Job's message.
    pub helm_failures: HashMap<(String, String), String>,
    /// HelmCharts changed while the helm-controller is paused (`Some`), to
    /// reconcile when it resumes.
    helm_paused: Option<Vec<(String, String)>>,
}

/// A write's outcome.
pub struct Written {
    /// The object as stored (or as it would be, in a dry-run).
    pub object: Value,
    /// Whether it did not exist before.
    pub created: bool,
}

impl Store {
    /// A store with the namespaces every cluster has.
    pub fn new() -> Store {
        let mut store = Store {
            resources: Resources::builtin(),
            objects: BTreeMap::new(),
            last_rv: 0,
            last_uid: 0,
            last_ip: 0,
            rollouts: HashMap::new(),
            rejections: Vec::new(),
            helm_failures: HashMap::new(),
            helm_paused: None,
        };
        let ns = store
            .resources
            .by_kind("v1", "Namespace")
            .cloned()
            .expect("built in");
        for name in ["default", "kube-system", "kube-public"] {
            let object =
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            store
                .apply(&ns, "", name, object, "k3s", true, false)
                .expect("seed namespaces");
        }
        store
    }

    /// The object, as served at `r`'s version.
    pub fn get(&self, r: &Resource, namespace: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&Key::new(r, namespace, name))
            .map(|s| at_version(&s.object, r))
            .ok_or_else(|| ApiError::not_found(r, name))
    }

    /// `{Kind}List` of the objects of `r` in `namespace` (all when `None`)
    /// matching `selector`.
    pub fn list(&self, r: &Resource, namespace: Option<&str>, selector: &Selector) -> Value {
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|(k, _)| k.group == r.group && k.plural == r.plural)
            .filter(|(k, _)| namespace.is_none_or(|ns| k.namespace == ns))
            .filter(|(_, s)| selector.matches(&s.object))
            .map(|(_, s)| {
                let mut o = at_version(&s.object, r);
                if !r.custom {
                    // The real server drops apiVersion/kind from built-in list items.
                    if let Some(m) = o.as_object_mut() {
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                }
                o
            })
            .collect();
        json!({
            "kind": format!("{}List", r.kind),
            "apiVersion": r.api_version(),
            "metadata": {"resourceVersion": self.last_rv.to_string()},
            "items": items,
        })
    }

    /// Every stored object, in key order.
    pub fn all(&self) -> Vec<Value> {
        self.objects.values().map(|s| s.object.clone()).collect()
    }

    /// Server-side apply of `patch` by `manager`.
    #[allow(clippy::too_many_arguments)] // the parameters of the request
    pub fn apply(
        &mut self,
        r: &Resource,
        namespace: &str,
        name: &str,
        patch: Value,
        manager: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let mut patch = self.admit(r, namespace, name, patch)?;
        if let Some(m) = patch.as_object_mut() {
            // Status is a subresource: writes to the main resource ignore it.
            m.remove("status");
        }
        let applied = FieldSet::of(&patch);
        let key = Key::new(r, namespace, name);
        let live = self.objects.get(&key).cloned();
        let (mut object, mut managers) = match &live {
            Some(s) => (s.object.clone(), s.managers.clone()),
            None => (Value::Object(Map::new()), Vec::new()),
        };
        let is_mine = |m: &Manager| m.name == manager && m.operation == Operation::Apply;
        let previous = managers.iter().find(|m| is_mine(m)).cloned();

        // Fields this manager applied before and no longer applies are
        // removed, unless another manager also owns them.
        if let Some(prev) = &previous {
            for path in prev.fields.0.difference(&applied.0) {
                let shared = managers
                    .iter()
                    .any(|m| !is_mine(m) && m.fields.overlaps(path));
                if !shared {
                    fields::remove(&mut object, path);
                }
            }
        }
        let before = object.clone();
        fields::merge(&mut object, &patch);

        // A field another manager owns conflicts when this apply changes its value.
        let mut conflicts: Vec<(usize, Path)> = Vec::new();
        for (i, other) in managers.iter().enumerate().filter(|(_, m)| !is_mine(m)) {
            for owned in &other.fields.0 {
                let changed = applied.0.iter().any(|p| {
                    fields::overlap(p, owned) && {
                        let at = fields::shorter(p, owned);
                        fields::get(&before, at) != fields::get(&object, at)
                    }
                });
                if changed {
                    conflicts.push((i, owned.clone()));
                }
            }
        }
        if !conflicts.is_empty() && !force {
            let described: Vec<(String, String, String)> = conflicts
                .iter()
                .map(|(i, path)| {
                    let m = &managers[*i];
                    (m.name.clone(), m.api_version.clone(), fields::render(path))
                })
                .collect();
            return Err(ApiError::field_conflicts(&described));
        }
        for (i, path) in &conflicts {
            managers[*i].fields.0.remove(path);
        }

        let api_version = r.api_version();
        let entry = match previous {
            Some(prev) if prev.fields == applied && prev.api_version == api_version => prev,
            _ => Manager {
                name: manager.into(),
                operation: Operation::Apply,
                api_version,
                fields: applied,
                time: now(),
            },
        };
        match managers.iter_mut().find(|m| is_mine(m)) {
            Some(m) => *m = entry,
            None => managers.push(entry),
        }
        self.commit(r, key, live, object, managers, dry_run)
    }

    /// JSON merge patch by `manager` (an `Update`): it takes the fields it
    /// sets from every other manager, without conflicts.
    pub fn update(
        &mut self,
        r: &Resource,
        namespace: &str,
        name: &str,
        patch: Value,
        manager: &str,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let key = Key::new(r, namespace, name);
        let Some(live) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(r, name));
        };
        let mut full = live.object.clone();
        fields::merge_patch(&mut full, &patch);
        let mut object = self.admit(r, namespace, name, full)?;
        if let Some(m) = object.as_object_mut() {
            m.insert("status".into(), live.object["status"].clone());
            if m["status"].is_null() {
                m.remove("status");
            }
        }
        let set = FieldSet::of(&patch);
        let mut deleted = Vec::new();
        fields::deletions(&patch, Vec::new(), &mut deleted);
        let mut managers = live.managers.clone();
        for m in &mut managers {
            m.fields
                .0
                .retain(|p| !set.0.iter().chain(&deleted).any(|q| fields::overlap(p, q)));
        }
        let mine = |m: &Manager| m.name == manager && m.operation == Operation::Update;
        match managers.iter_mut().find(|m| mine(m)) {
            Some(m) => {
                m.fields.0.extend(set.0);
                m.time = now();
            }
            None => managers.push(Manager {
                name: manager.into(),
                operation: Operation::Update,
                api_version: r.api_version(),
                fields: set,
                time: now(),
            }),
        }
        self.commit(r, key, Some(live), object, managers, dry_run)
    }

    /// Create (`POST` to the collection) by `manager`, an `Update` owning
    /// every field it sets: `409 AlreadyExists` if the object exists.
    pub fn create(
        &mut self,
        r: &Resource,
        namespace: &str,
        name: &str,
        body: Value,
        manager: &str,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let mut object = self.admit(r, namespace, name, body)?;
        let meta = object["metadata"].as_object_mut().expect("admitted");
        if meta.contains_key("resourceVersion") {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created".into(),
            ));
        }
        meta.remove("managedFields");
        if let Some(m) = object.as_object_mut() {
            m.remove("status");
        }
        let key = Key::new(r, namespace, name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(r, name));
        }
        let managers = vec![Manager {
            name: manager.into(),
            operation: Operation::Update,
            api_version: r.api_version(),
            fields: FieldSet::of(&object),
            time: now(),
        }];
        self.commit(r, key, None, object, managers, dry_run)
    }

    /// Replace (`PUT`) by `manager`, an `Update`. A `metadata.resourceVersion`
    /// in the body is a precondition: another one than the stored one is the
    /// real `409 Conflict` and nothing changes; without one the replace is
    /// unconditional. The manager takes the fields whose values change;
    /// `status` and server-set metadata are kept.
    pub fn replace(
        &mut self,
        r: &Resource,
        namespace: &str,
        name: &str,
        body: Value,
        manager: &str,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let key = Key::new(r, namespace, name);
        let Some(live) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(r, name));
        };
        let mut object = self.admit(r, namespace, name, body)?;
        let live_meta = &live.object["metadata"];
        let meta = object["metadata"].as_object_mut().expect("admitted");
        if let Some(rv) = meta.get("resourceVersion") {
            if *rv != live_meta["resourceVersion"] {
                return Err(ApiError::stale(r, name));
            }
        }
        for kept in ["uid", "creationTimestamp", "resourceVersion", "generation"] {
            meta.insert(kept.into(), live_meta[kept].clone());
        }
        meta.remove("managedFields");
        if let Some(m) = object.as_object_mut() {
            match live.object.get("status") {
                Some(status) => m.insert("status".into(), status.clone()),
                None => m.remove("status"),
            };
        }
        let (before, after) = (FieldSet::of(&live.object), FieldSet::of(&object));
        let changed: Vec<Path> = after
            .0
            .iter()
            .filter(|p| fields::get(&live.object, p) != fields::get(&object, p))
            .chain(before.0.difference(&after.0))
            .cloned()
            .collect();
        let mut managers = live.managers.clone();
        for m in &mut managers {
            m.fields
                .0
                .retain(|p| !changed.iter().any(|q| fields::overlap(p, q)));
        }
        let gained = FieldSet(
            changed
                .into_iter()
                .filter(|p| after.0.contains(p))
                .collect(),
        );
        let mine = |m: &Manager| m.name == manager && m.operation == Operation::Update;
        match managers.iter_mut().find(|m| mine(m)) {
            Some(_) if gained.0.is_empty() => {}
            Some(m) => {
                m.fields.0.extend(gained.0);
                m.time = now();
            }
            None => managers.push(Manager {
                name: manager.into(),
                operation: Operation::Update,
                api_version: r.api_version(),
                fields: gained,
                time: now(),
            }),
        }
        self.commit(r, key, Some(live), object, managers, dry_run)
    }

    /// Delete an object (a Namespace takes its contents along; a CRD its
    /// custom resources). Returns the `Status` of success.
    pub fn delete(
        &mut self,
        r: &Resource,
        namespace: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let key = Key::new(r, namespace, name);
        let Some(stored) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(r, name));
        };
        if !dry_run {
            self.objects.remove(&key);
            self.last_rv += 1;
            match r.kind.as_str() {
                "Namespace" if r.group.is_empty() => {
                    self.objects.retain(|k, _| k.namespace != name);
                }
                "HelmChart" if r.group == "helm.cattle.io" => {
                    // k3s's end state once its helm-delete Job is done.
                    let job = Key {
                        group: "batch".into(),
                        plural: "jobs".into(),
                        namespace: namespace.into(),
                        name: helm::install_job_name(name),
                    };
                    self.objects.remove(&job);
                }
                "CustomResourceDefinition" => {
                    if let Some((group, plural)) = self.resources.unregister_crd(&stored.object) {
                        self.objects
                            .retain(|k, _| !(k.group == group && k.plural == plural));
                    }
                }
                _ => {}
            }
        }
        Ok(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name, "group": r.group, "kind": r.plural,
                "uid": stored.object.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
            },
        }))
    }

    /// Change the rollout mode of workloads named `name` and re-run their
    /// controllers, as a kubelet reporting pods would.
    pub fn set_rollout(&mut self, namespace: &str, name: &str, rollout: Rollout) {
        self.rollouts
            .insert((namespace.into(), name.into()), rollout);
        for (key, stored) in self.objects.iter_mut() {
            if key.namespace == namespace && key.name == name {
                let kind = stored.object["kind"].as_str().unwrap_or("").to_string();
                let before = stored.object.clone();
                controllers::reconcile(&kind, &mut stored.object, rollout);
                if stored.object != before {
                    self.last_rv += 1;
                    stored.object["metadata"]["resourceVersion"] = json!(self.last_rv.to_string());
                }
            }
        }
    }

    /// Pause k3s's helm-controller (HelmChart changes wait, their old
    /// install Jobs stay), or resume it and reconcile what changed meanwhile.
    pub fn pause_helm_controller(&mut self, paused: bool) {
        if paused {
            self.helm_paused.get_or_insert_with(Vec::new);
        } else if let Some(pending) = self.helm_paused.take() {
            for (namespace, name) in pending {
                self.helm_controller(&namespace, &name);
            }
        }
    }

    /// Make installs of the HelmChart `namespace/name` fail with `message`
    /// from now on (also fails the install Job already stored).
    pub fn fail_helm_install(&mut self, namespace: &str, name: &str, message: &str) {
        self.helm_failures
            .insert((namespace.into(), name.into()), message.into());
        self.helm_controller(namespace, name);
    }

    /// What k3s's helm-controller does when a HelmChart is created or its
    /// spec changes: replace its install Job (delete, create), let the Job
    /// controller run, and write the HelmChart's status. Returns the
    /// HelmChart as stored then, `None` if it does not exist or k3s would
    /// not manage it.
    fn helm_controller(&mut self, namespace: &str, name: &str) -> Option<Value> {
        let chart_r = self
            .resources
            .by_kind("helm.cattle.io/v1", "HelmChart")?
            .clone();
        let job_r = self.resources.by_kind("batch/v1", "Job")?.clone();
        let chart = self.get(&chart_r, namespace, name).ok()?;
        if !helm::managed(&chart) {
            return None;
        }
        let job_name = helm::install_job_name(name);
        let _ = self.delete(&job_r, namespace, &job_name, false);
        let mut job = self
            .apply(
                &job_r,
                namespace,
                &job_name,
                helm::install_job(&chart),
                "helm-controller",
                true,
                false,
            )
            .ok()?
            .object;
        if let Some(message) = self.helm_failures.get(&(namespace.into(), name.into())) {
            job["status"] = helm::failed_job_status(message);
            self.set_status(&job_r, namespace, &job_name, job["status"].clone());
        }
        let status = helm::chart_status(namespace, &job);
        self.set_status(&chart_r, namespace, name, status)
    }

    /// Write an object's status as its controller would; returns the object.
    fn set_status(
        &mut self,
        r: &Resource,
        namespace: &str,
        name: &str,
        status: Value,
    ) -> Option<Value> {
        let stored = self.objects.get_mut(&Key::new(r, namespace, name))?;
        if stored.object["status"] != status {
            stored.object["status"] = status;
            self.last_rv += 1;
            stored.object["metadata"]["resourceVersion"] = json!(self.last_rv.to_string());
        }
        Some(stored.object.clone())
    }

    /// Checks every create and update goes through: body matches path, the
    /// namespace exists, no reject rule matches. Returns the body with its
    /// identity filled in.
    fn admit(
        &self,
        r: &Resource,
        namespace: &str,
        name: &str,
        body: Value,
    ) -> Result<Value, ApiError> {
        let Value::Object(mut body) = body else {
            return Err(ApiError::bad_request("the body is not an object".into()));
        };
        let api_version = r.api_version();
        if body.get("apiVersion").and_then(Value::as_str) != Some(api_version.as_str()) {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({api_version})",
                body.get("apiVersion").and_then(Value::as_str).unwrap_or("")
            )));
        }
        if body.get("kind").and_then(Value::as_str) != Some(r.kind.as_str()) {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({}) does not match the expected kind ({})",
                body.get("kind").and_then(Value::as_str).unwrap_or(""),
                r.kind
            )));
        }
        let meta = body
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(meta) = meta.as_object_mut() else {
            return Err(ApiError::bad_request("metadata is not an object".into()));
        };
        if meta.get("name").and_then(Value::as_str) != Some(name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta.get("name").and_then(Value::as_str).unwrap_or("")
            )));
        }
        if r.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(ns) if ns != namespace => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request".into(),
                    ));
                }
                _ => {
                    meta.insert("namespace".into(), json!(namespace));
                }
            }
            let ns_resource = self.resources.by_kind("v1", "Namespace").expect("built in");
            if !self
                .objects
                .contains_key(&Key::new(ns_resource, "", namespace))
            {
                return Err(ApiError::not_found(ns_resource, namespace));
            }
        } else {
            meta.remove("namespace");
        }
        if let Some(err) = self.rejections.iter().find_map(|rule| rule.check(r, name)) {
            return Err(err);
        }
        Ok(Value::Object(body))
    }

    /// Defaults, validation, bookkeeping, then store (unless a dry-run or
    /// nothing changed) and run controllers.
    fn commit(
        &mut self,
        r: &Resource,
        key: Key,
        live: Option<Stored>,
        mut object: Value,
        managers: Vec<Manager>,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let mut next_ip = self.last_ip;
        admission::default(r, &mut object, &mut next_ip);
        if let Some(live) = &live {
            admission::check_immutable(r, &key.name, &live.object, &object)?;
        }
        let generation = match &live {
            None => 1,
            Some(live) => {
                let generation = live.object["metadata"]["generation"].as_i64().unwrap_or(1);
                let changed = without_meta_status(&live.object) != without_meta_status(&object);
                generation + i64::from(changed)
            }
        };
        let meta = object["metadata"].as_object_mut().expect("admitted");
        meta.insert("generation".into(), json!(generation));
        if live.is_none() {
            meta.insert("uid".into(), json!(uid(self.last_uid + 1)));
            meta.insert("creationTimestamp".into(), json!(now()));
        }
        let managers: Vec<Manager> = managers
            .into_iter()
            .filter(|m| !m.fields.0.is_empty())
            .collect();
        object["metadata"]["managedFields"] = Value::Array(
            managers
                .iter()
                .map(|m| {
                    json!({
                        "manager": m.name,
                        "operation": match m.operation { Operation::Apply => "Apply", Operation::Update => "Update" },
                        "apiVersion": m.api_version,
                        "time": m.time,
                        "fieldsType": "FieldsV1",
                        "fieldsV1": m.fields.to_fields_v1(),
                    })
                })
                .collect(),
        );
        if let Some(live) = &live {
            if live.object == object {
                return Ok(Written {
                    object: at_version(&live.object, r),
                    created: false,
                });
            }
        }
        if dry_run {
            if live.is_none() {
                // Nothing is stored, so a dry-run create has no resourceVersion.
                object["metadata"]
                    .as_object_mut()
                    .expect("admitted")
                    .remove("resourceVersion");
            }
            return Ok(Written {
                object,
                created: live.is_none(),
            });
        }
        self.last_ip = next_ip;
        if live.is_none() {
            self.last_uid += 1;
        }
        self.last_rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.last_rv.to_string());
        let rollout = self
            .rollouts
            .get(&(key.namespace.clone(), key.name.clone()))
            .copied()
            .unwrap_or_default();
        controllers::reconcile(&r.kind, &mut object, rollout);
        if r.kind == "CustomResourceDefinition" {
            self.resources.register_crd(&object);
        }
        let spec_changed = live
            .as_ref()
            .is_none_or(|l| l.object["metadata"]["generation"] != object["metadata"]["generation"]);
        let (namespace, name) = (key.namespace.clone(), key.name.clone());
        self.objects.insert(
            key,
            Stored {
                object: object.clone(),
                managers,
            },
        );
        if r.kind == "HelmChart" && r.group == "helm.cattle.io" && spec_changed {
            match &mut self.helm_paused {
                Some(pending) => pending.push((namespace, name)),
                None => {
                    if let Some(chart) = self.helm_controller(&namespace, &name) {
                        object = chart;
                    }
                }
            }
        }
        Ok(Written {
            object,
            created: live.is_none(),
        })
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

/// The object with `apiVersion` of the version it is read at (the double does
/// not convert between versions).
fn at_version(object: &Value, r: &Resource) -> Value {
    let mut o = object.clone();
    o["apiVersion"] = json!(r.api_version());
    o
}

fn without_meta_status(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    o
}

fn uid(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// The current time as RFC 3339 (`2026-01-02T03:04:05Z`).
pub fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i64) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}},
        })
    }

    #[test]
    fn a_helm_chart_gets_an_install_job_replaced_on_spec_changes() {
        let mut store = Store::new();
        let charts = store
            .resources
            .by_kind("helm.cattle.io/v1", "HelmChart")
            .unwrap()
            .clone();
        let jobs = store.resources.by_kind("batch/v1", "Job").unwrap().clone();
        let chart = |version: &str| {
            json!({
                "apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
                "metadata": {"name": "podinfo", "namespace": "default"},
                "spec": {"chart": "podinfo", "repo": "https://example.test", "version": version},
            })
        };
        store
            .apply(
                &charts,
                "default",
                "podinfo",
                chart("1.0.0"),
                "rekon",
                false,
                false,
            )
            .unwrap();
        let job = store.get(&jobs, "default", "helm-install-podinfo").unwrap();
        let hash = job
            .pointer("/spec/template/metadata/annotations/helmcharts.helm.cattle.io~1configHash")
            .cloned()
            .unwrap();
        assert_eq!(
            job.pointer("/status/conditions/0/type"),
            Some(&json!("Complete"))
        );
        assert_eq!(
            job.pointer("/spec/template/spec/containers/0/env/1"),
            Some(&json!({"name": "VERSION", "value": "1.0.0"}))
        );
        let stored = store.get(&charts, "default", "podinfo").unwrap();
        assert_eq!(
            stored.pointer("/status/jobName"),
            Some(&json!("helm-install-podinfo"))
        );

        store.fail_helm_install("default", "podinfo", "chart not found");
        store
            .apply(
                &charts,
                "default",
                "podinfo",
                chart("2.0.0"),
                "rekon",
                false,
                false,
            )
            .unwrap();
        let replaced = store.get(&jobs, "default", "helm-install-podinfo").unwrap();
        assert_ne!(replaced["metadata"]["uid"], job["metadata"]["uid"]);
        assert_ne!(
            replaced.pointer(
                "/spec/template/metadata/annotations/helmcharts.helm.cattle.io~1configHash"
            ),
            Some(&hash)
        );
        assert_eq!(
            replaced.pointer("/status/conditions/0/message"),
            Some(&json!("chart not found"))
        );
        let stored = store.get(&charts, "default", "podinfo").unwrap();
        assert_eq!(
            stored.pointer("/status/conditions/1/status"),
            Some(&json!("True"))
        );

        store.delete(&charts, "default", "podinfo", false).unwrap();
        assert!(store.get(&jobs, "default", "helm-install-podinfo").is_err());
    }

    fn apps(store: &Store) -> Resource {
        store
            .resources
            .by_kind("apps/v1", "Deployment")
            .cloned()
            .unwrap()
    }

    #[test]
    fn apply_creates_then_noop_keeps_resource_version() {
        let mut s = Store::new();
        let r = apps(&s);
        let a = s
            .apply(&r, "default", "web", deployment(1), "rekon", false, false)
            .unwrap();
        assert!(a.created);
        assert_eq!(a.object["metadata"]["generation"], 1);
        let b = s
            .apply(&r, "default", "web", deployment(1), "rekon", false, false)
            .unwrap();
        assert_eq!(
            a.object["metadata"]["resourceVersion"],
            b.object["metadata"]["resourceVersion"]
        );
        let c = s
            .apply(&r, "default", "web", deployment(2), "rekon", false, false)
            .unwrap();
        assert_eq!(c.object["metadata"]["generation"], 2);
        assert_eq!(c.object["status"]["observedGeneration"], 2);
    }

    #[test]
    fn other_managers_conflict_unless_forced() {
        let mut s = Store::new();
        let r = apps(&s);
        s.apply(&r, "default", "web", deployment(1), "rekon", false, false)
            .unwrap();
        s.update(
            &r,
            "default",
            "web",
            json!({"spec": {"replicas": 3}}),
            "kubectl-edit",
            false,
        )
        .unwrap();
        let err = s
            .apply(&r, "default", "web", deployment(1), "rekon", false, false)
            .err()
            .unwrap();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas"
        );
        // Same value: shared ownership, no conflict.
        s.apply(&r, "default", "web", deployment(3), "rekon", false, true)
            .unwrap();
        let forced = s
            .apply(&r, "default", "web", deployment(1), "rekon", true, false)
            .unwrap();
        assert_eq!(forced.object["spec"]["replicas"], 1);
        let managers = forced.object["metadata"]["managedFields"]
            .as_array()
            .unwrap();
        assert!(
            managers.iter().all(|m| m["manager"] != "kubectl-edit"),
            "{managers:?}"
        );
    }

    #[test]
    fn dropped_fields_are_removed_and_dry_run_stores_nothing() {
        let mut s = Store::new();
        let r = apps(&s);
        let mut d = deployment(1);
        d["metadata"]["labels"] = json!({"a": "1"});
        s.apply(&r, "default", "web", d, "rekon", false, false)
            .unwrap();
        let dry = s
            .apply(&r, "default", "web", deployment(1), "rekon", false, true)
            .unwrap();
        assert!(dry.object["metadata"].get("labels").is_none());
        assert_eq!(
            s.get(&r, "default", "web").unwrap()["metadata"]["labels"]["a"],
            "1"
        );
    }

    #[test]
    fn immutable_selector_and_missing_namespace() {
        let mut s = Store::new();
        let r = apps(&s);
        s.apply(&r, "default", "web", deployment(1), "rekon", false, false)
            .unwrap();
        let mut d = deployment(1);
        d["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
        let err = s
            .apply(&r, "default", "web", d, "rekon", false, true)
            .err()
            .unwrap();
        assert_eq!(err.code, 422);
        assert!(
            err.message.contains("spec.selector: Invalid value"),
            "{}",
            err.message
        );
        let mut d = deployment(1);
        d["metadata"]["namespace"] = json!("nowhere");
        let err = s
            .apply(&r, "nowhere", "web", d, "rekon", false, true)
            .err()
            .unwrap();
        assert_eq!(
            (err.code, err.message.as_str()),
            (404, "namespaces \"nowhere\" not found")
        );
    }

    #[test]
    fn create_then_replace_with_a_stale_resource_version_is_refused() {
        let mut s = Store::new();
        let r = s
            .resources
            .by_kind("coordination.k8s.io/v1", "Lease")
            .cloned()
            .unwrap();
        let lease = |holder: &str, rv: Option<&str>| {
            let mut l = json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": "rekon", "namespace": "default"},
                "spec": {"holderIdentity": holder},
            });
            if let Some(rv) = rv {
                l["metadata"]["resourceVersion"] = json!(rv);
            }
            l
        };
        let created = s
            .create(&r, "default", "rekon", lease("a", None), "a", false)
            .unwrap();
        let err = s
            .create(&r, "default", "rekon", lease("b", None), "b", false)
            .err()
            .unwrap();
        assert_eq!((err.code, err.reason), (409, "AlreadyExists"));
        let rv = created.object["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        let replaced = s
            .replace(&r, "default", "rekon", lease("b", Some(&rv)), "b", false)
            .unwrap();
        assert_eq!(replaced.object["spec"]["holderIdentity"], "b");
        assert_eq!(
            replaced.object["metadata"]["uid"],
            created.object["metadata"]["uid"]
        );
        assert_ne!(replaced.object["metadata"]["resourceVersion"], json!(rv));
        let err = s
            .replace(&r, "default", "rekon", lease("c", Some(&rv)), "c", false)
            .err()
            .unwrap();
        assert_eq!((err.code, err.reason), (409, "Conflict"));
        assert!(
            err.message.contains("the object has been modified"),
            "{}",
            err.message
        );
        let stored = s.get(&r, "default", "rekon").unwrap();
        assert_eq!(
            stored["spec"]["holderIdentity"], "b",
            "the stale write changed nothing"
        );
        let managers: Vec<&Value> = stored["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["manager"])
            .collect();
        assert_eq!(
            managers,
            [&json!("b")],
            "b took the field it changed from a"
        );
    }

    #[test]
    fn time_is_rfc3339() {
        let t = now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}

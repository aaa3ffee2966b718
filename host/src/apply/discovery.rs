//! Which API resource serves each apiVersion/kind: discovery over the groups
//! a set of objects uses (so any kind works, CRDs included), re-run once a
//! set's own CRDs are established.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::{Discovery, Scope};
use kube::Client;

use super::api::{with_retry, Retry};
use super::error::{reason, ApplyError};
use super::object::ObjectRef;

/// Where an object is served.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub resource: ApiResource,
    pub namespaced: bool,
}

impl Target {
    /// The API for objects of this resource in `namespace`.
    pub fn api(&self, client: &Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match (self.namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &self.resource),
            _ => Api::all_with(client.clone(), &self.resource),
        }
    }
}

/// The discovered resources of some API groups.
pub(crate) struct Resolver {
    discovery: Discovery,
}

impl Resolver {
    /// Discover `groups` (`""` is the core group).
    pub async fn run(
        client: &Client,
        retry: &Retry,
        groups: &[String],
    ) -> Result<Resolver, ApplyError> {
        let filter: Vec<&str> = groups.iter().map(String::as_str).collect();
        let discovery = with_retry(retry, "discovery", || {
            Discovery::new(client.clone()).filter(&filter).run()
        })
        .await
        .map_err(|e| ApplyError::Request {
            action: "discovering",
            object: "the cluster's API resources".into(),
            reason: reason(&e),
        })?;
        Ok(Resolver { discovery })
    }

    /// The resource serving `object`'s kind, if any.
    pub fn resolve(&self, object: &ObjectRef) -> Option<Target> {
        let gvk = GroupVersionKind::gvk(object.group(), object.version(), &object.kind);
        self.discovery
            .resolve_gvk(&gvk)
            .map(|(resource, caps)| Target {
                resource,
                namespaced: caps.scope == Scope::Namespaced,
            })
    }
}

/// The distinct API groups of `objects`, plus the core group.
pub(crate) fn groups<'a>(objects: impl IntoIterator<Item = &'a ObjectRef>) -> Vec<String> {
    let mut groups = vec![String::new()];
    for o in objects {
        if !groups.iter().any(|g| g == o.group()) {
            groups.push(o.group().to_string());
        }
    }
    groups
}

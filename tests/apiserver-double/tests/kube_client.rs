//! The double as the real `kube` client sees it: discovery, server-side
//! apply (dry-run, conflicts), list with selectors, delete, CRDs, faults.

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{Discovery, Scope};
use kube::{Client, Config};
use rekon_apiserver_double::{ApiServer, Fault};
use serde_json::{json, Value};

async fn client(server: &ApiServer) -> Client {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path).unwrap();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

fn configmap(name: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
        "data": data,
    })
}

fn api(
    client: &Client,
    discovery: &Discovery,
    api_version: &str,
    kind: &str,
    ns: Option<&str>,
) -> Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
    let (ar, caps) = discovery
        .resolve_gvk(&gvk)
        .unwrap_or_else(|| panic!("{kind} not discovered"));
    match (caps.scope, ns) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    }
}

#[tokio::test]
async fn discovery_apply_list_delete() {
    let server = ApiServer::start();
    let client = client(&server).await;
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let cms = api(&client, &discovery, "v1", "ConfigMap", Some("default"));
    let pp = PatchParams::apply("rekon");

    let dry = cms
        .patch(
            "a",
            &PatchParams {
                dry_run: true,
                ..pp.clone()
            },
            &Patch::Apply(configmap("a", json!({"k": "1"}))),
        )
        .await
        .unwrap();
    assert!(dry.metadata.resource_version.is_none());
    assert!(server.object("v1", "ConfigMap", "default", "a").is_none());

    let created = cms
        .patch("a", &pp, &Patch::Apply(configmap("a", json!({"k": "1"}))))
        .await
        .unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    let again = cms
        .patch("a", &pp, &Patch::Apply(configmap("a", json!({"k": "1"}))))
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version.unwrap(),
        rv,
        "a no-op apply keeps the version"
    );
    cms.patch("b", &pp, &Patch::Apply(configmap("b", json!({}))))
        .await
        .unwrap();

    let listed = cms
        .list(&ListParams::default().labels("app=a"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].metadata.name.as_deref(), Some("a"));

    cms.delete("a", &DeleteParams::background()).await.unwrap();
    let err = cms.get("a").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err}"
    );
}

#[tokio::test]
async fn conflicts_name_the_manager_and_field() {
    let server = ApiServer::start();
    let client = client(&server).await;
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let cms = api(&client, &discovery, "v1", "ConfigMap", Some("default"));
    cms.patch(
        "a",
        &PatchParams::apply("rekon"),
        &Patch::Apply(configmap("a", json!({"k": "1"}))),
    )
    .await
    .unwrap();
    server
        .edit_as(
            "helm",
            "v1",
            "ConfigMap",
            "default",
            "a",
            &json!({"data": {"k": "2"}}),
        )
        .unwrap();
    let err = cms
        .patch(
            "a",
            &PatchParams::apply("rekon"),
            &Patch::Apply(configmap("a", json!({"k": "1"}))),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!(status.code, 409);
    let causes = &status.details.as_ref().unwrap().causes;
    assert_eq!(causes[0].field, ".data.k");
    assert_eq!(causes[0].message, "conflict with \"helm\" using v1");
}

#[tokio::test]
async fn crds_are_served_once_applied() {
    let server = ApiServer::start();
    let client = client(&server).await;
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.org"},
        "spec": {
            "group": "example.org", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "versions": [{"name": "v1", "served": true, "storage": true}],
        },
    });
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    assert!(discovery
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "example.org",
            "v1",
            "Widget"
        ))
        .is_none());
    let crds = api(
        &client,
        &discovery,
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        None,
    );
    let stored = crds
        .patch(
            "widgets.example.org",
            &PatchParams::apply("rekon"),
            &Patch::Apply(crd),
        )
        .await
        .unwrap();
    let established = stored.data["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True");
    assert!(established);
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let widgets = api(
        &client,
        &discovery,
        "example.org/v1",
        "Widget",
        Some("default"),
    );
    let w = json!({"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}});
    widgets
        .patch("w", &PatchParams::apply("rekon"), &Patch::Apply(w))
        .await
        .unwrap();
    assert_eq!(
        widgets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn faults_answer_then_clear() {
    let server = ApiServer::start();
    let client = client(&server).await;
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let cms = api(&client, &discovery, "v1", "ConfigMap", Some("default"));
    server.inject(Fault::status(500).method("GET").times(1));
    server.inject(Fault::drop_connection().method("GET").times(1));
    let first = cms.get_opt("x").await.unwrap_err();
    assert!(
        matches!(first, kube::Error::Api(ref s) if s.code == 500),
        "{first}"
    );
    let second = cms.get_opt("x").await.unwrap_err();
    assert!(
        !matches!(second, kube::Error::Api(_)),
        "a transport error: {second}"
    );
    assert!(cms.get_opt("x").await.unwrap().is_none());
    assert_eq!(server.faults_left(), 0);
    let log = server.requests();
    assert_eq!(log.iter().filter(|r| r.fault).count(), 2);
}

//! A Flux-style cluster tree, end to end.

use std::path::PathBuf;

use crate::support::Tree;

const KUSTOMIZATION: &str = "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: website
resources:
  - deployment.yaml
  - service.yaml
  - namespace.yaml
images:
  - name: ghcr.io/example/frontend
    newTag: \"1.4.2\"
";

const DEPLOYMENT: &str = "\
# The public web frontend.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  labels:
    app: frontend
spec:
  replicas: 2
  selector:
    matchLabels:
      app: frontend
  template:
    metadata:
      labels:
        app: frontend
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/example/frontend:1.4.1
          args: [migrate]
      containers:
        - name: frontend
          image: ghcr.io/example/frontend:1.4.1
          ports:
            - containerPort: 8080
";

const SERVICE: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: frontend
spec:
  selector:
    app: frontend
  ports:
    - port: 80
      targetPort: 8080
";

const NAMESPACE: &str = "\
---
apiVersion: v1
kind: Namespace
metadata:
  name: website
";

fn tree() -> Tree {
    Tree::new(&[
        (
            "flux/clusters/production/frontend/kustomization.yaml",
            KUSTOMIZATION,
        ),
        (
            "flux/clusters/production/frontend/deployment.yaml",
            DEPLOYMENT,
        ),
        ("flux/clusters/production/frontend/service.yaml", SERVICE),
        (
            "flux/clusters/production/frontend/namespace.yaml",
            NAMESPACE,
        ),
    ])
}

#[test]
fn frontend_renders_like_kustomize() {
    let yaml = tree().yaml("flux/clusters/production/frontend");
    assert_eq!(
        yaml,
        "\
apiVersion: v1
kind: Namespace
metadata:
  name: website
---
apiVersion: v1
kind: Service
metadata:
  name: frontend
  namespace: website
spec:
  selector:
    app: frontend
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  labels:
    app: frontend
  namespace: website
spec:
  replicas: 2
  selector:
    matchLabels:
      app: frontend
  template:
    metadata:
      labels:
        app: frontend
    spec:
      initContainers:
      - name: migrate
        image: ghcr.io/example/frontend:1.4.2
        args:
        - migrate
      containers:
      - name: frontend
        image: ghcr.io/example/frontend:1.4.2
        ports:
        - containerPort: 8080
"
    );
}

#[test]
fn origins_point_at_the_defining_documents() {
    let resources = tree().build("flux/clusters/production/frontend").unwrap();
    let origins: Vec<(String, PathBuf, usize)> = resources
        .iter()
        .map(|r| {
            (
                r.object["kind"].as_str().unwrap().to_string(),
                r.origin.file.clone(),
                r.origin.line,
            )
        })
        .collect();
    let dir = PathBuf::from("flux/clusters/production/frontend");
    assert_eq!(
        origins,
        vec![
            ("Namespace".into(), dir.join("namespace.yaml"), 2),
            ("Service".into(), dir.join("service.yaml"), 1),
            ("Deployment".into(), dir.join("deployment.yaml"), 2),
        ]
    );
}

#[test]
fn a_cluster_directory_without_kustomization_builds_every_app() {
    let tree = tree();
    tree.write(
        "flux/clusters/production/infra/storage.yaml",
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: local\nprovisioner: rancher.io/local-path\n",
    );
    tree.write("flux/clusters/production/README.md", "not YAML\n");
    let kinds: Vec<String> = tree
        .objects("flux/clusters/production")
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace/website",
            "StorageClass/local",
            "Service/frontend",
            "Deployment/frontend"
        ]
    );
}

//! Cost of a setter pass over a repository.
//!
//! A generated repository of 1,000 Deployment manifests (about 1 KiB each)
//! in 100 directories, 10% with an image policy marker. Run with
//! `cargo bench -p rekon --bench setters`; each pass:
//! - `steady`: every value already right (a reconciler's usual pass): all
//!   files read, 100 parsed, nothing written;
//! - `dry-run`: 100 values to change, computed, nothing written;
//! - `write`: 100 files rewritten atomically (alternating between two tags).

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rekon::images::{apply_to_text, apply_to_tree, Policies, PolicyResult};

const FILES: usize = 1_000;
const MARKED_EVERY: usize = 10;

fn deployment(i: usize, marked: bool) -> String {
    let marker = if marked {
        r#" # {"$imagepolicy": "flux-system:frontend"}"#
    } else {
        ""
    };
    format!(
        r#"# Generated manifest {i}.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: website
  labels:
    app: app-{i}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app-{i}
  template:
    metadata:
      labels:
        app: app-{i}
    spec:
      containers:
        - name: app
          image: harbor.lan/website/frontend:main-abc1234-1767225600{marker}
          ports:
            - name: http
              containerPort: 8080
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
            initialDelaySeconds: 5
          resources:
            requests:
              cpu: 50m
              memory: 64Mi
            limits:
              memory: 128Mi
"#
    )
}

fn generate(root: &Path) {
    for i in 0..FILES {
        let dir = root.join(format!("apps/group-{}", i / 10));
        std::fs::create_dir_all(&dir).unwrap();
        let text = deployment(i, i % MARKED_EVERY == 0);
        std::fs::write(dir.join(format!("app-{i}.yaml")), text).unwrap();
    }
}

fn policy(tag: &str) -> Policies {
    let result = PolicyResult::parse(&format!("harbor.lan/website/frontend:{tag}")).unwrap();
    [("flux-system:frontend".to_owned(), result)].into()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let current = policy("main-abc1234-1767225600");
    let next = policy("main-def5678-1767312000");

    let mut group = c.benchmark_group("setters/tree-1000-files");
    group.throughput(Throughput::Elements(FILES as u64));
    group.bench_function("steady", |b| {
        b.iter(|| {
            let update = apply_to_tree(dir.path(), &current, false).unwrap();
            assert_eq!(update.files.len(), 0);
        })
    });
    group.bench_function("dry-run", |b| {
        b.iter(|| {
            let update = apply_to_tree(dir.path(), &next, true).unwrap();
            assert_eq!(update.files.len(), FILES / MARKED_EVERY);
        })
    });
    let mut flip = false;
    group.bench_function("write", |b| {
        b.iter(|| {
            flip = !flip;
            let policies = if flip { &next } else { &current };
            let update = apply_to_tree(dir.path(), policies, false).unwrap();
            assert_eq!(update.files.len(), FILES / MARKED_EVERY);
        })
    });
    group.finish();

    let text = deployment(0, true);
    c.bench_function("setters/text-one-deployment", |b| {
        b.iter(|| apply_to_text(&text, Path::new("app.yaml"), &next).unwrap())
    });
}

criterion_group! {
    name = benches;
    // Each pass touches 1,000 files; a few samples give a stable number.
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);

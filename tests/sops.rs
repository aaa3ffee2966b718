//! SOPS decryption (age): files written here from SOPS's format description
//! (data key wrapped by the real `age` CLI, values AES-256-GCM with 32-byte
//! IVs, the MAC over the cleartext values), built by `rekon render --flux`
//! (the key Secret defined in the repository) and by a rekon.toml
//! `decryption`, applied to the API server double; planted values are then
//! looked for in every output (render, diff, apply, `rekon status`,
//! `/status`, the daemon's log, the files on disk), and each kind of bad
//! input must fail naming its file with nothing applied.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{aes::Aes256, AesGcm};
use base64::Engine;
use rekon::config::Config;
use rekon::flux::{expand, Access};
use rekon::render::Renderer;
use rekon::source::Roots;
use rekon_apiserver_double::ApiServer;
use sha2::{Digest, Sha512};

use crate::support;

/// Values that must never show outside the cluster.
const PASSWORD: &str = "planted-pw-7f3a9c";
const TOKEN: &str = "planted-token-51be";
const ENV_VALUE: &str = "planted-env-c0ffee";
const CERT: &str = "planted-cert-line\n";
const LASTMODIFIED: &str = "2026-03-04T05:06:07Z";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0; N];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut out)
        .unwrap();
    out
}

/// An identity made by `age-keygen`: the file's text and its recipient.
struct AgeKey {
    text: String,
    recipient: String,
}

fn keygen(dir: &Path, name: &str) -> AgeKey {
    let path = dir.join(name);
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&path)
        .output()
        .expect("age-keygen (Debian package `age`; tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    AgeKey { text, recipient }
}

/// One file being encrypted as `sops -e` would: a fresh data key wrapped
/// for `recipient` by the `age` CLI, and the MAC of every value in order.
struct Sops {
    key: [u8; 32],
    enc: String,
    recipient: String,
    mac: Sha512,
}

impl Sops {
    fn new(recipient: &str) -> Sops {
        let key: [u8; 32] = random();
        let mut child = Command::new("age")
            .args(["-r", recipient, "-a"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&key).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        Sops {
            key,
            enc: String::from_utf8(out.stdout).unwrap(),
            recipient: recipient.to_string(),
            mac: Sha512::new(),
        }
    }

    fn seal(&self, clear: &[u8], kind: &str, ad: &str) -> String {
        let iv: [u8; 32] = random();
        let cipher = AesGcm::<Aes256, U32>::new((&self.key).into());
        let mut out = cipher
            .encrypt(
                (&iv).into(),
                Payload {
                    msg: clear,
                    aad: ad.as_bytes(),
                },
            )
            .unwrap();
        let tag = out.split_off(out.len() - 16);
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
            b64(&out),
            b64(&iv),
            b64(&tag)
        )
    }

    /// An encrypted string at key path `ad` (`a:b:`), counted in the MAC.
    fn enc(&mut self, clear: &str, ad: &str) -> String {
        self.mac.update(clear.as_bytes());
        self.seal(clear.as_bytes(), "str", ad)
    }

    /// A value left in clear, counted in the MAC.
    fn clear<'a>(&mut self, value: &'a str) -> &'a str {
        self.mac.update(value.as_bytes());
        value
    }

    fn mac(&self) -> String {
        let mac = hex::encode_upper(self.mac.clone().finalize());
        self.seal(mac.as_bytes(), "str", LASTMODIFIED)
    }

    /// The `sops:` mapping of a YAML file.
    fn yaml_metadata(&self, rule: &str) -> String {
        let enc: String = self.enc.lines().map(|l| format!("        {l}\n")).collect();
        format!(
            "sops:\n  age:\n    - recipient: {}\n      enc: |\n{enc}  lastmodified: \"{LASTMODIFIED}\"\n  mac: {}\n{rule}  version: 3.9.4\n",
            self.recipient,
            self.mac()
        )
    }

    /// The `sops` object of a JSON file.
    fn json_metadata(&self) -> serde_json::Value {
        serde_json::json!({
            "age": [{"recipient": self.recipient, "enc": self.enc}],
            "lastmodified": LASTMODIFIED,
            "mac": self.mac(),
            "unencrypted_suffix": "_unencrypted",
            "version": "3.9.4",
        })
    }
}

/// A Secret with `encrypted_regex: ^(data|stringData)$`, as the README's
/// `.sops.yaml` makes it (its namespace is the kustomization's).
fn secret_yaml(recipient: &str, name: &str) -> String {
    let mut s = Sops::new(recipient);
    let head = format!(
        "apiVersion: {}\nkind: {}\nmetadata:\n  name: {}\n  labels:\n    app: {}\ntype: {}\n",
        s.clear("v1"),
        s.clear("Secret"),
        s.clear(name),
        s.clear("shop"),
        s.clear("Opaque")
    );
    let password = s.enc(PASSWORD, "stringData:password:");
    let token = s.enc(&b64(TOKEN.as_bytes()), "data:token:");
    format!(
        "{head}stringData:\n  password: {password}\ndata:\n  token: {token}\n{}",
        s.yaml_metadata("  encrypted_regex: ^(data|stringData)$\n")
    )
}

/// A dotenv file as `sops -e --input-type dotenv` writes it.
fn env_file(recipient: &str) -> String {
    let mut s = Sops::new(recipient);
    let user = s.enc("admin", "DB_USER:");
    let pass = s.enc(ENV_VALUE, "DB_PASS:");
    format!(
        "DB_USER={user}\nDB_PASS={pass}\nsops_age__list_0__map_enc={}\nsops_age__list_0__map_recipient={}\nsops_lastmodified={LASTMODIFIED}\nsops_mac={}\nsops_unencrypted_suffix=_unencrypted\nsops_version=3.9.4\n",
        s.enc.replace('\n', "\\n"),
        s.recipient,
        s.mac()
    )
}

/// A binary file as SOPS stores it: `{"data": ..., "sops": ...}`.
fn binary_file(recipient: &str) -> String {
    let mut s = Sops::new(recipient);
    let data = s.enc(CERT, "data:");
    serde_json::to_string_pretty(&serde_json::json!({"data": data, "sops": s.json_metadata()}))
        .unwrap()
}

const APP_KUSTOMIZATION: &str = "\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop
resources:
  - namespace.yaml
  - secret.sops.yaml
secretGenerator:
  - name: app-env
    envs:
      - db.env
    files:
      - tls.crt=cert.pem
";

/// `dir/apps`: an encrypted Secret, and a secretGenerator reading an
/// encrypted dotenv and binary file.
fn write_app(dir: &Path, key: &AgeKey) {
    let app = dir.join("apps");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("kustomization.yaml"), APP_KUSTOMIZATION).unwrap();
    std::fs::write(
        app.join("namespace.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    )
    .unwrap();
    std::fs::write(
        app.join("secret.sops.yaml"),
        secret_yaml(&key.recipient, "db"),
    )
    .unwrap();
    std::fs::write(app.join("db.env"), env_file(&key.recipient)).unwrap();
    std::fs::write(app.join("cert.pem"), binary_file(&key.recipient)).unwrap();
}

/// Every form a planted value could leak in.
fn planted() -> Vec<String> {
    let mut out = Vec::new();
    for v in [PASSWORD, TOKEN, ENV_VALUE, CERT.trim_end()] {
        out.push(v.to_string());
        out.push(b64(v.as_bytes()));
    }
    out.push(b64(CERT.as_bytes()));
    out.push(b64(b64(TOKEN.as_bytes()).as_bytes()));
    out
}

fn assert_clean(what: &str, text: &str) {
    for v in planted() {
        assert!(
            !text.contains(&v),
            "{what} shows a decrypted value ({v}):\n{text}"
        );
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn decoded(secret: &serde_json::Value, key: &str) -> String {
    let v = secret["data"][key].as_str().unwrap().replace('\n', "");
    text(&base64::engine::general_purpose::STANDARD.decode(v).unwrap())
}

const FLUX_SYNC: &str = "\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  url: ssh://git@git.lan/home/website
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./flux/clusters/production
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./apps
  prune: true
  targetNamespace: shop
  sourceRef:
    kind: GitRepository
    name: flux-system
  decryption:
    provider: sops
    secretRef:
      name: sops-age
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: web
  namespace: shop
spec:
  interval: 10m0s
  path: ./web
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
    namespace: flux-system
  postBuild:
    substituteFrom:
      - kind: Secret
        name: db
";

#[test]
fn flux_render_decrypts_with_the_repositorys_key_secret_and_masks_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "age.key");
    write_app(dir.path(), &key);
    let entry = dir.path().join("flux/clusters/production");
    std::fs::create_dir_all(&entry).unwrap();
    std::fs::write(entry.join("sync.yaml"), FLUX_SYNC).unwrap();
    // Without a cluster, the decryption Secret is the repository's own (a
    // test-only shortcut: real keys stay out of git).
    let agekey: String = key.text.lines().map(|l| format!("    {l}\n")).collect();
    std::fs::write(
        entry.join("sops-age.yaml"),
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\n  namespace: flux-system\nstringData:\n  age.agekey: |\n{agekey}"),
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("age.key")).unwrap();
    // `web` substitutes from the Secret `apps` decrypts.
    std::fs::create_dir_all(dir.path().join("web")).unwrap();
    std::fs::write(
        dir.path().join("web/settings.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: shop\ndata:\n  pw: ${password}\n",
    )
    .unwrap();

    let mut config = Config::for_flux(dir.path(), Path::new("flux/clusters/production")).unwrap();
    config.state_dir = Some(dir.path().join("state"));
    let mut roots = Roots::fetch(&config).unwrap();
    let access = Access {
        cluster: None,
        fetch: false,
    };
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(expand(&mut config, &mut roots, access))
        .unwrap();
    let k = config.select(Some("flux-system/apps")).unwrap()[0];
    let renderer = Renderer::load(&config, support::runtime(), &[k]).unwrap();
    let rendered = renderer.render(roots.of(k), k).unwrap();
    let find = |prefix: &str| {
        rendered
            .objects
            .iter()
            .map(|o| &o.object)
            .find(|o| o["metadata"]["name"].as_str().unwrap().starts_with(prefix))
            .unwrap()
    };
    let db = find("db");
    assert_eq!(
        db["metadata"]["namespace"], "shop",
        "targetNamespace, MAC still good"
    );
    assert_eq!(db["stringData"]["password"], PASSWORD);
    assert_eq!(decoded(db, "token"), TOKEN);
    assert!(db.get("sops").is_none());
    let env = find("app-env-");
    assert_eq!(decoded(env, "DB_PASS"), ENV_VALUE);
    assert_eq!(decoded(env, "DB_USER"), "admin");
    assert_eq!(decoded(env, "tls.crt"), CERT);
    let web = config.select(Some("shop/web")).unwrap()[0];
    let settings = renderer.render(roots.of(web), web).unwrap();
    assert_eq!(settings.objects[0].object["data"]["pw"], PASSWORD);
    assert!(settings.unresolved.is_empty(), "{:?}", settings.unresolved);

    // `rekon render --flux` prints the same objects, values masked as `flux build` does.
    let out = Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args([
            "render",
            "--flux",
            "flux/clusters/production",
            "flux-system/apps",
        ])
        .current_dir(dir.path())
        .env("REKON_STATE_DIR", dir.path().join("state"))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("password: '**SOPS**'") || stdout.contains("password: \"**SOPS**\""),
        "{stdout}"
    );
    assert!(stdout.contains("DB_PASS: KipTT1BTKio="), "{stdout}");
    assert_clean("rekon render --flux", &stdout);
    assert_clean("rekon render --flux (stderr)", &text(&out.stderr));
}

/// A rekon.toml site: `shop` decrypts with a key file, `tampered` (whose
/// Secret's clear label was edited after encryption) with a key in the
/// environment; the API server double as the cluster.
struct Site {
    dir: tempfile::TempDir,
    server: ApiServer,
    key: AgeKey,
    port: u16,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let key = keygen(dir.path(), "age.key");
        write_app(dir.path(), &key);
        let bad = dir.path().join("bad");
        std::fs::create_dir_all(&bad).unwrap();
        let secret = secret_yaml(&key.recipient, "other").replace("app: shop", "app: evil");
        std::fs::write(bad.join("secret.sops.yaml"), secret).unwrap();
        std::fs::write(
            bad.join("kustomization.yaml"),
            "namespace: shop\nresources:\n  - secret.sops.yaml\n",
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            dir.path().join("rekon.toml"),
            format!(
                "state-dir = \"state\"\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n\
                 [[kustomizations]]\nname = \"shop\"\npath = \"apps\"\nwait = false\ndecryption = {{ age-key-file = \"age.key\" }}\n\n\
                 [[kustomizations]]\nname = \"tampered\"\npath = \"bad\"\nwait = false\ndecryption = {{ age-key-env = \"REKON_TEST_AGE_KEY\" }}\n"
            ),
        )
        .unwrap();
        let server = ApiServer::start();
        server
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .unwrap();
        Site {
            dir,
            server,
            key,
            port,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rekon"));
        c.args(args)
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--config")
            .arg(self.dir.path().join("rekon.toml"))
            .env("REKON_TEST_AGE_KEY", &self.key.text)
            .env("RUST_LOG", "rekon=debug,info")
            .env_remove("KUBECONFIG");
        c
    }

    fn rekon(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

/// `rekon run`, stopped when dropped (a failed assertion included).
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn decrypted_values_reach_the_cluster_and_nothing_else() {
    let site = Site::new();
    let mut seen = String::new();
    let mut run = |args: &[&str]| {
        let out = site.rekon(args);
        seen += &format!(
            "$ rekon {}\n{}{}",
            args.join(" "),
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    };

    let diff = run(&["diff", "shop"]);
    assert_eq!(diff.status.code(), Some(1), "{seen}");
    assert!(
        text(&diff.stdout).contains("password: \"***** (after)\""),
        "{seen}"
    );

    let apply = run(&["apply", "shop"]);
    assert!(apply.status.success(), "{seen}");
    let db = site
        .server
        .object("v1", "Secret", "shop", "db")
        .expect("db applied");
    assert_eq!(decoded(&db, "token"), TOKEN);
    let stored = db["stringData"]["password"].as_str().map(str::to_string);
    let stored = stored.unwrap_or_else(|| decoded(&db, "password"));
    assert_eq!(stored, PASSWORD);

    // Tampered: refused, naming the file; nothing of it applied.
    let refused = run(&["apply", "tampered"]);
    assert!(!refused.status.success());
    let err = text(&refused.stderr);
    assert!(
        err.contains("bad/secret.sops.yaml: SOPS: MAC mismatch"),
        "{err}"
    );
    assert!(site
        .server
        .object("v1", "Secret", "shop", "other")
        .is_none());

    // Applied: the diff shows nothing.
    let again = run(&["diff", "shop"]);
    assert_eq!(again.status.code(), Some(0), "{seen}");
    assert_clean("the command line", &seen);

    // The daemon: its log, /status and `rekon status`.
    let log_path = site.dir.path().join("rekon.log");
    let daemon = Daemon(
        site.command(&["run"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let ready = |s: &serde_json::Value, name: &str| s["kustomizations"][name]["ready"].as_bool();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let json = loop {
        let status = support::world::status_at(site.port);
        if let Some(s) = &status {
            if ready(s, "shop") == Some(true) && ready(s, "tampered") == Some(false) {
                break s.to_string();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rekon run did not reconcile both kustomizations\nstatus: {status:#?}\nlog:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let table = Command::new(env!("CARGO_BIN_EXE_rekon"))
        .args([
            "status",
            "--url",
            &format!("http://127.0.0.1:{}", site.port),
        ])
        .output()
        .unwrap();
    drop(daemon);
    assert!(json.contains("bad/secret.sops.yaml"), "{json}");
    assert_clean("/status", &json);
    assert_clean(
        "rekon status",
        &(text(&table.stdout) + &text(&table.stderr)),
    );
    assert_clean(
        "rekon run's log",
        &std::fs::read_to_string(&log_path).unwrap(),
    );

    // Nothing decrypted on disk: the checkout, state and cache.
    let mut stack = vec![site.dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert_clean(
                    &path.display().to_string(),
                    &String::from_utf8_lossy(&bytes),
                );
            }
        }
    }
}

#[test]
fn bad_input_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "age.key");
    let other = keygen(dir.path(), "other.key");
    let render = |setup: &dyn Fn(&Path)| -> String {
        write_app(dir.path(), &key);
        setup(dir.path());
        let config = Config::load(&dir.path().join("rekon.toml")).unwrap();
        let k = &config.kustomizations[0];
        let renderer = Renderer::load(&config, support::runtime(), &[k]).unwrap();
        let err = renderer
            .render(&config.source_root, k)
            .expect_err("refused")
            .to_string();
        assert_clean("the error", &err);
        err
    };
    let toml = |key_file: &str| {
        format!("[[kustomizations]]\nname = \"shop\"\npath = \"apps\"\ndecryption = {{ age-key-file = \"{key_file}\" }}\n")
    };
    let edit = |dir: &Path, file: &str, from: &str, to: &str| {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from}");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    };
    let write_toml = |dir: &Path, key_file: &str| {
        std::fs::write(dir.join("rekon.toml"), toml(key_file)).unwrap()
    };

    let err = render(&|d| write_toml(d, "other.key"));
    assert!(err.contains("apps/"), "{err}");
    assert!(
        err.contains("no age identity given matches its recipients"),
        "{err}"
    );
    assert!(
        err.contains(&key.recipient) && err.contains(&other.recipient),
        "{err}"
    );

    let err = render(&|d| {
        write_toml(d, "age.key");
        edit(
            d,
            "apps/secret.sops.yaml",
            "  age:\n",
            "  pgp:\n    - fp: 85D77543B3D624B63CEA9E6DBC17301B491B3F21\n  ag_unused:\n",
        );
    });
    assert!(
        err.contains("apps/secret.sops.yaml: SOPS: encrypted for PGP only"),
        "{err}"
    );

    let err = render(&|d| {
        write_toml(d, "age.key");
        edit(
            d,
            "apps/secret.sops.yaml",
            "password: ENC[AES256_GCM,data:",
            "password: ENC[AES256_GCM,data:AAAA",
        );
    });
    assert!(
        err.contains(
            "apps/secret.sops.yaml: SOPS: value at `stringData:password:`: authentication failed"
        ),
        "{err}"
    );

    let err = render(&|d| {
        write_toml(d, "age.key");
        edit(
            d,
            "apps/secret.sops.yaml",
            "type: Opaque",
            "type: kubernetes.io/tls",
        );
    });
    assert!(
        err.contains("apps/secret.sops.yaml: SOPS: MAC mismatch"),
        "{err}"
    );

    // Values swapped: each still authenticates (same keys), the MAC's order does not.
    let err = render(&|d| {
        write_toml(d, "age.key");
        let path = d.join("apps/db.env");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.swap(0, 1);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    });
    assert!(
        err.contains("apps/db.env: secretGenerator 'app-env': SOPS: MAC mismatch"),
        "{err}"
    );

    // No decryption configured: an encrypted file is named, not applied as is.
    let err = render(&|d| {
        std::fs::write(
            d.join("rekon.toml"),
            "[[kustomizations]]\nname = \"shop\"\npath = \"apps\"\n",
        )
        .unwrap();
    });
    assert!(
        err.contains("SOPS-encrypted: kustomization `shop` has no decryption"),
        "{err}"
    );
}

#[test]
fn decryption_settings_are_checked_with_their_line() {
    let err = Config::parse(
        "[[kustomizations]]\nname = \"a\"\npath = \"a\"\ndecryption = { age-key-file = \"k\", age-key-env = \"K\" }\n",
        Path::new("r.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("r.toml:4"), "{err}");
    assert!(
        err.contains("decryption takes one of age-key-file and age-key-env"),
        "{err}"
    );
    let err = Config::parse(
        "[[kustomizations]]\nname = \"a\"\npath = \"a\"\ndecryption = { age-key = \"k\" }\n",
        Path::new("r.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("age-key"), "{err}");
}

/// With a cluster, the decryption Secret is read from it (the repository
/// does not hold the key); a Secret that is missing is named when the
/// Kustomization is built, and the others still build.
#[test]
fn flux_reads_the_key_secret_from_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "age.key");
    std::fs::remove_file(dir.path().join("age.key")).unwrap();
    write_app(dir.path(), &key);
    let entry = dir.path().join("flux/clusters/production");
    std::fs::create_dir_all(&entry).unwrap();
    let sync = FLUX_SYNC.split("\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: web").next().unwrap();
    std::fs::write(entry.join("sync.yaml"), sync).unwrap();
    let server = ApiServer::start();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();

    let render = || -> Result<rekon::render::Rendered, String> {
        let mut config =
            Config::for_flux(dir.path(), Path::new("flux/clusters/production")).unwrap();
        config.state_dir = Some(dir.path().join("state"));
        let mut roots = Roots::fetch(&config).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let cluster = rekon::apply::Cluster::connect(Some(&kubeconfig), None)
                    .await
                    .unwrap();
                let access = Access {
                    cluster: Some(&cluster),
                    fetch: false,
                };
                expand(&mut config, &mut roots, access).await
            })
            .unwrap();
        let system = config.select(Some("flux-system/flux-system")).unwrap()[0];
        let renderer = Renderer::load(&config, support::runtime(), &[system]).unwrap();
        renderer.render(roots.of(system), system).unwrap();
        let k = config.select(Some("flux-system/apps")).unwrap()[0];
        renderer.render(roots.of(k), k).map_err(|e| e.to_string())
    };

    let err = render().unwrap_err();
    assert!(
        err.contains("apps/db.env: secretGenerator 'app-env': SOPS-encrypted: decryption Secret flux-system/sops-age does not exist"),
        "{err}"
    );

    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "sops-age", "namespace": "flux-system"},
        "data": {"age.agekey": b64(key.text.as_bytes())},
    });
    let namespace = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "flux-system"}});
    server.apply_as("kubectl", &namespace, false).unwrap();
    server.apply_as("kubectl", &secret, false).unwrap();
    let rendered = render().unwrap();
    let db = rendered
        .objects
        .iter()
        .find(|o| o.object["metadata"]["name"] == "db")
        .unwrap();
    assert_eq!(db.object["stringData"]["password"], PASSWORD);
    assert!(rendered.masked);
}

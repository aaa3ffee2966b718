use std::str::FromStr;

use serde_json::json;

use super::value::encrypt;
use super::*;

const KEY: [u8; 32] = [7; 32];
const LASTMODIFIED: &str = "2026-01-02T03:04:05Z";

/// Encrypt `clear` as `sops -e` would with `rule` (a `sops` field and its
/// value, or none), the data key wrapped for `identity` with the age crate.
fn encrypt_doc(
    clear: &Value,
    rule: Option<(&str, Value)>,
    identity: &age::x25519::Identity,
) -> Value {
    let mut meta = json!({});
    if let Some((field, value)) = &rule {
        meta[*field] = value.clone();
    }
    let mut probe = meta.clone();
    probe["lastmodified"] = json!("x");
    probe["mac"] = json!("x");
    let parsed = Metadata::read(&probe).unwrap();
    let mut hash = Sha512::new();
    let mut doc = clear.clone();
    let mut counter = 0u8;
    fn walk(
        node: &mut Value,
        path: &mut Vec<String>,
        m: &Metadata,
        hash: &mut Sha512,
        counter: &mut u8,
    ) {
        match node {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    path.push(k.clone());
                    walk(v, path, m, hash, counter);
                    path.pop();
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|v| walk(v, path, m, hash, counter)),
            leaf => {
                let bytes = value::plain_mac_bytes(leaf);
                let encrypted = m.rule.encrypted(path);
                if encrypted || !m.mac_only_encrypted {
                    hash.update(&bytes);
                }
                if encrypted && bytes != b"" {
                    let kind = match leaf {
                        Value::Bool(_) => "bool",
                        Value::Number(n) if n.is_f64() => "float",
                        Value::Number(_) => "int",
                        _ => "str",
                    };
                    *counter += 1;
                    let ad = format!("{}:", path.join(":"));
                    *leaf = Value::String(encrypt(&bytes, kind, &KEY, &[*counter; 32], &ad));
                }
            }
        }
    }
    walk(&mut doc, &mut Vec::new(), &parsed, &mut hash, &mut counter);
    let mac = hex::encode_upper(hash.finalize());
    meta["lastmodified"] = json!(LASTMODIFIED);
    meta["mac"] = json!(encrypt(
        mac.as_bytes(),
        "str",
        &KEY,
        &[200; 32],
        LASTMODIFIED
    ));
    meta["age"] = json!([{"recipient": identity.to_public().to_string(), "enc": wrap(identity)}]);
    doc["sops"] = meta;
    doc
}

fn wrap(identity: &age::x25519::Identity) -> String {
    let recipient = identity.to_public();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut out = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).unwrap();
    let mut w = encryptor.wrap_output(armor).unwrap();
    std::io::Write::write_all(&mut w, &KEY).unwrap();
    w.finish().unwrap().finish().unwrap();
    String::from_utf8(out).unwrap()
}

fn keys(identity: &age::x25519::Identity) -> Keys {
    use age::secrecy::ExposeSecret;
    let mut k = Keys::default();
    k.add(identity.to_string().expose_secret(), "test").unwrap();
    k
}

fn secret() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "labels": {"tier": "backend"}},
        "stringData": {"password": "hunter2", "empty": ""},
        "data": {"token": "c2VjcmV0"},
        "spec": {"n": 3, "ratio": 0.5, "on": true, "list": ["a", "b"]},
    })
}

#[test]
fn round_trip_with_types_lists_and_key_paths() {
    let id = age::x25519::Identity::generate();
    let clear = secret();
    let mut doc = encrypt_doc(&clear, None, &id);
    // Every value is encrypted by default, with its type; "" stays "".
    assert!(doc["spec"]["n"].as_str().unwrap().ends_with("type:int]"));
    assert!(doc["spec"]["on"].as_str().unwrap().ends_with("type:bool]"));
    assert!(doc["spec"]["ratio"]
        .as_str()
        .unwrap()
        .ends_with("type:float]"));
    assert_eq!(doc["stringData"]["empty"], "");
    assert!(is_encrypted(&doc));
    decrypt_document(&mut doc, Path::new("s.yaml"), &keys(&id)).unwrap();
    assert_eq!(doc, clear);
}

#[test]
fn the_key_path_is_the_additional_data() {
    let id = age::x25519::Identity::generate();
    let mut doc = encrypt_doc(&secret(), None, &id);
    // A value moved to another key fails authentication, named by path.
    let moved = doc["stringData"]["password"].clone();
    doc["data"]["token"] = moved;
    let err = decrypt_document(&mut doc, Path::new("s.yaml"), &keys(&id)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("s.yaml: SOPS: value at `data:token:`: authentication failed"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"));
    // List items share their list's path.
    let clear = json!({"list": ["x", "y"]});
    let doc = encrypt_doc(&clear, None, &id);
    let item = doc["list"][1].as_str().unwrap();
    assert!(value::decrypt(item, &KEY, "list:").is_ok());
}

#[test]
fn encrypted_regex_leaves_the_rest_in_clear_but_in_the_mac() {
    let id = age::x25519::Identity::generate();
    let rule = Some(("encrypted_regex", json!("^(data|stringData)$")));
    let mut doc = encrypt_doc(&secret(), rule.clone(), &id);
    assert_eq!(doc["metadata"]["name"], "db");
    assert!(doc["stringData"]["password"]
        .as_str()
        .unwrap()
        .starts_with("ENC["));
    assert_eq!(doc["spec"]["n"], 3);
    let mut tampered = doc.clone();
    tampered["metadata"]["labels"]["tier"] = json!("frontend");
    let err = decrypt_document(&mut tampered, Path::new("s.yaml"), &keys(&id)).unwrap_err();
    assert!(err.message.starts_with("MAC mismatch"), "{err}");
    // A clear boolean is hashed as `True`: changing it is caught too.
    let mut tampered = doc.clone();
    tampered["spec"]["on"] = json!(false);
    assert!(decrypt_document(&mut tampered, Path::new("s.yaml"), &keys(&id)).is_err());
    decrypt_document(&mut doc, Path::new("s.yaml"), &keys(&id)).unwrap();
    assert_eq!(doc, secret());
}

#[test]
fn mac_only_encrypted_and_the_other_rules() {
    let id = age::x25519::Identity::generate();
    for (field, value, clear_path, encrypted_path) in [
        (
            "unencrypted_regex",
            json!("^(metadata|spec)$"),
            "/metadata/name",
            "/data/token",
        ),
        (
            "encrypted_suffix",
            json!("Data"),
            "/data/token",
            "/stringData/password",
        ),
        (
            "unencrypted_suffix",
            json!("data"),
            "/data/token",
            "/stringData/password",
        ),
    ] {
        let mut doc = encrypt_doc(&secret(), Some((field, value)), &id);
        assert!(
            !doc.pointer(clear_path)
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("ENC["),
            "{field}"
        );
        assert!(
            doc.pointer(encrypted_path)
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("ENC["),
            "{field}"
        );
        decrypt_document(&mut doc, Path::new("s.yaml"), &keys(&id)).unwrap();
        assert_eq!(doc, secret(), "{field}");
    }
    // With mac_only_encrypted, clear values may change.
    let rule = Some(("encrypted_regex", json!("^stringData$")));
    let mut doc = encrypt_doc(&secret(), rule, &id);
    doc["sops"]["mac_only_encrypted"] = json!(true);
    // (The fixture's MAC covered everything: recompute over encrypted values only.)
    let mut hash = Sha512::new();
    hash.update(b"hunter2");
    hash.update(b"");
    let mac = hex::encode_upper(hash.finalize());
    doc["sops"]["mac"] = json!(encrypt(mac.as_bytes(), "str", &KEY, &[9; 32], LASTMODIFIED));
    doc["metadata"]["name"] = json!("renamed");
    decrypt_document(&mut doc, Path::new("s.yaml"), &keys(&id)).unwrap();
    assert_eq!(doc["stringData"]["password"], "hunter2");
}

#[test]
fn wrong_key_pgp_only_and_corrupt_values_are_named() {
    let id = age::x25519::Identity::generate();
    let other = age::x25519::Identity::generate();
    let doc = encrypt_doc(&secret(), None, &id);
    let err = decrypt_document(&mut doc.clone(), Path::new("a/s.yaml"), &keys(&other)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("a/s.yaml: SOPS: no age identity given matches"),
        "{err}"
    );
    assert!(err.message.contains(&id.to_public().to_string()));

    let mut pgp = doc.clone();
    pgp["sops"]["age"] = json!(null);
    pgp["sops"]["pgp"] = json!([{"fp": "ABC", "enc": "..."}]);
    let err = decrypt_document(&mut pgp, Path::new("s.yaml"), &keys(&id)).unwrap_err();
    assert!(err.message.starts_with("encrypted for PGP only"), "{err}");

    let mut corrupt = doc.clone();
    let v = corrupt["stringData"]["password"]
        .as_str()
        .unwrap()
        .replace("type:str", "type:nope");
    corrupt["stringData"]["password"] = json!(v);
    let err = decrypt_document(&mut corrupt, Path::new("s.yaml"), &keys(&id)).unwrap_err();
    assert!(err.message.contains("unknown type `nope`"), "{err}");

    let mut flipped = doc.clone();
    let v = flipped["stringData"]["password"]
        .as_str()
        .unwrap()
        .replacen("data:", "data:A", 1);
    flipped["stringData"]["password"] = json!(v);
    assert!(decrypt_document(&mut flipped, Path::new("s.yaml"), &keys(&id)).is_err());
}

#[test]
fn dotenv_and_binary_files() {
    let id = age::x25519::Identity::generate();
    // Dotenv: the values' paths are their keys; metadata flattened.
    let doc = encrypt_doc(&json!({"USER": "admin", "PASS": "s3cr=t"}), None, &id);
    let mut text = String::from("# comment\n");
    for (k, v) in doc.as_object().unwrap() {
        if k != "sops" {
            text.push_str(&format!("{k}={}\n", v.as_str().unwrap()));
        }
    }
    let meta = &doc["sops"];
    text.push_str(&format!(
        "sops_age__list_0__map_enc={}\nsops_age__list_0__map_recipient={}\nsops_lastmodified={}\nsops_mac={}\nsops_unencrypted_suffix=_unencrypted\nsops_version=3.9.0\n",
        meta["age"][0]["enc"].as_str().unwrap().replace('\n', "\\n"),
        meta["age"][0]["recipient"].as_str().unwrap(),
        LASTMODIFIED,
        meta["mac"].as_str().unwrap(),
    ));
    let out = decrypt_file(
        text.as_bytes(),
        Format::Dotenv,
        Path::new("e.env"),
        &keys(&id),
    )
    .unwrap()
    .unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "USER=admin\nPASS=s3cr=t\n");
    // Not encrypted: left alone.
    assert!(
        decrypt_file(b"A=1\n", Format::Dotenv, Path::new("e.env"), &keys(&id))
            .unwrap()
            .is_none()
    );

    let doc = encrypt_doc(&json!({"data": "line 1\nline 2\n"}), None, &id);
    let bytes = serde_json::to_vec(&doc).unwrap();
    let out = decrypt_file(&bytes, Format::Binary, Path::new("t.crt"), &keys(&id))
        .unwrap()
        .unwrap();
    assert_eq!(out, b"line 1\nline 2\n");
    // YAML: decrypted to YAML.
    let clear = json!({"db": {"user": "admin", "port": 5432}});
    let doc = encrypt_doc(&clear, None, &id);
    let text = rekon_kustomize::to_yaml_document(&doc);
    let out = decrypt_file(
        text.as_bytes(),
        Format::Yaml,
        Path::new("c.yaml"),
        &keys(&id),
    )
    .unwrap()
    .unwrap();
    let back = rekon_kustomize::parse_yaml_documents(
        std::str::from_utf8(&out).unwrap(),
        Path::new("c.yaml"),
    )
    .unwrap();
    assert_eq!(back[0].0, clear);
    assert_eq!(Format::of_path(Path::new("a/t.crt")), Format::Binary);
    assert_eq!(Format::of_path(Path::new("a/t.yml")), Format::Yaml);
}

#[test]
fn keys_parse_age_keygen_output_and_never_show() {
    let id = age::x25519::Identity::generate();
    let mut k = Keys::default();
    {
        use age::secrecy::ExposeSecret;
        let text = format!(
            "# created: 2026-01-01\n# public key: x\n{}\n",
            id.to_string().expose_secret()
        );
        k.add(&text, "Secret a/b key age.agekey").unwrap();
    }
    assert_eq!(k.recipients(), [id.to_public().to_string()]);
    // Debug shows the public key only: a rotated key changes it.
    let shown = format!("{k:?}");
    assert_eq!(shown, format!("Keys([\"{}\"])", id.to_public()));
    {
        use age::secrecy::ExposeSecret;
        assert!(!shown.contains(id.to_string().expose_secret()));
    }
    let err = Keys::default()
        .add("AGE-SECRET-KEY-1NOPE\n", "k")
        .unwrap_err();
    assert_eq!(
        err,
        "k: line 1 is not an age identity (AGE-SECRET-KEY-1...)"
    );
    assert!(age::x25519::Identity::from_str("nope").is_err());
}

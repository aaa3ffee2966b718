//! Decryption of files encrypted by the `sops` CLI (3.x) for age recipients.
//!
//! Flux's kustomize-controller decrypts SOPS files during the build, so
//! secrets can live in git encrypted; rekon does the same, in memory only:
//! nothing decrypted is written to disk, logged or put in an error message
//! (errors name the file and the value's key path, never a value).
//!
//! The format, as SOPS documents it:
//!
//! - A random 256-bit data key encrypts every value. It is stored once per
//!   recipient under `sops.age[].enc`, as an ASCII-armored age file whose
//!   payload is the raw key (unwrapped here with the `age` crate, the Rust
//!   port of age by its authors). PGP, cloud KMS and Vault recipients are
//!   not read: a file with none for age is refused, saying so.
//! - Each encrypted value is `ENC[AES256_GCM,data:..,iv:..,tag:..,type:..]`:
//!   AES-256-GCM with a 32-byte IV (not GCM's usual 12), base64 fields, the
//!   additional data being the value's key path, every mapping key on the
//!   way joined with `:` plus a trailing `:` (list items add nothing). The
//!   type (`str`, `int`, `float`, `bool`, `bytes`, `comment`) says how to
//!   read the cleartext; booleans are `True`/`False`.
//! - Which values are encrypted follows the file's `unencrypted_suffix`
//!   (default `_unencrypted`), `encrypted_suffix`, `unencrypted_regex` or
//!   `encrypted_regex`, tested against every key of the path. Empty strings
//!   are never encrypted.
//! - The MAC is the upper-case hex SHA-512 of every value's cleartext in
//!   document order (comments excluded; only encrypted values with
//!   `mac_only_encrypted`), stored encrypted under `sops.mac` with the
//!   `sops.lastmodified` string as additional data. A mismatch means the
//!   file was changed after encryption: it is refused.
//! - Stores: YAML and JSON documents carry a top-level `sops` mapping;
//!   dotenv files carry `sops_`-prefixed lines (nested metadata flattened
//!   with `__map_` and `__list_N`, newlines written `\n`); binary files are
//!   the JSON `{"data": "ENC[...]", "sops": {...}}`.
//!
//! Where it runs: [`crate::render`] decrypts the built objects that carry a
//! top-level `sops` key, as kustomize-controller does after its build. The
//! MAC is checked on the object's document as its file holds it
//! ([`decrypt_resource`]), since the build may have changed clear values
//! (`targetNamespace`, labels) that the MAC covers; the built object's
//! values are then decrypted at their paths (one a patch moved fails
//! authentication). `secretGenerator` files are decrypted as the build
//! reads them, through the callback `rekon_kustomize::build_filtered`
//! takes, so the checkout on disk is never changed.
//!
//! Not yet checked against a file written by the real `sops` (it cannot be
//! installed where rekon is built), and so the first things to compare with
//! one: booleans hashed as `True`/`False`; dotenv metadata flattened as
//! `sops_age__list_0__map_enc` with `\n` escapes; `_unencrypted` as the
//! default suffix; empty strings left unencrypted; list items adding
//! nothing to the key path.
//!
//! A module of the host, not a crate: the build crate needs only that
//! callback, so the format and its crypto dependencies stay out of it.
//! Written from the format's description rather than by binding the Go
//! implementation; `tests/sops.rs` wraps data keys with the real `age` CLI.

mod value;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha512};

use value::Kind;

/// Why a file could not be decrypted. Never holds a decrypted value.
#[derive(Debug, thiserror::Error)]
#[error("{}: SOPS: {message}", file.display())]
pub struct SopsError {
    /// The file (relative to its source root).
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// Age identities (`AGE-SECRET-KEY-1...`), from a Flux decryption Secret's
/// `*.agekey` entries or rekon.toml's `age-key-file`/`age-key-env`. Its
/// `Debug` shows their public keys (recipients) only, never the secret
/// ones; the daemon compares configurations by it, so a rotated key is
/// seen.
#[derive(Clone, Default)]
pub struct Keys(Vec<age::x25519::Identity>);

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Keys").field(&self.recipients()).finish()
    }
}

impl PartialEq for Keys {
    fn eq(&self, other: &Self) -> bool {
        self.recipients() == other.recipients()
    }
}

impl Keys {
    /// Read the `AGE-SECRET-KEY-1...` lines of `text` (`#` comments and
    /// blank lines skipped, as in `age-keygen` output), adding to `self`.
    /// `what` names the text in errors (a line number, never the line).
    pub fn add(&mut self, text: &str, what: &str) -> Result<(), String> {
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let identity = line.parse::<age::x25519::Identity>().map_err(|_| {
                format!(
                    "{what}: line {} is not an age identity (AGE-SECRET-KEY-1...)",
                    index + 1
                )
            })?;
            self.0.push(identity);
        }
        Ok(())
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The public keys (`age1...`).
    pub fn recipients(&self) -> Vec<String> {
        self.0.iter().map(|i| i.to_public().to_string()).collect()
    }
}

/// Whether `object` (a parsed YAML or JSON document) is SOPS-encrypted:
/// it has a top-level `sops` mapping (what kustomize-controller looks for;
/// one without a MAC is then refused, not applied as it is).
pub fn is_encrypted(object: &Value) -> bool {
    object.get("sops").is_some_and(Value::is_object)
}

/// Decrypt the YAML or JSON document `doc` read from `file` in place (its
/// `sops` key removed), checking its MAC.
pub fn decrypt_document(doc: &mut Value, file: &Path, keys: &Keys) -> Result<(), SopsError> {
    let err = |message: String| SopsError {
        file: file.to_path_buf(),
        message,
    };
    let (meta, key) = open(doc, keys).map_err(err)?;
    meta.decrypt_tree(doc, &key, true).map_err(err)
}

/// Decrypt `object`, built from `original` (the document as `file` holds
/// it): the MAC is checked on `original`, as SOPS wrote it, then the values
/// of `object` are decrypted at their paths there. The build may have
/// added or changed clear values (a namespace, labels); an encrypted value
/// it moved fails authentication.
pub fn decrypt_built(
    object: &mut Value,
    original: &Value,
    file: &Path,
    keys: &Keys,
) -> Result<(), SopsError> {
    decrypt_document(&mut original.clone(), file, keys)?;
    let err = |message: String| SopsError {
        file: file.to_path_buf(),
        message,
    };
    let (meta, key) = open(object, keys).map_err(err)?;
    meta.decrypt_tree(object, &key, false).map_err(err)
}

/// Decrypt the built object `r` (it has a top-level `sops` key) of the
/// source tree at `root`, its MAC checked on its document in the file it
/// was read from ([`decrypt_built`]), as kustomize-controller decrypts
/// after its build.
pub fn decrypt_resource(
    root: &Path,
    r: &mut rekon_kustomize::Resource,
    keys: &Keys,
) -> Result<(), SopsError> {
    let file = &r.origin.file;
    let err = |message: String| SopsError {
        file: file.clone(),
        message,
    };
    let text = std::fs::read_to_string(root.join(file))
        .map_err(|e| err(format!("cannot read it again to check its MAC: {e}")))?;
    let original = rekon_kustomize::parse_yaml_documents(&text, file)
        .map_err(|e| err(e.to_string()))?
        .into_iter()
        .find(|(_, line)| *line == r.origin.line)
        .map(|(doc, _)| doc)
        .ok_or_else(|| err(format!("no document at line {}", r.origin.line)))?;
    decrypt_built(&mut r.object, &original, file, keys)
}

/// Take the `sops` metadata out of `doc` and unwrap its data key.
fn open(doc: &mut Value, keys: &Keys) -> Result<(Metadata, [u8; 32]), String> {
    let meta = doc
        .as_object_mut()
        .ok_or("the document is not a mapping")?
        .remove("sops")
        .ok_or("no `sops` metadata")?;
    let meta = Metadata::read(&meta)?;
    let key = meta.data_key(keys)?;
    Ok((meta, key))
}

/// Whether a generator's file `content` is SOPS-encrypted.
pub fn is_encrypted_file(content: &[u8], format: Format) -> bool {
    parse_file(content, format).is_some()
}

/// The document of an encrypted YAML, JSON or binary file, or the text of
/// an encrypted dotenv file.
enum Parsed<'a> {
    Document(Value),
    Dotenv(&'a str),
}

fn parse_file(content: &[u8], format: Format) -> Option<Parsed<'_>> {
    let text = std::str::from_utf8(content).ok();
    match format {
        Format::Dotenv => text
            .filter(|t| t.lines().any(|l| l.starts_with("sops_mac=")))
            .map(Parsed::Dotenv),
        // Typed as kustomize (go-yaml v3, like SOPS) types plain scalars.
        Format::Yaml => text
            .and_then(|t| rekon_kustomize::parse_yaml_documents(t, Path::new("")).ok())
            .and_then(|docs| docs.into_iter().next())
            .map(|(doc, _)| doc)
            .filter(is_encrypted)
            .map(Parsed::Document),
        Format::Json | Format::Binary => serde_json::from_slice::<Value>(content)
            .ok()
            .filter(is_encrypted)
            .map(Parsed::Document),
    }
}

/// How a generator file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `KEY=value` lines (`envs`, and `files` ending in `.env`).
    Dotenv,
    /// A YAML document (`files` ending in `.yaml`/`.yml`).
    Yaml,
    /// A JSON document (`files` ending in `.json`).
    Json,
    /// Anything else: SOPS stores it as `{"data": ..., "sops": ...}`.
    Binary,
}

impl Format {
    /// The format of a `files` entry by its extension, as SOPS chooses it.
    pub fn of_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            _ => Format::Binary,
        }
    }
}

/// The cleartext of a generator's file `content` when it is SOPS-encrypted
/// (`None`: it is not; it is used as it is).
pub fn decrypt_file(
    content: &[u8],
    format: Format,
    file: &Path,
    keys: &Keys,
) -> Result<Option<Vec<u8>>, SopsError> {
    let err = |message: String| SopsError {
        file: file.to_path_buf(),
        message,
    };
    let mut doc = match parse_file(content, format) {
        None => return Ok(None),
        Some(Parsed::Dotenv(text)) => {
            return decrypt_dotenv(text, keys)
                .map(|t| Some(t.into_bytes()))
                .map_err(err)
        }
        Some(Parsed::Document(doc)) => doc,
    };
    decrypt_document(&mut doc, file, keys)?;
    Ok(Some(match format {
        Format::Yaml => rekon_kustomize::to_yaml_document(&doc).into_bytes(),
        Format::Json => serde_json::to_vec_pretty(&doc)
            .map_err(|e| err(format!("cannot write the decrypted JSON: {e}")))?,
        Format::Dotenv | Format::Binary => match doc.get("data") {
            Some(Value::String(s)) => s.clone().into_bytes(),
            _ => return Err(err("a binary file has no `data` string".into())),
        },
    }))
}

/// A dotenv file: `KEY=value` lines, metadata in `sops_` lines.
fn decrypt_dotenv(text: &str, keys: &Keys) -> Result<String, String> {
    let mut values = Map::new();
    let mut meta = Map::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {} has no `=`", index + 1));
        };
        let value = Value::String(value.replace("\\n", "\n"));
        match key.strip_prefix("sops_") {
            Some(meta_key) => unflatten(&mut meta, meta_key, value),
            None => {
                values.insert(key.to_string(), value);
            }
        }
    }
    let meta = Metadata::read(&Value::Object(meta))?;
    let key = meta.data_key(keys)?;
    let mut tree = Value::Object(values);
    meta.decrypt_tree(&mut tree, &key, true)?;
    let mut out = String::new();
    // Newlines escaped again, as `sops -d` writes a dotenv file.
    for (k, v) in tree.as_object().into_iter().flatten() {
        let v = v.as_str().unwrap_or_default().replace('\n', "\\n");
        out.push_str(&format!("{k}={v}\n"));
    }
    Ok(out)
}

/// `age__list_0__map_enc` → `{"age": [{"enc": ...}]}`.
fn unflatten(meta: &mut Map<String, Value>, key: &str, value: Value) {
    let Some((head, rest)) = key.split_once("__list_") else {
        let value = match value.as_str() {
            Some("true") if key == "mac_only_encrypted" => Value::Bool(true),
            Some("false") if key == "mac_only_encrypted" => Value::Bool(false),
            _ => value,
        };
        meta.insert(key.to_string(), value);
        return;
    };
    let (index, field) = rest.split_once("__map_").unwrap_or((rest, ""));
    let Ok(index) = index.parse::<usize>() else {
        return;
    };
    let list = meta
        .entry(head.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(list) = list.as_array_mut() else {
        return;
    };
    while list.len() <= index {
        list.push(Value::Object(Map::new()));
    }
    if let Some(entry) = list[index].as_object_mut() {
        entry.insert(field.to_string(), value);
    }
}

/// Which values are encrypted.
#[derive(Debug, Default)]
enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(regex::Regex),
    EncryptedRegex(regex::Regex),
    #[default]
    All,
}

impl Rule {
    fn encrypted(&self, path: &[String]) -> bool {
        match self {
            Rule::UnencryptedSuffix(s) => !path.iter().any(|p| p.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => path.iter().any(|p| p.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !path.iter().any(|p| r.is_match(p)),
            Rule::EncryptedRegex(r) => path.iter().any(|p| r.is_match(p)),
            Rule::All => true,
        }
    }
}

/// The `sops` metadata rekon reads.
#[derive(Debug)]
struct Metadata {
    /// `(recipient, armored enc)` of each age entry.
    age: Vec<(String, String)>,
    /// Other key kinds present (named when there is no age entry).
    others: Vec<&'static str>,
    lastmodified: String,
    mac: String,
    rule: Rule,
    mac_only_encrypted: bool,
}

impl Metadata {
    fn read(meta: &Value) -> Result<Metadata, String> {
        let text = |field: &str| {
            meta.get(field)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let present = |field: &str| match meta.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        if present("key_groups") {
            return Err(
                "key groups (Shamir secret sharing) are not supported: encrypt for age recipients without key_groups"
                    .into(),
            );
        }
        let mut age = Vec::new();
        for entry in meta
            .get("age")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let field = |f: &str| entry.get(f).and_then(Value::as_str).unwrap_or_default();
            age.push((field("recipient").to_string(), field("enc").to_string()));
        }
        let others = [
            ("pgp", "PGP"),
            ("kms", "AWS KMS"),
            ("gcp_kms", "GCP KMS"),
            ("azure_kv", "Azure Key Vault"),
            ("hc_vault", "HashiCorp Vault"),
            ("hckms", "HuaweiCloud KMS"),
        ]
        .into_iter()
        .filter(|(field, _)| present(field))
        .map(|(_, name)| name)
        .collect();
        let regex = |field: &str, s: &str| {
            regex::Regex::new(s).map_err(|e| format!("sops.{field} `{s}`: {e}"))
        };
        let rule = if let Some(s) = text("encrypted_regex") {
            Rule::EncryptedRegex(regex("encrypted_regex", s)?)
        } else if let Some(s) = text("unencrypted_regex") {
            Rule::UnencryptedRegex(regex("unencrypted_regex", s)?)
        } else if let Some(s) = text("encrypted_suffix") {
            Rule::EncryptedSuffix(s.to_string())
        } else if let Some(s) = text("unencrypted_suffix") {
            Rule::UnencryptedSuffix(s.to_string())
        } else {
            Rule::UnencryptedSuffix("_unencrypted".into())
        };
        Ok(Metadata {
            age,
            others,
            lastmodified: text("lastmodified")
                .ok_or("sops.lastmodified is missing")?
                .to_string(),
            mac: text("mac").ok_or("sops.mac is missing")?.to_string(),
            rule,
            mac_only_encrypted: meta
                .get("mac_only_encrypted")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// The data key, unwrapped by the first age entry one of `keys` opens.
    fn data_key(&self, keys: &Keys) -> Result<[u8; 32], String> {
        if self.age.is_empty() {
            return Err(if self.others.is_empty() {
                "no recipients in sops metadata".into()
            } else {
                format!(
                    "encrypted for {} only; rekon decrypts age recipients (add an age recipient to .sops.yaml and run `sops updatekeys`)",
                    self.others.join(", ")
                )
            });
        }
        if keys.is_empty() {
            return Err("no age identity to decrypt it with".into());
        }
        let identities: Vec<&dyn age::Identity> =
            keys.0.iter().map(|i| i as &dyn age::Identity).collect();
        for (_, enc) in &self.age {
            let reader = age::armor::ArmoredReader::new(enc.as_bytes());
            let decryptor = age::Decryptor::new(reader)
                .map_err(|e| format!("sops.age: the data key is not an age file: {e}"))?;
            match decryptor.decrypt(identities.iter().copied()) {
                Ok(mut stream) => {
                    let mut key = Vec::new();
                    std::io::Read::read_to_end(&mut stream, &mut key)
                        .map_err(|e| format!("sops.age: cannot read the data key: {e}"))?;
                    return key
                        .try_into()
                        .map_err(|_| "sops.age: the data key is not 32 bytes".into());
                }
                Err(age::DecryptError::NoMatchingKeys) => continue,
                Err(e) => return Err(format!("sops.age: {e}")),
            }
        }
        Err(format!(
            "no age identity given matches its recipients ({}; identities given are for {})",
            self.age
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            keys.recipients().join(", ")
        ))
    }

    /// Decrypt every value of `tree` in place and check the MAC (`check`;
    /// otherwise clear values where encrypted ones are expected are left
    /// alone: the build added them).
    fn decrypt_tree(&self, tree: &mut Value, key: &[u8; 32], check: bool) -> Result<(), String> {
        let mut hash = Sha512::new();
        let mut path = Vec::new();
        self.walk(tree, &mut path, key, &mut hash, check)?;
        if !check {
            return Ok(());
        }
        let computed = hex::encode_upper(hash.finalize());
        let stored = value::decrypt(&self.mac, key, &self.lastmodified)
            .map_err(|e| format!("sops.mac: {e}"))?;
        if stored.text() != computed.as_bytes() {
            return Err(
                "MAC mismatch: the file was changed after it was encrypted (refused)".into(),
            );
        }
        Ok(())
    }

    fn walk(
        &self,
        node: &mut Value,
        path: &mut Vec<String>,
        key: &[u8; 32],
        hash: &mut Sha512,
        check: bool,
    ) -> Result<(), String> {
        match node {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    path.push(k.clone());
                    self.walk(v, path, key, hash, check)?;
                    path.pop();
                }
            }
            Value::Array(items) => {
                for v in items {
                    self.walk(v, path, key, hash, check)?;
                }
            }
            Value::Null => {}
            leaf => {
                let encrypted = self.rule.encrypted(path);
                let at = || format!("{}:", path.join(":"));
                if encrypted {
                    if let Value::String(s) = leaf {
                        if !s.is_empty() && (check || s.starts_with("ENC[")) {
                            let clear = value::decrypt(s, key, &at())
                                .map_err(|e| format!("value at `{}`: {e}", at()))?;
                            if clear.kind == Kind::Comment {
                                return Ok(());
                            }
                            hash.update(clear.mac_bytes());
                            *leaf = clear
                                .into_value()
                                .map_err(|e| format!("value at `{}`: {e}", at()))?;
                            return Ok(());
                        }
                    } else if check {
                        return Err(format!(
                            "value at `{}` should be encrypted and is not (the file was changed after it was encrypted)",
                            at()
                        ));
                    }
                }
                if encrypted || !self.mac_only_encrypted {
                    hash.update(value::plain_mac_bytes(leaf));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

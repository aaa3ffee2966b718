//! One encrypted value: `ENC[AES256_GCM,data:..,iv:..,tag:..,type:..]`.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{aes::Aes256, AesGcm};
use base64::Engine;
use serde_json::Value;

/// AES-256-GCM with SOPS's 32-byte IVs.
type Cipher = AesGcm<Aes256, U32>;

/// The `type` of an encrypted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `str`.
    Str,
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `bool` (`True`/`False`).
    Bool,
    /// `bytes`.
    Bytes,
    /// `comment` (YAML and dotenv comments).
    Comment,
}

/// A decrypted value: its bytes and type.
pub(super) struct Clear {
    bytes: Vec<u8>,
    pub kind: Kind,
}

impl Clear {
    pub fn text(&self) -> &[u8] {
        &self.bytes
    }

    /// What the MAC hashes: the value's string form (`True`/`False` for
    /// booleans, whatever the case written).
    pub fn mac_bytes(&self) -> Vec<u8> {
        match self.kind {
            Kind::Bool => match self.bytes.to_ascii_lowercase().as_slice() {
                b"true" => b"True".to_vec(),
                b"false" => b"False".to_vec(),
                _ => self.bytes.clone(),
            },
            _ => self.bytes.clone(),
        }
    }

    /// The value as its type says.
    pub fn into_value(self) -> Result<Value, String> {
        let text = String::from_utf8(self.bytes).map_err(|_| "the cleartext is not UTF-8")?;
        let bad = || format!("the cleartext is not a valid {:?}", self.kind);
        Ok(match self.kind {
            Kind::Str | Kind::Bytes | Kind::Comment => Value::String(text),
            Kind::Int => Value::Number(text.trim().parse::<i64>().map_err(|_| bad())?.into()),
            Kind::Float => {
                let f: f64 = text.trim().parse().map_err(|_| bad())?;
                Value::Number(serde_json::Number::from_f64(f).ok_or_else(bad)?)
            }
            Kind::Bool => match text.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(bad()),
            },
        })
    }
}

/// What the MAC hashes for a value left in clear: strings as they are,
/// numbers in decimal, booleans `True`/`False`.
pub(super) fn plain_mac_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Bool(true) => b"True".to_vec(),
        Value::Bool(false) => b"False".to_vec(),
        // Go's FormatFloat(f, 'f', -1, 64), which Rust's Display matches
        // (`1.0` is `1`, no exponent).
        Value::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) => f.to_string().into_bytes(),
            None => n.to_string().into_bytes(),
        },
        Value::Null | Value::Array(_) | Value::Object(_) => Vec::new(),
    }
}

/// Decrypt `text` (an `ENC[...]` string) with `key`, `ad` being its key
/// path (`a:b:`) or, for the MAC, the `lastmodified` string.
pub(super) fn decrypt(text: &str, key: &[u8; 32], ad: &str) -> Result<Clear, String> {
    let corrupt = |what: &str| format!("not a valid ENC[AES256_GCM,...] value ({what})");
    let inner = text
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| corrupt("no ENC[AES256_GCM,...] around it"))?;
    let (mut data, mut iv, mut tag, mut kind) = (None, None, None, None);
    for part in inner.split(',') {
        let (name, value) = part
            .split_once(':')
            .ok_or_else(|| corrupt("a field without `:`"))?;
        let b64 = || {
            base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| corrupt(&format!("`{name}` is not base64")))
        };
        match name {
            "data" => data = Some(b64()?),
            "iv" => iv = Some(b64()?),
            "tag" => tag = Some(b64()?),
            "type" => kind = Some(value),
            _ => return Err(corrupt(&format!("unknown field `{name}`"))),
        }
    }
    let (Some(mut data), Some(iv), Some(tag), Some(kind)) = (data, iv, tag, kind) else {
        return Err(corrupt("data, iv, tag or type missing"));
    };
    let kind = match kind {
        "str" => Kind::Str,
        "int" => Kind::Int,
        "float" => Kind::Float,
        "bool" => Kind::Bool,
        "bytes" => Kind::Bytes,
        "comment" => Kind::Comment,
        other => return Err(corrupt(&format!("unknown type `{other}`"))),
    };
    if iv.len() != 32 || tag.len() != 16 {
        return Err(corrupt("the iv must be 32 bytes and the tag 16"));
    }
    data.extend_from_slice(&tag);
    let cipher = Cipher::new(key.into());
    let bytes = cipher
        .decrypt(
            iv.as_slice().into(),
            Payload {
                msg: &data,
                aad: ad.as_bytes(),
            },
        )
        .map_err(|_| {
            "authentication failed: the value was changed, moved to another key, or encrypted with another data key".to_string()
        })?;
    Ok(Clear { bytes, kind })
}

/// Encrypt as SOPS does (the unit tests' fixtures).
#[cfg(test)]
pub(super) fn encrypt(clear: &[u8], kind: &str, key: &[u8; 32], iv: &[u8; 32], ad: &str) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = Cipher::new(key.into())
        .encrypt(
            iv.into(),
            Payload {
                msg: clear,
                aad: ad.as_bytes(),
            },
        )
        .expect("encrypts");
    let tag = out.split_off(out.len() - 16);
    format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
        engine.encode(out),
        engine.encode(iv),
        engine.encode(tag)
    )
}

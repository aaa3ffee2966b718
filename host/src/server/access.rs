//! Who may read the status: `[server] token-env` / `token-file`.
//!
//! Without a token every page is open to whoever reaches the port (loopback
//! by default). With one, the status page, its item pages, `/events` and
//! `/status` need either `Authorization: Bearer TOKEN` (scripts, `rekon
//! status --config`) or the cookie `POST /login` sets after the token was
//! typed into its form. `/healthz`, `/readyz` and `/metrics` stay open:
//! kubelet probes carry no credentials, and the metrics hold counts and
//! revisions but no messages, as Flux's controllers serve theirs.
//!
//! The cookie holds a SHA-256 of the token (with a fixed label), not the
//! token: it is `HttpOnly` (no script reads it) and `SameSite=Strict` (no
//! other site's form or link sends it), and rotating the token signs every
//! browser out. Tokens and cookies are compared in constant time, as the
//! receivers compare theirs.

use hyper::header::{AUTHORIZATION, COOKIE};
use hyper::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Secret;

/// The name of the login cookie.
pub const COOKIE_NAME: &str = "rekon_session";
/// How long a login lasts in the browser.
const COOKIE_MAX_AGE: u64 = 30 * 24 * 3600;

/// Whether a request may read the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No token is configured.
    Open,
    /// It carries the token or the login cookie.
    SignedIn,
    /// It does not.
    Refused,
}

/// Decide for `headers`. `Err` when the token itself cannot be read (for
/// the log only: the error names the variable or file, never a value).
pub fn check(token: Option<&Secret>, headers: &HeaderMap) -> Result<Access, String> {
    let Some(token) = token else {
        return Ok(Access::Open);
    };
    let expected = read(token)?;
    let bearer = headers
        .get(AUTHORIZATION)
        .map(|v| v.as_bytes())
        .and_then(|h| {
            h.get(..7)
                .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
                .map(|_| &h[7..])
        });
    let by_header = bearer.is_some_and(|given| same(given, expected.as_bytes()));
    let by_cookie = cookie(headers)
        .is_some_and(|given| same(given.as_bytes(), cookie_value(&expected).as_bytes()));
    Ok(if by_header | by_cookie {
        Access::SignedIn
    } else {
        Access::Refused
    })
}

/// Whether `given` (typed into the login form) is the token.
pub fn is_token(token: &Secret, given: &str) -> Result<bool, String> {
    Ok(same(given.as_bytes(), read(token)?.as_bytes()))
}

/// The `Set-Cookie` header that signs a browser in.
pub fn sign_in(token: &Secret) -> Result<String, String> {
    Ok(format!(
        "{COOKIE_NAME}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE}",
        cookie_value(&read(token)?)
    ))
}

/// The `Set-Cookie` header that signs a browser out.
pub fn sign_out() -> String {
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn read(token: &Secret) -> Result<String, String> {
    let expected = token.read()?;
    if expected.is_empty() {
        return Err("the [server] token is empty".into());
    }
    Ok(expected)
}

/// What the cookie holds for `token`: a labelled SHA-256, in hex.
fn cookie_value(token: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"rekon status session\0");
    hash.update(token.as_bytes());
    hex::encode(hash.finalize())
}

/// The login cookie's value, if the request has one.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// Constant-time equality. Both sides are hashed first so that neither the
/// time nor an early length check says how long the secret is.
fn same(given: &[u8], expected: &[u8]) -> bool {
    Sha256::digest(given)
        .ct_eq(&Sha256::digest(expected))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(hyper::header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn bearer_or_cookie_opens_the_status() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        let token = Secret::File(file);
        assert_eq!(check(None, &HeaderMap::new()), Ok(Access::Open));
        assert_eq!(check(Some(&token), &HeaderMap::new()), Ok(Access::Refused));
        let ok = headers(&[(AUTHORIZATION, "Bearer s3cret")]);
        assert_eq!(check(Some(&token), &ok), Ok(Access::SignedIn));
        let wrong = headers(&[(AUTHORIZATION, "Bearer s3cre")]);
        assert_eq!(check(Some(&token), &wrong), Ok(Access::Refused));

        let set = sign_in(&token).unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        assert!(!set.contains("s3cret"), "the cookie holds a hash: {set}");
        let value = set.split(';').next().unwrap().to_string();
        let browser = headers(&[(COOKIE, &format!("theme=dark; {value}"))]);
        assert_eq!(check(Some(&token), &browser), Ok(Access::SignedIn));
        let forged = headers(&[(COOKIE, &format!("{COOKIE_NAME}=s3cret"))]);
        assert_eq!(check(Some(&token), &forged), Ok(Access::Refused));
        assert!(is_token(&token, "s3cret").unwrap());
        assert!(!is_token(&token, "").unwrap());

        // Rotating the token signs browsers out.
        std::fs::write(dir.path().join("token"), "n3w").unwrap();
        assert_eq!(check(Some(&token), &browser), Ok(Access::Refused));

        let missing = Secret::File(dir.path().join("absent"));
        let err = check(Some(&missing), &ok).unwrap_err();
        assert!(err.contains("absent"), "{err}");
    }
}

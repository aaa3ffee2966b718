//! `GET /v2/<repository>/tags/list` read with reqwest rather than oci-client.
//!
//! Why: oci-client 0.18's `Client::list_tags` returns the parsed body only;
//! the response's headers never leave it (the same holds for every call of
//! its public API). Two of them matter here: `Link: <…>; rel="next"`, the
//! distribution spec's way of saying where the next page is (registries cap
//! `n` at their own maximum, Harbor and Docker Hub among them), and
//! `Retry-After` on 429/503, how long a rate-limited client must wait. So
//! this module makes that one request itself, with a reqwest client set up
//! like oci-client's (rustls with the ring provider, the system roots plus
//! the configured CA, plain HTTP for `insecure` registries) while
//! oci-client keeps everything else: the token exchange
//! (`WWW-Authenticate: Bearer realm=…` -> token endpoint with basic
//! credentials, through its public `Client::auth`), manifests and blobs.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, LINK, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use super::{short, ErrorKind, Failure};

/// The reqwest client of tag listings: `timeout` bounds connecting (at most
/// 10 s) and each read; `ca` is a PEM certificate to trust besides the
/// system roots.
pub(crate) fn http_client(timeout: Duration, ca: Option<&[u8]>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .read_timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("rekon/", env!("CARGO_PKG_VERSION")))
        // A Link to another host is refused below; redirects would be a way around that.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = ca {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| super::chain(&e))
}

/// One page of a tag listing.
#[derive(Debug)]
pub(super) struct Page {
    /// Its tags, in the registry's order.
    pub tags: Vec<String>,
    /// Where the next page is, from the `Link` header; `None` when the
    /// response had no `rel="next"` link.
    pub next: Option<Url>,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// GET one page at `url`, sending `authorization` when given.
pub(super) async fn get_page(
    http: &reqwest::Client,
    url: &Url,
    authorization: Option<&HeaderValue>,
) -> Result<Page, Failure> {
    let mut request = http.get(url.clone());
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value.clone());
    }
    let response = request
        .send()
        .await
        .map_err(|e| Failure::from(request_error(&e)))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::from(request_error(&e)))?;
    if !status.is_success() {
        return Err(Failure {
            kind: status_error(status, &body),
            retry_after: retry_after(&headers, SystemTime::now()),
        });
    }
    let parsed: Body = serde_json::from_slice(&body)
        .map_err(|e| Failure::from(ErrorKind::Invalid(format!("tags/list is not JSON: {e}"))))?;
    Ok(Page {
        tags: parsed.tags.unwrap_or_default(),
        next: next_link(&headers, url)?,
    })
}

fn request_error(e: &reqwest::Error) -> ErrorKind {
    if e.is_timeout() {
        ErrorKind::Timeout(Duration::ZERO)
    } else if e.is_connect() {
        ErrorKind::Unreachable(super::chain(e))
    } else if e.is_decode() || e.is_body() {
        ErrorKind::Invalid(super::chain(e))
    } else {
        ErrorKind::Other(super::chain(e))
    }
}

/// The error of a non-2xx answer: its status and the registry's message
/// (the `errors` envelope's messages when it is one).
fn status_error(status: StatusCode, body: &[u8]) -> ErrorKind {
    if status == StatusCode::UNAUTHORIZED {
        return ErrorKind::Unauthorized;
    }
    #[derive(Deserialize)]
    struct Envelope {
        errors: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        code: String,
        #[serde(default)]
        message: String,
    }
    let message = match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) if !envelope.errors.is_empty() => envelope
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    ErrorKind::Status {
        status: Some(status.as_u16()),
        message: short(&message),
    }
}

/// The wait a `Retry-After` header asks for, as delta-seconds or an
/// HTTP-date (RFC 9110 §10.2.3); a date in the past is no wait. `None`
/// without the header or when it is neither form.
pub(super) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `rel="next"` target of the `Link` headers, resolved against `base`
/// (registries send a path). A link to another scheme, host or port is an
/// error: the credentials of this registry must not follow it there.
pub(super) fn next_link(headers: &HeaderMap, base: &Url) -> Result<Option<Url>, ErrorKind> {
    for value in headers.get_all(LINK) {
        let Ok(value) = value.to_str() else { continue };
        for link in value.split(',') {
            let mut parts = link.split(';');
            let Some(target) = parts
                .next()
                .map(str::trim)
                .and_then(|t| t.strip_prefix('<'))
                .and_then(|t| t.strip_suffix('>'))
            else {
                continue;
            };
            let is_next = parts.any(|p| {
                p.trim()
                    .strip_prefix("rel=")
                    .is_some_and(|rel| rel.trim_matches('"').split(' ').any(|r| r == "next"))
            });
            if !is_next {
                continue;
            }
            let url = base
                .join(target)
                .map_err(|e| ErrorKind::Invalid(format!("Link `{target}`: {e}")))?;
            if url.origin() != base.origin() {
                return Err(ErrorKind::Invalid(format!(
                    "Link to the next page points to another server ({}); refused",
                    url.origin().ascii_serialization()
                )));
            }
            return Ok(Some(url));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let at = |h: &str| retry_after(&headers(&[("retry-after", h)]), now);
        assert_eq!(at("120"), Some(Duration::from_secs(120)));
        assert_eq!(at(" 0 "), Some(Duration::ZERO));
        // 2026-01-01T00:00:30Z is 30 s after `now`.
        assert_eq!(
            at("Thu, 01 Jan 2026 00:00:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(at("Wed, 31 Dec 2025 23:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(at("soon"), None);
        assert_eq!(at("-5"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn next_link_is_resolved_on_the_same_server_only() {
        let base = Url::parse("https://harbor.lan/v2/w/f/tags/list?n=100").unwrap();
        let next = |v: &str| next_link(&headers(&[("link", v)]), &base);
        assert_eq!(
            next(r#"</v2/w/f/tags/list?n=100&last=t099>; rel="next""#)
                .unwrap()
                .unwrap()
                .as_str(),
            "https://harbor.lan/v2/w/f/tags/list?n=100&last=t099"
        );
        assert_eq!(
            next(r#"<https://harbor.lan/a>; rel=prev, <https://harbor.lan/b>; rel=next"#)
                .unwrap()
                .unwrap()
                .path(),
            "/b"
        );
        assert!(next(r#"</x>; rel="prev""#).unwrap().is_none());
        assert!(next_link(&HeaderMap::new(), &base).unwrap().is_none());
        let err = next(r#"<https://evil.lan/v2/w/f/tags/list>; rel="next""#).unwrap_err();
        assert!(err.to_string().contains("another server"), "{err}");
    }

    #[test]
    fn error_bodies_give_code_and_message() {
        let kind = status_error(
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
        );
        assert_eq!(kind.to_string(), "HTTP 429: TOOMANYREQUESTS: slow down");
        assert!(kind.is_transient());
        assert!(matches!(
            status_error(StatusCode::UNAUTHORIZED, b""),
            ErrorKind::Unauthorized
        ));
        assert_eq!(
            status_error(StatusCode::SERVICE_UNAVAILABLE, b"down").to_string(),
            "HTTP 503: down"
        );
    }
}

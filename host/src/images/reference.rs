//! Image references: `name[:tag][@digest]`, where the name may start with a
//! registry host and port (`harbor.lan:5000/website/frontend:1.2`).
//!
//! The grammar follows the distribution reference format (what Docker,
//! containerd and Kubernetes accept), checked strictly enough that a value
//! which passes can be written into a plain YAML scalar without quoting it
//! for syntax: only `[A-Za-z0-9._:/@+=-]` can appear.

use std::fmt;
use std::str::FromStr;

/// The registry a name without a registry host refers to.
const DEFAULT_REGISTRY: &str = "docker.io";

/// A reference that does not fit the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {reference:?}: {reason}")]
pub struct ReferenceError {
    /// The text as given.
    pub reference: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed image reference `name[:tag][@digest]`.
///
/// `Display` writes it back in the same form, so `parse` then `to_string`
/// gives the input for every valid reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// The repository, with its registry host and port if it has one,
    /// e.g. `harbor.lan:5000/website/frontend` or `nginx`.
    pub name: String,
    /// The tag, e.g. `1.2` or `main-def5678-1767312000`.
    pub tag: Option<String>,
    /// The content digest, e.g. `sha256:` and 64 hex digits.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parse and check `name[:tag][@digest]`.
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let fail = |reason: String| ReferenceError {
            reference: text.to_owned(),
            reason,
        };
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        // A colon after the last slash starts the tag; one before it is a port.
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        check_name(name).map_err(fail)?;
        if let Some(tag) = tag {
            check_tag(tag).map_err(fail)?;
        }
        if let Some(digest) = digest {
            check_digest(digest).map_err(fail)?;
        }
        Ok(Self {
            name: name.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// Whether this reference names the same repository as `other`, after
    /// Docker's normalization (see [`same_repository`]).
    pub fn same_repository(&self, other: &str) -> bool {
        same_repository(&self.name, other)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Whether two repository names (no tag, no digest) denote the same
/// repository once normalized as Docker does: no registry means `docker.io`,
/// `index.docker.io` is `docker.io`, and a one-component path on Docker Hub
/// lives under `library/`. So `nginx`, `docker.io/nginx` and
/// `docker.io/library/nginx` are one repository; `harbor.lan/nginx` is another.
pub fn same_repository(a: &str, b: &str) -> bool {
    a == b || normalize(a) == normalize(b)
}

/// `(registry, path)` of a repository name, normalized.
fn normalize(name: &str) -> (String, String) {
    let (registry, path) = match name.split_once('/') {
        Some((first, rest)) if is_registry(first) => (first.to_ascii_lowercase(), rest),
        _ => (DEFAULT_REGISTRY.to_owned(), name),
    };
    let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
        DEFAULT_REGISTRY.to_owned()
    } else {
        registry
    };
    let path = if registry == DEFAULT_REGISTRY && !path.contains('/') {
        format!("library/{path}")
    } else {
        path.to_owned()
    };
    (registry, path)
}

/// Docker's rule: the first component is a registry host if it looks like
/// one (a dot or a port) or is `localhost`.
fn is_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

/// Check a repository name: `[host[:port]/]component(/component)*`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > 255 {
        return Err("the name is longer than 255 characters".into());
    }
    let (registry, path) = match name.split_once('/') {
        Some((first, rest)) if is_registry(first) => (Some(first), rest),
        _ => (None, name),
    };
    if let Some(registry) = registry {
        check_registry(registry)?;
    }
    for component in path.split('/') {
        check_path_component(component)?;
    }
    Ok(())
}

fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !host.split('.').all(label_ok) {
        return Err(format!("{registry:?} is not a registry host"));
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
            return Err(format!("{registry:?} has an invalid port"));
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn check_path_component(component: &str) -> Result<(), String> {
    let bad = || {
        Err(format!("path component {component:?} must be lowercase letters and digits, separated by '.', '_', '__' or dashes"))
    };
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return bad();
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return bad();
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
pub fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'"
        ))
    }
}

/// `algorithm:encoded`; a `sha256` digest must be 64 lowercase hex digits.
pub fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return Err(format!("digest {digest:?} must be ALGORITHM:HEX"));
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'.' | b'_' | b'-')
        });
    let encoded_ok = if algorithm == "sha256" {
        encoded.len() == 64
            && encoded
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    } else {
        encoded.len() >= 32
            && encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
    };
    if algorithm_ok && encoded_ok {
        Ok(())
    } else {
        Err(format!(
            "digest {digest:?} must be ALGORITHM:HEX (sha256: 64 lowercase hex digits)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_and_formats_every_form() {
        for (text, name, tag, digest) in [
            ("nginx", "nginx", None, None),
            ("nginx:1.25", "nginx", Some("1.25"), None),
            (
                "harbor.lan:5000/a/b:tag",
                "harbor.lan:5000/a/b",
                Some("tag"),
                None,
            ),
            ("harbor.lan:5000/a/b", "harbor.lan:5000/a/b", None, None),
            ("localhost/x@", "", None, None),
        ] {
            if name.is_empty() {
                assert!(ImageRef::parse(text).is_err(), "{text}");
                continue;
            }
            let r = ImageRef::parse(text).unwrap();
            assert_eq!(r.name, name, "{text}");
            assert_eq!(r.tag.as_deref(), tag, "{text}");
            assert_eq!(r.digest.as_deref(), digest, "{text}");
            assert_eq!(r.to_string(), text);
        }
        let with_digest = format!("harbor.lan:5000/website/frontend:main-1@{SHA}");
        let r = ImageRef::parse(&with_digest).unwrap();
        assert_eq!(r.name, "harbor.lan:5000/website/frontend");
        assert_eq!(r.tag.as_deref(), Some("main-1"));
        assert_eq!(r.digest.as_deref(), Some(SHA));
        assert_eq!(r.to_string(), with_digest);
        let digest_only = format!("nginx@{SHA}");
        let r: ImageRef = digest_only.parse().unwrap();
        assert_eq!((r.tag, r.digest.as_deref()), (None, Some(SHA)));
    }

    #[test]
    fn rejects_what_registries_reject() {
        for bad in [
            "",
            "Nginx:1",
            "nginx:",
            "nginx:-x",
            "nginx:a b",
            "a//b",
            "/a",
            "harbor.lan:port/a",
            "nginx@sha256:abc",
            "nginx:1@md5",
            "a/b:1 # comment",
            "${IMAGE}",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn same_repository_follows_docker_normalization() {
        assert!(same_repository("nginx", "docker.io/library/nginx"));
        assert!(same_repository("index.docker.io/nginx", "nginx"));
        assert!(same_repository("bitnami/redis", "docker.io/bitnami/redis"));
        assert!(same_repository("Harbor.LAN/a/b", "harbor.lan/a/b"));
        assert!(!same_repository("harbor.lan/nginx", "nginx"));
        assert!(!same_repository("harbor.lan:5000/a/b", "harbor.lan/a/b"));
        assert!(!same_repository("a/b", "a/c"));
    }
}

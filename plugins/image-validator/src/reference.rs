//! Container image references, read the way Docker and containerd read them
//! (the `distribution/reference` rules): `[registry[:port]/]path[:tag][@digest]`.

use std::fmt;

/// Docker Hub, the registry of references without one.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The registry host (with port), `docker.io` when the reference has none.
    pub registry: String,
    /// The repository path in the registry; Docker Hub's official images get
    /// their implicit `library/` (`nginx` is `library/nginx`).
    pub path: String,
    /// The tag, if one is written.
    pub tag: Option<String>,
    /// The digest (`sha256:...`), if one is written.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `image`; the error says what is wrong.
    pub fn parse(image: &str) -> Result<Reference, String> {
        if image.is_empty() {
            return Err("is empty".into());
        }
        if let Some(c) = image.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("contains {c:?}"));
        }
        let (name_tag, digest) = match image.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (image, None),
        };
        if let Some(digest) = digest {
            check_digest(digest)?;
        }
        // A tag follows the last `:` after the last `/` (a `:` before it is a port).
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        if let Some(tag) = tag {
            check_tag(tag)?;
        }
        let (registry, path) = split_registry(name);
        if path.is_empty() || path.split('/').any(str::is_empty) {
            return Err("has an empty path component".into());
        }
        if let Some(c) = path.chars().find(|c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/'))
        }) {
            return Err(format!(
                "has {c:?} in its repository path (only lower-case letters, digits, `.`, `_`, `-`)"
            ));
        }
        Ok(Reference {
            registry,
            path,
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        })
    }

    /// `registry/path`, e.g. `docker.io/library/nginx`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }
}

impl fmt::Display for Reference {
    /// The full reference, e.g. `docker.io/library/nginx:1.27@sha256:...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Splits the registry off like `distribution/reference`'s `splitDockerDomain`:
/// the first component is a registry when it has a `.` or `:`, is `localhost`,
/// or has an upper-case letter.
fn split_registry(name: &str) -> (String, String) {
    let (registry, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    let registry = if registry == "index.docker.io" {
        DOCKER_HUB.to_string()
    } else {
        registry
    };
    let path = if registry == DOCKER_HUB && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    (registry, path)
}

/// Tags: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), String> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!("has an invalid tag `{tag}`"))
    }
}

/// Digests: `algorithm:hex`, at least 32 hex digits.
fn check_digest(digest: &str) -> Result<(), String> {
    let ok = match digest.split_once(':') {
        Some((algorithm, hex)) => {
            !algorithm.is_empty()
                && algorithm.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || matches!(c, '+' | '.' | '_' | '-')
                })
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("has an invalid digest `{digest}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:9b1d2e4a7c3f5b6d8e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d";

    fn parse(image: &str) -> (String, Option<String>, Option<String>) {
        let r = Reference::parse(image).unwrap_or_else(|e| panic!("{image}: {e}"));
        (r.repository(), r.tag, r.digest)
    }

    #[test]
    fn reads_references_like_docker() {
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            parse("nginx"),
            ("docker.io/library/nginx".into(), None, None)
        );
        assert_eq!(
            parse("nginx:1.27"),
            ("docker.io/library/nginx".into(), s("1.27"), None)
        );
        assert_eq!(
            parse("bitnami/redis:7"),
            ("docker.io/bitnami/redis".into(), s("7"), None)
        );
        assert_eq!(
            parse("index.docker.io/nginx"),
            ("docker.io/library/nginx".into(), None, None)
        );
        assert_eq!(
            parse("harbor.lan:5000/website/frontend:main-3f2a9c1-1767225600"),
            (
                "harbor.lan:5000/website/frontend".into(),
                s("main-3f2a9c1-1767225600"),
                None
            )
        );
        assert_eq!(parse("localhost/app"), ("localhost/app".into(), None, None));
        assert_eq!(
            parse("localhost:5000/app:v1"),
            ("localhost:5000/app".into(), s("v1"), None)
        );
        assert_eq!(
            parse(&format!("ghcr.io/org/app:1.0@{SHA}")),
            ("ghcr.io/org/app".into(), s("1.0"), s(SHA))
        );
        assert_eq!(
            parse(&format!("app@{SHA}")),
            ("docker.io/library/app".into(), None, s(SHA))
        );
    }

    #[test]
    fn refuses_broken_references() {
        for image in [
            "",
            "nginx:",
            "nginx:-x",
            "nginx latest",
            "Nginx",
            "harbor.lan//app",
            "app@sha256:short",
            "app@md5",
            "/app",
            "app:a:b",
        ] {
            assert!(Reference::parse(image).is_err(), "{image}");
        }
    }
}

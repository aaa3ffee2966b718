//! Platforms (`linux/arm64`) and what a tag's manifest offers.
//!
//! A Pi must never be handed an image it cannot run, so the platforms of a
//! tag come from the registry itself: an index lists them per manifest; a
//! single-platform manifest says nothing and its config blob carries
//! `os`/`architecture`/`variant`.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// `os/architecture[/variant]`, as in `docker --platform`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `arm64`.
    pub architecture: String,
    /// e.g. `v8`, when given.
    pub variant: Option<String>,
}

/// A platform string that is not `os/architecture[/variant]`.
#[derive(Debug, thiserror::Error)]
#[error("platform `{0}`: write os/architecture[/variant], e.g. `linux/arm64`")]
pub struct PlatformError(String);

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) || !(2..=3).contains(&parts.len()) {
            return Err(PlatformError(s.to_string()));
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// Whether an image built for `offered` runs where `self` is required.
    /// A variant is compared only when both sides name one, except that
    /// `arm64` without a variant is `arm64/v8` (the only one there is).
    pub fn accepts(&self, offered: &Platform) -> bool {
        let normal = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", None) => Some("v8".to_string()),
            _ => p.variant.clone(),
        };
        self.os == offered.os
            && self.architecture == offered.architecture
            && match (normal(self), normal(offered)) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            }
    }
}

/// What a tag's manifest is, as far as platforms go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// An OCI index or Docker manifest list: the platforms of its entries.
    Index(Vec<Platform>),
    /// A single image; its platform is in the config blob with this digest.
    Image {
        /// The config blob's digest.
        config_digest: String,
    },
}

/// A manifest the platform check cannot read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON of the expected shape.
    #[error("not an image manifest or index: {0}")]
    Json(serde_json::Error),
    /// Neither `manifests` nor `config`.
    #[error("neither an index (no `manifests`) nor an image manifest (no `config`)")]
    Shape,
}

#[derive(Deserialize)]
struct RawManifest {
    manifests: Option<Vec<RawEntry>>,
    config: Option<RawDescriptor>,
}

#[derive(Deserialize)]
struct RawEntry {
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawDescriptor {
    digest: String,
}

#[derive(Deserialize)]
struct RawPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

impl From<RawPlatform> for Platform {
    fn from(p: RawPlatform) -> Self {
        Platform {
            os: p.os,
            architecture: p.architecture,
            variant: p.variant,
        }
    }
}

impl Manifest {
    /// Read a manifest or index (OCI or Docker v2 media types).
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = serde_json::from_slice(bytes).map_err(ManifestError::Json)?;
        match (raw.manifests, raw.config) {
            // Entries without a platform (attestations, artifacts) run nowhere.
            (Some(entries), _) => Ok(Manifest::Index(
                entries
                    .into_iter()
                    .filter_map(|e| e.platform.map(Platform::from))
                    .collect(),
            )),
            (None, Some(config)) => Ok(Manifest::Image {
                config_digest: config.digest,
            }),
            (None, None) => Err(ManifestError::Shape),
        }
    }
}

/// The platform an image config blob describes.
pub fn config_platform(bytes: &[u8]) -> Result<Platform, ManifestError> {
    serde_json::from_slice::<RawPlatform>(bytes)
        .map(Platform::from)
        .map_err(ManifestError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(p("linux/arm/v7").to_string(), "linux/arm/v7");
        assert!("arm64".parse::<Platform>().is_err());
        assert!("linux//v7".parse::<Platform>().is_err());
        assert!("a/b/c/d".parse::<Platform>().is_err());
    }

    #[test]
    fn arm64_is_v8_and_amd64_is_not_arm64() {
        assert!(p("linux/arm64").accepts(&p("linux/arm64/v8")));
        assert!(p("linux/arm64/v8").accepts(&p("linux/arm64")));
        assert!(!p("linux/arm64").accepts(&p("linux/amd64")));
        assert!(!p("linux/arm/v7").accepts(&p("linux/arm/v6")));
        assert!(p("linux/arm").accepts(&p("linux/arm/v7")));
        assert!(!p("linux/arm64").accepts(&p("windows/arm64")));
    }

    #[test]
    fn reads_indexes_images_and_configs() {
        let index = br#"{"schemaVersion":2,"manifests":[
            {"digest":"sha256:a","platform":{"os":"linux","architecture":"amd64"}},
            {"digest":"sha256:b","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"digest":"sha256:c","annotations":{"vnd.docker.reference.type":"attestation-manifest"}}]}"#;
        assert_eq!(
            Manifest::parse(index).unwrap(),
            Manifest::Index(vec![p("linux/amd64"), p("linux/arm64/v8")])
        );
        let image = br#"{"schemaVersion":2,"config":{"digest":"sha256:cfg","size":2},"layers":[]}"#;
        assert_eq!(
            Manifest::parse(image).unwrap(),
            Manifest::Image {
                config_digest: "sha256:cfg".into()
            }
        );
        assert!(matches!(Manifest::parse(b"{}"), Err(ManifestError::Shape)));
        assert!(matches!(
            Manifest::parse(b"<html>"),
            Err(ManifestError::Json(_))
        ));
        let config =
            br#"{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert_eq!(config_platform(config).unwrap(), p("linux/arm64"));
    }
}

//! One image's scan: registry tags -> exclusions -> the policy plugin's
//! ranking -> the first ranked tag offering the required platform.
//!
//! A registry outage does not lose the image: the last good tag list (from
//! the [`TagStore`]) is used instead, and the result says so (`stale`, with
//! the error). A tag is chosen only after the registry confirmed its
//! platform; when that check cannot be made nothing is chosen, because
//! walking on to an older tag would silently downgrade.
//!
//! With `digest-reflection`, the chosen tag's manifest digest is looked up
//! (`Always`: every scan; `IfNotPresent`: unless one is recorded for that
//! tag) and recorded in the [`TagStore`]. A digest that cannot be read makes
//! the scan uncertain, like a platform check that cannot be made.

use std::time::{Duration, Instant, SystemTime};

use super::platform::Platform;
use super::registry::{RegistryClient, RegistryError};
use super::tagstore::{TagStore, TagStoreError};
use crate::config::{DigestReflection, ImageConfig};
use crate::plugin::{Plugin, PluginError, Tag};

/// A scan that produced nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Listing failed and no earlier list is stored.
    #[error("{0} (and no earlier tag list is stored)")]
    Registry(RegistryError),
    /// The stored list could not be read or written.
    #[error(transparent)]
    Store(#[from] TagStoreError),
    /// The policy plugin failed or refused.
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

/// A ranked tag passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The tag.
    pub tag: String,
    /// The platforms it offers (none of them the required one).
    pub offered: Vec<Platform>,
}

/// What one image's scan found.
#[derive(Debug)]
pub struct ScanResult {
    /// The policy name, `NS:NAME`.
    pub policy_name: String,
    /// The repository, `host/path`.
    pub repository: String,
    /// Tags in the list (before exclusions).
    pub tags: usize,
    /// Tags dropped by the exclusion list.
    pub excluded: usize,
    /// When the list was fetched from the registry.
    pub listed_at: SystemTime,
    /// How long this scan took.
    pub duration: Duration,
    /// The list is the stored one: the registry could not be read now.
    pub stale: bool,
    /// What failed at the registry (listing, or checking a platform).
    pub error: Option<RegistryError>,
    /// The plugin's ranking, best first.
    pub ranking: Vec<String>,
    /// Ranked tags passed over for lacking the required platform, in order.
    pub skipped: Vec<Skipped>,
    /// The tag to deploy: the best ranked one that offers the platform.
    pub chosen: Option<String>,
    /// The chosen tag's manifest digest, under `digest-reflection`.
    pub digest: Option<String>,
}

impl ScanResult {
    /// Fresh tags, every check made and a tag chosen (with its digest
    /// when digest reflection is on: a lookup that failed set `error`).
    pub fn succeeded(&self) -> bool {
        !self.stale && self.error.is_none() && self.chosen.is_some()
    }
}

/// Scan `image`: list its tags (or fall back to the stored list), rank them
/// with `plugin`, and choose the first that offers the image's platform.
pub async fn scan(
    image: &ImageConfig,
    client: &RegistryClient,
    plugin: &Plugin,
    store: &TagStore,
) -> Result<ScanResult, ScanError> {
    let started = Instant::now();
    let (tags, listed_at, mut error) = match client.list_tags(image.path()).await {
        Ok(tags) => {
            store.save(&image.repository, &tags)?;
            (tags, SystemTime::now(), None)
        }
        Err(e) => match store.load(&image.repository)? {
            Some(stored) => {
                tracing::warn!(image = %image.policy_name, "{e}; using the tag list of the last good scan");
                (stored.tags, stored.scanned_at, Some(e))
            }
            None => return Err(ScanError::Registry(e)),
        },
    };
    let stale = error.is_some();
    let candidates: Vec<Tag> = tags
        .iter()
        .filter(|t| !image.exclude.iter().any(|re| re.is_match(t)))
        .map(|t| Tag {
            name: t.clone(),
            digest: None,
            created: None,
        })
        .collect();
    let excluded = tags.len() - candidates.len();
    let ranking = plugin.rank(&image.settings, &image.repository, &candidates)?;

    let mut skipped = Vec::new();
    let chosen = match &image.platform {
        None => ranking.first().cloned(),
        Some(wanted) => {
            let mut chosen = None;
            for tag in &ranking {
                match client.platforms(image.path(), tag).await {
                    Ok(offered) if offered.iter().any(|p| wanted.accepts(p)) => {
                        chosen = Some(tag.clone());
                        break;
                    }
                    Ok(offered) => skipped.push(Skipped {
                        tag: tag.clone(),
                        offered,
                    }),
                    Err(e) => {
                        error.get_or_insert(e);
                        break;
                    }
                }
            }
            chosen
        }
    };
    // Digest reflection, for a choice that is certain so far.
    let mut digest = None;
    if let (Some(tag), None) = (&chosen, &error) {
        let recorded = match image.digest_reflection {
            DigestReflection::IfNotPresent => store.load_digest(&image.repository, tag)?,
            DigestReflection::Never | DigestReflection::Always => None,
        };
        digest = match (image.digest_reflection, recorded) {
            (DigestReflection::Never, _) => None,
            (_, Some(recorded)) => Some(recorded),
            (_, None) => match client.digest(image.path(), tag).await {
                Ok(found) => {
                    store.save_digest(&image.repository, tag, &found)?;
                    Some(found)
                }
                Err(e) => {
                    error = Some(e);
                    None
                }
            },
        };
    }
    Ok(ScanResult {
        policy_name: image.policy_name.clone(),
        repository: image.repository.clone(),
        tags: tags.len(),
        excluded,
        listed_at,
        duration: started.elapsed(),
        stale,
        error,
        ranking,
        skipped,
        chosen,
        digest,
    })
}

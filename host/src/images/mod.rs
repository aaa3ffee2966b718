//! Image automation: from a registry's tags to the manifests in git.
//!
//! So far the last step, the setters ([`setters`]): YAML lines carrying a
//! Flux image policy marker get the policy's latest image,
//!
//! ```yaml
//! image: harbor.lan/website/frontend:main-abc1234-1767225600 # {"$imagepolicy": "flux-system:frontend"}
//! newTag: main-abc1234-1767225600 # {"$imagepolicy": "flux-system:frontend:tag"}
//! ```
//!
//! and, unlike Flux, nothing but the value's bytes changes: comments,
//! quoting, indentation, key order and line endings stay as the operator
//! wrote them, so the commit diff is one line per image.
//!
//! - [`reference`](mod@reference): parse and format `name[:tag][@digest]`;
//! - [`marker`]: find markers and the values they point at;
//! - [`setters`]: apply policy results to a text or a directory tree.
//!
//! Before them, the scan ([`scan`]): [`registry`] lists a repository's tags
//! (kept on disk by [`tagstore`]), the image-policy plugin ranks them, and
//! [`platform`] makes sure the chosen tag runs on the node. After them,
//! [`commit`]: one commit per pass with every change, pushed with retries,
//! its message from [`message`] (rekon's `{changes}` list, or a Flux
//! `messageTemplate` run by [`gotemplate`]).

pub mod automation;
pub mod commit;
mod files;
pub mod gotemplate;
pub mod marker;
pub mod message;
pub mod platform;
pub mod reference;
pub mod registry;
pub mod scan;
pub mod setters;
pub mod tagstore;
mod yaml_lines;

pub use marker::{find_markers, Field, FoundMarker, Marker, Quoting, ValueSlot, MARKER_LITERAL};
pub use reference::{same_repository, ImageRef, ReferenceError};
pub use setters::{
    apply_to_text, apply_to_tree, Change, FileUpdate, Policies, PolicyResult, SetterError,
    TextUpdate, TreeUpdate, Warning, WarningKind,
};

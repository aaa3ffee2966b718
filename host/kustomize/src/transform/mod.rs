//! The transformers of one kustomization, applied after its patches, their
//! configuration, and the name-reference pass at the end of the build.

pub(crate) mod config;
pub(crate) mod fieldspec;
pub(crate) mod images;
pub(crate) mod labels;
pub(crate) mod nameref;
pub(crate) mod names;
pub(crate) mod namespace;
pub(crate) mod replacements;
pub(crate) mod replicas;

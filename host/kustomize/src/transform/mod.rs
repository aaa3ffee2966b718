//! The transformers of one kustomization, applied after its patches.

pub(crate) mod fieldspec;
pub(crate) mod images;
pub(crate) mod labels;
pub(crate) mod names;
pub(crate) mod namespace;
pub(crate) mod replacements;
pub(crate) mod replicas;

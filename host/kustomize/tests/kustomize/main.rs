//! Builds of real trees in temporary directories, compared with the objects
//! kustomize renders for them.

mod components;
mod differential;
mod errors;
mod features;
mod flux;
mod generators;
mod golden;
mod misc;
mod nameref;
mod oracle;
mod overlay;
mod support;

//! Builds of real trees in temporary directories, compared with the objects
//! kustomize renders for them.

mod components;
mod errors;
mod features;
mod flux;
mod generators;
mod misc;
mod nameref;
mod overlay;
mod support;

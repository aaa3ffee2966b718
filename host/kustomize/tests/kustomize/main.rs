//! Builds of real trees in temporary directories, compared with the objects
//! kustomize renders for them.

mod differential;
mod errors;
mod features;
mod flux;
mod golden;
mod oracle;
mod support;

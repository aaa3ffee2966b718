//! rekon: a GitOps reconciler for small Kubernetes clusters whose policies are
//! WebAssembly components.
//!
//! The data flow is: source tree -> [`rekon_kustomize::build`] ->
//! [`render`] (mutator and validator [`plugin`]s) -> output. The binary
//! (`src/main.rs`) is a thin layer over [`cli`].
//!
//! Errors are `thiserror` types whose message says everything, including
//! what they wrap (an I/O error, a build error): none also returns the wrapped
//! error from `source()`, which the CLI, printing anyhow's chain (`{:#}`),
//! would show a second time. A variant that only wraps is
//! `#[error(transparent)]`.

pub mod alerts;
pub mod apply;
pub mod atomic;
pub mod charts;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod explain;
pub mod flux;
pub mod git;
pub mod images;
pub mod plugin;
pub mod render;
pub mod retry;
pub mod server;
pub mod sops;
pub mod source;
pub mod status;
pub mod testing;

//! `rekon test`: run plugin test suites offline, each case in a fresh sandbox,
//! in the spirit of `kyverno test`.

mod runner;
pub mod suite;

pub use runner::{run_suite, run_suite_against, CaseResult, Outcome, Report};

//! `rekon test`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::testing::{run_suite, suite, Report};

/// Run plugin test suites (`rekon-test.yaml`) offline, each case in a fresh sandbox.
///
/// Finds every `rekon-test.yaml` under each PATH (a file is taken as it is),
/// loads the suite's plugin, and runs each case: image-policy cases give tags
/// and expect a ranking; mutator cases give objects and expect objects (or
/// `unchanged`); validator cases expect findings; any case may expect an
/// `error` or a `settings-error`. Prints a table, the failures, and a last
/// line `N passed, M failed`.
///
/// Exit status: 0 all passed, 1 a case failed, 2 a suite could not be loaded.
/// Format reference: docs/plugins.md ("Testing").
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct TestArgs {
    /// Suite files or directories to search [default: .].
    paths: Vec<PathBuf>,
}

pub fn run(cli: &super::Cli, args: &TestArgs) -> anyhow::Result<ExitCode> {
    let roots = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for root in &roots {
        files.extend(suite::discover(root).map_err(anyhow::Error::msg)?);
    }
    if files.is_empty() {
        anyhow::bail!(
            "no rekon-test.yaml found under {}",
            roots
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let runtime = cli.runtime(None)?;
    let mut report = Report::default();
    for file in &files {
        run_suite(&runtime, file, &mut report);
    }
    print!("{}", report.render());
    Ok(ExitCode::from(if report.load_errors > 0 {
        2
    } else if report.failed() > 0 {
        1
    } else {
        0
    }))
}

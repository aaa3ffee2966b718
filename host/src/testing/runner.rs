//! Runs the cases of a suite and checks their expectations.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::suite::{load_objects, Case, ChartSpec, ExpectedViolation, Suite, TagSpec};
use crate::charts::{self, Chart, SourceContext};
use crate::explain;
use crate::plugin::{
    Plugin, PluginError, PluginSource, Runtime, Severity, Tag, Texts, Violation, World,
};

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The expectation held.
    Pass,
    /// It did not; the text says how.
    Fail(String),
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The suite's name.
    pub suite: String,
    /// The case's name.
    pub case: String,
    /// Pass or fail.
    pub outcome: Outcome,
    /// Time of the case, including instantiation.
    pub duration: Duration,
}

/// All rows of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// The rows in order.
    pub results: Vec<CaseResult>,
    /// Suites that could not be loaded at all.
    pub load_errors: usize,
}

impl Report {
    /// Cases that passed.
    pub fn passed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome == Outcome::Pass)
            .count()
    }

    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// The table, failure details, and the closing `N passed, M failed` line.
    pub fn render(&self) -> String {
        let suite_w = self
            .results
            .iter()
            .map(|r| r.suite.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let case_w = self
            .results
            .iter()
            .map(|r| r.case.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 70);
        let mut out = format!(
            "{:<6} {:<suite_w$}  {:<case_w$}  {:>9}\n",
            "RESULT", "SUITE", "CASE", "TIME"
        );
        for r in &self.results {
            let status = if r.outcome == Outcome::Pass {
                "PASS"
            } else {
                "FAIL"
            };
            let ms = r.duration.as_secs_f64() * 1e3;
            let case = if r.case.chars().count() > case_w {
                format!("{}…", r.case.chars().take(case_w - 1).collect::<String>())
            } else {
                r.case.clone()
            };
            let _ = writeln!(
                out,
                "{status:<6} {:<suite_w$}  {case:<case_w$}  {ms:>7.1}ms",
                r.suite
            );
        }
        let failures: Vec<&CaseResult> = self
            .results
            .iter()
            .filter(|r| r.outcome != Outcome::Pass)
            .collect();
        if !failures.is_empty() {
            out.push_str("\nFailures:\n");
            for r in failures {
                if let Outcome::Fail(why) = &r.outcome {
                    let _ = writeln!(
                        out,
                        "- {} / {}:\n    {}",
                        r.suite,
                        r.case,
                        why.replace('\n', "\n    ")
                    );
                }
            }
        }
        let _ = writeln!(out, "\n{} passed, {} failed", self.passed(), self.failed());
        out
    }
}

/// Load the suite at `path` and run its cases; a suite that cannot be loaded
/// is one failed row.
pub fn run_suite(runtime: &Runtime, path: &Path, report: &mut Report) {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fallback_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "suite".into());
    let started = Instant::now();
    let loaded = Suite::load(path).and_then(|suite| {
        let name = suite.name.clone().unwrap_or(fallback_name.clone());
        let mut limits = crate::plugin::Limits::default();
        if let Some(ms) = suite.timeout_ms {
            limits.timeout = Duration::from_millis(ms);
        }
        limits.grant = suite.grant.clone();
        let source = PluginSource {
            name: name.clone(),
            path: dir.join(&suite.plugin),
            sha256: None,
            limits,
        };
        let plugin = runtime
            .load(&source)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok((suite, name, plugin))
    });
    let (suite, name, plugin) = match loaded {
        Ok(x) => x,
        Err(why) => {
            report.load_errors += 1;
            report.results.push(CaseResult {
                suite: fallback_name,
                case: "(suite could not be loaded)".into(),
                outcome: Outcome::Fail(why),
                duration: started.elapsed(),
            });
            return;
        }
    };
    run_cases(&plugin, &suite, &name, dir, report);
}

/// Run the cases of the suite at `path` against `plugin` instead of the
/// file the suite names: how `rekon run` checks a new plugin version before
/// swapping it in. Returns the report (a suite that cannot be read is one
/// failed row).
pub fn run_suite_against(plugin: &Plugin, path: &Path) -> Report {
    let mut report = Report::default();
    let dir = path.parent().unwrap_or(Path::new("."));
    match Suite::load(path) {
        Ok(suite) => {
            let name = suite
                .name
                .clone()
                .unwrap_or_else(|| plugin.name().to_string());
            run_cases(plugin, &suite, &name, dir, &mut report);
        }
        Err(why) => {
            report.load_errors += 1;
            report.results.push(CaseResult {
                suite: plugin.name().to_string(),
                case: "(suite could not be loaded)".into(),
                outcome: Outcome::Fail(why),
                duration: Duration::ZERO,
            });
        }
    }
    report
}

fn run_cases(plugin: &Plugin, suite: &Suite, name: &str, dir: &Path, report: &mut Report) {
    for case in &suite.cases {
        let started = Instant::now();
        let outcome = match run_case(plugin, suite, case, dir) {
            Ok(()) => Outcome::Pass,
            Err(why) => Outcome::Fail(why),
        };
        report.results.push(CaseResult {
            suite: name.to_string(),
            case: case.name.clone(),
            outcome,
            duration: started.elapsed(),
        });
    }
}

/// What `rekon:sources` answers in a case: the suite's `sources` and
/// `charts` (`None` when the suite states neither).
fn source_context(
    suite: &Suite,
    inputs: &[Value],
    dir: &Path,
) -> Result<Option<std::sync::Arc<SourceContext>>, String> {
    if suite.sources.is_none() && suite.charts.is_empty() {
        return Ok(None);
    }
    let objects = match &suite.sources {
        Some(s) => load_objects(s, dir)?,
        None => Vec::new(),
    };
    let charts = suite
        .charts
        .iter()
        .map(|(release, spec)| {
            let name = inputs
                .iter()
                .find(|o| charts::is_helm_release(o) && charts::release_key(o) == *release)
                .and_then(charts::chart_name)
                .unwrap_or_default();
            let chart = match spec {
                ChartSpec::Version(version) => Ok(Chart {
                    name,
                    version: version.clone(),
                    digest: None,
                    ca: None,
                }),
                ChartSpec::Full { error: Some(e), .. } => Err(e.clone()),
                ChartSpec::Full {
                    version: Some(version),
                    digest,
                    ca,
                    error: None,
                } => Ok(Chart {
                    name,
                    version: version.clone(),
                    digest: digest.clone(),
                    ca: ca.clone(),
                }),
                ChartSpec::Full { .. } => {
                    return Err(format!("charts.{release}: give a version or an error"))
                }
            };
            Ok((release.clone(), chart))
        })
        .collect::<Result<_, String>>()?;
    Ok(Some(std::sync::Arc::new(SourceContext::given(
        &objects, charts,
    ))))
}

fn run_case(plugin: &Plugin, suite: &Suite, case: &Case, dir: &Path) -> Result<(), String> {
    let settings = case
        .settings
        .clone()
        .or_else(|| suite.settings.clone())
        .unwrap_or_else(|| Value::Object(Default::default()));
    let expect = &case.expect;
    let checked = plugin.check_settings(&settings);
    if let Some(needle) = &expect.settings_error {
        return match checked {
            Err(PluginError::Settings { message, .. }) if message.contains(needle.as_str()) => {
                Ok(())
            }
            Err(other) => Err(format!(
                "expected a settings error containing {needle:?}, got: {other}"
            )),
            Ok(()) => Err(format!(
                "expected a settings error containing {needle:?}, but the settings were accepted"
            )),
        };
    }
    checked.map_err(|e| e.to_string())?;

    match plugin.world() {
        World::ImagePolicy => {
            let tags: Vec<Tag> = case
                .tags
                .as_ref()
                .ok_or("an image-policy case needs `tags`")?
                .iter()
                .map(to_tag)
                .collect();
            let repository = case
                .repository
                .as_deref()
                .unwrap_or("registry.invalid/test");
            let result = plugin.rank(&settings, repository, &tags);
            if let Some(err) = expected_error(expect, &result) {
                return err;
            }
            let ranked = result.map_err(|e| e.to_string())?;
            if let Some(want) = &expect.ranked {
                return same(want, &ranked, "ranking");
            }
            if let Some(want) = &expect.chosen {
                return match ranked.first() {
                    Some(first) if first == want => Ok(()),
                    Some(first) => Err(format!(
                        "expected {want:?} to be chosen, got {first:?} (ranking: {ranked:?})"
                    )),
                    None => Err(format!(
                        "expected {want:?} to be chosen, but the ranking is empty"
                    )),
                };
            }
            Err("this expectation does not apply to an image-policy plugin".into())
        }
        World::ManifestMutator => {
            let inputs = input_values(case, dir)?;
            let refs: Vec<&Value> = inputs.iter().collect();
            // As in a render: interest, Secrets and the grant apply.
            let sources = source_context(suite, &inputs, dir)?;
            let result = plugin.mutate_objects_in(
                &settings,
                &refs,
                &Texts::new(refs.len()),
                sources.as_ref(),
            );
            if let Some(err) = expected_error(expect, &result) {
                return err;
            }
            let mutation = result.map_err(|e| e.to_string())?;
            if expect.unchanged == Some(true) {
                if let Some((i, after)) = mutation.replaced.first() {
                    return Err(format!(
                        "object {i} changed, expected it untouched:\n{}",
                        describe_diff(&inputs[*i].to_string(), &after.to_string())
                    ));
                }
                return match (mutation.removed.first(), mutation.added.first()) {
                    (Some(i), _) => Err(format!("object {i} was removed, expected it untouched")),
                    (None, Some(o)) => Err(format!(
                        "{} was added, expected no change",
                        crate::render::identity(o)
                    )),
                    (None, None) => Ok(()),
                };
            }
            let got = mutation.apply(inputs.clone());
            if let Some(want) = &expect.objects {
                let want = load_objects(want, dir)?;
                if want.len() != got.len() {
                    return Err(format!(
                        "expected {} objects, got {}",
                        want.len(),
                        got.len()
                    ));
                }
                for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                    let changes = explain::diff(w, g);
                    if !changes.is_empty() {
                        let lines: Vec<String> = changes
                            .iter()
                            .take(10)
                            .map(|c| {
                                format!(
                                    "{}: expected {}, got {}",
                                    c.path,
                                    explain::short(&c.before),
                                    explain::short(&c.after)
                                )
                            })
                            .collect();
                        return Err(format!(
                            "object {i} differs from the expectation:\n{}",
                            lines.join("\n")
                        ));
                    }
                }
                return Ok(());
            }
            Err("this expectation does not apply to a mutator plugin".into())
        }
        World::ManifestValidator => {
            let inputs = input_values(case, dir)?;
            let refs: Vec<&Value> = inputs.iter().collect();
            let result = plugin.validate_objects(&settings, &refs);
            if let Some(err) = expected_error(expect, &result) {
                return err;
            }
            let found = result.map_err(|e| e.to_string())?;
            match &expect.violations {
                Some(want) => match_violations(want, &found),
                None => Err("this expectation does not apply to a validator plugin".into()),
            }
        }
    }
}

fn to_tag(spec: &TagSpec) -> Tag {
    match spec {
        TagSpec::Name(name) => Tag {
            name: name.clone(),
            digest: None,
            created: None,
        },
        TagSpec::Full {
            name,
            digest,
            created,
        } => Tag {
            name: name.clone(),
            digest: digest.clone(),
            created: *created,
        },
    }
}

fn input_values(case: &Case, dir: &Path) -> Result<Vec<Value>, String> {
    let objects = case
        .objects
        .as_ref()
        .ok_or("a mutator or validator case needs `objects`")?;
    load_objects(objects, dir)
}

/// `Some(verdict)` when the case expects an error; `None` to go on.
fn expected_error<T: std::fmt::Debug>(
    expect: &super::suite::Expect,
    result: &Result<T, PluginError>,
) -> Option<Result<(), String>> {
    let needle = expect.error.as_ref()?;
    Some(match result {
        Err(e) if e.to_string().contains(needle.as_str()) => Ok(()),
        Err(e) => Err(format!("expected an error containing {needle:?}, got: {e}")),
        Ok(v) => Err(format!(
            "expected an error containing {needle:?}, but the call succeeded with {v:?}"
        )),
    })
}

fn same(want: &[String], got: &[String], what: &str) -> Result<(), String> {
    if want == got {
        Ok(())
    } else {
        Err(format!(
            "{what} differs\n  expected: {want:?}\n  got:      {got:?}"
        ))
    }
}

fn describe_diff(a: &str, b: &str) -> String {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => {
            let changes = explain::diff(&a, &b);
            if changes.is_empty() {
                "same value, different text (key order or formatting changed)".into()
            } else {
                changes
                    .iter()
                    .take(10)
                    .map(|c| {
                        format!(
                            "{}: {} -> {}",
                            c.path,
                            explain::short(&c.before),
                            explain::short(&c.after)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
        _ => "the returned text is not valid JSON".into(),
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn matches(want: &ExpectedViolation, got: &Violation) -> bool {
    want.index.is_none_or(|i| i == got.object.index)
        && want.path.as_ref().is_none_or(|p| *p == got.path)
        && want
            .severity
            .as_ref()
            .is_none_or(|s| s == severity_name(got.severity))
        && want
            .message
            .as_ref()
            .is_none_or(|m| got.message.contains(m.as_str()))
}

fn match_violations(want: &[ExpectedViolation], found: &[Violation]) -> Result<(), String> {
    let mut unused: Vec<&Violation> = found.iter().collect();
    let mut missing = Vec::new();
    for w in want {
        match unused.iter().position(|g| matches(w, g)) {
            Some(i) => {
                unused.remove(i);
            }
            None => missing.push(format!("{w:?}")),
        }
    }
    if missing.is_empty() && unused.is_empty() {
        return Ok(());
    }
    let show = |v: &&Violation| {
        format!(
            "[{}] {} {}: {}",
            v.object.index,
            severity_name(v.severity),
            v.path,
            v.message
        )
    };
    let mut msg = String::new();
    if !missing.is_empty() {
        let _ = write!(
            msg,
            "expected but not reported:\n  {}\n",
            missing.join("\n  ")
        );
    }
    if !unused.is_empty() {
        let _ = write!(
            msg,
            "reported but not expected:\n  {}",
            unused.iter().map(show).collect::<Vec<_>>().join("\n  ")
        );
    }
    Err(msg.trim_end().to_string())
}

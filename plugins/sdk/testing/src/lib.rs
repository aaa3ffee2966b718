//! Run a plugin's `rekon-test.yaml` suite natively, as a `cargo test`.
//!
//! `rekon test` runs a suite against the built component in the host's sandbox.
//! This crate runs the same file against the plugin's Rust code, through the
//! same SDK entry points the component exports
//! ([`rekon_plugin_sdk::image_policy::rank`], [`rekon_plugin_sdk::mutator::mutate`],
//! [`rekon_plugin_sdk::validator::validate`] and their `check_settings`), so a
//! suite is checked by every `cargo test` without building WebAssembly:
//!
//! ```ignore
//! #[test]
//! fn rekon_test_suite() {
//!     rekon_plugin_testing::run_image_policy_suite::<my_plugin::MyPolicy>(
//!         concat!(env!("CARGO_MANIFEST_DIR"), "/rekon-test.yaml"),
//!     );
//! }
//! ```
//!
//! The format is docs/test-format.md of the rekon repository. Objects are sent
//! as compact JSON, as the host sends them. A failing suite panics with one line
//! per failed case.

#![warn(missing_docs)]

mod suite;

use rekon_plugin_sdk::{ImagePolicy, Mutator, Validator};
use suite::{Expect, Suite};

/// Runs an image-policy suite against `P`; panics listing the failed cases.
pub fn run_image_policy_suite<P: ImagePolicy>(path: &str) {
    let suite = Suite::load(path);
    suite.run(|case, settings| {
        use rekon_plugin_sdk::image_policy::{check_settings, rank};
        if let Expect::SettingsError(want) = &case.expect {
            return suite::expect_settings_error(check_settings::<P>(settings), want);
        }
        check_settings::<P>(settings).map_err(|e| format!("settings refused: {e}"))?;
        let result = rank::<P>(settings, &case.repository(), case.tags()?);
        match &case.expect {
            Expect::Error(want) => suite::expect_error(result, want),
            Expect::Ranked(want) => {
                let got = result.map_err(|e| format!("rank failed: {e}"))?;
                suite::equal("ranking", want, &got)
            }
            Expect::Chosen(want) => {
                let got = result.map_err(|e| format!("rank failed: {e}"))?;
                suite::equal("chosen tag", &Some(want.clone()), &got.first().cloned())
            }
            other => Err(format!(
                "`{}` is not an image-policy expectation",
                other.name()
            )),
        }
    });
}

/// Runs a mutator suite against `M`; panics listing the failed cases.
pub fn run_mutator_suite<M: Mutator>(path: &str) {
    let suite = Suite::load(path);
    suite.run(|case, settings| {
        use rekon_plugin_sdk::mutator::{check_settings, mutate};
        if let Expect::SettingsError(want) = &case.expect {
            return suite::expect_settings_error(check_settings::<M>(settings), want);
        }
        check_settings::<M>(settings).map_err(|e| format!("settings refused: {e}"))?;
        let input = case.objects(&suite.dir)?;
        let result = mutate::<M>(settings, input.clone());
        match &case.expect {
            Expect::Error(want) => suite::expect_error(result, want),
            Expect::Unchanged => {
                let got = result.map_err(|e| format!("mutate failed: {e}"))?;
                if got == input {
                    Ok(())
                } else {
                    Err(format!(
                        "objects changed:\n  input:  {input:?}\n  output: {got:?}"
                    ))
                }
            }
            Expect::Objects(want) => {
                let got = result.map_err(|e| format!("mutate failed: {e}"))?;
                let want = suite::objects_from(want, &suite.dir)?;
                let got = got
                    .iter()
                    .map(|text| {
                        serde_json::from_str(text).map_err(|e| format!("bad output JSON: {e}"))
                    })
                    .collect::<Result<Vec<serde_json::Value>, _>>()?;
                let want = want
                    .iter()
                    .map(|text| serde_json::from_str(text).expect("serialized by us"))
                    .collect::<Vec<serde_json::Value>>();
                suite::equal("objects", &want, &got)
            }
            other => Err(format!("`{}` is not a mutator expectation", other.name())),
        }
    });
}

/// Runs a validator suite against `V`; panics listing the failed cases.
pub fn run_validator_suite<V: Validator>(path: &str) {
    let suite = Suite::load(path);
    suite.run(|case, settings| {
        use rekon_plugin_sdk::validator::{check_settings, validate};
        if let Expect::SettingsError(want) = &case.expect {
            return suite::expect_settings_error(check_settings::<V>(settings), want);
        }
        check_settings::<V>(settings).map_err(|e| format!("settings refused: {e}"))?;
        let input = case.objects(&suite.dir)?;
        let result = validate::<V>(settings, &input);
        match &case.expect {
            Expect::Error(want) => suite::expect_error(result, want),
            Expect::Violations(want) => {
                let got = result.map_err(|e| format!("validate failed: {e}"))?;
                suite::match_violations(want, &got)
            }
            other => Err(format!("`{}` is not a validator expectation", other.name())),
        }
    });
}

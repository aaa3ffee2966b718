//! Flux sources and resolved charts from the host (`rekon:sources/flux@0.1.0`).
//!
//! A plugin that translates objects naming Flux sources (a HelmRelease's
//! `sourceRef` or `chartRef`) reads them here: [`source`] gives a
//! HelmRepository, OCIRepository or GitRepository defined anywhere in the
//! repository, and [`helm_chart`] the exact chart version the host resolved
//! for a HelmRelease of this render (version ranges are the host's to
//! resolve, never the plugin's). Nothing reaches the network during a call.
//!
//! Using this import needs the `sources` capability:
//! `declare_capabilities!(sources)` in the plugin, `grant = ["sources"]` from
//! the operator (see [`capabilities`](crate::capabilities)). The functions
//! call the host, so they only work inside the component; natively (unit
//! tests) they panic. Put the calls behind a trait of your own and test the
//! logic over a map, as the `helm-k3s` plugin does.

use rekon_plugin_world_sources::rekon::sources::flux;
use serde_json::Value;

/// A chart version as the host resolved it (WIT `rekon:sources/flux.chart`):
/// `name` (e.g. `podinfo`), `version` (the exact version chosen, e.g.
/// `6.5.4`) and `digest` (`sha256:...`, when the index or registry gives one).
pub use rekon_plugin_world_sources::rekon::sources::flux::Chart;

/// The Flux source object `kind` `namespace`/`name` (`kind` as in a
/// `sourceRef`: `HelmRepository`, `OCIRepository`, `GitRepository`), as the
/// repository defines it (after its Kustomization's build and substitution;
/// no status), or `None` when the repository defines none by that name.
///
/// An error when the host's text is not JSON, naming the object.
pub fn source(kind: &str, namespace: &str, name: &str) -> Result<Option<Value>, String> {
    parse_source(kind, namespace, name, flux::source(kind, namespace, name))
}

/// The host's answer to `source` as JSON.
fn parse_source(
    kind: &str,
    namespace: &str,
    name: &str,
    text: Option<String>,
) -> Result<Option<Value>, String> {
    text.map(|text| {
        serde_json::from_str(&text).map_err(|e| {
            format!("the host gave {kind} {namespace}/{name} as text that is not JSON: {e}")
        })
    })
    .transpose()
}

/// The chart of HelmRelease `namespace`/`name` of this render, resolved by
/// the host before the call (`spec.chart.spec.version` against its
/// HelmRepository, or `spec.chartRef`'s OCIRepository). The error is the
/// host's: why it could not resolve the chart, naming the source and its URL.
pub fn helm_chart(namespace: &str, name: &str) -> Result<Chart, String> {
    flux::helm_chart(namespace, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_text_is_parsed_and_bad_text_named() {
        let text = r#"{"kind":"HelmRepository","spec":{"url":"https://charts.jetstack.io"}}"#;
        let object = parse_source(
            "HelmRepository",
            "flux-system",
            "jetstack",
            Some(text.into()),
        );
        assert_eq!(
            object.unwrap().unwrap()["spec"]["url"],
            "https://charts.jetstack.io"
        );
        assert_eq!(parse_source("HelmRepository", "a", "b", None), Ok(None));
        let error =
            parse_source("OCIRepository", "apps", "podinfo", Some("url: x".into())).unwrap_err();
        assert!(
            error.starts_with(
                "the host gave OCIRepository apps/podinfo as text that is not JSON: expected value"
            ),
            "{error}"
        );
    }
}

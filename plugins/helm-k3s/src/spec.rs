//! The fields of a HelmRelease (`helm.toolkit.fluxcd.io/v2`) this plugin
//! knows, each either translated, accepted because it means nothing for k3s,
//! or refused (see the README's table). A field not listed here is refused:
//! every struct denies unknown fields, and the error names the field's path.
//! Fields accepted because they mean nothing for k3s are `Option<IgnoredAny>`:
//! listed so that they are known, never read. Fields only checked are
//! `Option<Value>`/`Option<bool>`, so their presence is seen without
//! modelling their contents.

// The accepted fields are the schema, read by serde only.
#![allow(
    dead_code,
    reason = "fields accepted as meaningless for k3s are never read"
)]

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

/// `metadata` and `spec` of a HelmRelease (apiVersion, kind and status are
/// not read).
#[derive(Deserialize, Debug)]
pub struct HelmRelease {
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: Spec,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub labels: Map<String, Value>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    pub chart: Option<ChartTemplate>,
    pub chart_ref: Option<ChartRef>,
    pub interval: Option<IgnoredAny>,
    pub kube_config: Option<Value>,
    pub suspend: Option<bool>,
    pub release_name: Option<String>,
    pub target_namespace: Option<String>,
    pub storage_namespace: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<Dependency>,
    pub timeout: Option<String>,
    pub max_history: Option<IgnoredAny>,
    pub service_account_name: Option<String>,
    pub persistent_client: Option<IgnoredAny>,
    pub drift_detection: Option<DriftDetection>,
    pub install: Option<Install>,
    pub upgrade: Option<Upgrade>,
    pub test: Option<Test>,
    pub rollback: Option<IgnoredAny>,
    pub uninstall: Option<Uninstall>,
    #[serde(default)]
    pub values_from: Vec<ValuesReference>,
    pub values: Option<Value>,
    pub common_metadata: Option<Value>,
    pub post_renderers: Option<Value>,
    pub post_render_strategy: Option<IgnoredAny>,
    pub wait_strategy: Option<IgnoredAny>,
    pub health_check_exprs: Option<IgnoredAny>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartTemplate {
    pub metadata: Option<IgnoredAny>,
    pub spec: ChartSpec,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartSpec {
    pub chart: String,
    pub version: Option<String>,
    pub source_ref: SourceRef,
    pub interval: Option<IgnoredAny>,
    pub reconcile_strategy: Option<String>,
    pub values_files: Option<Value>,
    pub ignore_missing_values_files: Option<IgnoredAny>,
    pub verify: Option<Value>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceRef {
    pub api_version: Option<String>,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// `spec.chartRef`: the same fields as a `sourceRef`.
pub type ChartRef = SourceRef;

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dependency {
    pub name: String,
    pub namespace: Option<String>,
    pub ready_expr: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DriftDetection {
    pub mode: Option<String>,
    pub ignore: Option<IgnoredAny>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Install {
    pub timeout: Option<String>,
    pub strategy: Option<Value>,
    pub remediation: Option<Remediation>,
    pub disable_take_ownership: Option<bool>,
    pub disable_wait: Option<bool>,
    pub disable_wait_for_jobs: Option<bool>,
    pub disable_hooks: Option<bool>,
    #[serde(rename = "disableOpenAPIValidation")]
    pub disable_open_api_validation: Option<bool>,
    pub disable_schema_validation: Option<bool>,
    pub replace: Option<bool>,
    #[serde(rename = "skipCRDs")]
    pub skip_crds: Option<bool>,
    #[serde(rename = "crds")]
    pub crds: Option<String>,
    pub create_namespace: Option<bool>,
    pub server_side_apply: Option<bool>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Upgrade {
    pub timeout: Option<String>,
    pub strategy: Option<Value>,
    pub remediation: Option<Remediation>,
    pub disable_take_ownership: Option<bool>,
    pub disable_wait: Option<bool>,
    pub disable_wait_for_jobs: Option<bool>,
    pub disable_hooks: Option<bool>,
    #[serde(rename = "disableOpenAPIValidation")]
    pub disable_open_api_validation: Option<bool>,
    pub disable_schema_validation: Option<bool>,
    pub force: Option<bool>,
    pub preserve_values: Option<bool>,
    pub cleanup_on_fail: Option<bool>,
    #[serde(rename = "crds")]
    pub crds: Option<String>,
    pub server_side_apply: Option<String>,
    pub chart_name_change_strategy: Option<String>,
}

/// `install.remediation` and `upgrade.remediation` (`strategy` is upgrade's only).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Remediation {
    pub retries: Option<i64>,
    pub ignore_test_failures: Option<IgnoredAny>,
    pub remediate_last_failure: Option<bool>,
    pub strategy: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Test {
    pub enable: Option<bool>,
    pub timeout: Option<IgnoredAny>,
    pub ignore_failures: Option<IgnoredAny>,
    pub filters: Option<IgnoredAny>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Uninstall {
    pub timeout: Option<String>,
    pub disable_hooks: Option<bool>,
    pub keep_history: Option<bool>,
    pub disable_wait: Option<bool>,
    pub deletion_propagation: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValuesReference {
    pub kind: String,
    pub name: String,
    pub values_key: Option<String>,
    pub target_path: Option<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub literal: bool,
}

/// A source object, for its `spec` (errors then name `spec.<field>`).
#[derive(Deserialize, Debug)]
pub struct Source<T> {
    pub spec: T,
}

/// A HelmRepository (`source.toolkit.fluxcd.io/v1`) as far as a chart
/// location needs it.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmRepositorySpec {
    pub url: String,
    pub secret_ref: Option<LocalRef>,
    pub cert_secret_ref: Option<LocalRef>,
    pub pass_credentials: Option<bool>,
    pub interval: Option<IgnoredAny>,
    pub insecure: Option<bool>,
    pub timeout: Option<IgnoredAny>,
    pub suspend: Option<bool>,
    pub access_from: Option<IgnoredAny>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub provider: Option<String>,
}

/// An OCIRepository (`source.toolkit.fluxcd.io/v1`) as far as a chart
/// location needs it.
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OciRepositorySpec {
    pub url: String,
    #[serde(rename = "ref")]
    pub reference: Option<OciRef>,
    pub layer_selector: Option<LayerSelector>,
    pub provider: Option<String>,
    pub secret_ref: Option<LocalRef>,
    pub verify: Option<Value>,
    pub service_account_name: Option<String>,
    pub cert_secret_ref: Option<LocalRef>,
    pub proxy_secret_ref: Option<LocalRef>,
    pub interval: Option<IgnoredAny>,
    pub timeout: Option<IgnoredAny>,
    pub ignore: Option<IgnoredAny>,
    pub insecure: Option<bool>,
    pub suspend: Option<bool>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OciRef {
    pub digest: Option<String>,
    pub semver: Option<String>,
    pub semver_filter: Option<String>,
    pub tag: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LayerSelector {
    pub media_type: Option<String>,
    pub operation: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct LocalRef {
    pub name: String,
}

/// Deserializes `value`, or an error naming the field's path: one `what`
/// (e.g. `HelmRelease v2`) does not have is refused as unknown rather than
/// dropped.
pub fn parse<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if inner.starts_with("unknown field") {
            format!("{path}: unknown field, refused rather than dropped (helm-k3s knows the fields of {what})")
        } else if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

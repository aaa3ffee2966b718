//! Flux's objects as they are written in a repository: the fields of the
//! Flux APIs rekon reads (source v1 GitRepository, kustomize v1
//! Kustomization, image v1beta2 and v1 ImageRepository, ImagePolicy and
//! ImageUpdateAutomation). Every struct refuses unknown fields, so a typo
//! or a field rekon does not implement is an error naming the file, line
//! and field, never ignored. Fields Flux has and rekon does not support
//! yet are read and refused by name in [`super::discover`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// `metadata` (only what rekon uses; the rest of Kubernetes' metadata is
/// allowed, as the API server would).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (Flux objects are namespaced; empty is
    /// `default`, as `kubectl apply` would make it).
    #[serde(default)]
    pub namespace: Option<String>,
    /// `metadata.labels`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// An object: `apiVersion`, `kind`, `metadata`, `spec` (and a `status`,
/// which rekon ignores as the API server does on apply).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Object<S> {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata`.
    pub metadata: Meta,
    /// `spec`.
    pub spec: S,
    /// `status` (ignored).
    #[serde(default, rename = "status")]
    _status: Option<serde::de::IgnoredAny>,
}

/// A reference by name (`secretRef`, `certSecretRef`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalRef {
    /// The name, in the object's namespace.
    pub name: String,
}

/// A Kustomization's `decryption`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Decryption {
    /// `provider`: `sops` is the only one Flux has.
    pub provider: String,
    /// `secretRef`: the Secret whose `*.agekey` entries hold age identities.
    #[serde(default)]
    pub secret_ref: Option<LocalRef>,
}

/// A reference to an object, possibly in another namespace.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CrossRef {
    /// `apiVersion` (optional).
    #[serde(default)]
    pub api_version: Option<String>,
    /// `kind` (where the API asks for one).
    #[serde(default)]
    pub kind: Option<String>,
    /// `name`.
    pub name: String,
    /// `namespace` (default: the referring object's).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `GitRepository.spec` (source.toolkit.fluxcd.io/v1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GitRepositorySpec {
    /// `url`: https, http, ssh.
    pub url: String,
    /// `secretRef`: credentials in a Secret of the object's namespace.
    #[serde(default)]
    pub secret_ref: Option<LocalRef>,
    /// `interval` (required by Flux).
    pub interval: String,
    /// `timeout` (default 60s).
    #[serde(default)]
    pub timeout: Option<String>,
    /// `ref` (default branch `master`).
    #[serde(default, rename = "ref")]
    pub reference: Option<GitRef>,
    /// `ignore`: gitignore patterns replacing the default exclusions.
    #[serde(default)]
    pub ignore: Option<String>,
    /// `suspend`.
    #[serde(default)]
    pub suspend: bool,
    /// `provider` (only `generic` is built).
    #[serde(default)]
    pub provider: Option<String>,
    /// Not built: refused by name.
    #[serde(default)]
    pub verify: Option<Value>,
    /// Not built: refused by name.
    #[serde(default)]
    pub proxy_secret_ref: Option<Value>,
    /// Not built: refused by name when true.
    #[serde(default)]
    pub recurse_submodules: bool,
    /// Not built: refused by name.
    #[serde(default)]
    pub include: Option<Value>,
    /// Not built: refused by name.
    #[serde(default)]
    pub sparse_checkout: Option<Value>,
}

/// `GitRepository.spec.ref`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitRef {
    /// `branch`.
    #[serde(default)]
    pub branch: Option<String>,
    /// `tag`.
    #[serde(default)]
    pub tag: Option<String>,
    /// `semver`: a range over the tags.
    #[serde(default)]
    pub semver: Option<String>,
    /// `name`: a full reference (`refs/heads/main`, `refs/pull/1/head`).
    #[serde(default)]
    pub name: Option<String>,
    /// `commit`: a SHA-1.
    #[serde(default)]
    pub commit: Option<String>,
}

/// `Kustomization.spec` (kustomize.toolkit.fluxcd.io/v1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KustomizationSpec {
    /// `sourceRef` (required).
    pub source_ref: Option<CrossRef>,
    /// `path` (default the source's root).
    #[serde(default)]
    pub path: Option<String>,
    /// `interval` (required).
    pub interval: String,
    /// `retryInterval` (default: interval).
    #[serde(default)]
    pub retry_interval: Option<String>,
    /// `timeout` (default: interval).
    #[serde(default)]
    pub timeout: Option<String>,
    /// `prune` (required).
    pub prune: bool,
    /// `wait`.
    #[serde(default)]
    pub wait: bool,
    /// `healthChecks`.
    #[serde(default)]
    pub health_checks: Vec<CrossRef>,
    /// `dependsOn`.
    #[serde(default)]
    pub depends_on: Vec<CrossRef>,
    /// `suspend`.
    #[serde(default)]
    pub suspend: bool,
    /// `targetNamespace`.
    #[serde(default)]
    pub target_namespace: Option<String>,
    /// `namePrefix`.
    #[serde(default)]
    pub name_prefix: Option<String>,
    /// `nameSuffix`.
    #[serde(default)]
    pub name_suffix: Option<String>,
    /// `commonMetadata`.
    #[serde(default)]
    pub common_metadata: Option<CommonMetadata>,
    /// `patches` (kustomize's shape, checked by the build).
    #[serde(default)]
    pub patches: Vec<Value>,
    /// `images` (kustomize's shape, checked by the build).
    #[serde(default)]
    pub images: Vec<Value>,
    /// `components`.
    #[serde(default)]
    pub components: Vec<String>,
    /// `ignoreMissingComponents`.
    #[serde(default)]
    pub ignore_missing_components: bool,
    /// `force`: recreate objects whose immutable fields changed.
    #[serde(default)]
    pub force: bool,
    /// `serviceAccountName`: apply as this account.
    #[serde(default)]
    pub service_account_name: Option<String>,
    /// `postBuild`.
    #[serde(default)]
    pub post_build: Option<PostBuild>,
    /// `decryption`: SOPS with age keys from `secretRef`.
    #[serde(default)]
    pub decryption: Option<Decryption>,
    /// Not built: refused by name.
    #[serde(default)]
    pub kube_config: Option<Value>,
    /// Not built: refused by name.
    #[serde(default)]
    pub health_check_exprs: Option<Value>,
    /// Not built: refused by name.
    #[serde(default)]
    pub deletion_policy: Option<Value>,
}

/// `commonMetadata`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommonMetadata {
    /// `labels`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `annotations`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// `postBuild`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostBuild {
    /// `substitute`.
    #[serde(default)]
    pub substitute: BTreeMap<String, String>,
    /// `substituteFrom`.
    #[serde(default)]
    pub substitute_from: Vec<SubstituteFrom>,
}

/// A `substituteFrom` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstituteFrom {
    /// `ConfigMap` or `Secret`.
    pub kind: String,
    /// Its name, in the Kustomization's namespace.
    pub name: String,
    /// A missing object is skipped.
    #[serde(default)]
    pub optional: bool,
}

/// `ImageRepository.spec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageRepositorySpec {
    /// `image`: `host/path` (Docker Hub when there is no host).
    pub image: String,
    /// `interval`.
    pub interval: String,
    /// `timeout`.
    #[serde(default)]
    pub timeout: Option<String>,
    /// `secretRef`: a `kubernetes.io/dockerconfigjson` Secret.
    #[serde(default)]
    pub secret_ref: Option<LocalRef>,
    /// `certSecretRef`: a Secret with `ca.crt`.
    #[serde(default)]
    pub cert_secret_ref: Option<LocalRef>,
    /// `insecure`: plain HTTP.
    #[serde(default)]
    pub insecure: bool,
    /// `exclusionList` (default `^.*\.sig$`).
    #[serde(default)]
    pub exclusion_list: Option<Vec<String>>,
    /// `suspend`.
    #[serde(default)]
    pub suspend: bool,
    /// `provider` (only `generic` is built).
    #[serde(default)]
    pub provider: Option<String>,
    /// Not built: refused by name.
    #[serde(default)]
    pub service_account_name: Option<Value>,
    /// Not built: refused by name.
    #[serde(default)]
    pub proxy_secret_ref: Option<Value>,
    /// Accepted: Flux's cross-namespace policy reference allow-list; rekon
    /// reads the whole repository.
    #[serde(default)]
    pub access_from: Option<Value>,
}

/// `ImagePolicy.spec`: `imageRepositoryRef` plus the flux-policy plugin's
/// settings (`filterTags`, `policy`), which keep their JSON shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImagePolicySpec {
    /// `imageRepositoryRef`.
    pub image_repository_ref: CrossRef,
    /// `filterTags` (`pattern`, `extract`).
    #[serde(default)]
    pub filter_tags: Option<Value>,
    /// `policy` (`semver`, `alphabetical` or `numerical`).
    pub policy: Value,
    /// `digestReflectionPolicy`: `Never` (default), `IfNotPresent`, `Always`.
    #[serde(default)]
    pub digest_reflection_policy: Option<String>,
    /// `interval` (with `digestReflectionPolicy: Always`).
    #[serde(default)]
    pub interval: Option<String>,
}

/// `ImageUpdateAutomation.spec`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageUpdateAutomationSpec {
    /// `sourceRef`: a GitRepository.
    pub source_ref: CrossRef,
    /// `git`.
    #[serde(default)]
    pub git: Option<AutomationGit>,
    /// `interval`.
    pub interval: String,
    /// `update`.
    #[serde(default)]
    pub update: Option<AutomationUpdate>,
    /// `policySelector`.
    #[serde(default)]
    pub policy_selector: Option<LabelSelector>,
    /// `suspend`.
    #[serde(default)]
    pub suspend: bool,
}

/// `ImageUpdateAutomation.spec.git`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationGit {
    /// `checkout.ref`.
    #[serde(default)]
    pub checkout: Option<Checkout>,
    /// `commit`.
    #[serde(default)]
    pub commit: Option<Commit>,
    /// `push`.
    #[serde(default)]
    pub push: Option<Push>,
}

/// `git.checkout`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    /// `ref`.
    #[serde(rename = "ref")]
    pub reference: GitRef,
}

/// `git.commit`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Commit {
    /// `author` (`name`, `email`).
    pub author: Author,
    /// `messageTemplate`: a Go text/template.
    #[serde(default)]
    pub message_template: Option<String>,
    /// Values the template may use as `.Values`.
    #[serde(default)]
    pub message_template_values: Option<BTreeMap<String, String>>,
    /// Not built: refused by name.
    #[serde(default)]
    pub signing_key: Option<Value>,
}

/// `git.commit.author`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    /// `name`.
    pub name: String,
    /// `email`.
    pub email: String,
}

/// `git.push`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Push {
    /// `branch`.
    #[serde(default)]
    pub branch: Option<String>,
    /// `refspec` (only `refs/heads/A:refs/heads/B` forms are built).
    #[serde(default)]
    pub refspec: Option<String>,
    /// Not built: refused by name.
    #[serde(default)]
    pub options: Option<Value>,
}

/// `update`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationUpdate {
    /// `path` (default the repository root).
    #[serde(default)]
    pub path: Option<String>,
    /// `strategy` (only `Setters`).
    #[serde(default)]
    pub strategy: Option<String>,
}

/// A label selector (`matchLabels`, `matchExpressions`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelector {
    /// `matchLabels`.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// `matchExpressions`.
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
}

/// A `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// `key`.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    pub operator: String,
    /// `values`.
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Whether `labels` are selected (an empty selector selects all).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let value = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => value.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

/// `Alert.spec` (notification.toolkit.fluxcd.io/v1beta3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AlertSpec {
    /// `providerRef`: a Provider in the Alert's namespace.
    pub provider_ref: LocalRef,
    /// `eventSeverity`: `info` (default) or `error`.
    #[serde(default)]
    pub event_severity: Option<String>,
    /// `eventSources`.
    pub event_sources: Vec<EventSourceRef>,
    /// `inclusionList`: regexes a message must match one of.
    #[serde(default)]
    pub inclusion_list: Vec<String>,
    /// `exclusionList`: regexes of messages not sent.
    #[serde(default)]
    pub exclusion_list: Vec<String>,
    /// `eventMetadata`: added to each event's metadata.
    #[serde(default)]
    pub event_metadata: BTreeMap<String, String>,
    /// `summary` (deprecated by Flux for `eventMetadata.summary`, still read).
    #[serde(default)]
    pub summary: Option<String>,
    /// `suspend`.
    #[serde(default)]
    pub suspend: bool,
}

/// An `eventSources` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventSourceRef {
    /// `apiVersion` (not compared, as in Flux).
    #[serde(default)]
    pub api_version: Option<String>,
    /// `kind`.
    pub kind: String,
    /// `name`, `*` for all.
    pub name: String,
    /// `namespace` (default: the Alert's).
    #[serde(default)]
    pub namespace: Option<String>,
    /// `matchLabels` (with `name: '*'`).
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
}

/// `Provider.spec` (notification.toolkit.fluxcd.io/v1beta3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProviderSpec {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `address`.
    #[serde(default)]
    pub address: Option<String>,
    /// `channel`.
    #[serde(default)]
    pub channel: Option<String>,
    /// `username`.
    #[serde(default)]
    pub username: Option<String>,
    /// `proxy`.
    #[serde(default)]
    pub proxy: Option<String>,
    /// `secretRef`: `address`, `token`, `username`, `password`, `headers`, `proxy`.
    #[serde(default)]
    pub secret_ref: Option<LocalRef>,
    /// `suspend`.
    #[serde(default)]
    pub suspend: bool,
    /// Accepted: deprecated and unused by Flux's v1beta3 itself.
    #[serde(default)]
    pub interval: Option<String>,
    /// Not built: refused by name.
    #[serde(default)]
    pub timeout: Option<Value>,
    /// Not built: refused by name.
    #[serde(default)]
    pub cert_secret_ref: Option<Value>,
    /// Not built: refused by name.
    #[serde(default)]
    pub commit_status_expr: Option<Value>,
    /// Not built: refused by name.
    #[serde(default)]
    pub service_account_name: Option<Value>,
}

/// `Receiver.spec` (notification.toolkit.fluxcd.io/v1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReceiverSpec {
    /// `type`: who sends the webhooks.
    #[serde(rename = "type")]
    pub kind: String,
    /// `interval` (how often Flux rereads the Secret; rekon reads it when
    /// it reads the objects).
    #[serde(default)]
    pub interval: Option<String>,
    /// `events`: only these trigger.
    #[serde(default)]
    pub events: Vec<String>,
    /// `resources`: what a delivery reconciles.
    #[serde(default)]
    pub resources: Vec<ReceiverResource>,
    /// `resourceFilter` (a CEL expression; refused).
    #[serde(default)]
    pub resource_filter: Option<Value>,
    /// `secretRef`: the Secret whose `token` signs deliveries and salts the path.
    pub secret_ref: LocalRef,
    /// `suspend`.
    #[serde(default)]
    pub suspend: bool,
}

/// One of a Receiver's `resources`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReceiverResource {
    /// `apiVersion` (optional).
    #[serde(default)]
    pub api_version: Option<String>,
    /// `kind`.
    pub kind: String,
    /// `name`, or `*` with `matchLabels`.
    pub name: String,
    /// `namespace` (default: the Receiver's).
    #[serde(default)]
    pub namespace: Option<String>,
    /// `matchLabels`.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
}

/// `HelmRepository.spec` (source.toolkit.fluxcd.io/v1): where the charts
/// of HelmReleases come from (see [`crate::charts`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmRepositorySpec {
    /// `url`: `https://...` (an `index.yaml` below it) or `oci://host/path`.
    pub url: String,
    /// `type`: `default` (HTTP index) or `oci`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `secretRef`: `username`/`password` keys, or a
    /// `kubernetes.io/dockerconfigjson` Secret for `oci`.
    #[serde(default)]
    pub secret_ref: Option<LocalRef>,
    /// `certSecretRef`: a Secret with `ca.crt`.
    #[serde(default)]
    pub cert_secret_ref: Option<LocalRef>,
    /// `insecure`: plain HTTP (`oci` only).
    #[serde(default)]
    pub insecure: bool,
    /// `interval`: how long a read index or tag list is reused.
    #[serde(default)]
    pub interval: Option<String>,
    /// `timeout` of each request.
    #[serde(default)]
    pub timeout: Option<String>,
    /// `provider` (only `generic` is built).
    #[serde(default)]
    pub provider: Option<String>,
    /// `passCredentials`: credentials sent to chart hosts other than the
    /// repository's (read by the translating plugin).
    #[serde(default)]
    pub pass_credentials: bool,
    /// `suspend`.
    #[serde(default)]
    pub suspend: bool,
    /// Accepted: Flux's cross-namespace allow-list; rekon reads the whole
    /// repository.
    #[serde(default)]
    pub access_from: Option<Value>,
}

/// `OCIRepository.spec` (source.toolkit.fluxcd.io/v1beta2 and v1), as a
/// HelmRelease's `chartRef` reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OciRepositorySpec {
    /// `url`: `oci://host/path`.
    pub url: String,
    /// `ref`: which tag (default `latest`).
    #[serde(default, rename = "ref")]
    pub reference: Option<OciReference>,
    /// `secretRef`: a `kubernetes.io/dockerconfigjson` Secret.
    #[serde(default)]
    pub secret_ref: Option<LocalRef>,
    /// `certSecretRef`: a Secret with `ca.crt`.
    #[serde(default)]
    pub cert_secret_ref: Option<LocalRef>,
    /// `insecure`: plain HTTP.
    #[serde(default)]
    pub insecure: bool,
    /// `interval`.
    #[serde(default)]
    pub interval: Option<String>,
    /// `timeout`.
    #[serde(default)]
    pub timeout: Option<String>,
    /// `provider` (only `generic` is built).
    #[serde(default)]
    pub provider: Option<String>,
    /// `layerSelector`: meaningless for a chart (Helm picks the chart layer).
    #[serde(default)]
    pub layer_selector: Option<Value>,
    /// `suspend`.
    #[serde(default)]
    pub suspend: bool,
    /// Not built: refused by name.
    #[serde(default)]
    pub verify: Option<Value>,
    /// Not built: refused by name.
    #[serde(default)]
    pub service_account_name: Option<Value>,
    /// Not built: refused by name.
    #[serde(default)]
    pub proxy_secret_ref: Option<Value>,
    /// `ignore`: meaningless for a chart.
    #[serde(default)]
    pub ignore: Option<Value>,
}

/// `OCIRepository.spec.ref`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OciReference {
    /// `tag`.
    #[serde(default)]
    pub tag: Option<String>,
    /// `semver`: a range over the tags.
    #[serde(default)]
    pub semver: Option<String>,
    /// `semverFilter`: a regular expression tags must match first.
    #[serde(default)]
    pub semver_filter: Option<String>,
    /// `digest`: not usable by k3s's HelmChart (it takes a version): refused.
    #[serde(default)]
    pub digest: Option<String>,
}

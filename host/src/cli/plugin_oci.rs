//! `rekon plugin push` and `rekon plugin pull`: plugins as Wasm OCI
//! artifacts in the images' registry (see [`crate::plugin::oci`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::config::{Config, RegistryConfig};
use crate::plugin::oci::{self, ArtifactRef, ComponentInfo};
use crate::plugin::{write_atomically, Limits, PluginSource, World};

/// Where the registry is and how to reach it.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Take the registry's settings (url, insecure, ca-file, credentials)
    /// from the `[registries.NAME]` table of this config whose url is the
    /// reference's host. Without a match: anonymous, or basic with
    /// $REKON_REGISTRY_USERNAME and $REKON_REGISTRY_PASSWORD.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Plain HTTP (a local registry), as `insecure = true`.
    #[arg(long)]
    plain_http: bool,
    /// An extra CA certificate (PEM) to trust, as `ca-file`.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
}

impl RegistryArgs {
    fn registry(&self, reference: &ArtifactRef) -> anyhow::Result<RegistryConfig> {
        let registries = match &self.config {
            Some(file) => Config::load(file)?.registries,
            None => BTreeMap::new(),
        };
        let mut registry = oci::registry_for(&reference.registry, &registries);
        registry.insecure |= self.plain_http;
        if let Some(ca) = &self.ca_file {
            registry.ca_file = Some(ca.clone());
        }
        Ok(registry)
    }
}

/// Push a plugin to an OCI registry, as a Wasm OCI artifact.
///
/// The artifact is the layout wkg and other Wasm tools use: config
/// application/vnd.wasm.config.v0+json, one application/wasm layer holding
/// the component. The file is loaded first, so only a component rekon can
/// run is pushed. Prints the manifest digest, to pin it in rekon.toml with
/// path = "oci://REGISTRY/REPO@sha256:…".
///
/// Examples:
///   rekon plugin push flux_policy.wasm harbor.lan/rekon/flux-policy:1.0.0 --config rekon.toml
///   rekon plugin push flux_policy.wasm 127.0.0.1:5000/rekon/flux-policy:dev --plain-http
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct PushArgs {
    /// The plugin component (.wasm).
    file: PathBuf,
    /// REGISTRY/REPO:TAG (an oci:// prefix is allowed).
    reference: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Pull a plugin from an OCI registry into a file.
///
/// Checks that the artifact is a Wasm OCI artifact, that its manifest has
/// the digest the reference pins (for @sha256:…) and that the component has
/// its layer's digest. Prints the manifest digest.
///
/// Examples:
///   rekon plugin pull harbor.lan/rekon/flux-policy:1.0.0 -o flux_policy.wasm --config rekon.toml
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct PullArgs {
    /// REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:HEX (an oci:// prefix is allowed).
    reference: String,
    /// Output file [default: the repository's last segment, .wasm, here].
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn push(cli: &super::Cli, args: &PushArgs) -> anyhow::Result<ExitCode> {
    let reference: ArtifactRef = args.reference.parse()?;
    if reference.tag.is_none() {
        anyhow::bail!("{reference}: push to a tag (REGISTRY/REPO:TAG); the digest is printed");
    }
    let wasm =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    // Granted exactly what it declares: pushing judges what the plugin is,
    // not what a node will grant it.
    let declared = crate::plugin::capabilities::read_declaration(&wasm)
        .map(|d| d.capabilities)
        .unwrap_or_default();
    let plugin = cli.runtime(None)?.load(&PluginSource {
        name: reference.repository.clone(),
        path: args.file.clone(),
        sha256: None,
        limits: Limits {
            grant: crate::plugin::Grant::of(declared),
            ..Limits::default()
        },
    })?;
    let info = plugin.info();
    let version = info.contract.rsplit('@').next().unwrap_or_default();
    let interface = match info.world {
        World::ImagePolicy => "image-policy",
        World::ManifestMutator => "mutator",
        World::ManifestValidator => "validator",
    };
    let component = ComponentInfo {
        exports: ["plugin", interface]
            .iter()
            .map(|i| format!("{}/{i}@{version}", crate::plugin::contract::PACKAGE))
            .collect(),
        imports: info.imports,
    };
    let title = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let registry = args.registry.registry(&reference)?;
    let digest =
        super::apply::block_on(oci::push(&reference, &registry, &wasm, &component, &title))??;
    eprintln!(
        "pushed {} ({} bytes, {}) to {reference}",
        args.file.display(),
        wasm.len(),
        info.world
    );
    println!("{digest}");
    Ok(ExitCode::SUCCESS)
}

pub fn pull(args: &PullArgs) -> anyhow::Result<ExitCode> {
    let reference: ArtifactRef = args.reference.parse()?;
    let registry = args.registry.registry(&reference)?;
    let name = reference.to_string();
    let pulled = super::apply::block_on(oci::pull(&reference, &registry, &name))??;
    let output = args.output.clone().unwrap_or_else(|| {
        let last = reference.repository.rsplit('/').next().unwrap_or("plugin");
        PathBuf::from(format!("{last}.wasm"))
    });
    write_atomically(&output, &pulled.wasm)?;
    eprintln!(
        "pulled {reference} ({} bytes, layer {}) to {}",
        pulled.wasm.len(),
        pulled.layer_digest,
        output.display()
    );
    println!("{}", pulled.manifest_digest);
    Ok(ExitCode::SUCCESS)
}

#!/usr/bin/env bash
# Render the Pi website example: build the plugins (installing the
# wasm32-wasip2 target if missing), then `rekon render` its rekon.toml.
# Extra arguments go to `rekon render` (e.g. --explain, or a kustomization name).
#
# stdout is the rendered YAML and nothing else (CI pipes it to a file); what is
# being built, and cargo's progress, go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/build-plugins.sh
echo "building rekon (debug); the first build compiles some 300 crates (wasmtime and Cranelift, the Kubernetes client, libgit2 and OpenSSL from source) and takes several minutes, later ones seconds" >&2
# `cargo run` rather than target/debug/rekon: it finds the binary wherever
# CARGO_TARGET_DIR (or a cargo config) puts it.
exec cargo run -p rekon -- render --config examples/pi-website/rekon.toml "$@"

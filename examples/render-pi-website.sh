#!/usr/bin/env bash
# Render the Pi website example: build the plugins (installing the
# wasm32-wasip2 target if missing), then `rekon render` its rekon.toml.
# Extra arguments go to `rekon render` (e.g. --explain, or a kustomization name).
set -euo pipefail
cd "$(dirname "$0")/.."
tests/build-plugins.sh
cargo build --quiet -p rekon
exec target/debug/rekon render --config examples/pi-website/rekon.toml "$@"

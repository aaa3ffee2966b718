#!/usr/bin/env bash
# Run every test of rekon: builds the plugins and test fixtures as
# WebAssembly components (installing the wasm32-wasip2 target if missing),
# then the host's unit and integration tests (which include `rekon test` over
# every first-party plugin suite) and the plugins' native unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
tests/build-plugins.sh
cargo test --workspace --no-fail-fast "$@"

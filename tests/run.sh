#!/usr/bin/env bash
# Run every test of rekon: builds the plugins and test fixtures as
# WebAssembly components (installing the wasm32-wasip2 target if missing),
# then the host's unit and integration tests (which include `rekon test` over
# every first-party plugin suite) and the plugins' native unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# tests/registry.rs runs a real registry, pushes with skopeo and makes a CA with
# openssl (Debian packages).
if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null || ! command -v openssl >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-registry skopeo openssl
    else
        echo "tests/run.sh: docker-registry/skopeo/openssl missing and not root: the registry tests will skip (and fail under CI)" >&2
    fi
fi
tests/build-plugins.sh
cargo test --workspace --no-fail-fast "$@"

#!/usr/bin/env bash
# Build the plugin as a WebAssembly component: dist/{{name}}.wasm.
# Needs the Rust toolchain; installs the wasm32-wasip2 target once.
set -euo pipefail
cd "$(dirname "$0")"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
cargo build --release --target wasm32-wasip2
mkdir -p dist
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" dist/{{name}}.wasm
echo "built dist/{{name}}.wasm"

#!/usr/bin/env bash
# Build every first-party plugin and test fixture as a WebAssembly component.
# Output: target/wasm32-wasip2/release/*.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "installing the wasm32-wasip2 target (once)" >&2
  rustup target add wasm32-wasip2
fi
packages=()
for manifest in plugins/*/Cargo.toml tests/fixtures/*/Cargo.toml; do
  dir=$(dirname "$manifest")
  [ "$dir" = plugins/sdk ] && continue
  packages+=(-p "$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n1)")
done
# Cargo's own progress (a "Compiling ..." line per crate, and a bar on a
# terminal) goes to stderr, like the line below: stdout stays free for callers
# that pipe what comes after (examples/render-pi-website.sh prints YAML there).
echo "building $(( ${#packages[@]} / 2 )) plugins and test fixtures for wasm32-wasip2 (release); the first build also compiles their dependencies (wit-bindgen, serde, ...) and takes minutes, later ones seconds" >&2
# One codegen unit and fat LTO: the plugins come out about 10% smaller and
# 5-7% faster per object (docs/PERFORMANCE.md). Set here, for this build only,
# not in the workspace's release profile, which the host's benches also use.
CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  cargo build --release --target wasm32-wasip2 "${packages[@]}"

# The example repository loads its plugins from examples/pi-website/plugins/.
out=target/wasm32-wasip2/release
mkdir -p examples/pi-website/plugins
for name in flux-policy sortable-policy readiness-probe traefik-priority image-validator; do
  cp "$out/${name//-/_}.wasm" "examples/pi-website/plugins/$name.wasm"
done

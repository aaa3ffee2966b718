#!/usr/bin/env bash
# Build arm64-affinity as a WebAssembly component: dist/arm64-affinity.wasm.
# Uses $COMPONENTIZE_JS when set, otherwise the componentize-js that
# `npm install` puts in node_modules (once). The WIT is rekon's own (../../../wit).
# Declaring the interest needs rekon: $REKON when set, otherwise `rekon` on PATH.
set -euo pipefail
cd "$(dirname "$0")"
componentize=${COMPONENTIZE_JS:-node_modules/.bin/componentize-js}
if [ -z "${COMPONENTIZE_JS:-}" ] && [ ! -x "$componentize" ]; then
  npm install --no-audit --no-fund
fi
mkdir -p dist
# No WASI features: the plugin logs through the host's `log` and needs no
# clock, randomness, stdio or HTTP, so the component imports none of them.
"$componentize" src/plugin.js --wit ../../../wit --world-name manifest-mutator-plugin \
  --disable stdio random clocks http fetch-event -o dist/arm64-affinity.wasm
# The interest (docs/plugins.md, "Interest"): only the workloads POD_SPEC in
# src/plugin.js knows are shown to the plugin; everything else stays out of
# the sandbox. One JSON rule per --interest; an object is shown when any matches.
"${REKON:-rekon}" plugin annotate dist/arm64-affinity.wasm -o dist/arm64-affinity.wasm \
  --interest '{"groups":["apps"],"kinds":["Deployment","StatefulSet","DaemonSet"]}' \
  --interest '{"groups":["batch"],"kinds":["Job","CronJob"]}'
echo "built dist/arm64-affinity.wasm"

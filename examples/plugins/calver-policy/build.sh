#!/usr/bin/env bash
# Build calver-policy as a WebAssembly component: dist/calver-policy.wasm.
# Uses $COMPONENTIZE_PY when set, otherwise `componentize-py` from PATH
# (`pip install -r requirements.txt`). The WIT is rekon's own (../../../wit).
set -euo pipefail
cd "$(dirname "$0")"
componentize=${COMPONENTIZE_PY:-componentize-py}
mkdir -p dist
"$componentize" -d ../../../wit -w image-policy-plugin componentize app -o dist/calver-policy.wasm
echo "built dist/calver-policy.wasm"

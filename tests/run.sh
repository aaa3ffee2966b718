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
# tests/automation.rs pushes over ssh to an sshd it starts (OpenSSH's server
# and ssh-keygen; the service itself is not enabled or started here).
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-server openssh-client
    else
        echo "tests/run.sh: openssh-server missing and not root: the ssh remote tests will skip (and fail under CI)" >&2
    fi
fi
# tests/sops.rs wraps SOPS data keys with the real age CLI (age, age-keygen).
if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends age
    else
        echo "tests/run.sh: age missing and not root: the SOPS tests will fail" >&2
    fi
fi
# tests/status_page.rs loads rekon's status page in headless Chromium (DOM
# checks and phone/desktop screenshots).
if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
    else
        echo "tests/run.sh: chromium missing and not root: the status page browser test will skip" >&2
    fi
fi
# tests/languages.rs, tests/scaffold.rs and tests/docs.rs build plugins in
# JavaScript (componentize-js, npm) and Python (componentize-py, PyPI). Both
# are installed once under target/lang-tools with the versions the examples
# pin (tests/scaffold.rs checks `rekon plugin new` writes the same), downloads
# cached there too, so reruns install nothing.
tools=target/lang-tools
if ! command -v npm >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm python3 python3-venv
    else
        echo "tests/run.sh: npm or python3-venv missing and not root: the JavaScript/Python plugin tests will fail" >&2
    fi
fi
# Reinstalled when the pins change (the copy beside the install differs).
js=examples/plugins/arm64-affinity
if ! cmp -s "$js/package-lock.json" "$tools/node/package-lock.json" || [ ! -x "$tools/node/node_modules/.bin/componentize-js" ]; then
    # The JavaScript example's lock file pins componentize-js and everything it pulls in.
    rm -rf "$tools/node" && mkdir -p "$tools/node"
    cp "$js/package.json" "$js/package-lock.json" "$tools/node/"
    (cd "$tools/node" && npm ci --cache ../npm-cache --no-audit --no-fund)
fi
py=examples/plugins/calver-policy
if ! cmp -s "$py/requirements.txt" "$tools/python/requirements.txt" || [ ! -x "$tools/python/bin/componentize-py" ]; then
    rm -rf "$tools/python"
    python3 -m venv "$tools/python"
    "$tools/python/bin/pip" install --cache-dir "$tools/pip-cache" --disable-pip-version-check --quiet \
        -r "$py/requirements.txt"
    cp "$py/requirements.txt" "$tools/python/"
fi
tests/build-plugins.sh
cargo test --workspace --no-fail-fast "$@"

#!/usr/bin/env bash
# arm64, for real (issue #5): cross-build rekon for the Pi
# (aarch64-unknown-linux-gnu, Cargo profile `pi`) and RUN it under qemu
# user-mode emulation, so that Cranelift's aarch64 backend compiles the
# plugins (emulated) instead of only being compiled itself:
#
#   - `rekon test plugins/`: every first-party suite, `N passed, 0 failed`;
#   - `rekon render` of examples/pi-website, compared with the native render;
#   - the cache: the emulated run compiles every plugin (a fresh cache
#     directory, and entries are keyed by the engine's compatibility hash,
#     which differs between x86_64 and aarch64), a second run loads them.
#
# Installs what is missing (as root, no prompts): the Rust target, and the
# Debian packages gcc-aarch64-linux-gnu, libc6-dev-arm64-cross,
# qemu-user-static (and make, perl). Needs the plugins built (tests/build-plugins.sh, which
# .ci/run runs before this; run here if they are absent).
#
# Usage: tests/cross-arm64.sh [PROFILE]   (default `pi`; `release` is faster to build)
# The binary: target/aarch64-unknown-linux-gnu/PROFILE/rekon
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
profile=${1:-pi}
case "$profile" in
  dev) outdir=debug ;;
  *) outdir=$profile ;;
esac
bin=target/$target/$outdir/rekon
sysroot=/usr/aarch64-linux-gnu

say() { printf '%s\n' "cross-arm64: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# --- install what is missing -------------------------------------------------
if ! rustup target list --installed | grep -qx "$target"; then
  say "installing the $target target (once)"
  rustup target add "$target"
fi

packages=()
command -v aarch64-linux-gnu-gcc >/dev/null || packages+=(gcc-aarch64-linux-gnu)
# crt1.o and libc.so for linking; ld-linux-aarch64.so.1 and libc.so.6 for qemu.
{ [ -e "$sysroot/lib/crt1.o" ] && [ -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; } ||
  packages+=(libc6-dev-arm64-cross)
command -v qemu-aarch64-static >/dev/null || packages+=(qemu-user-static)
# git2's vendored OpenSSL (openssl-src) is configured with perl and built with make.
command -v make >/dev/null || packages+=(make)
command -v perl >/dev/null || packages+=(perl)
if [ ${#packages[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  say "installing ${packages[*]} (once)"
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}" </dev/null
fi

for wasm in flux_policy sortable_policy readiness_probe traefik_priority image_validator; do
  [ -e "target/wasm32-wasip2/release/$wasm.wasm" ] || { tests/build-plugins.sh; break; }
done
[ -e examples/pi-website/plugins/readiness-probe.wasm ] || tests/build-plugins.sh

# --- build -------------------------------------------------------------------
# C and assembly (ring, psm; git2's vendored libgit2, libssh2 and OpenSSL):
# Debian's cross gcc.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
say "building rekon for $target, profile $profile"
start=$SECONDS
cargo build --profile "$profile" --target "$target" -p rekon --bin rekon
say "build: $((SECONDS - start)) s"

# ELF machine 183 is EM_AARCH64.
machine=$(od -An -tu2 -j18 -N2 "$bin" | tr -d ' ')
[ "$machine" = 183 ] || fail "$bin is not an aarch64 ELF (e_machine $machine)"
say "$bin: aarch64 ELF, $(stat -c %s "$bin") bytes"

# --- run under qemu ----------------------------------------------------------
export QEMU_LD_PREFIX=$sysroot
export NO_COLOR=1
unset RUST_LOG
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A cache of its own, empty: the emulated runs must compile for aarch64.
cache=target/$target/rekon-cache
rm -rf "$cache"
rekon() { qemu-aarch64-static "$bin" --cache-dir "$cache" "$@"; }
# loads FILE OUTCOME: how many plugin loads of a `-v` log were Compiled or Hit.
loads() { grep -c "plugin loaded.*cache=$2" "$1" || true; }

rekon --version

say "rekon test plugins/ (emulated; Cranelift's aarch64 backend compiles every plugin)"
t=$SECONDS status=0
rekon -v test plugins/ >"$work/test.out" 2>"$work/test.err" || status=$?
cat "$work/test.out"
# The -v log (plugin loads, plugins' own log lines): only warnings and errors.
grep -E ' (WARN|ERROR) ' "$work/test.err" >&2 || true
[ "$status" -eq 0 ] || { cat "$work/test.err" >&2; fail "rekon test exited $status"; }
summary=$(tail -n1 "$work/test.out")
[[ "$summary" =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]] || fail "rekon test ended with '$summary'"
[ "$(loads "$work/test.err" Compiled)" -gt 0 ] || fail "no plugin was compiled under emulation"
[ "$(loads "$work/test.err" Hit)" -eq 0 ] || fail "a plugin came from the cache on the first run"
say "  $summary in $((SECONDS - t)) s; $(loads "$work/test.err" Compiled) plugins compiled for aarch64"

say "rekon render examples/pi-website (emulated)"
t=$SECONDS
rekon render --config examples/pi-website/rekon.toml >"$work/render.yaml" ||
  fail "rekon render exited non-zero"
grep -q 'initialDelaySeconds: 10' "$work/render.yaml" || fail "render: no 'initialDelaySeconds: 10'"
grep -q 'periodSeconds: 5' "$work/render.yaml" || fail "render: no 'periodSeconds: 5'"
say "  $(grep -c '^kind:' "$work/render.yaml") objects in $((SECONDS - t)) s; initialDelaySeconds: 10 and periodSeconds: 5 present"

say "rekon render with an empty cache (emulated): compiles, then a second run loads from the cache"
rm -rf "$cache"
t=$SECONDS
rekon -v render --config examples/pi-website/rekon.toml >"$work/render1.yaml" 2>"$work/render1.err" ||
  { cat "$work/render1.err" >&2; fail "rekon render exited non-zero"; }
t1=$((SECONDS - t)) t=$SECONDS
rekon -v render --config examples/pi-website/rekon.toml >"$work/render2.yaml" 2>"$work/render2.err" ||
  { cat "$work/render2.err" >&2; fail "rekon render exited non-zero"; }
t2=$((SECONDS - t))
cmp -s "$work/render.yaml" "$work/render1.yaml" || fail "renders differ"
cmp -s "$work/render.yaml" "$work/render2.yaml" || fail "renders differ"
n=$(loads "$work/render1.err" Compiled)
[ "$n" -gt 0 ] && [ "$(loads "$work/render1.err" Hit)" -eq 0 ] || fail "first render did not compile"
[ "$(loads "$work/render2.err" Hit)" -eq "$n" ] && [ "$(loads "$work/render2.err" Compiled)" -eq 0 ] ||
  fail "second render did not load everything from the cache"
say "  $n plugins: compiled in $t1 s, from the cache in $t2 s (emulated)"

# The native binary (built by examples/render-pi-website.sh) gives the same
# YAML and, over the same cache, compiles anew: entries are named
# <wasm sha256>-<engine compatibility hash>, and that hash covers the target,
# so x86_64 never loads aarch64 code (nor the reverse).
native=target/debug/rekon
if [ -x "$native" ]; then
  say "native render over the same cache"
  find "$cache" -name '*.cwasm' | sort >"$work/before"
  "$native" --cache-dir "$cache" -v render --config examples/pi-website/rekon.toml \
    >"$work/native.yaml" 2>"$work/native.err"
  cmp -s "$work/render.yaml" "$work/native.yaml" || {
    diff -u "$work/native.yaml" "$work/render.yaml" >&2 || true
    fail "the aarch64 render differs from the native one"
  }
  [ "$(loads "$work/native.err" Hit)" -eq 0 ] || fail "the native binary loaded an aarch64 cache entry"
  find "$cache" -name '*.cwasm' | sort >"$work/after"
  new=$(comm -13 "$work/before" "$work/after")
  [ "$(printf '%s\n' "$new" | grep -c .)" -eq "$n" ] || fail "expected $n new cache entries"
  for entry in $new; do
    digest=$(basename "$entry"); digest=${digest%%-*}
    grep -q "/$digest-" "$work/before" || fail "no aarch64 entry for $digest"
  done
  say "  same YAML as native; $n new x86_64 entries next to the aarch64 ones (same wasm digests, other engine hash):"
  sed 's|.*/|    |' "$work/after" >&2
fi

say "ok: $bin ($(stat -c %s "$bin") bytes) passed under qemu-aarch64"

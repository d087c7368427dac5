#!/usr/bin/env bash
# Rewrites a COPY of mediasoup's worker/ directory (3.27.x) to build offline
# against Debian 12's system libraries. Never point it at node_modules itself.
#   bash scripts/mediasoup-worker/patch-worker-sources.sh <copied-worker-dir>
# What it does (no worker C++ source is edited):
#   - meson_version '>= 1.1.0' -> '>= 1.0.0' (Debian 12 ships meson 1.0.1);
#   - deletes every `<x>_proj = subproject(...)` block and turns
#     `<x>_proj.get_variable('<name>')` into `<name>`, defined from pkg-config by
#     system-deps.meson, which is inserted right after project(...);
#   - drops the `dependency('unordered_dense')` line (system-deps.meson defines it);
#   - copies compat/ (libsrtp v3-on-v2 shim, unordered_dense stand-in) in as
#     facerestore-compat/ and removes subprojects/ so nothing can fall back to a
#     download.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:?usage: patch-worker-sources.sh <copied-worker-dir>}"
root="$dir/meson.build"

die() { printf '[mediasoup-worker] patch: %s\n' "$*" >&2; exit 1; }

[ -f "$root" ] || die "no meson.build in $dir"
case "$(cd "$dir" && pwd)" in
  */node_modules/*) die "refusing to patch inside node_modules: $dir" ;;
esac
grep -q 'facerestore offline build' "$root" && die "$root is already patched"

mapfile -t meson_files < <(find "$dir" -name meson.build -not -path "$dir/subprojects/*")

for f in "${meson_files[@]}"; do
  sed -i \
    -e "s/meson_version *: *'>= *1\.[1-9][0-9.]*'/meson_version: '>= 1.0.0'/" \
    -e '/^[[:space:]]*[A-Za-z0-9_]*_proj[[:space:]]*=[[:space:]]*subproject($/,/^[[:space:]]*)$/d' \
    -e "s/[A-Za-z0-9_]*_proj\.get_variable('\([A-Za-z0-9_]*\)')/\1/g" \
    -e "/^[[:space:]]*ankerl_unordered_dense_dep[[:space:]]*=[[:space:]]*dependency(/d" \
    "$f"
done

# Insert system-deps.meson after the closing ')' of project(...).
awk -v snippet="$here/system-deps.meson" '
  BEGIN { inproj = 0; done = 0 }
  {
    print
    if (!done && $0 ~ /^project\(/) inproj = 1
    if (inproj && $0 ~ /^\)[[:space:]]*$/) {
      while ((getline line < snippet) > 0) print line
      close(snippet); inproj = 0; done = 1
    }
  }
  END { if (!done) exit 3 }
' "$root" > "$root.new" || die "could not find the end of project(...) in $root"
mv "$root.new" "$root"

# DTLS crash fix (revision 2). mediasoup's BIO write callback answers 1 to every BIO_CB_CTRL|BIO_CB_RETURN
# control, so with Debian's OpenSSL (built with kernel TLS) BIO_get_ktls_send() reads as true and OpenSSL
# never allocates its write buffer: SIGSEGV on the first handshake. Only the BIO_CB_RETURN bit matters.
dtls="$dir/src/RTC/DtlsTransport.cpp"
sed -i 's/(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1/(operationType \& BIO_CB_RETURN) ? static_cast<long>(ret) : 1/' "$dtls"
grep -q '(operationType & BIO_CB_RETURN) ? static_cast<long>(ret) : 1' "$dtls" || die "DtlsTransport.cpp: the BIO callback fix did not apply (upstream changed?)"

rm -rf "$dir/facerestore-compat"
cp -R "$here/compat" "$dir/facerestore-compat"
rm -rf "$dir/subprojects"

# Anything left that would need a subproject means upstream changed shape.
if leftovers=$(grep -nE '^[^#]*(subproject\(|_proj\b)' "${meson_files[@]}"); then
  die "unhandled subproject references after patching (new mediasoup layout?):
$leftovers"
fi
grep -q "meson_version: '>= 1.0.0'" "$root" || die "meson_version not lowered in $root"
printf '[mediasoup-worker] patch: %s meson.build file(s) rewritten for system libraries\n' "${#meson_files[@]}" >&2

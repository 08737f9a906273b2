#!/usr/bin/env bash
# Not run in CI. Times the official Plivo SDKs on the same vector as `cargo bench --bench
# verify` (public vector 1: V3 POST, 590-byte body, 13 params) and prints our speed-up.
#
#   bash benches/compare_sdks/compare.sh
#   OURS_NS=1234 bash benches/compare_sdks/compare.sh    # skip the criterion run
#
# - Python: `plivo` from PyPI (PLIVO_PY_VERSION, default 4.63.0, the version the fixtures were
#   generated with) in a temporary virtualenv, `plivo.utils.signature_v3.validate_v3_signature`.
# - Node: `plivo` from npm (PLIVO_NODE_VERSION, default 4.79.0) installed into a temporary
#   directory, `validateV3Signature`.
# - Ours: the criterion mean of `v3_post_vector1/verify` (claim parsing, body parsing and
#   canonicalisation, HMAC, constant-time comparison), measured by this script with short
#   settings unless OURS_NS is given.
#
# Each SDK is timed twice: validation with the parameters already parsed (what the SDK
# function does), and with the form body parsed first (what a handler must do, and what our
# figure includes). Best of 7 runs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY_VERSION=${PLIVO_PY_VERSION:-4.63.0}
NODE_VERSION=${PLIVO_NODE_VERSION:-4.79.0}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ -z "${OURS_NS:-}" ]; then
    echo "measuring ours (cargo bench --bench verify, short settings)..." >&2
    (cd "$ROOT" && cargo bench --quiet --bench verify -- --warm-up-time 1 --measurement-time 5 \
        v3_post_vector1/verify >/dev/null)
    TARGET_DIR=${CARGO_TARGET_DIR:-$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}
    OURS_NS=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["mean"]["point_estimate"]))' \
        "$TARGET_DIR/criterion/v3_post_vector1/verify/new/estimates.json")
fi

echo "installing plivo==$PY_VERSION (PyPI) into a temporary virtualenv..." >&2
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check "plivo==$PY_VERSION"
PY_OUT=$("$WORK/venv/bin/python" "$HERE/time_python.py")

echo "installing plivo@$NODE_VERSION (npm) into a temporary directory..." >&2
mkdir "$WORK/node"
cp "$HERE/time_node.js" "$WORK/node/"
(cd "$WORK/node" && npm init -y >/dev/null &&
    npm install --silent --no-audit --no-fund "plivo@$NODE_VERSION" >/dev/null)
NODE_OUT=$(cd "$WORK/node" && node time_node.js)

echo
echo "public vector 1 (V3 POST, 590-byte form body, 13 params), per validation:"
printf '  %-40s %10.1f us\n' "tower-plivo Verifier::verify" "$(awk -v n="$OURS_NS" 'BEGIN { print n / 1000 }')"
printf '%s\n%s\n' "$PY_OUT" "$NODE_OUT" | while read -r sdk what ns; do
    awk -v sdk="$sdk" -v what="$what" -v ns="$ns" -v ours="$OURS_NS" \
        'BEGIN { printf "  %-40s %10.1f us   tower-plivo is %5.0fx faster\n", sdk " SDK " what, ns / 1000, ns / ours }'
done

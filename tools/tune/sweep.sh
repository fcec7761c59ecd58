#!/usr/bin/env bash
# Re-runs the measurements behind the pipeline's crop defaults (weights/README.md, "Crop
# geometry") on a labelled photo set (default: ../shared/data/wild-dev), then prints the
# tables with analyze.py. About 3 minutes on 2 cores.
#
#   tools/tune/sweep.sh [LABELS.csv] [OUTDIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
labels="${1:-$repo/../shared/data/wild-dev/labels.csv}"
out="${2:-${TMPDIR:-/tmp}/mien-tune}"
[[ -f "$labels" ]] || { echo "sweep: no labels file $labels" >&2; exit 1; }
mkdir -p "$out"
cmake --build "$repo/build" --target mien_tune >/dev/null
tune="$repo/build/mien_tune"
# Boxes as the pipeline finds them: the plain pass, and the zoomed-out pass (border 0.25)
# that replaces it for faces that fill the photo; the largest face per photo.
"$tune" dets "$labels" "$out/dets_plain.tsv"
"$tune" dets "$labels" "$out/dets_zoom.tsv" --pad 0.25
/usr/bin/python3 - "$out" <<'PY'
import sys
out = sys.argv[1]
def load(f):
    d = {}
    for line in open(f):
        v = line.split("\t")
        d.setdefault(int(v[0]), []).append([float(x) for x in v[1:]])
    return d
plain, zoom = load(out + "/dets_plain.tsv"), load(out + "/dets_zoom.tsv")
with open(out + "/boxes.tsv", "w") as f:
    for i in sorted(set(plain) | set(zoom)):
        faces = plain.get(i, [])
        side = max(faces[0][0], faces[0][1]) if faces else 0
        if not faces or any(max(r[4], r[5]) > 0.4 * side for r in faces):
            faces = zoom.get(i, faces)
        r = max(faces, key=lambda r: r[4] * r[5])
        f.write("\t".join(str(x) for x in [i] + r[2:6] + r[7:]) + "\n")
PY
rm -f "$out"/*.f32
for s in 1.0 1.1 1.15 1.2 1.3 1.4 1.5; do
  for model in emotion face_expression; do
    "$tune" classify "$labels" "$out/boxes.tsv" "$repo/weights/$model.mien" \
      "$out/${model}_s${s}_eyes_edge.f32" --scale "$s" --align 1 --fill edge
  done
done
for model in emotion face_expression; do
  s=$([[ $model == emotion ]] && echo 1.15 || echo 1.25)
  "$tune" classify "$labels" "$out/boxes.tsv" "$repo/weights/$model.mien" \
    "$out/${model}_s${s}_eyes_edge.f32" --scale "$s" --align 1 --fill edge
  "$tune" classify "$labels" "$out/boxes.tsv" "$repo/weights/$model.mien" \
    "$out/${model}_s${s}_upright_edge.f32" --scale "$s" --align 0 --fill edge
  "$tune" classify "$labels" "$out/boxes.tsv" "$repo/weights/$model.mien" \
    "$out/${model}_s${s}_eyes_black.f32" --scale "$s" --align 1 --fill black
  "$tune" classify "$labels" "$out/boxes.tsv" "$repo/weights/$model.mien" \
    "$out/${model}_s${s}_upright_black_bilinear.f32" --scale "$s" --plain
  for sh in -0.1 -0.05 0.05 0.1; do
    "$tune" classify "$labels" "$out/boxes.tsv" "$repo/weights/$model.mien" \
      "$out/${model}_s${s}_shift${sh}_eyes_edge.f32" --scale "$s" --shift "$sh" --align 1 --fill edge
  done
done
/usr/bin/python3 "$here/analyze.py" "$labels" "$out"

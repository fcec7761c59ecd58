#!/usr/bin/env python3
"""Agreement of a `mien video --csv` run with a reference run of the same video, frame by
frame: the reference is usually `--detect-every 1 --detect-size 0` (the detector on every
full frame), the other a reduced detection schedule.

  bench/video/agreement.py REFERENCE.csv OTHER.csv

recall     reference faces with a face of OTHER in the same frame at IoU >= 0.5
precision  OTHER faces with such a reference face
mean IoU   over the matched pairs
id switches  times a reference track's matched OTHER track changes from its previous one
labels     matched pairs with the same smoothed emotion
"""
import csv
import sys
from collections import defaultdict


def load(path):
    frames = defaultdict(list)
    with open(path) as f:
        for r in csv.DictReader(f):
            frames[int(r["frame"])].append(
                (int(r["track"]), float(r["x"]), float(r["y"]), float(r["w"]), float(r["h"]),
                 r["smoothed_emotion"]))
    return frames


def iou(a, b):
    ax, ay, aw, ah = a[1:5]
    bx, by, bw, bh = b[1:5]
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def main():
    ref, other = load(sys.argv[1]), load(sys.argv[2])
    n_ref = n_other = matched = same_label = switches = 0
    iou_sum = 0.0
    last = {}
    for frame in sorted(set(ref) | set(other)):
        r, o = ref.get(frame, []), other.get(frame, [])
        n_ref += len(r)
        n_other += len(o)
        pairs = sorted(((iou(a, b), i, j) for i, a in enumerate(r) for j, b in enumerate(o)),
                       reverse=True)
        used_r, used_o = set(), set()
        for v, i, j in pairs:
            if v < 0.5:
                break
            if i in used_r or j in used_o:
                continue
            used_r.add(i)
            used_o.add(j)
            matched += 1
            iou_sum += v
            same_label += r[i][5] == o[j][5]
            if r[i][0] in last and last[r[i][0]] != o[j][0]:
                switches += 1
            last[r[i][0]] = o[j][0]
    print("reference faces %d, other %d: recall %.4f  precision %.4f  mean IoU %.3f  "
          "id switches %d  same label %.4f" %
          (n_ref, n_other, matched / max(1, n_ref), matched / max(1, n_other),
           iou_sum / max(1, matched), switches, same_label / max(1, matched)))


main()

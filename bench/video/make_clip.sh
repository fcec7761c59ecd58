#!/bin/sh
# Builds the 1080p many-face benchmark clip for `mien video` (issue #13 part 3): 4.5 s,
# 1920x1080, 30 frames/s H.264. The background is 12_angry_men.jpg (about 11 faces) with a
# slow zoom and a pan of about 120 px/s, so every face moves and changes size; the Hamilton
# clip (2 people, with its shot cuts) plays at 640x360 in the lower left corner, over the
# bodies. About 10-13 faces are visible in every frame.
#
#   bench/video/make_clip.sh [OUT.mp4] [SHARED_DIR]
#
# OUT defaults to build/bench_video/many_faces_1080p.mp4, SHARED_DIR to ../shared (the
# photos and videos are used by path, never copied into the repo). The clip is not committed.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/build/bench_video/many_faces_1080p.mp4}
shared=${2:-$here/../shared}
photo=$shared/data/images/12_angry_men.jpg
stage=$shared/data/video/short_hamilton_clip.mp4
for f in "$photo" "$stage"; do
  [ -f "$f" ] || { echo "make_clip.sh: $f not found (pass SHARED_DIR)" >&2; exit 1; }
done
command -v ffmpeg >/dev/null || { echo "make_clip.sh: ffmpeg is not installed" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# scale eval=frame: the photo grows from 2112 to 2472 px wide (a 17% zoom in 4.5 s); the
# 1920x1080 window slides from its left edge to its right edge. x264 -crf 20 keeps the
# faces sharp; -g 60 is a usual keyframe interval (decoding cost like a real camera file).
ffmpeg -v error -y -loop 1 -framerate 30 -t 4.5 -i "file:$photo" -i "file:$stage" \
  -filter_complex "[0:v]scale=w='2112+80*t':h=-2:eval=frame,crop=1920:1080:x='(iw-1920)*t/4.5':y='(ih-1080)/2',setsar=1[bg];[1:v]fps=30,scale=640:360,setpts=PTS-STARTPTS[fg];[bg][fg]overlay=x=0:y=720:shortest=1,format=yuv420p[v]" \
  -map "[v]" -t 4.5 -r 30 -c:v libx264 -preset medium -crf 20 -g 60 -an "file:$out"
echo "$out"

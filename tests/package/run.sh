#!/usr/bin/env bash
# Installs mien from BUILD_DIR into a temporary prefix and builds a consumer project with
# find_package(mien): proves the exported package config works for users, and that an
# installed package runs Pipeline::with_default_models() on a bundled photo.
set -euo pipefail
build_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
photo="$here/../data/scenes/faceapi_sample1.jpg"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --build "$build_dir" --target mien_impl > /dev/null
cmake --install "$build_dir" --prefix "$work/prefix" > /dev/null
test -f "$work/prefix/share/mien/weights/emotion.mien"
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$work/build" -j2 > /dev/null
"$work/build/consumer"
# From another folder: the models are inside the program, not beside it.
(cd "$work" && "$work/build/consumer_pipeline" "$photo")

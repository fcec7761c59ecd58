#!/usr/bin/env bash
# Installs the Debian packages mien needs to build, test and benchmark, and the Python
# packages of the model converters (tools/convert, tested by ctest's `converters`).
# Idempotent: only missing packages are installed. Run as root (or with sudo available).
set -euo pipefail

# nlohmann-json3-dev: JSON output of results (include/mien/io/json.hpp).
# clang + libclang-rt-14-dev: the libFuzzer targets ctest runs (tests/fuzz); without
# them those tests are skipped.
# libcpp-httplib-dev: the HTTP server of `mien serve` (tools/cli/serve_command.hpp).
# chromium + chromium-driver + python3-selenium: ctest's serve_browser drives the page
# of `mien serve` in headless chromium (skipped without them).
# pybind11-dev + python3-pybind11 + python3-dev: the Python module `mien` (python/, MIEN_BUILD_PYTHON;
# not built without them); python3-distributed: `python3 -m mien.dask` and ctest's
# python_dask; python3-pytest: ctest's python_module and python_dask (skipped without).
packages=(g++ cmake make pkg-config libstb-dev nlohmann-json3-dev doctest-dev libbenchmark-dev
          libomp-dev ffmpeg python3 python3-numpy python3-h5py python3-onnx
          clang libclang-rt-14-dev
          libcpp-httplib-dev chromium chromium-driver python3-selenium
          pybind11-dev python3-pybind11 python3-dev python3-distributed python3-pytest)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: run as root (or install sudo)" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"

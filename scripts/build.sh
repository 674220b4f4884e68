#!/usr/bin/env bash
# Configures and builds HORAO into ${BUILD_DIR:-build} (RelWithDebInfo by
# default), using ccache when present. Arguments go to cmake's configure step;
# TARGETS="horaod ..." limits what is built.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
if [ -n "${TARGETS:-}" ]; then
  # shellcheck disable=SC2086
  cmake --build "$build_dir" -j "$jobs" --target $TARGETS
else
  cmake --build "$build_dir" -j "$jobs"
fi

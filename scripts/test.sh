#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs the packages,
# builds, and runs every test layer through CTest (unit and property tests,
# I/O tests against a real redis-server, integration tests with real horaod
# and redis-server processes), then the router fuzz target for a bounded time.
# Tests start their own redis-server instances on free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build} scripts/build.sh -DHORAO_BUILD_FUZZ=ON
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 1200 -j "${TEST_JOBS:-2}"

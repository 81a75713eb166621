#!/usr/bin/env bash
# Regenerates the hashed lock files from the *.in files with uv's resolver:
#   pip install uv && lockfiles/compile.sh
# Pin for CPython 3.11 on x86_64 Linux, the platform CI and the README target.
set -euo pipefail
cd "$(dirname "$0")"
for name in core test; do
  uv pip compile --quiet --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 "$name.in" -o "$name.txt"
done

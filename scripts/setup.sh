#!/usr/bin/env bash
# Quick start, command 1 of 2. Creates .venv (unless it exists), installs ebmcore, every in-repo plugin
# (editable), the example third-party plugin in examples/ (a regular install, as an outside user would
# install it) and the pinned CPU-capable torch pair with pip, then runs the main job:
# `ebm train cd-8gaussians` (about a minute on CPU), which writes a checkpoint, metrics.json,
# metrics.jsonl and samples.png under runs/cd-8gaussians/.
# Set EBMCORE_SKIP_QUICKSTART=1 to install only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
plugin_args=()
for p in plugins/*/pyproject.toml; do
    [ -e "$p" ] && plugin_args+=(-e "$(dirname "$p")")
done
.venv/bin/python -m pip install -q -r requirements-dev.txt "${plugin_args[@]}"
for example in examples/*/pyproject.toml; do
    [ -e "$example" ] && .venv/bin/python -m pip install -q --no-deps "./$(dirname "$example")"
done
if [ "${EBMCORE_SKIP_QUICKSTART:-0}" != "1" ]; then
    .venv/bin/ebm train cd-8gaussians --no-progress
fi

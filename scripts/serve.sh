#!/usr/bin/env bash
# Serves the built API on port ${PORT:-3000} with sam local start-api (warm containers, no image
# pulls: see samconfig.toml) until Ctrl-C, then removes any container SAM left behind.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
port=${PORT:-3000}

trap 'scripts/remove_sam_orphans.sh' EXIT
echo "Kyber crystal classifier on http://127.0.0.1:$port: POST /sklearn, /pytorch, /astromech (Ctrl-C stops)"
sam local start-api --port "$port"

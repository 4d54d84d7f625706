#!/usr/bin/env bash
# Serves the built API on port ${PORT:-3000} with sam local start-api (warm containers, no image
# pulls: see samconfig.toml) until Ctrl-C or SIGTERM; once SAM has stopped, removes any container
# it left behind. Covers two gaps of SAM CLI: started from a script it ignores Ctrl-C, and one that
# is killed leaves its warm containers running. It can go, for a plain `sam local start-api`, once
# SAM stops on SIGINT and removes its containers however it ends.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
port=${PORT:-3000}

echo "Kyber crystal classifier on http://127.0.0.1:$port: POST /sklearn, /pytorch, /astromech (Ctrl-C stops)"
sam local start-api --port "$port" &
sam_pid=$!
# SAM, started in the background of a script, ignores SIGINT: pass both signals on as SIGTERM.
stopped=""
trap 'stopped=1; kill -TERM "$sam_pid" 2>/dev/null || true' INT TERM
status=0
wait "$sam_pid" || status=$?
if [[ -n $stopped ]]; then # woken by the signal: let SAM stop its containers, then it is a clean stop
  wait "$sam_pid" || true
  status=0
fi
scripts/emulator/sam_containers.sh remove >/dev/null
exit "$status"

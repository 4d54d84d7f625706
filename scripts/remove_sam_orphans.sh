#!/usr/bin/env bash
# Removes the containers SAM CLI left behind for one project: those whose /var/task comes from the
# project's .aws-sam/build. With --warm-containers EAGER, SAM builds its layer image once per
# function at start-up, all at the same time, and can lose track of a container it started.
# Usage: scripts/remove_sam_orphans.sh [PROJECT_DIR]   (default: this repository)
set -euo pipefail

project=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)
build_dir="$project/.aws-sam/build/"

orphans=()
for id in $(docker ps -aq); do
  sources=$(docker inspect --format '{{range .Mounts}}{{.Source}} {{end}}' "$id" 2>/dev/null || true)
  for source in $sources; do
    if [[ $source == "$build_dir"* ]]; then
      orphans+=("$id")
      break
    fi
  done
done

if ((${#orphans[@]})); then
  docker rm -f "${orphans[@]}" >/dev/null
  echo "removed ${#orphans[@]} container(s) SAM CLI left behind for $project: ${orphans[*]}" >&2
fi

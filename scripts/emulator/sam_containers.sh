#!/usr/bin/env bash
# Lists, or removes, the containers SAM CLI runs for one project: those whose /var/task comes from
# the project's .aws-sam/build. Prints their ids, one per line. SAM stops its own containers when it
# stops cleanly; `remove` is for one killed before it could (a gap of SAM CLI: it can go when a
# killed SAM no longer leaves containers). `list` is how the tests see what SAM left behind.
# Usage: scripts/emulator/sam_containers.sh list|remove [PROJECT_DIR]   (default: this repository)
set -euo pipefail

action=${1:?usage: scripts/emulator/sam_containers.sh list|remove [PROJECT_DIR]}
project=$(cd "${2:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd)
build_dir="$project/.aws-sam/build/"

found=()
for id in $(docker ps -aq); do
  sources=$(docker inspect --format '{{range .Mounts}}{{.Source}} {{end}}' "$id" 2>/dev/null || true)
  for source in $sources; do
    if [[ $source == "$build_dir"* ]]; then
      found+=("$id")
      break
    fi
  done
done

((${#found[@]})) || exit 0
case $action in
  list) ;;
  remove)
    docker rm -f "${found[@]}" >/dev/null
    echo "removed ${#found[@]} container(s) SAM CLI left behind for $project" >&2
    ;;
  *) echo "unknown action $action: list or remove" >&2; exit 2 ;;
esac
printf '%s\n' "${found[@]}"

#!/usr/bin/env bash
# Makes SAM CLI's local emulator (`sam local invoke` / `start-api`) usable on this
# machine: a running Docker engine, and the Lambda python3.13 x86_64 base image,
# pulled if the registry is reachable, otherwise built locally as a stand-in.
# Idempotent: a second run checks, changes nothing and takes seconds.
# Covers a gap, not a defect: SAM CLI needs public.ecr.aws, unreachable here. It can go
# where `docker pull public.ecr.aws/lambda/python:3.13-x86_64` works (make setup: the
# image pulled, Docker still started).
#
# Usage: scripts/emulator/prepare.sh                  prepare (make setup runs this)
#        scripts/emulator/prepare.sh --base-image     print the base image's name
#        scripts/emulator/prepare.sh --replaced-images  print the ids of the images SAM replaced
# Env: KYBER_EMULATOR_CACHE  cache dir (default /var/cache/kyber-emulator as root, else
#      ${XDG_CACHE_HOME:-~/.cache}/kyber-emulator)
# Not root, it needs Docker running and usable (the docker group) and, where the image is missing,
# says how to build it: installing packages, starting dockerd and debootstrap need root.
set -euo pipefail

readonly BASE_IMAGE=public.ecr.aws/lambda/python:3.13-x86_64
if ((EUID == 0)); then
  readonly CACHE_DIR=${KYBER_EMULATOR_CACHE:-/var/cache/kyber-emulator}
else
  readonly CACHE_DIR=${KYBER_EMULATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kyber-emulator}
fi
readonly DOCKERD_LOG=/var/log/kyber-dockerd.log
readonly DOCKERD_TIMEOUT=60
readonly PULL_TIMEOUT=60
readonly SUITE=trixie # Debian 13 ships CPython 3.13
readonly RECIPE_LABEL=kyber.emulator.recipe
# The real image ships boto3/botocore in the runtime, and our layers rely on it.
readonly RUNTIME_PACKAGES=(
  awslambdaric==4.2.2
  simplejson==4.3.0
  snapshot-restore-py==1.0.0
  boto3==1.44.8
  botocore==1.44.8
)
# SAM caches images built on the base: with layers, and without (the "rapid" one).
readonly DERIVED_IMAGES_RE='^(samcli/lambda-python:3\.13-|public\.ecr\.aws/lambda/python:3\.13-rapid-)'
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly REPO_DIR

DOCKER_STATE="already running"
IMAGE_STATE="present"
REMOVED_COUNT=0
REPLACED_ID=""
WORK=""
RECIPE=""

log() { printf 'prepare_emulator: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Runs "$@" and prints how long it took. Call it only as a plain command: in an
# if/&&/|| condition bash would stop set -e from aborting on failures inside.
timed() {
  local name=$1 start=$EPOCHREALTIME
  shift
  "$@"
  report_time "$name" "$start"
}

report_time() { printf 'prepare_emulator: %-32s %6s s\n' "$1" "$(elapsed "$2")"; }

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- docker engine

ensure_docker() {
  command -v docker >/dev/null && docker info >/dev/null 2>&1 && return
  ((EUID == 0)) || die "Docker is not running, or this user may not use it (the docker group): start it, or run $0 once as root"
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    timed "apt-get install docker.io" apt_install docker.io
  fi
  timed "start dockerd" start_dockerd
  DOCKER_STATE="started"
}

apt_install() {
  local log=$CACHE_DIR/apt.log
  export DEBIAN_FRONTEND=noninteractive
  if [[ $(apt-cache policy "$1") != *"Candidate: "[!\(]* ]]; then
    apt-get update -q >"$log" 2>&1 || die "apt-get update failed; see $log"
  fi
  apt-get install -y -q "$1" >>"$log" 2>&1 || die "apt-get install $1 failed; see $log"
}

start_dockerd() {
  # A dockerd may already be starting (e.g. a concurrent run): just wait for it.
  # 9>&-: the daemon must not inherit our lock, or it would hold it forever.
  if ! pgrep -x dockerd >/dev/null; then
    setsid dockerd >"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  fi
  local deadline=$((SECONDS + DOCKERD_TIMEOUT))
  until docker info >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "dockerd did not answer within ${DOCKERD_TIMEOUT}s; see $DOCKERD_LOG"
    sleep 1
  done
}

# ------------------------------------------------------------------- base image

ensure_base_image() {
  image_is_usable && return
  REPLACED_ID=$(image_id "$BASE_IMAGE")
  timed "docker pull (timeout ${PULL_TIMEOUT}s)" try_pull
  if [[ $PULL_RESULT == ok ]]; then
    IMAGE_STATE="pulled"
  else
    log "$BASE_IMAGE could not be pulled ($PULL_RESULT); using a locally built stand-in (Debian $SUITE + awslambdaric)"
    build_stand_in
    IMAGE_STATE="stand-in built"
  fi
}

# The image we replaced is now untagged; it goes unless something still uses it.
remove_replaced_base() {
  [[ -z $REPLACED_ID || $REPLACED_ID == "$(image_id "$BASE_IMAGE")" ]] ||
    docker rmi "$REPLACED_ID" >/dev/null 2>&1 || true
}

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# The official image has no recipe label; a stand-in must match this script's recipe.
image_is_usable() {
  local recipe
  recipe=$(docker image inspect -f "{{index .Config.Labels \"$RECIPE_LABEL\"}}" "$BASE_IMAGE" 2>/dev/null) || return 1
  [[ -z $recipe || $recipe == "<no value>" || $recipe == "$RECIPE" ]] && return 0
  log "the local stand-in was built by an older version of this script; replacing it"
  return 1
}

try_pull() {
  local out rc=0
  out=$(timeout "$PULL_TIMEOUT" docker pull -q "$BASE_IMAGE" 2>&1) || rc=$?
  case $rc in
    0) PULL_RESULT=ok ;;
    124) PULL_RESULT="no answer within ${PULL_TIMEOUT}s" ;;
    *) PULL_RESULT=$(tail -n 1 <<<"$out") ;;
  esac
}

build_stand_in() {
  ((EUID == 0)) || die "$BASE_IMAGE is missing or out of date, and building its stand-in needs root (debootstrap, chroot): run $0 once as root"
  local base=$CACHE_DIR/base-$SUITE rootfs=$CACHE_DIR/rootfs-$RECIPE
  WORK=$(mktemp -d "$CACHE_DIR/.tmp-XXXXXX")
  if [[ ! -d $rootfs && ! -d $base ]]; then
    if ! command -v debootstrap >/dev/null; then
      timed "apt-get install debootstrap" apt_install debootstrap
    fi
    timed "debootstrap $SUITE" debootstrap_base "$base"
  fi
  if [[ ! -d $rootfs ]]; then
    timed "install Lambda runtime" build_rootfs "$base" "$rootfs"
  fi
  timed "docker import" import_rootfs "$rootfs"
}

# Builds in $WORK and moves into place, so an interrupted run leaves no half tree.
debootstrap_base() {
  local dest=$1 tmp=$WORK/base
  debootstrap --variant=minbase --include=python3 "$SUITE" "$tmp" "$(debian_mirror)" \
    >"$CACHE_DIR/debootstrap.log" 2>&1 || die "debootstrap failed; see $CACHE_DIR/debootstrap.log"
  mv -T "$tmp" "$dest"
}

# The mirror apt already uses is the one known to be reachable.
debian_mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v -- '-security' | head -n 1) || true
  [[ -n $uri ]] || uri=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 !~ /-security/ { print $2; exit }' \
    /etc/apt/sources.list 2>/dev/null) || true
  echo "${uri:-http://deb.debian.org/debian}"
}

build_rootfs() {
  local base=$1 dest=$2 tmp=$WORK/rootfs
  cp -a "$base/." "$tmp/"
  install_runtime "$tmp"
  mv -T "$tmp" "$dest"
  local old
  for old in "$CACHE_DIR"/rootfs-*; do
    [[ $old == "$dest" ]] || remove_tree "$old"
  done
}

install_runtime() {
  local root=$1
  mkdir -p "$root/var/task" "$root/var/runtime" "$root/var/lang/bin" "$root/opt"
  ln -sfn /usr/bin/python3.13 "$root/var/lang/bin/python3.13"
  ln -sfn python3.13 "$root/var/lang/bin/python3"
  # The image has no pip: install with the host's, for the image's platform.
  host_python -m pip install --no-warn-conflicts --no-compile \
    --target "$root/var/runtime" --only-binary=:all: \
    --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
    --python-version 3.13 --implementation cp --abi cp313 \
    "${RUNTIME_PACKAGES[@]}" >"$CACHE_DIR/pip.log" 2>&1 ||
    die "pip install into the stand-in failed; see $CACHE_DIR/pip.log"
  # debootstrap leaves apt's downloads and lists behind; a Lambda image needs neither.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/{doc,info,locale,man}
  # Host pip can only byte-compile for its own Python; without 3.13 .pyc files
  # every cold start would compile boto3 again.
  chroot "$root" /usr/bin/python3.13 -m compileall -q /var/runtime >/dev/null
  write_bootstrap "$root/var/runtime"
  local f
  # SAM's derived-image Dockerfile runs these (layer copy, rie install).
  for f in /bin/sh /bin/mv /bin/chmod /bin/cp /bin/rm /usr/bin/python3.13; do
    [[ -x $root$f ]] || die "stand-in rootfs lacks $f"
  done
}

host_python() {
  if [[ -x $REPO_DIR/.venv/bin/python ]]; then
    "$REPO_DIR/.venv/bin/python" "$@"
  else
    python3 "$@"
  fi
}

# The emulator (aws-lambda-rie) execs /var/runtime/bootstrap with _HANDLER set.
write_bootstrap() {
  local dir=$1
  cat >"$dir/bootstrap" <<'EOF'
#!/bin/sh
exec /var/lang/bin/python3.13 /var/runtime/bootstrap.py "$@"
EOF
  chmod 755 "$dir/bootstrap"
  cat >"$dir/bootstrap.py" <<'EOF'
import os
import sys

# Lambda's order: function code, then layers, then the runtime's own packages.
sys.path[0:1] = [
    os.environ.get("LAMBDA_TASK_ROOT", "/var/task"),
    "/opt/python/lib/python3.13/site-packages",
    "/opt/python",
    os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime"),
]

from awslambdaric.__main__ import main

main([sys.argv[0], os.environ["_HANDLER"]])
EOF
}

import_rootfs() {
  # SAM replaces the entrypoint with its own /var/rapid/aws-lambda-rie, so none is set.
  tar -C "$1" -c . | docker import \
    --change "LABEL $RECIPE_LABEL=$RECIPE" \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'WORKDIR /var/task' \
    - "$BASE_IMAGE" >/dev/null
}

# Removes one image SAM built and counts it; one a container still uses stays. $2 says which kind.
remove_sam_image() {
  if docker rmi "$1" >/dev/null; then
    REMOVED_COUNT=$((REMOVED_COUNT + 1))
  else
    log "could not remove $2 $1 (a container still uses it?)"
  fi
}

# With pulls skipped, SAM keeps using images it built on an older base.
remove_stale_derived_images() {
  local base_id img start=$EPOCHREALTIME removed=$REMOVED_COUNT
  base_id=$(image_id "$BASE_IMAGE")
  while read -r img; do
    [[ $(docker history -q --no-trunc "$img") == *"$base_id"* ]] && continue
    remove_sam_image "$img" stale
  done < <(docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "$DERIVED_IMAGES_RE" || true)
  ((REMOVED_COUNT == removed)) || report_time "remove stale SAM images" "$start"
}

# SAM rebuilds its image of the template's layers under the same tag whenever a build changes them:
# the image it replaced stays behind untagged, the size of the layers each time.
# Those are the untagged images built on the base image.
replaced_sam_images() {
  local base_id img
  base_id=$(image_id "$BASE_IMAGE")
  [[ -n $base_id ]] || return 0
  while read -r img; do
    if [[ $(docker history -q --no-trunc "$img") == *"$base_id"* ]]; then echo "$img"; fi
  done < <(docker images --quiet --no-trunc --filter dangling=true)
}

remove_replaced_sam_images() {
  local img start=$EPOCHREALTIME removed=$REMOVED_COUNT
  while read -r img; do
    remove_sam_image "$img" replaced
  done < <(replaced_sam_images)
  ((REMOVED_COUNT == removed)) || report_time "remove replaced SAM images" "$start"
}

# ------------------------------------------------------------------------ setup

# Any change to how the stand-in is made yields a new recipe, so a new image.
recipe_hash() {
  { declare -f install_runtime write_bootstrap import_rootfs
    printf '%s\n' "$SUITE" "${RUNTIME_PACKAGES[@]}"; } | sha256sum | cut -c1-12
}

# Unmounts anything an interrupted debootstrap left mounted before deleting.
remove_tree() {
  local dir=$1 mnt
  [[ -e $dir ]] || return 0
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r mnt; do umount -l "$mnt" || true; done
  rm -rf --one-file-system "$dir"
}

setup_cache() {
  mkdir -p "$CACHE_DIR"
  exec 9>>"$CACHE_DIR/.lock"
  flock -w 900 9 || die "another scripts/emulator/prepare.sh run holds $CACHE_DIR/.lock"
  local stale
  for stale in "$CACHE_DIR"/.tmp-*; do remove_tree "$stale"; done
  trap '[[ -z $WORK ]] || remove_tree "$WORK"' EXIT
}

main() {
  local start=$EPOCHREALTIME
  RECIPE=$(recipe_hash)
  setup_cache
  ensure_docker
  ensure_base_image
  # Also when the base is unchanged: an earlier run may have stopped before this.
  remove_stale_derived_images
  remove_replaced_sam_images
  remove_replaced_base
  local id
  id=$(image_id "$BASE_IMAGE")
  printf 'prepare_emulator: ready in %s s: docker %s; %s %s (%s); stale or replaced SAM images removed: %d\n' \
    "$(elapsed "$start")" "$DOCKER_STATE" "$BASE_IMAGE" "$IMAGE_STATE" "${id:7:12}" "$REMOVED_COUNT"
}

case ${1:-} in
  "") main ;;
  --base-image) echo "$BASE_IMAGE" ;;
  --replaced-images) replaced_sam_images ;;
  *) die "unknown option $1: see the usage at the top of $0" ;;
esac

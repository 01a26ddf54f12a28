#!/usr/bin/env bash
# What the tests need from the system, installed with apt-get when it is missing; when everything is there it
# does nothing (a few `command -v`, well under a second). Meant to run before `npm test` (and in .ci/run):
#   redis-server   the suite's own Redis (test/setup/global-redis.ts starts one on a free port)
#   chromium       the board's browser tests drive Debian's /usr/bin/chromium with playwright-core (no download)
#   git            real bare repositories in temp dirs
#   docker-registry  a real OCI registry for digest pinning (test/helpers/registry.ts starts it on free ports)
# Fonts come with chromium's dependencies (fonts-dejavu-core); nothing is fetched from anywhere but apt.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v git >/dev/null 2>&1 || need+=(git)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-system: missing ${need[*]}, and there is no apt-get here: install them another way" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
    echo "ensure-test-system: missing ${need[*]}; run as root (or with sudo) to install them with apt-get" >&2
    exit 1
  fi
fi

echo "ensure-test-system: installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
# Another apt run (an install already under way on this machine) holds the lock: wait for it rather than fail.
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
# The missing ones of: redis-server chromium git docker-registry (Debian package names).
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}"
for tool in "${need[@]}"; do
  case "$tool" in
    chromium) [ -x /usr/bin/chromium ] || { echo "ensure-test-system: chromium installed but /usr/bin/chromium is missing" >&2; exit 1; } ;;
    *) command -v "$tool" >/dev/null 2>&1 || { echo "ensure-test-system: $tool is still missing after apt-get" >&2; exit 1; } ;;
  esac
done

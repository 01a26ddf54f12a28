#!/usr/bin/env bash
# The job Hoist replaces, run once per promotion the way a CI job runs it: a fresh clone,
# `kustomize edit set image`, commit, push. No retry: a rejected push fails the job.
# usage: baseline-promote.sh <remote-url> <work-dir> <overlay-dir> <image> <tag>   (KUSTOMIZE: the binary)
set -euo pipefail
url=$1 dir=$2 overlay=$3 image=$4 tag=$5
git clone --quiet --single-branch --branch main "$url" "$dir"
cd "$dir/$overlay"
"${KUSTOMIZE:-kustomize}" edit set image "$image=*:$tag"
cd "$dir"
git commit --quiet -am "promote ${image##*/} to ${overlay##*/}: $tag"
git push --quiet origin HEAD:main

#!/usr/bin/env bash
# The least git work a correct writer can do per promotion, on a clone it keeps:
# fetch, edit the tag with sed, commit, push.
# usage: floor-promote.sh <clone-dir> <kustomization-file> <image> <tag>
set -euo pipefail
dir=$1 file=$2 image=$3 tag=$4
cd "$dir"
git fetch --quiet origin main
sed -i "\\#name: $image\$#{n;s#newTag: .*#newTag: \"$tag\"#}" "$file"
git commit --quiet -am "promote ${image##*/}: $tag"
git push --quiet origin HEAD:main

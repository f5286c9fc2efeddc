# syntax=docker/dockerfile:1
# A ringtrain worker on CPU, with TensorFlow.js's native CPU backend (@tensorflow/tfjs-node,
# which downloads libtensorflow while the image is built). It serves its ring predecessor on
# --peer-port and its own /metrics and /healthz on --metrics-port. Build from the repository root:
#   docker build -f deploy/docker/worker-cpu.Dockerfile -t ringtrain/worker-cpu:0.1.0 .
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# Toolchain for native add-ons that have no prebuilt binary for the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages ./packages
# tfjs-node is an optional peer of @ringtrain/model: added here without touching the lockfile.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund \
 && npm install --no-save --omit=dev --no-audit --no-fund @tensorflow/tfjs-node@4.22.0

FROM ${NODE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ringtrain \
 && useradd --system --uid 10001 --gid ringtrain --home-dir /home/ringtrain --create-home ringtrain
WORKDIR /app
COPY --from=build /app ./
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_CACHE=/tmp/npm-cache
USER 10001:10001
EXPOSE 7071 7072
HEALTHCHECK --interval=20s --timeout=10s --start-period=60s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7072/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["tini", "--", "npx", "--no", "ringtrain"]
CMD ["worker", "--coordinator", "ws://coordinator:7070", "--peer-host", "0.0.0.0", "--peer-port", "7071", "--metrics-host", "0.0.0.0", "--metrics-port", "7072"]

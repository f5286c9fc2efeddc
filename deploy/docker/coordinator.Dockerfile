# syntax=docker/dockerfile:1
# The ringtrain coordinator: rendezvous, data sharding, evaluation, checkpoints, and on its one
# port the workers' WebSocket, /metrics, /status, /healthz and the dashboard at /.
# Fashion-MNIST comes from Debian's dataset-fashion-mnist package, so the image needs no download
# at run time. Build from the repository root:
#   docker build -f deploy/docker/coordinator.Dockerfile -t ringtrain/coordinator:0.1.0 .
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# Toolchain for native add-ons (msgpackr-extract) that have no prebuilt binary for the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages ./packages
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
# tini forwards SIGTERM to npx and reaps children, so `docker stop` ends the run cleanly.
RUN apt-get update \
 && apt-get install -y --no-install-recommends dataset-fashion-mnist tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ringtrain \
 && useradd --system --uid 10001 --gid ringtrain --home-dir /home/ringtrain --create-home ringtrain \
 && mkdir -p /var/lib/ringtrain/checkpoints \
 && chown ringtrain:ringtrain /var/lib/ringtrain/checkpoints
WORKDIR /app
# Sources stay owned by root: the process can read but not change them.
COPY --from=build /app ./
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_CACHE=/tmp/npm-cache
USER 10001:10001
EXPOSE 7070
VOLUME ["/var/lib/ringtrain/checkpoints"]
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7070/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["tini", "--", "npx", "--no", "ringtrain"]
CMD ["coordinator", "--host", "0.0.0.0", "--port", "7070", "--min-workers", "2", "--checkpoint-dir", "/var/lib/ringtrain/checkpoints"]

# syntax=docker/dockerfile:1
# A ringtrain worker on an NVIDIA GPU. @tensorflow/tfjs-node-gpu 4.x loads libtensorflow 2.9,
# built against CUDA 11.2 and cuDNN 8, hence this base image; the host needs an NVIDIA driver
# of 460 or newer and the NVIDIA Container Toolkit. Node 20 is taken from the official image of
# the same glibc (Debian bullseye and Ubuntu 20.04 both have 2.31). Build from the repository root:
#   docker build -f deploy/docker/worker-gpu.Dockerfile -t ringtrain/worker-gpu:0.1.0 .
ARG NODE_IMAGE=node:20-bullseye-slim
ARG CUDA_IMAGE=nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04

FROM ${NODE_IMAGE} AS node

FROM ${CUDA_IMAGE} AS cuda-node
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
# The CUDA apt sources are not needed (the libraries are in the image) and their signing key has
# been rotated since this image was published, which would make `apt-get update` fail.
RUN rm -f /etc/apt/sources.list.d/cuda*.list /etc/apt/sources.list.d/nvidia-ml*.list \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version

FROM cuda-node AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages ./packages
# tfjs-node-gpu is an optional peer of @ringtrain/model: added here without touching the lockfile.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund \
 && npm install --no-save --omit=dev --no-audit --no-fund @tensorflow/tfjs-node-gpu@4.22.0

FROM cuda-node
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
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
HEALTHCHECK --interval=20s --timeout=10s --start-period=120s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7072/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["tini", "--", "npx", "--no", "ringtrain"]
CMD ["worker", "--coordinator", "ws://coordinator:7070", "--peer-host", "0.0.0.0", "--peer-port", "7071", "--metrics-host", "0.0.0.0", "--metrics-port", "7072"]

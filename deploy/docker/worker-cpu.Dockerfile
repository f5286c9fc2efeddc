# syntax=docker/dockerfile:1
# A ringtrain worker on CPU, on ringtrain's own oneDNN backend (packages/backend-native). The
# build needs the npm registry and Debian's archive and nothing else: oneDNN is Debian's
# libdnnl-dev, the addon is compiled by node-gyp against the Node headers of the base image, and
# no package that downloads a prebuilt library (such as @tensorflow/tfjs-node) is installed.
# It serves its ring predecessor on --peer-port and its own /metrics, /healthz and /readyz on
# --metrics-port. Build from the repository root:
#   docker build -f deploy/docker/worker-cpu.Dockerfile -t ringtrain/worker-cpu:0.1.0 .
# The build and final stages share one Debian release, so the libdnnl the addon was linked
# against (libdnnl2 on bookworm) is the one the final stage installs.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# The addon's toolchain, and oneDNN's headers for it to compile against.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libdnnl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages ./packages
# npm ci runs @ringtrain/backend-native's install script, which builds the addon when oneDNN's
# headers are there and otherwise only says why not; the image must not ship without it, so the
# build fails with the script's reason. The compiler's objects are not needed at run time.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund \
 && node -e "const s = require('./packages/backend-native/build/install-status.json'); if (!s.built) { console.error('the oneDNN addon was not built: ' + s.reason); process.exit(1); }" \
 && rm -rf packages/backend-native/build/Release/obj.target packages/backend-native/build/Release/.deps

FROM ${NODE_IMAGE}
# libdnnl2 is oneDNN's runtime library and libgomp1 the OpenMP runtime the addon threads with;
# tini forwards SIGTERM to npx and reaps children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini libdnnl2 libgomp1 \
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
# --backend native: a worker of this image that cannot load the addon fails, naming why,
# instead of training on a slower fallback.
CMD ["worker", "--coordinator", "ws://coordinator:7070", "--backend", "native", "--peer-host", "0.0.0.0", "--peer-port", "7071", "--metrics-host", "0.0.0.0", "--metrics-port", "7072"]

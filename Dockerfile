# syntax=docker/dockerfile:1
# The one meshid image, ghcr.io/meshid/meshid:<version>: `meshid serve` in the Deployment, and in every injected pod
# `meshid iptables` (meshid-init) and `meshid agent` (meshid-proxy, which starts Envoy).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off: `prepare` would compile before the sources are copied.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
# tsc, then esbuild bundles the CLI into dist/bin (one chunk per command): the sidecar's process starts faster.
RUN npx tsc -p tsconfig.json && node scripts/bundle.mjs

FROM node:24-slim
# meshid-init runs `meshid iptables`: Debian's iptables package brings iptables and ip6tables with both the nft
# backend (the default) and the legacy one (--iptables-backend legacy, for kernels without nf_tables).
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
# The bundle holds every module it runs (the tests run it from a folder with no node_modules): no node_modules here.
COPY --from=build /app/dist/bin ./dist/bin
# Injected containers run `meshid agent` and `meshid iptables` as their command, not through the entrypoint.
RUN ln -s /app/dist/bin/meshid.mjs /usr/local/bin/meshid
# The sidecar runs `meshid agent`, which starts Envoy: one image serves the control plane and the proxy.
COPY --from=envoyproxy/envoy:v1.31-latest /usr/local/bin/envoy /usr/local/bin/envoy
# Numeric, so Kubernetes can verify runAsNonRoot; the image's own `node` user.
USER 1000:1000
EXPOSE 15012 15013 15014 15017
ENTRYPOINT ["node", "/app/dist/bin/meshid.mjs"]
CMD ["serve"]

# syntax=docker/dockerfile:1
#
# Three stages: `build` compiles the TypeScript into dist/ with the development dependencies,
# `deps` installs the production dependencies only, and `runtime` holds just those two: compiled
# JavaScript on plain node, no tsx, no TypeScript, no embedded PostgreSQL.
#
#   docker build -t stowage:local .
#   docker run --rm stowage:local keys generate
#   docker run --rm -e DATABASE_URL=... -e STOWAGE_SEAL_PUBLIC_KEY=... -p 8080:8080 stowage:local serve --roles api

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- stage 1: compile -------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no install script is needed to compile (esbuild, protobufjs and embedded
# PostgreSQL's binaries are not used here), and `prepare` would build before src/ is copied.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.js ./scripts/
COPY src ./src
RUN npm run build

# ---- stage 2: production dependencies ---------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The same install test/production-install.test.ts makes and starts every role from.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- stage 3: runtime -------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production
# Files stay owned by root and read-only to the service user.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist

USER node
EXPOSE 8080

# No curl in the slim image: node's own fetch asks the readiness endpoint (database + event store).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# `serve` handles SIGTERM itself (graceful shutdown), so node can be PID 1.
ENTRYPOINT ["node", "bin/stowage.js"]
CMD ["serve"]

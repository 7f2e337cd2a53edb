# syntax=docker/dockerfile:1
# One image per service, all from this file: docker build --target <service> -t udaconnect/<service>:<version> .
# (scripts/build-images.sh builds every target.) Targets: person-api, location-ingest,
# location-writer, connection-service, migrate, frontend.
#
# Runtime approach (docs/decisions.md): services run from source with `node --import tsx`, exactly
# as in development and in the tests. The final stages hold production dependencies only, plus tsx
# (and the esbuild it uses) as the single extra runtime dependency. Bundling was rejected because
# the code finds files next to its sources at run time (the reflection descriptor sets,
# @grpc/reflection's protos via require.resolve, swagger-ui-dist's assets), which a bundle moves.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build: every dependency
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV npm_config_update_notifier=false
COPY package.json package-lock.json ./
COPY modules/common/package.json modules/common/
COPY modules/domain/package.json modules/domain/
COPY modules/proto/package.json modules/proto/
COPY modules/person-api/package.json modules/person-api/
COPY modules/location-ingest/package.json modules/location-ingest/
COPY modules/location-writer/package.json modules/location-writer/
COPY modules/connection-service/package.json modules/connection-service/
COPY modules/frontend/package.json modules/frontend/
# `npm ci`: exactly the versions package-lock.json pins, as scripts/provision.sh installs them. The
# lockfile lists every platform's optional binaries (swc, buf, esbuild, rolldown, lightningcss), so
# the image's platform finds its own; ci fails if package.json and the lockfile disagree.
RUN npm ci --no-audit --no-fund --loglevel=error

# ---------------------------------------------------------------- prod-deps: production node_modules
FROM build AS prod-deps
RUN npm prune --omit=dev --no-audit --no-fund --loglevel=error

# ---------------------------------------------------------------- runtime: shared base of every service
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    npm_config_update_notifier=false
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
# npm nests a workspace's dependency under modules/<ws>/node_modules when the root already holds
# another version of it (lru-cache 11 for common, beside an older one at the root): those come
# along too, or the service fails with "Cannot find module" (found by npm run test:deploy). The
# stage holds only package.json files and node_modules there; the sources are copied below.
COPY --from=prod-deps /app/modules ./modules
# tsx is a devDependency at the root: copy it and its only dependency (esbuild with the
# platform binary in @esbuild/) from the full install.
COPY --from=build /app/node_modules/tsx ./node_modules/tsx
COPY --from=build /app/node_modules/esbuild ./node_modules/esbuild
COPY --from=build /app/node_modules/@esbuild ./node_modules/@esbuild
COPY package.json tsconfig.json tsconfig.base.json ./
# modules/proto/src/gen/descriptors is read at run time (gRPC reflection). protos/ is not: the
# generated code and the descriptor sets carry the contract, so the images leave it out.
COPY modules/common ./modules/common
COPY modules/domain ./modules/domain
COPY modules/proto ./modules/proto
# Files are owned by root and read-only for the app user; tsx's cache goes to $TMPDIR
# (an emptyDir in Kubernetes, where the root filesystem is read-only).
ENV TMPDIR=/tmp
USER 10001:10001

FROM runtime AS person-api
COPY modules/person-api ./modules/person-api
EXPOSE 30001
# Exec form: node is PID 1 and receives SIGTERM itself (graceful drain in src/main.ts).
CMD ["node", "--import", "tsx", "modules/person-api/src/main.ts"]

FROM runtime AS location-ingest
COPY modules/location-ingest ./modules/location-ingest
EXPOSE 30002
CMD ["node", "--import", "tsx", "modules/location-ingest/src/main.ts"]

FROM runtime AS location-writer
COPY modules/location-writer ./modules/location-writer
EXPOSE 30004
CMD ["node", "--import", "tsx", "modules/location-writer/src/main.ts"]

FROM runtime AS connection-service
COPY modules/connection-service ./modules/connection-service
EXPOSE 30003
CMD ["node", "--import", "tsx", "modules/connection-service/src/main.ts"]

# Migrations + seed (idempotent), run by the db-migrate Job.
FROM runtime AS migrate
COPY db ./db
CMD ["node", "--import", "tsx", "db/cli.ts", "setup"]

# ---------------------------------------------------------------- frontend: page built at image build time
# vite (a devDependency) builds dist/ here; the final stage gets dist/ only, so server/main.ts
# finds dist/index.html and never builds at run time (the root filesystem is read-only).
FROM build AS frontend-build
COPY tsconfig.json tsconfig.base.json ./
COPY modules/frontend ./modules/frontend
RUN npm run build -w @udaconnect/frontend

FROM runtime AS frontend
COPY modules/frontend/package.json modules/frontend/tsconfig.json ./modules/frontend/
COPY modules/frontend/server ./modules/frontend/server
COPY --from=frontend-build /app/modules/frontend/dist ./modules/frontend/dist
EXPOSE 30000
# Exec form: node is PID 1 and receives SIGTERM itself (server/main.ts closes the server, ≤ 5 s).
CMD ["node", "--import", "tsx", "modules/frontend/server/main.ts"]

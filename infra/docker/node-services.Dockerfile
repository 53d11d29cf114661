# syntax=docker/dockerfile:1.7
# One multi-stage build for every Node service; each service is a target:
#   docker build -f infra/docker/node-services.Dockerfile --target registry-api -t palette/registry-api .
# (run from the repository root; infra/docker-compose.yml does this for all three).
# Stages: deps (npm ci, cached until a package.json or the lock changes) → build (Prisma client,
# TypeScript to dist/ in dependency order, then dev dependencies pruned) and, beside it, console
# (the admin console's Vite build, which registry-api serves at /console) → one slim runtime
# image per service, running compiled JavaScript as the unprivileged `node` user.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY libs/peft-core/package.json libs/peft-core/
COPY libs/gpu-kernels/package.json libs/gpu-kernels/
COPY libs/object-store/package.json libs/object-store/
COPY libs/job-contracts/package.json libs/job-contracts/
COPY libs/config-env/package.json libs/config-env/
COPY apps/registry-api/package.json apps/registry-api/
COPY apps/trainer-worker/package.json apps/trainer-worker/
COPY apps/router/package.json apps/router/
COPY apps/console/package.json apps/console/
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

# The console needs only its own sources and dev dependencies (Vite, React); its dist/ is static
# files, so no node_modules of its own reach the runtime image.
FROM deps AS console
COPY tsconfig.base.json ./
COPY apps/console apps/console
RUN npm run build -w apps/console && test -f apps/console/dist/index.html

FROM deps AS build
COPY tsconfig.base.json tsconfig.json ./
COPY tools tools
COPY prisma prisma
COPY libs libs
COPY apps apps
# Libraries first: a package's compiled imports of another resolve to that package's dist/.
RUN npm run generate -w apps/registry-api \
 && for pkg in libs/gpu-kernels libs/peft-core libs/object-store libs/job-contracts libs/config-env apps/registry-api apps/trainer-worker apps/router; do \
      echo "building $pkg" && npx tsc -p "$pkg/tsconfig.lib.json" || exit 1; \
    done \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# node_modules/@palette/* are workspace symlinks into libs/ and apps/; copying the trees keeps them valid.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/libs libs
COPY --from=build /app/apps apps
# registry-api serves it from apps/console/dist (console-options.ts finds it from its own dist/).
COPY --from=console /app/apps/console/dist apps/console/dist
# registry-api applies prisma/migrations itself at start-up.
COPY --from=build /app/prisma prisma
RUN mkdir -p /data && chown node:node /data
USER node

FROM runtime AS registry-api
ENV HOST=0.0.0.0 PORT=8080 DATA_DIR=/data
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "apps/registry-api/dist/main.js"]

FROM runtime AS trainer-worker
ENV DATA_DIR=/data
CMD ["node", "apps/trainer-worker/dist/main.js"]

FROM runtime AS router
ENV HOST=0.0.0.0 PORT=8090 DATA_DIR=/data
EXPOSE 8090
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8090)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "apps/router/dist/main.js"]

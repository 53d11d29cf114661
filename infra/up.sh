#!/usr/bin/env bash
# `npm run up`: installs what is missing, then starts the whole platform on its embedded
# defaults (PGlite database, directory blob store, a private Redis) and prints its URLs and
# the admin key. Ctrl-C stops everything. Settings: infra/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source infra/lib/prepare.sh

require_node
install_node_modules
# Redis carries the job queues (BullMQ); a REDIS_URL points at an existing one instead.
[ -n "${REDIS_URL:-}" ] || require_apt_command redis-server redis-server "job queues"
generate_prisma_client
build_console

# Run the launcher in this process (exec, not through tools/run-ts.js) so Ctrl-C reaches it
# directly and it alone stops the services, in order.
mapfile -d '' NODE_FLAGS < <(node -e "process.stdout.write(require('./tools/node-flags').nodeFlags().join('\0'))")
exec node "${NODE_FLAGS[@]}" infra/launcher/main.ts "$@"

#!/usr/bin/env bash
# Generates the Prisma client. The CLI insists that a native schema engine file exists even
# though `generate` never runs it; where none is installed we point it at a stub that fails
# loudly, so no schema-engine command can pretend to succeed. Migrations use prisma/migrate.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PRISMA_SCHEMA_ENGINE_BINARY:-}" ]; then
  export PRISMA_SCHEMA_ENGINE_BINARY="$PWD/scripts/schema-engine-unavailable.sh"
fi
exec npx --no-install prisma generate "$@"

#!/usr/bin/env bash
echo "aiworker: the native Prisma schema engine is not installed here; apply migrations with 'npm run migrate'." >&2
exit 1

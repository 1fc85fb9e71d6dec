#!/usr/bin/env bash
# The one test command (`npm test`): installs what the tests need (Debian clients, and later
# the backend servers), builds, and runs every test with Node's built-in runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npm run build --silent
# Each test file runs in its own process; two at a time on a 2-core machine.
exec node --test --test-concurrency=2 --test-timeout=600000 --test-reporter=spec dist/test/

#!/usr/bin/env bash
# The one test command (`npm test`): installs what the tests need (Debian clients, nginx,
# PostgreSQL, Redis and an S3 server), builds, and runs every test with Node's built-in
# runner, twice over the API and client suites: once on the embedded backends (filesystem +
# SQLite) and once on the scale-out ones (S3 + PostgreSQL + Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
S=scripts/services

bash scripts/install-test-deps.sh
npm run build --silent

# Servers for the scale-out tests; stopped (only the PIDs the scripts started) on exit.
trap 'bash $S/stop-all.sh || true' EXIT
TEST_POSTGRES_URL=$(bash $S/start-postgres.sh)
TEST_REDIS_URL=$(bash $S/start-redis.sh)
S3_ENV=$(bash $S/start-s3.sh)
export TEST_POSTGRES_URL TEST_REDIS_URL
set -a
eval "$S3_ENV"
set +a

# Each test file runs in its own process; two at a time on a 2-core machine. The timeout is per
# file (the crash test needs its 100 restarts, several minutes on a busy machine).
run_tests() {
  node --test --test-concurrency=2 --test-timeout=600000 --test-force-exit --test-reporter=spec "$@"
}

echo "== every test, embedded backends (filesystem + SQLite) =="
run_tests dist/test/

echo "== API, client, garbage-collection, signing and backup suites again on S3 + PostgreSQL + Redis =="
# (The cluster test runs on the scale-out backends in the first pass already; the backend-faults
# test starts its own servers, and the disk-full test is about the filesystem backend: neither
# depends on TEST_BACKEND.)
mapfile -t again < <(find dist/test/http dist/test/e2e dist/test/gc dist/test/signing dist/test/events dist/test/backup dist/test/proxy -name '*.test.js' ! -name 'cluster.test.js' ! -name 'backend-faults.test.js' ! -name 'disk-full.test.js' | sort)
TEST_BACKEND=scaleout run_tests "${again[@]}"

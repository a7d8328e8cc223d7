#!/usr/bin/env bash
# npm test: start the real test services (reusing ones already up), run every test file with
# node's test runner, and stop again only the services this run started.
set -euo pipefail
cd "$(dirname "$0")/.."

services=scripts/test-services.sh
started_here=false
if ! "$services" env >/dev/null 2>&1; then
  if "$services" up; then
    started_here=true
  else
    echo "test-services: could not start every test service; the tests that need one will fail" >&2
  fi
fi
if [ "$started_here" = true ]; then
  trap '"$services" down' EXIT
fi
# Exports whatever is up; a service that is down leaves its variables unset, and its tests fail.
eval "$("$services" env 2>/dev/null || true)"

# The CLI and end-to-end tests run bin/stowage.js, which is the compiled dist/: test fresh code.
npm run build --silent

mapfile -t files < <(find test -name '*.test.ts' | sort)
node --import tsx --test --test-reporter=spec --test-concurrency=2 "${files[@]}"

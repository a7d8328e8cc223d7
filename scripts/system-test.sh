#!/usr/bin/env bash
# npm run test:system: docker-compose.yml's stowage services as native processes against the
# real test services (started here unless already up), with faults, then the invariants.
set -euo pipefail
cd "$(dirname "$0")/.."

services=scripts/test-services.sh
if ! "$services" env >/dev/null 2>&1; then
  "$services" up >/dev/null
  trap '"$services" down' EXIT
fi
eval "$("$services" env)"
node --import tsx test/system/run.ts

#!/usr/bin/env bash
# npm run test:unit: the inner loop. Runs the tests that need nothing but PostgreSQL (the machine's
# cluster at 127.0.0.1:5432, the embedded default store's engine) — no Kafka, no S3 server, no Java,
# no browser and no build; scripts/unit-test-files.js picks them from what each test uses.
# `npm test` stays the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Without these a test that reaches for Kafka, S3 or EventStoreDB fails (or, for EventStoreDB,
# says it skipped) instead of quietly using services left running by an earlier `npm test`.
unset KAFKA_BROKERS KAFKA_TEST_SASL_BROKERS KAFKA_TEST_SASL_TLS_BROKERS KAFKA_TEST_TLS_CA_FILE
unset KAFKA_TEST_SASL_USERNAME KAFKA_TEST_SASL_PASSWORD S3_TEST_ENDPOINT S3_TEST_ACCESS_KEY S3_TEST_SECRET_KEY S3_TEST_REGION EVENTSTORE_URL
export PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

mapfile -t files < <(node scripts/unit-test-files.js)
total=$(find test -name '*.test.ts' | wc -l)
echo "test:unit: ${#files[@]} of $total test files; the rest need Kafka, S3, a browser or the build (npm test runs all)" >&2
node --import tsx --test --test-reporter=spec --test-concurrency=2 "${files[@]}"

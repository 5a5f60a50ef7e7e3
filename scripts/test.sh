#!/usr/bin/env bash
# The whole suite, as `npm test` runs it: types, lint, then every mocha test with coverage.
# Tests run against real components only (docs/testing.md); what they need is installed here or
# named with the exact command to run.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== real components"
# The InfluxDB tests start their own influxd 1.x (Debian's package); installed here when missing.
bash scripts/ensure-influxd.sh
bash scripts/ensure-chromium.sh # the browser test (test/e2e/browser-cors.test.ts) drives Debian's chromium

echo "== build (compiles src/ to dist/, which the end-to-end tests run) and typecheck"
npm run --silent build
npx --no-install tsc --noEmit -p .
echo "== lint (and the import rules of src/, .dependency-cruiser.cjs)"
npm run --silent lint
echo "== tests"
if [[ $# -eq 0 ]]; then
  set -- 'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts' 'test/e2e/**/*.test.ts' 'test/property/**/*.test.ts'
fi
npx --no-install c8 mocha "$@"

#!/usr/bin/env bash
# `npm test`: typecheck, lint, then every *.test.ts under libs/, apps/, infra/ and tools/ with node's
# test runner. All steps run even when one fails (CI shows every problem in one round); the
# exit status is non-zero if any failed.
#   TEST_FILTER=part-of-a-path   run only matching test files (see tools/run-tests.js)
#   SKIP_CHECKS=1                skip typecheck and lint (quick local runs)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

failed=()
step() {
  local name="$1"
  shift
  printf '\n\033[1m==> %s\033[0m (%s)\n' "$name" "$*"
  local started=$SECONDS
  if "$@"; then
    printf '\033[32m==> %s passed\033[0m in %ss\n' "$name" $((SECONDS - started))
  else
    printf '\033[31m==> %s FAILED\033[0m (exit %s) after %ss\n' "$name" "$?" $((SECONDS - started))
    failed+=("$name")
  fi
}

if [ "${SKIP_CHECKS:-}" != "1" ]; then
  step "typecheck" npx tsc -p tsconfig.json --noEmit
  step "typecheck infra" npx tsc -p infra/tsconfig.json --noEmit
  step "typecheck console" npm run --silent typecheck -w apps/console
  step "lint" npx eslint .
  step "lint console" npm run --silent lint -w apps/console
fi
step "tests" node tools/run-tests.js libs apps infra tools

echo
if [ ${#failed[@]} -gt 0 ]; then
  printf '\033[31mnpm test failed: %s\033[0m\n' "${failed[*]}"
  exit 1
fi
printf '\033[32mnpm test passed\033[0m\n'

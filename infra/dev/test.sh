#!/usr/bin/env bash
# The one command to run every test: installs what is missing, starts the
# services (PostgreSQL without durability for speed, unless one already runs),
# runs `dotnet test` on the whole solution and ends with one plain line:
#   N passed, N failed[, N skipped]
# totalled over all test projects from their TRX files. Exits with dotnet
# test's exit code. Extra arguments go to dotnet test (e.g. --filter ...).
set -euo pipefail

DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib.sh
source "$DEV_DIR/lib.sh"

"$DEV_DIR/install.sh"
# fsync etc. off: test data is throw-away. A PostgreSQL already running is kept as is.
# Also starts the Open vSwitch + OVN stack (infra/dev/ovs.sh) unless QKVM_OVS=0.
QKVM_PG_FAST=1 "$DEV_DIR/start-services.sh"

RESULTS="$QKVM_DATA/test-results"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

cd "$QKVM_REPO"
# The tests find PostgreSQL and RabbitMQ through the variables env.sh exported.
rc=0
dotnet test Quantixkvm.sln -c Release \
  --logger "console;verbosity=normal" \
  --logger trx --results-directory "$RESULTS" \
  "$@" || rc=$?

# One number of a TRX <Counters> element (0 when absent).
counter() {
  local v
  v="$(sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$2")"
  printf '%s' "${v:-0}"
}

passed=0 failed=0 skipped=0 files=0
while IFS= read -r -d '' trx; do
  files=$((files + 1))
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -n 1 || true)"
  passed=$((passed + $(counter passed "$counters")))
  # Errors, timeouts and aborts are failures too.
  for kind in failed error timeout aborted; do
    failed=$((failed + $(counter "$kind" "$counters")))
  done
  # Skipped tests are counted in "total" but not in "executed" (xunit's skips
  # leave notExecuted at 0).
  skipped=$((skipped + $(counter total "$counters") - $(counter executed "$counters")))
done < <(find "$RESULTS" -name '*.trx' -print0)

echo
if ((files == 0)); then
  qkvm_warn "no test results were written (did the build fail? see above)"
fi
if ((rc != 0 && failed == 0)); then
  qkvm_warn "dotnet test exited with code $rc although no test failed (build error, crashed test host, or no tests matched?)"
fi
qkvm_log "TRX results: $RESULTS ($files file(s))"
# Repeat the failures last, so that the tail of a long log says what failed.
if ((failed > 0)) && command -v node >/dev/null; then
  echo "[qkvm] failed tests:"
  find "$RESULTS" -name '*.trx' -print0 | xargs -0 node "$DEV_DIR/trx-failures.mjs" || true
fi
summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
exit "$rc"

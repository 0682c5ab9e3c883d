#!/usr/bin/env bash
# Re-proves that the jcstress tests can fail: copies the CURRENT working tree's library (pom.xml, mvnw,
# .mvn, bin/jdk25.sh, src/main, src/build; uncommitted changes included) with mutants.patch applied (every breakage behind
# -Dmutant=NAME, "none" = the unmodified code), installs it into a SEPARATE local Maven repository,
# builds this suite's jar against it, and runs each breakage against the tests meant to catch it.
# Nothing in the working tree or in ~/.m2 is touched.
#
#   jcstress-tests/mutants/run-mutants.sh            # every row of the README table (about 45 min)
#   jcstress-tests/mutants/run-mutants.sh partial-gather stale-count-take   # some rows
#
# WORK (default /tmp/eventfd-mutants) holds the build and, per mutant, results/<name>/console.txt.
# SKIP_BUILD=1 reuses the jar a previous run built in WORK (for running rows one at a time).
# The patch must apply with no fuzz (check-patch.sh, which run.sh also runs): when the library's code
# moves under it, regenerate it (README.md, "The tests can fail").
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$root/bin/jdk25.sh"
work="${WORK:-/tmp/eventfd-mutants}"

# name | test regex | extra jcstress options
table=(
  "stale-count-take|SemaphorePermitConservation|SemaphoreMutualExclusion|"
  "spurious-take|SemaphoreMessagePassing|SemaphoreMutualExclusion|SemaphorePermitConservation.TwoTryAcquires|"
  "partial-gather|SemaphoreMultiPermit|"
  "release-no-wake|SemaphoreTermination.AcquireWokenByRelease|SemaphoreTermination.AcquireTwoWokenByTwoReleases|SemaphoreMessagePassing.(TimedTryAcquire|AcquireVirtual)|SemaphoreMutualExclusion.(TimedTryAcquire|AcquireVirtual)|-strideSize 8 -strideCount 1"
  "acquire-ignores-interrupt|SemaphoreTermination.AcquireWokenByInterrupt|"
  "close-no-wake|SemaphoreTermination.AcquireWokenByClose|"
  "close-creates-permits|SemaphoreCloseVersusBarging|"
  "barger-ignores-close|SemaphoreCloseVersusBarging|"
  "multi-wait-takes-one|SemaphoreBlockingMultiPermit|SemaphoreTermination.AcquireTwoWokenByTwoReleases|"
  "no-edge|SemaphoreMessagePassing|"
  "slot-check-before-add|SlotPermitsAsProcesses.TwoTakesOfOnePermit|"
  "slot-gift-first|SlotPermitsAsProcesses.(GiveVersusTake|TakeTwoDuringGive)|"
  "slot-recover-blind|SlotPermitsAsProcesses.RecoveryVersusClaim|"
  "slot-turn-ignored|SlotPermitsAsProcesses.TurnsInTicketOrder|"
  "slot-cache-ignores-hint|SlotPermitsAsProcesses.CachedGiveVersusWaiter|"
  "slot-take-back-blind|SlotPermitsAsProcesses.CachedTakeVersusTakeBack|"
  "slot-close-cache-open|SlotPermitsAsProcesses.CachedGiveVersusClose|"
  "latch-close-no-wake|LatchTermination.AwaitWokenByClose|"
  "latch-await-ignores-interrupt|LatchTermination.AwaitWokenByInterrupt|"
  "latch-countdown-no-gate|LatchTermination.AwaitWokenByCountDown|LatchMessagePassing.TimedAwait|-strideSize 8 -strideCount 1"
  "latch-early-open|LatchCountDown.OpensOnlyAtZero|"
  "latch-lost-countdown|LatchCountDown.TwoCountDowns|"
  "latch-getcount-minus-one|LatchCountDown.GetCountNeverNegative|"
  "latch-open-off-by-one|LatchMessagePassing|LatchCountDown.OpensOnlyAtZero|"
  "latch-no-edge|LatchMessagePassing|"
)

build() {
  rm -rf "$work/lib" "$work/suite"
  mkdir -p "$work/lib" "$work/suite"
  "$here/check-patch.sh" || return 1
  (cd "$root" && tar -c pom.xml mvnw .mvn bin/jdk25.sh src/main src/build) | tar -x -C "$work/lib"
  (cd "$work/lib" && patch --fuzz=0 -p1 -s < "$here/mutants.patch") || return 1
  if [ ! -d "$work/m2" ]; then
    echo "seeding $work/m2 from ~/.m2/repository (offline build afterwards)"
    cp -r "$HOME/.m2/repository" "$work/m2"
  fi
  (cd "$work/lib" && ./mvnw -q -B -o -DskipTests -Dmaven.repo.local="$work/m2" install) || return 1
  cp -r "$root/jcstress-tests/pom.xml" "$root/jcstress-tests/src" "$work/suite/"
  "$root/mvnw" -q -B -o -Dmaven.repo.local="$work/m2" -f "$work/suite/pom.xml" package || return 1
}

run_one() {   # name regex extra...
  local name="$1" re="$2"; shift 2
  local dir="$work/results/$name"
  rm -rf "$dir"; mkdir -p "$dir"
  case " $* " in *" -strideSize "*) ;; *) set -- -strideSize 64 -strideCount 8 "$@" ;; esac
  local start rc
  start=$(date +%s)
  # A short bound (200 ms) for the Continuous tests' waits: with a broken wake-up every wait runs out.
  (cd "$dir" && timeout --kill-after=20 600 java -jar "$work/suite/target/jcstress.jar" -m quick -sc false \
      -jvmArgsPrepend "--enable-native-access=ALL-UNNAMED -Dmutant=$name -Deventfd.jcstress.boundMillis=200" \
      -t "$re" -r "$dir/html" -v "$@" > "$dir/console.txt" 2>&1)
  rc=$?
  echo "=== mutant=$name tests=$re: jcstress exit $rc, $(( $(date +%s) - start ))s"
  # The summary of each test, non-zero rows only.
  sed -n '/^RUN RESULTS/,$p' "$dir/console.txt" | grep -E '\] dev\.|^ +[^ ].*  +[0-9,]+ +[0-9.]+% ' \
    | grep -vE '  0 +0\.00% '
}

for wanted in "$@"; do
  found=0
  for row in "${table[@]}"; do [ "${row%%|*}" = "$wanted" ] && found=1; done
  [ "$found" -eq 1 ] || { echo "run-mutants.sh: no row named '$wanted' (see the table in this script)" >&2; exit 2; }
done
if [ "${SKIP_BUILD:-0}" = 1 ] && [ -f "$work/suite/target/jcstress.jar" ]; then
  echo "SKIP_BUILD=1: reusing $work/suite/target/jcstress.jar (built from the tree and patch as they were then)"
else
  build || { echo "build failed" >&2; exit 1; }
fi
for row in "${table[@]}"; do
  name="${row%%|*}"
  rest="${row#*|}"
  extra="${rest##*|}"
  re="${rest%|*}"
  if [ $# -gt 0 ]; then
    case " $* " in *" $name "*) ;; *) continue ;; esac
  fi
  # shellcheck disable=SC2086
  run_one "$name" "$re" $extra
done

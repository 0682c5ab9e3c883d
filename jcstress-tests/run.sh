#!/usr/bin/env bash
# Runs the jcstress suite the way CI does, and fails unless every test really ran and passed.
#
#   jcstress-tests/run.sh                      # the CI run: -m quick -sc false, all tests
#   JCSTRESS_MODE=default jcstress-tests/run.sh    # longer runs (see README.md for the times)
#   jcstress-tests/run.sh -t 'Latch.*'         # extra jcstress options are passed through
#
# Needs target/jcstress.jar: in the repository root, `./mvnw -q -B -DskipTests install`, then
# `../mvnw -B -f jcstress-tests/pom.xml package` (or `./mvnw -B -f jcstress-tests/pom.xml package`
# from the root).
#
# Environment:
#   JCSTRESS_MODE     jcstress preset (default: quick). Never "sanity": it records no samples for the
#                     Termination tests, which then pass without testing anything.
#   JCSTRESS_SPLIT    "true" to compile each actor separately in every combination (7 compilation
#                     modes per fork instead of 2: 3.5x longer; default: false, to fit CI's time).
#   JCSTRESS_TIMEOUT  seconds before the run is killed and fails (default: 1800, i.e. 30 minutes; the whole
#                     quick run takes about 16 minutes on 2 cores).
#   JCSTRESS_STRIDE_SIZE, JCSTRESS_STRIDE_COUNT
#                     states in flight = size x count (default 64 x 8 = 512). Every state holds two
#                     eventfds, plus one /proc fdinfo descriptor once a count is read: jcstress's own
#                     default (256 x 40 = 10,240 states) runs out of descriptors (EMFILE).
#   JCSTRESS_MIN_TESTS  fewer tests than this in a run without -t is a failure (default: 43). With -t,
#                     every test of the jar that the regex selects must report.
#
# Before running, mutants/check-patch.sh checks that mutants/mutants.patch (the deliberate breakages
# that prove these tests can fail) still applies to the current src/main, so that it cannot go stale
# unnoticed; a patch that no longer applies fails the run (exit 2) until it is regenerated.
#
# Exit status: jcstress's own (1 on any FORBIDDEN outcome, unlisted outcome, STALE, or test error),
# or 2 when the run produced no results, fewer tests than expected, a test with zero samples, or a
# test that was not reported as OK, or when mutants.patch no longer applies; 124 when it timed out.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
. "$(dirname "$0")/../bin/jdk25.sh"

mode="${JCSTRESS_MODE:-quick}"
split="${JCSTRESS_SPLIT:-false}"
limit="${JCSTRESS_TIMEOUT:-1800}"
stride_size="${JCSTRESS_STRIDE_SIZE:-64}"
stride_count="${JCSTRESS_STRIDE_COUNT:-8}"
min_tests="${JCSTRESS_MIN_TESTS:-43}"

if [ "$mode" = sanity ]; then
  echo "run.sh: -m sanity records zero samples for Termination tests; use quick or longer." >&2
  exit 2
fi

"$here/mutants/check-patch.sh" || exit 2

jar="$here/target/jcstress.jar"
if [ ! -f "$jar" ]; then
  echo "run.sh: $jar is missing. Build it: (cd $here/.. && ./mvnw -q -B -DskipTests install && ./mvnw -B -f jcstress-tests/pom.xml package)" >&2
  exit 2
fi

# Descriptors: each state in flight holds up to 3. Raise the soft limit to the hard one if needed.
needed=$(( stride_size * stride_count * 3 + 1024 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$needed" ]; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$needed" ]; then
    echo "run.sh: open-file limit $(ulimit -n) < $needed needed for ${stride_size}x${stride_count} states;" \
         "lower JCSTRESS_STRIDE_COUNT or raise ulimit -n." >&2
    exit 2
  fi
fi

# The tests the jar holds (written by the annotation processor): every one must come back with samples.
# Each line: JCTEST, then length-prefixed tokens (<length>S<text>); the first token is the test's name.
expected="$(unzip -p "$jar" META-INF/TestList | awk '
  /^JCTEST[0-9]+S/ { s = substr($0, 7); match(s, /^[0-9]+/); print substr(s, RLENGTH + 2, substr(s, 1, RLENGTH) + 0) }
' | sort -u)"
# With -t, the tests it selects (jcstress matches the regex anywhere in the name; ERE is close enough).
selection=""
prev=""
for arg in "$@"; do [ "$prev" = -t ] && selection="$arg"; prev="$arg"; done
if [ -n "$selection" ]; then
  expected="$(echo "$expected" | grep -E -- "$selection" || true)"
fi

out="$here/target/jcstress-results"
rm -rf "$out"
mkdir -p "$out"
log="$out/console.txt"

echo "run.sh: java $(java -version 2>&1 | head -1); mode=$mode split=$split strides=${stride_size}x${stride_count}" \
     "timeout=${limit}s ulimit -n=$(ulimit -n); $(echo "$expected" | grep -c .) tests selected from the jar"
start=$(date +%s)
set +e
# cd: jcstress writes its result blob (jcstress-results-*.bin.gz) into the working directory.
(cd "$out" && timeout --kill-after=30 "$limit" java -jar "$jar" \
    -m "$mode" -sc "$split" -strideSize "$stride_size" -strideCount "$stride_count" \
    -jvmArgsPrepend "--enable-native-access=ALL-UNNAMED" \
    -r "$out/html" -v "$@") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))
echo "run.sh: jcstress exited with $rc after ${elapsed}s"
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "run.sh: FAILED: timed out after ${limit}s (a test hangs, or the machine is too slow for this mode)" >&2
  exit 124
fi

# The final summary: every "[STATUS] test" line after RUN RESULTS, with the sum of its SAMPLES column.
summary="$(awk '
  /^RUN RESULTS:/ { on = 1; next }
  !on { next }
  match($0, /\[[A-Z_ ]+\] dev\.eventfd\.sync\.jcstress\.[A-Za-z0-9_.]+/) {
    if (name != "") print name, status, samples
    s = substr($0, RSTART, RLENGTH); status = s; sub(/\].*/, "", status); sub(/^\[/, "", status)
    name = s; sub(/^.*\] /, "", name); samples = 0; next
  }
  name != "" {   # a table row: ... SAMPLES FREQ% EXPECT DESCRIPTION (the RESULT itself may hold spaces)
    for (i = 2; i <= NF; i++) if ($i ~ /^[0-9.]+%$/ && $(i - 1) ~ /^[0-9,]+$/) {
      n = $(i - 1); gsub(",", "", n); samples += n; break
    }
  }
  END { if (name != "") print name, status, samples }
' "$log")"

echo "run.sh: per test (status, samples over all configurations):"
echo "$summary" | awk 'NF { printf "  %-90s %-8s %s\n", $1, $2, $3 }'

problems=0
ran="$(echo "$summary" | awk 'NF { print $1 }' | sort -u)"
count="$(echo "$ran" | grep -c . || true)"
while read -r name status samples; do
  [ -z "$name" ] && continue
  if [ "$status" != OK ]; then echo "run.sh: $name: $status" >&2; problems=1; fi
  if [ "$samples" -eq 0 ]; then echo "run.sh: $name: zero samples: it did not really run" >&2; problems=1; fi
done <<< "$summary"
if [ "$count" -eq 0 ] || grep -q "No matching tests" "$log"; then
  echo "run.sh: no test ran (a -t that matches nothing, or tests skipped for want of CPUs)" >&2
  problems=1
fi
missing="$(comm -23 <(echo "$expected" | grep . || true) <(echo "$ran" | grep . || true))"
if [ -n "$missing" ]; then
  echo "run.sh: selected tests in the jar that did not run (more actors than CPUs?):" >&2
  echo "$missing" | sed 's/^/  /' >&2
  problems=1
fi
if [ -z "$selection" ]; then
  if [ "$count" -lt "$min_tests" ]; then
    echo "run.sh: only $count tests ran, expected at least $min_tests" >&2
    problems=1
  fi
fi

echo "run.sh: $count tests reported, $(echo "$summary" | awk '$2 == "OK"' | grep -c . || true) OK; ${elapsed}s; results in $out"
if [ "$rc" -ne 0 ]; then
  echo "run.sh: FAILED: jcstress exit code $rc (FORBIDDEN outcome, STALE, or test error; see above)" >&2
  exit "$rc"
fi
if [ "$problems" -ne 0 ]; then
  echo "run.sh: FAILED: see the messages above" >&2
  exit 2
fi
echo "run.sh: PASSED"

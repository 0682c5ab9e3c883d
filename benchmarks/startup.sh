#!/usr/bin/env bash
# Row 8: start-up of `eventfd-sync run` against flock(1), in the same run. For each tool, ROUNDS
# invocations of `TOOL NAME date +%s%N` (the command prints when it started), one tool after the
# other in each round: the median time from the invocation to the command's start, the median wall
# time of the whole invocation, and the median peak resident set (GNU time's %M) of the tool. The
# first invocation after a build makes the AOT cache (bin/eventfd-sync); it runs before the rounds.
#
#   benchmarks/startup.sh [ROUNDS]     (default 20)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
rounds=${1:-20}
command -v flock > /dev/null || { echo "startup.sh: flock(1) is not installed" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "startup.sh: GNU time (/usr/bin/time) is not installed" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name="startup-bench-$$"
"$root/bin/eventfd-sync" run "$name" true               # builds, and makes the AOT cache, if needed

declare -A starts walls rss
one() {                                                  # one LABEL CMD...: a measured invocation
  local label="$1"; shift
  local t0 t1 started
  t0=$(date +%s%N)
  started=$(/usr/bin/time -f "%M" -o "$tmp/rss" "$@" date +%s%N)
  t1=$(date +%s%N)
  starts[$label]+="$(( (started - t0) / 1000 )) "; walls[$label]+="$(( (t1 - t0) / 1000 )) "
  rss[$label]+="$(cat "$tmp/rss") "
}
for _ in $(seq "$rounds"); do
  one eventfd-sync "$root/bin/eventfd-sync" run "$name"
  one flock flock "$tmp/lock"
done
. "$root/bin/jdk25.sh"
echo "== $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $("$JAVA_HOME/bin/java" -version 2>&1 | head -1), $rounds rounds"
for label in eventfd-sync flock; do
  python3 - "$label" "${starts[$label]}" "${walls[$label]}" "${rss[$label]}" <<'PY'
import statistics, sys
label = sys.argv[1]
starts, walls, rss = (list(map(int, a.split())) for a in sys.argv[2:])
print(f"{label:13} command started {statistics.median(starts) / 1000:7.1f} ms after the invocation, "
      f"whole run {statistics.median(walls) / 1000:7.1f} ms, peak resident {statistics.median(rss) / 1024:5.1f} MB (medians)")
PY
done

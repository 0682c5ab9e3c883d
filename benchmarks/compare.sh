#!/usr/bin/env bash
# Compares the library at a git revision with the working tree on the uncontended, hand-off,
# throughput and lifecycle benchmarks, in one run on one machine. Both benchmark jars are built from the working
# tree's benchmarks/ sources: the old one against the library at REV (installed into a separate local
# Maven repository, so ~/.m2 keeps the current library), the new one against the working tree's. The
# old and new runs alternate, ROUNDS times, so that both see the same machine and load.
#
#   benchmarks/compare.sh REV [ROUNDS]     # default 2 rounds; about 6 minutes a round on 2 cores
#   ONLY="lifecycle handoff" benchmarks/compare.sh REV   # some of: uncontended handoff throughput lifecycle
#
# Results: benchmarks/results/compare-<rev>/ (JMH JSON and logs per run, environment.txt, and
# summary.txt: the median score of each benchmark for old and new, and new/old).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=../bin/jdk25.sh
source "$root/bin/jdk25.sh"

rev="${1:?usage: benchmarks/compare.sh REV [ROUNDS]}"
rounds="${2:-2}"
short="$(git -C "$root" rev-parse --short "$rev")"
out="$here/results/compare-$short"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

echo "== the library at $short, into a separate repository"
mkdir -p "$work/old" "$work/bench-old" "$work/bench-new"
git -C "$root" archive "$rev" | tar -x -C "$work/old"
cp -r "$HOME/.m2/repository" "$work/m2"
(cd "$work/old" && ./mvnw -q -B -o -DskipTests -Dmaven.repo.local="$work/m2" install)
tar -c -C "$here" pom.xml src | tar -x -C "$work/bench-old"
"$root/mvnw" -q -B -o -Dmaven.repo.local="$work/m2" -f "$work/bench-old/pom.xml" package

echo "== the working tree's library, into ~/.m2"
(cd "$root" && ./mvnw -q -B -o -DskipTests install)
tar -c -C "$here" pom.xml src | tar -x -C "$work/bench-new"
"$root/mvnw" -q -B -o -f "$work/bench-new/pom.xml" package

B=dev.eventfd.sync.bench
std=(-f 1 -wi 3 -i 5 -w 1s -r 1s)
{
  echo "old: $rev ($short); new: the working tree at $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' + changes')"
  echo "JDK: $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
  echo "JMH: ${std[*]}; $rounds rounds, old and new alternating"
  echo "load at start: $(cat /proc/loadavg)"
} > "$out/environment.txt"
for r in $(seq 1 "$rounds"); do
  for v in old new; do
    jar="$work/bench-$v/target/benchmarks.jar"
    for run in "uncontended $B.UncontendedBenchmark -p impl=juc,eventfd,rawEventfd" \
               "handoff $B.HandOffBenchmark.virtualVirtual" \
               "throughput $B.ContendedThroughputBenchmark" \
               "lifecycle $B.LifecycleBenchmark"; do
      read -r name args <<< "$run"
      [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]] && continue
      # shellcheck disable=SC2086
      "$JAVA_HOME/bin/java" -jar "$jar" -foe true -rf json -rff "$out/$name-$v-r$r.json" $args "${std[@]}" \
          > "$out/$name-$v-r$r.log" 2>&1 || { echo "FAILED: $name $v round $r (see $out/$name-$v-r$r.log)" >&2; exit 1; }
    done
    echo "round $r $v done $(date +%T), load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out/environment.txt"
  done
done
echo "load at end: $(cat /proc/loadavg)" >> "$out/environment.txt"

python3 - "$out" > "$out/summary.txt" <<'EOF'
import glob, json, os, statistics, sys
out = sys.argv[1]
scores = {}   # (benchmark, params) -> {"old": [...], "new": [...]}
unit = {}
for f in sorted(glob.glob(os.path.join(out, "*-r*.json"))):
    version = os.path.basename(f).split("-")[1]
    for b in json.load(open(f)):
        params = ",".join("%s=%s" % kv for kv in sorted((b.get("params") or {}).items()))
        key = (b["benchmark"].rsplit(".", 2)[-2] + "." + b["benchmark"].rsplit(".", 1)[-1], params)
        scores.setdefault(key, {"old": [], "new": []})[version].extend(b["primaryMetric"]["rawData"][0])
        unit[key] = b["primaryMetric"]["scoreUnit"]
print("%-52s %-28s %12s %12s %9s" % ("benchmark", "params", "old median", "new median", "new/old"))
for key in sorted(scores):
    old, new = scores[key]["old"], scores[key]["new"]
    if not old or not new:
        continue
    mo, mn = statistics.median(old), statistics.median(new)
    print("%-52s %-28s %12.3f %12.3f %9.2f  (%s; lower is better)" % (key[0], key[1], mo, mn, mn / mo, unit[key]))
EOF
cat "$out/environment.txt" "$out/summary.txt"

#!/usr/bin/env bash
# Builds and runs the eventfd-sync benchmarks (JMH), writing JSON to results/.
#
#   ./run.sh                  the measurement run (~20 min on 2 cores); results/*.json, then chart.py
#   ./run.sh --smoke          every benchmark once with tiny counts (CI): fails on any benchmark error
#   ./run.sh --profile        profiling runs (JMH -prof gc / -prof stack) into results/profile/
#   ./run.sh --only GROUP...  only these groups: uncontended handoff crossprocess throughput
#                             releaseall releaseall1m latch heap recovery lifecycle (smoke only;
#                             benchmarks/compare.sh measures it)
#
# Environment: SKIP_LIBRARY_INSTALL=1 skips `mvnw install` of the library (use what is in ~/.m2);
# ROUNDS=n overrides the number of interleaved rounds of the repeated groups; PERF_ONLY=1 makes
# --profile skip the JMH profilers and run only the perf record steps.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=../bin/jdk25.sh
source "$root/bin/jdk25.sh"

mode=full
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) mode=smoke ;;
    --profile) mode=profile ;;
    --only) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do only+=("$1"); shift; done; continue ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

wanted() {
  [ ${#only[@]} -eq 0 ] && return 0
  local g
  for g in "${only[@]}"; do [ "$g" = "$1" ] && return 0; done
  return 1
}

echo "== JDK: $("$JAVA_HOME/bin/java" -version 2>&1 | head -1)"
if [ "${SKIP_LIBRARY_INSTALL:-0}" != 1 ]; then
  echo "== installing the library into ~/.m2 (tests skipped)"
  (cd "$root" && ./mvnw -q -B -DskipTests install)
fi
echo "== building benchmarks/target/benchmarks.jar"
(cd "$here" && "$root/mvnw" -q -B -f pom.xml package)

jar="$here/target/benchmarks.jar"

# what was measured, on what (written beside the results)
environment() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "library commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" status --porcelain -- src/main 2>/dev/null | grep -q . && echo ' (src/main had uncommitted changes)')"
  echo "kernel: $(uname -r)  cpus: $(nproc)  memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "jdk: $("$JAVA_HOME/bin/java" -version 2>&1 | sed -n 2p)"
  echo "jmh: 1.37"
}
java=("$JAVA_HOME/bin/java")

case "$mode" in
  smoke) out="$here/results/smoke" ;;
  profile) out="$here/results/profile" ;;
  *) out="$here/results" ;;
esac
mkdir -p "$out"
# smoke: overwritten; measurement and profile runs: appended, one block per run
[ "$mode" = smoke ] && rm -f "$out/environment.txt"
{ echo "--- run.sh mode=$mode groups=${only[*]:-all}"; environment; } | tee -a "$out/environment.txt"

# jmh NAME ARGS...: one JMH run, JSON into $out/NAME.json, human log into $out/NAME.log.
# -foe true: a benchmark that throws makes JMH (and so this script) fail.
jmh() {
  local name="$1"; shift
  echo "== $name: $*"
  rm -f "$out/$name.json"
  set +e
  "${java[@]}" -jar "$jar" -foe true -rf json -rff "$out/$name.json" "$@" 2>&1 | tee "$out/$name.log" \
    | grep --line-buffered -E '^(# (Benchmark|Parameters):|[A-Za-z]+Benchmark\.|<failure>|.*(ERROR|Exception))'
  local rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -ne 0 ]; then echo "FAILED: $name, JMH exit status $rc (see $out/$name.log)" >&2; exit 1; fi
  if [ ! -s "$out/$name.json" ] || ! grep -q '"primaryMetric"' "$out/$name.json"; then
    echo "FAILED: $name wrote no results (see $out/$name.log)" >&2; exit 1
  fi
}

# heap NAME IMPL WAITERS REPS: the heap-per-waiter program, in its own JVM.
heap() {
  local name="$1" impl="$2" waiters="$3" reps="$4"
  echo "== $name: HeapPerWaiter $impl $waiters x$reps"
  "${java[@]}" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -Xms6g -Xmx6g -cp "$jar" \
    dev.eventfd.sync.bench.HeapPerWaiter "$impl" "$waiters" "$reps" > "$out/$name.json"
  cat "$out/$name.json"
}

B=dev.eventfd.sync.bench
if [ "$mode" = smoke ]; then
  tiny=(-f 1 -wi 0 -i 1 -w 100ms -r 100ms)
  start=$SECONDS
  wanted uncontended  && jmh uncontended  "$B.UncontendedBenchmark" "${tiny[@]}"
  wanted handoff      && jmh handoff      "$B.HandOffBenchmark" "${tiny[@]}"
  wanted crossprocess && jmh crossprocess "$B.CrossProcessHandOffBenchmark" "${tiny[@]}"
  wanted throughput   && jmh throughput   "$B.ContendedThroughputBenchmark" "${tiny[@]}" -p threads=100 -p cycles=2
  wanted releaseall   && jmh releaseall   "$B.ReleaseAllBenchmark" -f 1 -wi 0 -i 1 -p waiters=1000
  wanted latch        && jmh latch        "$B.LatchReleaseBenchmark" -f 1 -wi 0 -i 1 -p waiters=200
  wanted lifecycle    && jmh lifecycle    "$B.LifecycleBenchmark" "${tiny[@]}"
  wanted recovery     && jmh recovery     "$B.LockRecoveryBenchmark" -f 1 -wi 0 -i 1
  if wanted heap; then
    heap heap-juc juc 1000 1
    heap heap-eventfd eventfd 1000 1
  fi
  python3 "$here/chart.py" "$out" --svg "$out/chart.svg" --markdown "$out/summary.md" > /dev/null
  echo "== smoke run passed in $((SECONDS - start)) s"
  exit 0
fi

if [ "$mode" = profile ]; then
  # Where the time goes. (1) JMH profilers: allocation per op (gc) and, through perf stat, system calls
  # and context switches per op (perfnorm). (2) perf record of one fork, with the JIT's symbols
  # (-XX:+DumpPerfMapAtExit), summed by symbol over all threads: perf-NAME.txt.
  perfnorm=()
  events=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_futex,context-switches
  if perf stat -e "$events" true > /dev/null 2>&1; then
    perfnorm=(-prof "perfnorm:events=$events")
  else
    echo "(perf stat cannot count system calls here: perfnorm skipped)"
  fi
  if [ "${PERF_ONLY:-0}" != 1 ]; then
  wanted uncontended && jmh uncontended-prof "$B.UncontendedBenchmark" -p impl=eventfd,rawEventfd \
      -f 1 -wi 3 -i 5 -prof gc "${perfnorm[@]}"
  wanted handoff && jmh handoff-prof "$B.HandOffBenchmark.virtualVirtual" -f 1 -wi 3 -i 5 -prof gc "${perfnorm[@]}"
  wanted throughput && jmh throughput-prof "$B.ContendedThroughputBenchmark" -f 1 -wi 3 -i 5 -prof gc "${perfnorm[@]}"
  wanted releaseall && jmh releaseall-prof "$B.ReleaseAllBenchmark" -f 1 -wi 1 -i 3 -prof gc "${perfnorm[@]}"
  fi
  if perf record -o /dev/null -F 99 true > /dev/null 2>&1; then
    # -jvmArgsAppend replaces the @Fork arguments, so it repeats what the forks need
    record() {
      local name="$1"; shift
      echo "== perf record: $name"
      perf record -F 1999 -g -o "$out/perf-$name.data" -- "${java[@]}" -jar "$jar" -f 1 -wi 3 -i 3 "$@" \
          -jvmArgsAppend "--enable-native-access=ALL-UNNAMED -Xmx2g -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -XX:+PreserveFramePointer $PERF_JVM_ARGS" \
          > "$out/perf-$name.log" 2>&1
      { perf report -i "$out/perf-$name.data" --no-children --sort comm,sym -g none --stdio 2>/dev/null || true; } \
          | grep '%' | head -80 | cut -c1-220 > "$out/perf-$name.txt" || true
      rm -f "$out/perf-$name.data"
      head -25 "$out/perf-$name.txt"
    }
    PERF_JVM_ARGS="" ; wanted uncontended && record uncontended-eventfd "$B.UncontendedBenchmark" -p impl=eventfd
    PERF_JVM_ARGS="-Djmh.executor=VIRTUAL"; wanted handoff && record handoff-eventfd "$B.HandOffBenchmark.virtualVirtual" -p impl=eventfd
    PERF_JVM_ARGS="-Djmh.executor=VIRTUAL"; wanted handoff && record handoff-juc "$B.HandOffBenchmark.virtualVirtual" -p impl=juc
    PERF_JVM_ARGS="-Djdk.virtualThreadScheduler.parallelism=8"; wanted throughput && record throughput-eventfd "$B.ContendedThroughputBenchmark" -p impl=eventfd
    PERF_JVM_ARGS="-Djdk.virtualThreadScheduler.parallelism=8"; wanted throughput && record throughput-juc "$B.ContendedThroughputBenchmark" -p impl=juc
  else
    echo "(perf record does not work here: skipped)"
  fi
  exit 0
fi

# The measurement run. The machine is small and shared: each group that compares implementations is
# run in ROUNDS interleaved rounds of one fork each (every implementation once per round), and chart.py
# reports medians and the median over rounds of the per-round ratio.
rounds=${ROUNDS:-3}
std=(-f 1 -wi 3 -i 5 -w 1s -r 1s)
for r in $(seq 1 "$rounds"); do
  wanted uncontended  && jmh "uncontended-r$r"  "$B.UncontendedBenchmark" "${std[@]}"
  wanted handoff      && jmh "handoff-r$r"      "$B.HandOffBenchmark" "${std[@]}"
  if [ "$r" -le 2 ]; then
    wanted crossprocess && jmh "crossprocess-r$r" "$B.CrossProcessHandOffBenchmark" "${std[@]}"
    wanted throughput   && jmh "throughput-r$r"   "$B.ContendedThroughputBenchmark" "${std[@]}"
  fi
done
wanted releaseall   && jmh releaseall   "$B.ReleaseAllBenchmark" -f 1 -wi 3 -i 10
wanted releaseall1m && jmh releaseall1m "$B.ReleaseAllBenchmark" -f 1 -wi 1 -i 3 -p waiters=1000000
wanted latch        && jmh latch        "$B.LatchReleaseBenchmark" -f 1 -wi 5 -i 15
wanted recovery     && jmh recovery     "$B.LockRecoveryBenchmark" -f 1 -wi 2 -i 15
if wanted heap; then
  heap heap-juc juc 100000 3
  heap heap-eventfd eventfd 100000 3
  heap heap1m-juc juc 1000000 1
  heap heap1m-eventfd eventfd 1000000 1
fi
python3 "$here/chart.py" "$out" --svg "$out/chart.svg" --markdown "$out/summary.md"

#!/usr/bin/env bash
# Fails (exit 2) unless mutants.patch still applies to the current tree's src/main, so that the
# deliberate breakages run-mutants.sh builds can never silently go stale. Cheap: a `patch --dry-run`,
# nothing is written. run.sh calls it before every jcstress run.
#
# --fuzz=0: every hunk's context must match exactly (a hunk may still move, by line offset). With
# patch's default fuzz of 2, a hunk of an outdated patch can land on the wrong lines and "succeed"
# (seen here: the old patch's acquire() hunk applied 143 lines off, with fuzz 2, to other code).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if ! command -v patch > /dev/null; then
  echo "check-patch.sh: 'patch' is not installed: cannot check that mutants/mutants.patch still applies" >&2
  exit 2
fi
if ! out="$(cd "$root" && patch --dry-run --fuzz=0 -p1 -f < "$here/mutants.patch" 2>&1)"; then
  echo "check-patch.sh: jcstress-tests/mutants/mutants.patch no longer applies to src/main:" >&2
  echo "$out" | sed 's/^/  /' >&2
  echo "check-patch.sh: regenerate it against the current code (see jcstress-tests/README.md, 'The tests can fail')" >&2
  exit 2
fi

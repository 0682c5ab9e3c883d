#!/usr/bin/env bash
# Fails unless jnativescan (JDK 22+) finds exactly the native access listed in
# native-access.expected in the library jar: where the library links downcalls and gives a
# native address a size. A new restricted call anywhere else fails the build until it is
# reviewed and added there. Run by `mvn verify` (the jar must exist).
#
#   src/build/check-native-access.sh JAR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
jar="$1"
scan="${JAVA_HOME:+$JAVA_HOME/bin/}jnativescan"
found="$("$scan" --module-path "$jar" --add-modules dev.eventfd.sync | sed "1s|^.* (dev.eventfd.sync):$|JAR (dev.eventfd.sync):|")"
modules="$("$scan" --module-path "$jar" --add-modules dev.eventfd.sync --print-native-access)"
if ! diff -u "$here/native-access.expected" <(printf '%s\n--print-native-access: %s\n' "$found" "$modules"); then
  echo "check-native-access.sh: jnativescan found other native access than src/build/native-access.expected (diff above)" >&2
  exit 1
fi
echo "check-native-access.sh: jnativescan reports exactly the expected native access (module $modules)"

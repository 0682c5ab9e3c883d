# Sourced by the project's scripts: points JAVA_HOME at a JDK 25 or newer, or stops with a clear error.
# Order: JAVA_HOME if it is 25+, then /usr/lib/jvm/temurin-25*, then any /usr/lib/jvm/*25*.
java_major() {
  # the JDK's release file says it without starting a JVM (which costs ~0.1 s on every command)
  if [ -r "$1/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release")
    if [ -n "$v" ]; then echo "$v"; return; fi
  fi
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | cut -d. -f1
}
find_jdk25() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ "$(java_major "$JAVA_HOME")" -ge 25 ] 2>/dev/null; then
    return 0
  fi
  for candidate in /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25* /usr/lib/jvm/jdk-25*; do
    if [ -x "$candidate/bin/java" ] && [ "$(java_major "$candidate")" -ge 25 ] 2>/dev/null; then
      export JAVA_HOME="$candidate"
      return 0
    fi
  done
  echo "error: eventfd-sync needs JDK 25 or newer. Set JAVA_HOME to one (looked at JAVA_HOME='${JAVA_HOME:-}' and /usr/lib/jvm/temurin-25*)." >&2
  return 1
}
find_jdk25 || exit 1
export PATH="$JAVA_HOME/bin:$PATH"

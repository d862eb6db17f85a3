#!/usr/bin/env bash
# Regenerates the two worked examples in docs/PROTOCOL.md (handshake, key schedule) from the code.
# Usage: scripts/update-protocol-example.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cmake --build "$build" --target handshake_example keyschedule_example >/dev/null
block=$(mktemp)
block2=$(mktemp)
"$build/handshake_example" "$root" >"$block"
"$build/keyschedule_example" >"$block2"
python3 - "$root/docs/PROTOCOL.md" "$block" "$block2" <<'PY'
import sys
doc_path = sys.argv[1]
doc = open(doc_path).read()
for path, name in ((sys.argv[2], "WORKED EXAMPLE"), (sys.argv[3], "KEY SCHEDULE EXAMPLE")):
    block = open(path).read()
    begin = doc.index("<!-- BEGIN " + name)
    end_marker = "<!-- END " + name + " -->\n"
    end = doc.index(end_marker, begin) + len(end_marker)
    doc = doc[:begin] + block + doc[end:]
open(doc_path, "w").write(doc)
PY
rm -f "$block" "$block2"
echo "docs/PROTOCOL.md: worked examples updated"

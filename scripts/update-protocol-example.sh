#!/usr/bin/env bash
# Regenerates the worked example in docs/PROTOCOL.md from the code.
# Usage: scripts/update-protocol-example.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
cmake --build "$build" --target handshake_example >/dev/null
block=$(mktemp)
"$build/handshake_example" "$root" >"$block"
python3 - "$root/docs/PROTOCOL.md" "$block" <<'PY'
import sys
doc_path, block_path = sys.argv[1], sys.argv[2]
doc = open(doc_path).read()
block = open(block_path).read()
begin = doc.index("<!-- BEGIN WORKED EXAMPLE")
end_marker = "<!-- END WORKED EXAMPLE -->\n"
end = doc.index(end_marker, begin) + len(end_marker)
open(doc_path, "w").write(doc[:begin] + block + doc[end:])
PY
rm -f "$block"
echo "docs/PROTOCOL.md: worked example updated"

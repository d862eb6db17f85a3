#!/usr/bin/env bash
# The collector: reads the FIGURE lines of every stage's output, prints one
# table and writes them all as a JSON list. Shell and awk only (no jq, no
# python: neither is guaranteed on the benchmark machine).
#
#   bench/figures.sh OUT.json FILE...      (FILE may be - for stdin)
#
# A FIGURE line, one per figure, key=value separated by single spaces, no
# spaces inside a value:
#
#   FIGURE name=<id> ours=<number> [peer=<number>] [bound=<number>]
#          [ratio=<number>] unit=<unit> target=<text> met=yes|no|n/a [note=<text>]
#
# ours may be "-" (not measured: JSON null). note, if present, is last and
# takes the rest of the line, spaces included. Lines that do not start with
# "FIGURE " are ignored, so a stage's human output can go through as it is.
# Exit status: 0, or 1 if a FIGURE line is malformed.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: figures.sh OUT.json FILE..." >&2; exit 2; }
out=$1
shift
mkdir -p "$(dirname "$out")"

awk -v json="$out" '
function jstr(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	gsub(/\t/, "\\t", s)
	return "\"" s "\""
}
# A number stays a JSON number; "-" or nothing is null; anything else a string.
function jval(s) {
	if (s == "" || s == "-")
		return "null"
	if (s ~ /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/)
		return s
	return jstr(s)
}
function short(s) {
	if (s == "" || s == "-")
		return "-"
	if (s ~ /^-?[0-9]+(\.[0-9]+)?$/ && (s + 0 >= 1e6 || s + 0 <= -1e6))
		return sprintf("%.3gM", s / 1e6)
	if (s ~ /^-?[0-9]+(\.[0-9]+)?$/ && (s + 0 >= 1e4 || s + 0 <= -1e4))
		return sprintf("%.4gk", s / 1e3)
	return s
}
/^FIGURE / {
	line = $0
	note = ""
	p = index(line, " note=")
	if (p) {
		note = substr(line, p + 6)
		line = substr(line, 1, p - 1)
	}
	n++
	split("", kv)
	k = split(line, parts, " ")
	for (i = 2; i <= k; i++) {
		e = index(parts[i], "=")
		if (e < 2) {
			printf "figures.sh: malformed FIGURE field \"%s\" in: %s\n", parts[i], $0 > "/dev/stderr"
			bad = 1
			continue
		}
		kv[substr(parts[i], 1, e - 1)] = substr(parts[i], e + 1)
	}
	if (!("name" in kv) || !("ours" in kv) || !("unit" in kv) || !("target" in kv) || !("met" in kv) ||
	    kv["met"] !~ /^(yes|no|n\/a)$/) {
		printf "figures.sh: FIGURE line lacks name, ours, unit, target or met=yes|no|n/a: %s\n", $0 > "/dev/stderr"
		bad = 1
	}
	name[n] = kv["name"]; ours[n] = kv["ours"]; unit[n] = kv["unit"]
	peer[n] = ("peer" in kv) ? kv["peer"] : ""
	bound[n] = ("bound" in kv) ? kv["bound"] : ""
	ratio[n] = ("ratio" in kv) ? kv["ratio"] : ""
	target[n] = kv["target"]; met[n] = kv["met"]; notes[n] = note
}
END {
	printf "%-34s %12s %-16s %12s %8s  %-18s %s\n", "figure", "ours", "unit", "peer/bound",
	       "ratio", "target", "met"
	for (i = 1; i <= n; i++) {
		other = peer[i] != "" ? short(peer[i]) " peer" : bound[i] != "" ? short(bound[i]) " bound" : "-"
		printf "%-34s %12s %-16s %12s %8s  %-18s %s%s\n", name[i], short(ours[i]), unit[i],
		       other, ratio[i] == "" ? "-" : ratio[i], target[i], met[i],
		       notes[i] == "" ? "" : "  (" notes[i] ")"
		if (met[i] == "yes") y++
		else if (met[i] == "no") no++
	}
	printf "%d figures: %d targets met, %d not met, %d without a target. JSON: %s\n",
	       n, y, no, n - y - no, json
	printf "[" > json
	for (i = 1; i <= n; i++) {
		printf "%s\n  {\"name\": %s, \"ours\": %s", (i > 1 ? "," : ""), jstr(name[i]), jval(ours[i]) > json
		if (peer[i] != "")
			printf ", \"peer\": %s", jval(peer[i]) > json
		if (bound[i] != "")
			printf ", \"bound\": %s", jval(bound[i]) > json
		printf ", \"ratio\": %s, \"unit\": %s, \"target\": %s, \"met\": %s", jval(ratio[i]),
		       jstr(unit[i]), jstr(target[i]), jstr(met[i]) > json
		if (notes[i] != "")
			printf ", \"note\": %s", jstr(notes[i]) > json
		printf "}" > json
	}
	printf "%s]\n", n ? "\n" : "" > json
	close(json)
	exit bad
}' "$@"

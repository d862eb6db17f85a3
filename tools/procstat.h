/* What the benchmarks read of a process from /proc: its CPU time and a
 * field of its status (VmRSS, VmHWM). Header-only, as tools/rfc8017.h: each
 * C file of tools/ is a program of its own. */
#ifndef CC_TOOLS_PROCSTAT_H
#define CC_TOOLS_PROCSTAT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* utime + stime of PID in clock ticks; 0 if unknown. */
static inline unsigned long long procstat_cpu_ticks(long pid)
{
	char path[64], text[2048];
	unsigned long long ut, st;
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	/* The command name may hold spaces and parentheses: start after the
	 * last ')'; then the state, fields 4..13, utime and stime. */
	char *p = strrchr(text, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return 0;
	return ut + st;
}

/* FIELD of /proc/PID/status in KiB (VmRSS, VmHWM); -1 if unknown. */
static inline long procstat_status_kib(long pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	size_t flen = strlen(field);
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			v = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

#endif

#include "util/ascii.h"

void ascii_lower(const char *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';
}

/* ASCII case folding: nicknames are equal without regard to case, in that
 * sense only (docs/PROTOCOL.md 1), wherever they are compared or sorted. */
#ifndef CC_UTIL_ASCII_H
#define CC_UTIL_ASCII_H

#include <stddef.h>

/* out (len + 1 bytes) = in's len bytes with A-Z made a-z, then a NUL. */
void ascii_lower(const char *in, size_t len, char *out);

#endif

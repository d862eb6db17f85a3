/* Text from other people, made safe to show on a terminal: nothing in it
 * can move the cursor, clear a line, change colours, reorder what follows
 * (bidi overrides) or start a line of its own, so no member can make a line
 * that passes for another sender's. What is escaped stays visible. */
#ifndef CC_UTIL_DISPLAY_H
#define CC_UTIL_DISPLAY_H

#include <stddef.h>

/* Escapes UTF-8 text s (n bytes) for display, as a new malloc'd string (NULL
 * when out of memory):
 *   C0 controls and DEL    \xNN  (\t, \r as such)
 *   C1 controls            \u0080 .. \u009f
 *   bidi controls, line and paragraph separators
 *                          \u061c \u200e \u200f \u202a..\u202e \u2066..\u2069
 *                          \u2028 \u2029
 *   a backslash            \\  (so an escape cannot be faked)
 *   bytes that are not UTF-8  \xNN
 *   a newline              "\n" then cont, if cont is given (a continuation
 *                          line, marked); else \n
 * Everything else (printable ASCII, letters, emoji, combining marks) is kept. */
char *display_escape(const char *s, size_t n, const char *cont);

#endif

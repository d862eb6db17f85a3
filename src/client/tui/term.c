/* Whether curses knows the terminal ($TERM), before the screen is taken.
 * In a file of its own: <term.h> defines macros (lines, columns, tab, ...)
 * that would clash with ordinary names, so it comes after every other
 * header here. */
#include "client/tui/internal.h"

#include <unistd.h>

#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <term.h>

bool screen_term_usable(void)
{
	int err = 0;
	if (setupterm(NULL, STDOUT_FILENO, &err) != OK)
		return false;
	del_curterm(cur_term);
	return true;
}

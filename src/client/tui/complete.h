/* TAB completion of the word before the cursor, without curses: a command
 * name at the start of a line, a room id where a command takes a room,
 * else a nickname (a member of the room shown; "nick: " at the start of a
 * line). The first TAB completes as far as the candidates agree; the next
 * ones cycle through them. Candidates come from the caller. */
#ifndef CC_CLIENT_TUI_COMPLETE_H
#define CC_CLIENT_TUI_COMPLETE_H

#include <stdbool.h>
#include <stddef.h>

#include "client/tui/editor.h"

struct complete_source {
	const char *const *commands;    /* "/join" ... */
	size_t ncommands;
	const char *const *rooms;       /* room ids, hex */
	size_t nrooms;
	const char *const *nicks;       /* members of the room shown */
	size_t nnicks;
	/* Commands whose first argument is a room (completed with room ids). */
	const char *const *room_commands;
	size_t nroom_commands;
};

enum complete_kind { COMPLETE_NONE, COMPLETE_COMMAND, COMPLETE_ROOM, COMPLETE_NICK };

struct completion {
	bool active;            /* the last key was TAB: the next one cycles */
	size_t start;           /* where the word begins */
	size_t end;             /* where the inserted candidate ends */
	char **cands;           /* what matched, sorted */
	size_t ncands, next;
	char suffix[4];         /* what follows a candidate: " " or ": " */
	enum complete_kind kind;
};

void completion_init(struct completion *c);
void completion_free(struct completion *c);
/* Any key but TAB ends a round of cycling. */
void completion_reset(struct completion *c);

/* TAB: completes in ed. Returns what kind of word it completed, or
 * COMPLETE_NONE when nothing matched (the line is unchanged). *nmatches
 * (if given) gets how many candidates matched. */
enum complete_kind completion_tab(struct completion *c, struct editor *ed,
				  const struct complete_source *src, size_t *nmatches);

#endif

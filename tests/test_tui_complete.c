/* TAB completion in the full-screen UI (src/client/tui/complete.h): command
 * names at the start of a line, room ids where a command takes a room,
 * nicknames elsewhere ("nick: " at the start of a line), as far as the
 * candidates agree and then each in turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <locale.h>
#include <string.h>

#include "client/tui/complete.h"

static const char *const commands[] = {"/create", "/rooms", "/join", "", "/say", "/win", "/quit"};
static const char *const rooms[] = {"3f9c01a2aaaaaaaaaaaaaaaaaaaaaaaa",
				    "3f9c77bbbbbbbbbbbbbbbbbbbbbbbbbb",
				    "c0ffee00000000000000000000000000"};
static const char *const nicks[] = {"bob", "carol", "carlos", "Dave"};
static const char *const room_commands[] = {"/join", "/say", "/leave", "/disconnect"};

static const struct complete_source src = {
	commands, sizeof commands / sizeof *commands, rooms, sizeof rooms / sizeof *rooms,
	nicks,	  sizeof nicks / sizeof *nicks,	      room_commands, 4,
};

/* Types s into a fresh line, presses TAB, returns what kind completed. */
static enum complete_kind tab_after(struct editor *ed, struct completion *c, const char *s)
{
	editor_clear(ed);
	completion_reset(c);
	assert_int_equal(editor_insert(ed, s, strlen(s)), EDITOR_OK);
	return completion_tab(c, ed, &src, NULL);
}

static void test_commands(void **state)
{
	struct editor ed;
	struct completion c;
	(void)state;
	editor_init(&ed);
	completion_init(&c);
	assert_int_equal(tab_after(&ed, &c, "/jo"), COMPLETE_COMMAND);
	assert_string_equal(editor_text(&ed), "/join ");
	assert_int_equal(tab_after(&ed, &c, "/Q"), COMPLETE_COMMAND);
	assert_string_equal(editor_text(&ed), "/quit ");
	/* Ambiguous: /r could be /rooms only; /c and /w single too. */
	assert_int_equal(tab_after(&ed, &c, "/xyz"), COMPLETE_NONE);
	assert_string_equal(editor_text(&ed), "/xyz");
	/* Several: "/" cycles through all (the empty name is never one). */
	tab_after(&ed, &c, "/");
	assert_string_equal(editor_text(&ed), "/create ");
	completion_tab(&c, &ed, &src, NULL);
	assert_string_equal(editor_text(&ed), "/join ");
	completion_tab(&c, &ed, &src, NULL);
	assert_string_equal(editor_text(&ed), "/quit ");
	completion_free(&c);
	editor_free(&ed);
}

static void test_nicks(void **state)
{
	struct editor ed;
	struct completion c;
	size_t n;
	(void)state;
	editor_init(&ed);
	completion_init(&c);
	/* At the start of a line: addressed to them. */
	assert_int_equal(tab_after(&ed, &c, "bo"), COMPLETE_NICK);
	assert_string_equal(editor_text(&ed), "bob: ");
	assert_int_equal(tab_after(&ed, &c, "da"), COMPLETE_NICK);
	assert_string_equal(editor_text(&ed), "Dave: ");
	/* Further on: a word like another. */
	tab_after(&ed, &c, "hello bo");
	assert_string_equal(editor_text(&ed), "hello bob ");
	/* Completing in the middle keeps what follows. */
	tab_after(&ed, &c, "hi  and more");
	for (int i = 0; i < 9; i++)
		editor_left(&ed);
	assert_int_equal(editor_insert(&ed, "B", 1), EDITOR_OK);
	completion_reset(&c);
	completion_tab(&c, &ed, &src, NULL);
	assert_string_equal(editor_text(&ed), "hi bob  and more");
	/* Several: as far as they agree, then each in turn. */
	editor_clear(&ed);
	assert_int_equal(editor_insert(&ed, "ca", 2), EDITOR_OK);
	completion_reset(&c);
	assert_int_equal(completion_tab(&c, &ed, &src, &n), COMPLETE_NICK);
	assert_int_equal(n, 2);
	assert_string_equal(editor_text(&ed), "car");
	completion_tab(&c, &ed, &src, NULL);
	assert_string_equal(editor_text(&ed), "carlos: ");
	completion_tab(&c, &ed, &src, NULL);
	assert_string_equal(editor_text(&ed), "carol: ");
	completion_tab(&c, &ed, &src, NULL);
	assert_string_equal(editor_text(&ed), "carlos: ");
	/* After a comma (a list of members): no separator. */
	tab_after(&ed, &c, "/create bob,ca");
	assert_string_equal(editor_text(&ed), "/create bob,car");
	completion_free(&c);
	editor_free(&ed);
}

static void test_rooms(void **state)
{
	struct editor ed;
	struct completion c;
	(void)state;
	editor_init(&ed);
	completion_init(&c);
	assert_int_equal(tab_after(&ed, &c, "/join c0"), COMPLETE_ROOM);
	assert_string_equal(editor_text(&ed), "/join c0ffee00000000000000000000000000 ");
	assert_int_equal(tab_after(&ed, &c, "/say 3F9C7"), COMPLETE_ROOM);
	assert_string_equal(editor_text(&ed), "/say 3f9c77bbbbbbbbbbbbbbbbbbbbbbbbbb ");
	/* Two share "3f9c": that far, then each. */
	tab_after(&ed, &c, "/join 3f");
	assert_string_equal(editor_text(&ed), "/join 3f9c");
	completion_tab(&c, &ed, &src, NULL);
	assert_string_equal(editor_text(&ed), "/join 3f9c01a2aaaaaaaaaaaaaaaaaaaaaaaa ");
	/* The text after /say's room is nicknames again. */
	assert_int_equal(tab_after(&ed, &c, "/say c0ffee00000000000000000000000000 hi bo"),
			 COMPLETE_NICK);
	assert_string_equal(editor_text(&ed), "/say c0ffee00000000000000000000000000 hi bob ");
	completion_free(&c);
	editor_free(&ed);
}

int main(void)
{
	setlocale(LC_CTYPE, "C.UTF-8");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_nicks),
		cmocka_unit_test(test_rooms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

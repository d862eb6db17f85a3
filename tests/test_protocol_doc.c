/* docs/PROTOCOL.md's worked examples must be exactly what the code produces:
 * tools/handshake_example and tools/keyschedule_example regenerate them (and
 * check them against their own implementations of the key schedules); this
 * test compares.
 * To update the document after a deliberate change:
 *   scripts/update-protocol-example.sh */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_stream(FILE *f)
{
	size_t cap = 1 << 16, len = 0;
	char *s = malloc(cap);
	size_t n;
	while (s && (n = fread(s + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			char *bigger = realloc(s, cap * 2);
			if (!bigger) {
				free(s);
				return NULL;
			}
			s = bigger;
			cap *= 2;
		}
	}
	if (s)
		s[len] = '\0';
	return s;
}

/* The block of the document between BEGIN_MARK and END_MARK equals what
 * TOOL prints. */
static void example_matches(const char *tool, const char *begin_mark, const char *end_marker)
{
	FILE *p = popen(tool, "r");
	assert_non_null(p);
	char *generated = read_stream(p);
	assert_int_equal(pclose(p), 0);
	assert_non_null(generated);

	FILE *doc = fopen(CC_SOURCE_DIR "/docs/PROTOCOL.md", "r");
	assert_non_null(doc);
	char *text = read_stream(doc);
	fclose(doc);
	assert_non_null(text);

	const char *begin = strstr(text, begin_mark);
	const char *end = begin ? strstr(begin, end_marker) : NULL;
	assert_non_null(begin);
	assert_non_null(end);
	size_t doc_len = (size_t)(end - begin) + strlen(end_marker);
	if (doc_len != strlen(generated) || memcmp(begin, generated, doc_len) != 0) {
		fprintf(stderr, "docs/PROTOCOL.md's %s differs from what the code produces;"
				" run scripts/update-protocol-example.sh if the change is"
				" deliberate\n", begin_mark);
		fail();
	}
	free(generated);
	free(text);
}

static void worked_example_matches_code(void **state)
{
	(void)state;
	example_matches(CC_BINARY_DIR "/handshake_example " CC_SOURCE_DIR,
			"<!-- BEGIN WORKED EXAMPLE", "<!-- END WORKED EXAMPLE -->\n");
}

static void key_schedule_example_matches_code(void **state)
{
	(void)state;
	example_matches(CC_BINARY_DIR "/keyschedule_example", "<!-- BEGIN KEY SCHEDULE EXAMPLE",
			"<!-- END KEY SCHEDULE EXAMPLE -->\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(worked_example_matches_code),
		cmocka_unit_test(key_schedule_example_matches_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

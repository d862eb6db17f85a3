/* Fuzz target: the full-screen UI's key decoder, line editor and layout
 * (src/client/tui/keys.h, editor.h, layout.h): what a terminal, a paste or
 * a peer can put in front of them.
 *
 * The input is a byte stream as read from the terminal. Decoded at once and
 * again in small pieces (as reads cut it), it gives the same keys. Each key
 * drives a line editor, which stays valid UTF-8 with its cursor on a
 * cluster boundary and in sight. The same bytes, escaped as others' text is
 * (util/display.h) and laid out at a width from the input, never put a
 * glyph past the width nor a control character on the screen.
 *
 * CC_FUZZ_GEN_SEEDS=dir writes the seed corpus (fuzz/corpus/tui_keys: keys,
 * sequences cut short, pastes, wide and combining text) and exits. */
#define FUZZ_NAME "fuzz_tui_keys"
#include "fuzz_common.h"

#include <locale.h>

#include "client/tui/editor.h"
#include "client/tui/keys.h"
#include "client/tui/layout.h"
#include "client/tui/utf8.h"
#include "util/display.h"

/* The keys one decoding gave: each key's fields and its text, in order. */
struct seen {
	struct buf b;
	struct editor *ed;
};

static void put_u64(struct buf *b, uint64_t v)
{
	CHECK(buf_put_u64(b, v) == CC_OK);
}

static void drive_editor(struct editor *ed, const struct key *k)
{
	switch (k->sym) {
	case KEY_SYM_CHAR:
		if (!k->alt)
			editor_insert(ed, k->text, k->len);
		else if (k->cp == 'b')
			editor_word_left(ed);
		else if (k->cp == 'f')
			editor_word_right(ed);
		else if (k->cp == 'd')
			editor_kill_word_fwd(ed);
		break;
	case KEY_SYM_PASTE:
		editor_insert(ed, k->text, k->len);
		break;
	case KEY_SYM_CTRL:
		switch (k->cp) {
		case 'a': editor_home(ed); break;
		case 'e': editor_end(ed); break;
		case 'k': editor_kill_end(ed); break;
		case 'u': editor_kill_start(ed); break;
		case 'w': editor_kill_word_back(ed); break;
		case 'y': editor_yank(ed); break;
		case 'd': editor_delete_fwd(ed); break;
		case 'p': editor_history_up(ed); break;
		case 'n': editor_history_down(ed); break;
		default: break;
		}
		break;
	case KEY_SYM_ENTER:
		editor_history_add(ed, editor_text(ed));
		editor_clear(ed);
		break;
	case KEY_SYM_BACKSPACE: editor_delete_back(ed); break;
	case KEY_SYM_DELETE: editor_delete_fwd(ed); break;
	case KEY_SYM_LEFT: k->ctrl ? editor_word_left(ed) : editor_left(ed); break;
	case KEY_SYM_RIGHT: k->ctrl ? editor_word_right(ed) : editor_right(ed); break;
	case KEY_SYM_HOME: editor_home(ed); break;
	case KEY_SYM_END: editor_end(ed); break;
	case KEY_SYM_UP: editor_history_up(ed); break;
	case KEY_SYM_DOWN: editor_history_down(ed); break;
	default: break;
	}
	/* Valid UTF-8, the cursor on a cluster boundary, in sight. */
	const char *s = editor_text(ed);
	size_t len = editor_len(ed), at = 0;
	uint32_t cp;
	CHECK(strlen(s) == len && len <= EDITOR_MAX_BYTES);
	for (size_t i = 0; i < len;) {
		size_t l = tui_utf8_decode(s + i, len - i, &cp);
		CHECK(l > 0 && cp != 0);
		i += l;
	}
	while (at < editor_cursor(ed))
		at += tui_utf8_cluster_len(s + at, len - at);
	CHECK(at == editor_cursor(ed));
	size_t first;
	int col;
	editor_view(ed, 17, &first, &col);
	CHECK(col >= 0 && col <= 16 && first <= editor_cursor(ed));
}

static void record(void *ctx, const struct key *k)
{
	struct seen *s = ctx;
	put_u64(&s->b, k->sym);
	put_u64(&s->b, k->cp);
	put_u64(&s->b, (uint64_t)k->alt << 2 | (uint64_t)k->ctrl << 1 | k->shift);
	put_u64(&s->b, k->len);
	if (k->text && k->len)
		CHECK(buf_put_bytes(&s->b, k->text, k->len) == CC_OK);
	/* A key's text is what the decoder says it is. */
	if (k->sym == KEY_SYM_CHAR) {
		uint32_t cp;
		CHECK(tui_utf8_decode(k->text, k->len, &cp) == k->len && cp == k->cp);
	}
	if (k->sym == KEY_SYM_PASTE)
		CHECK(k->len <= KEYS_PASTE_MAX);
	if (s->ed)
		drive_editor(s->ed, k);
}

/* Decodes data in pieces of the sizes CUTS gives (0: whole). */
static void decode(const uint8_t *data, size_t size, const uint8_t *cuts, size_t ncuts,
		   struct seen *out)
{
	struct keys k;
	keys_init(&k);
	for (size_t at = 0, i = 0; at < size; i++) {
		size_t n = ncuts ? (size_t)(cuts[i % ncuts] % 9) + 1 : size;
		if (n > size - at)
			n = size - at;
		keys_feed(&k, (const char *)data + at, n, record, out);
		at += n;
	}
	keys_flush(&k, record, out);
	keys_end_paste(&k, record, out);
	keys_free(&k);
}

struct layout_check {
	int width;
};

static void cell(void *ctx, int row, int col, enum tui_style style, const struct tui_glyph *g)
{
	const struct layout_check *c = ctx;
	(void)style;
	CHECK(row >= 0 && col >= 0);
	/* Within the width, once a row can hold any glyph (the widest escape
	 * is 8 columns; a narrower pane cuts what does not fit when drawn). */
	CHECK(c->width < 20 || col + g->cols <= c->width);
	CHECK(g->cols >= 1);
	if (g->escaped) {
		for (const char *p = g->esc; *p; p++)
			CHECK(*p >= 0x20 && *p < 0x7f);
	} else {
		CHECK(g->nwc >= 1 && g->nwc <= TUI_GLYPH_WC_MAX);
		for (size_t i = 0; i < g->nwc; i++)
			CHECK(!tui_utf8_is_control((uint32_t)g->wc[i]));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct editor ed;
	struct seen whole = {.ed = &ed}, cut = {0};
	editor_init(&ed);
	buf_init(&whole.b, 64u * 1024 * 1024);
	buf_init(&cut.b, 64u * 1024 * 1024);
	decode(data, size, NULL, 0, &whole);
	decode(data, size, data, size, &cut);
	CHECK(whole.b.len == cut.b.len &&
	      (whole.b.len == 0 || memcmp(whole.b.data, cut.b.data, whole.b.len) == 0));
	buf_free(&whole.b);
	buf_free(&cut.b);
	editor_free(&ed);

	/* Others' text, escaped, laid out. */
	char *e = display_escape((const char *)data, size, "");
	CHECK(e != NULL);
	struct layout_check c = {.width = size ? data[0] % 90 + 1 : 40};
	struct tui_span span = {TUI_STYLE_TEXT, e, strlen(e)};
	int rows = tui_layout(&span, 1, c.width, size > 1 ? data[1] % 20 : 0, cell, &c);
	CHECK(rows >= 1);
	free(e);
	return 0;
}

static void gen_seeds(const char *dir)
{
	static const struct {
		const char *name, *bytes;
	} seeds[] = {
		{"typing", "hello w\xc3\xb6rld \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 e\xcc\x81\r"},
		{"editing", "one two three\x01\x1b" "f\x0b\x1b[D\x1b[1;5D\x17\x19\x15\x7f\x1b[3~\r"},
		{"arrows", "\x1b[A\x1b[B\x1bOC\x1bOD\x1b[H\x1b[F\x1b[1~\x1b[4~\x1b[5~\x1b[6~"},
		{"alt", "\x1b" "1\x1b" "b\x1b\x7f\x1b\xc3\xa9\x1b\x1b[A\x1b"},
		{"paste", "x\x1b[200~line one\r\nline \x1b[A two\x03\n\x1b[201~y"},
		{"paste_open", "\x1b[200~never ends \x1b[20"},
		{"invalid", "\xff\xe4\xbd q\x80\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80"},
		{"unknown", "\x1b[99~\x1b[1;2y\x1bOZ\x1b[" "123456789012345678901234567890123~"},
		{"controls", "\x1b]0;title\x07\x1b[2K\r\xe2\x80\xae\xc2\x9b" "31m\x1b[?2004l"},
	};
	for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++)
		fuzz_write(dir, seeds[i].name, seeds[i].bytes, strlen(seeds[i].bytes));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Column widths are the C library's, under a UTF-8 locale. */
	if (!setlocale(LC_CTYPE, "C.UTF-8")) {
		fprintf(stderr, FUZZ_NAME ": no C.UTF-8 locale\n");
		exit(1);
	}
	const char *dir = getenv("CC_FUZZ_GEN_SEEDS");
	if (dir) {
		gen_seeds(dir);
		exit(0);
	}
	return 0;
}

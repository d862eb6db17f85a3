/* Secrets at rest, end to end, with real clients in batch mode (issue 9,
 * section 4; docs/SECURITY.md "Secrets at rest"):
 *
 *   1. A home under a passphrase (one given by file, one by the
 *      environment) works across restarts: the clients still read their
 *      room, and the client's own code opens the home with the passphrase.
 *   2. A wrong passphrase, none, or one given to a home that has none:
 *      error bad_passphrase, exit status 4, and the home byte for byte as it
 *      was (also without identity.pem: client.db's check alone refuses
 *      it); the right one then works (the control).
 *   3. --change-passphrase: the old passphrase refused and the new one
 *      working, a wrong old one refused with nothing changed, a passphrase
 *      set on a home that had none, and removed again (the one-time
 *      warning comes once per home).
 *   4. A change killed at each of its steps (CRYPTOCAT_CRASH_AT, the test
 *      variant's crash hook): the next start finds the old passphrase
 *      working or the new one, never a mix, and the keys still read the
 *      room.
 *   5. No key material in clear in any file of a home under a passphrase
 *      (the identity key's private numbers, the receiving key, the chain
 *      keys, and the room's title: raw, hex, or inside a PEM block), where a home without one
 *      shows them all (the control), and none left behind once a home that
 *      had its keys in clear is given a passphrase.
 *   6. A move to a new identity key (/rotate-key) under a passphrase: both
 *      key files under it, a passphrase change refused until the move is
 *      done, the move finished under the passphrase. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "e2e/e2e.h"
#include "store/client_store.h"
#include "support/itest.h"
#include "support/itest_extra.h"
#include "support/itest_insider.h"
#include "support/itest_lifecycle.h"
#include "support/itest_rooms.h"
#include "support/secrets_scan.h"

static const char *const pair[] = {"alice", "bob", NULL};

/* A file under F's directory holding TEXT (mode 0600): a --passphrase-file. */
static const char *pass_file(struct lc_fixture *f, const char *name, const char *text)
{
	const char *path = itest_path(f->dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%s\n", text);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	return path;
}

/* A batch client on HOME as NICK with the passphrase in FILE (NULL: none). */
static struct itest_client *start_with(struct lc_fixture *f, const char *home, const char *nick,
				       const char *file)
{
	const char *const args[] = {"--passphrase-file", file, NULL};
	struct itest_client *c = itest_client_start(f->port, home, nick, file ? args : NULL);
	assert_non_null(c);
	return c;
}

static struct itest_client *registered(struct lc_fixture *f, const char *home, const char *nick,
				       const char *file)
{
	struct itest_client *c = start_with(f, home, nick, file);
	lc_see(c, "registered", NULL, "nick", nick, NULL);
	return c;
}

/* NICK's client must stop at once with bad_passphrase and exit status 4. */
static void refused(struct lc_fixture *f, const char *home, const char *nick, const char *file)
{
	struct itest_client *c = start_with(f, home, nick, file);
	json_decref(itest_client_expect_error(c, "bad_passphrase", ITEST_TIMEOUT_MS));
	assert_int_equal(itest_client_wait_exit(c, ITEST_TIMEOUT_MS), 4);
}

static void with_env(const char *name, const char *value)
{
	if (value)
		assert_int_equal(setenv(name, value, 1), 0);
	else
		unsetenv(name);
}

/* `cryptocat --batch --change-passphrase --home HOME` with OLD and NEW in
 * the environment (NULL: unset), killed at CRASH_AT if not NULL. Returns
 * its exit status; on 0 its output said passphrase_changed with PROTECTED. */
static int change(struct lc_fixture *f, const char *home, const char *old_pass,
		  const char *new_pass, const char *crash_at)
{
	static int runs;
	char log[64];
	snprintf(log, sizeof log, "change-%d.log", ++runs);
	const char *log_path = itest_path(f->dir, log);
	const char *const args[] = {"--batch", "--change-passphrase", "--home", home, NULL};
	with_env("CRYPTOCAT_PASSPHRASE", old_pass);
	with_env("CRYPTOCAT_NEW_PASSPHRASE", new_pass);
	with_env("CRYPTOCAT_CRASH_AT", crash_at);
	int status = itest_run(itest_client_bin(), args, log_path, ITEST_SCRYPT_TIMEOUT_MS);
	with_env("CRYPTOCAT_PASSPHRASE", NULL);
	with_env("CRYPTOCAT_NEW_PASSPHRASE", NULL);
	with_env("CRYPTOCAT_CRASH_AT", NULL);
	if (status == 0)
		assert_true(itest_file_contains(log_path, new_pass && *new_pass
					? "{\"event\":\"passphrase_changed\",\"protected\":true}"
					: "{\"event\":\"passphrase_changed\",\"protected\":false}"));
	else if (status == 4)
		assert_true(itest_file_contains(log_path, "\"code\":\"bad_passphrase\""));
	return status;
}

/* alice makes a room with bob, and both join it. */
static void make_room(struct itest_client *alice, struct itest_client *bob, const char *title,
		      char room[RT_ROOM_HEX])
{
	rt_create(alice, "bob", title, pair, room);
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_join(bob, room, 0));
}

/* The next message (after any gap reports: a copy made earlier steps over
 * what it missed) is TEXT from FROM in ROOM. */
static void expect_text(struct itest_client *c, const char *room, const char *from,
			const char *text)
{
	for (;;) {
		json_t *ev = itest_client_next(c, ITEST_TIMEOUT_MS);
		assert_non_null(ev);
		const char *name = itest_json_str(ev, "event");
		assert_non_null(name);
		if (strcmp(name, "gap") == 0) {
			json_decref(ev);
			continue;
		}
		assert_string_equal(name, "message");
		assert_string_equal(itest_json_str(ev, "room"), room);
		assert_string_equal(itest_json_str(ev, "from"), from);
		assert_string_equal(itest_json_str(ev, "text"), text);
		json_decref(ev);
		return;
	}
}

/* 1 if HOME/identity.pem is encrypted. */
static int identity_encrypted(const char *home)
{
	return itest_file_contains(itest_path(home, "identity.pem"),
				   "-----BEGIN ENCRYPTED PRIVATE KEY-----");
}

/* ---- a home's bytes ----------------------------------------------------------------- */

#define SNAP_MAX 16
struct snapshot {
	size_t n;
	char name[SNAP_MAX][256];
	char *data[SNAP_MAX];
	size_t len[SNAP_MAX];
};

static void snap_take(const char *dir, struct snapshot *s)
{
	memset(s, 0, sizeof *s);
	struct dirent **list = NULL;
	int n = scandir(dir, &list, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.') {
			assert_true(s->n < SNAP_MAX);
			snprintf(s->name[s->n], sizeof s->name[s->n], "%s", list[i]->d_name);
			s->data[s->n] = itest_read_file(itest_path(dir, list[i]->d_name),
							&s->len[s->n]);
			assert_non_null(s->data[s->n]);
			s->n++;
		}
		free(list[i]);
	}
	free(list);
}

static void snap_free(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->data[i]);
	memset(s, 0, sizeof *s);
}

/* HOME holds exactly the files of WAS, byte for byte. */
static void snap_expect(const char *dir, const struct snapshot *was)
{
	struct snapshot now;
	snap_take(dir, &now);
	assert_int_equal(now.n, was->n);
	for (size_t i = 0; i < was->n; i++) {
		assert_string_equal(now.name[i], was->name[i]);
		assert_int_equal(now.len[i], was->len[i]);
		assert_memory_equal(now.data[i], was->data[i], was->len[i]);
	}
	snap_free(&now);
}

/* ---- 1. round trip ---------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct lc_fixture f;
	char room[RT_ROOM_HEX];
	(void)state;
	lc_start(&f, "pass-round-trip", 0);
	const char *a_pass = pass_file(&f, "alice.pass", "alice's long passphrase");
	const char *a_home = lc_home(&f, "alice"), *b_home = lc_home(&f, "bob");
	struct itest_client *alice = registered(&f, a_home, "alice", a_pass);
	/* bob's from the environment, which his client wipes after reading. */
	with_env("CRYPTOCAT_PASSPHRASE", "bob: correct horse battery staple");
	struct itest_client *bob = registered(&f, b_home, "bob", NULL);
	with_env("CRYPTOCAT_PASSPHRASE", NULL);
	assert_true(identity_encrypted(a_home));
	assert_true(identity_encrypted(b_home));

	make_room(alice, bob, "Under lock", room);
	struct rt_sent s = rt_say(alice, room, "before the restart", 0);
	rt_expect_msg(bob, room, "alice", "before the restart", s.seq, s.msg_id);
	rt_quit(alice);
	rt_quit(bob);

	/* Both again, with their passphrases: the room reads both ways, from
	 * the chain keys their sealed client.db kept. */
	alice = registered(&f, a_home, "alice", a_pass);
	with_env("CRYPTOCAT_PASSPHRASE", "bob: correct horse battery staple");
	bob = registered(&f, b_home, "bob", NULL);
	with_env("CRYPTOCAT_PASSPHRASE", NULL);
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_join(bob, room, 0));
	s = rt_say(alice, room, "after the restart", 0);
	rt_expect_msg(bob, room, "alice", "after the restart", s.seq, s.msg_id);
	s = rt_say(bob, room, "and back", 0);
	rt_expect_msg(alice, room, "bob", "and back", s.seq, s.msg_id);
	rt_quit(alice);
	rt_quit(bob);

	/* The client's own code opens bob's home with his passphrase: a
	 * message said while he is away opens from his sealed chain key. */
	alice = registered(&f, a_home, "alice", a_pass);
	json_decref(rt_join(alice, room, 0));
	s = rt_say(alice, room, "while bob is away", 0);
	rt_quit(alice);
	size_t len;
	uint8_t *env = rt_sql_blob(&len, "SELECT hex(m.blob) FROM messages AS m JOIN rooms AS r"
				   " ON r.id = m.room WHERE r.room_id = X'%s' AND m.msg_id = %lld",
				   room, s.msg_id);
	struct insider in;
	insider_load_passphrase(&in, b_home, "bob", "bob: correct horse battery staple");
	assert_int_equal(insider_opens(&in, room, env, len), 1);
	insider_free(&in);
	free(env);
	lc_stop(&f);
}

/* ---- 2. a wrong passphrase -------------------------------------------------------------- */

static void test_wrong_passphrase(void **state)
{
	struct lc_fixture f;
	char room[RT_ROOM_HEX];
	struct snapshot was;
	(void)state;
	lc_start(&f, "pass-wrong", 0);
	const char *right = pass_file(&f, "right.pass", "the right one");
	const char *wrong = pass_file(&f, "wrong.pass", "the wrong one");
	const char *a_home = lc_home(&f, "alice"), *b_home = lc_home(&f, "bob");
	struct itest_client *alice = registered(&f, a_home, "alice", right);
	struct itest_client *bob = registered(&f, b_home, "bob", NULL);
	make_room(alice, bob, "Closed", room);
	struct rt_sent s = rt_say(alice, room, "kept", 0);
	rt_expect_msg(bob, room, "alice", "kept", s.seq, s.msg_id);
	rt_quit(alice);
	rt_quit(bob);

	snap_take(a_home, &was);
	assert_true(was.n >= 4);
	refused(&f, a_home, "alice", wrong);
	snap_expect(a_home, &was);
	refused(&f, a_home, "alice", NULL);            /* batch mode never asks: none given */
	snap_expect(a_home, &was);
	with_env("CRYPTOCAT_PASSPHRASE", "the right on");
	refused(&f, a_home, "alice", NULL);
	with_env("CRYPTOCAT_PASSPHRASE", NULL);
	snap_expect(a_home, &was);
	snap_free(&was);

	/* client.db's check value stands alone: with identity.pem gone (lost,
	 * or moved away), a wrong passphrase is still refused before a new
	 * identity key is made under it. */
	const char *lost = lc_home_copy(&f, "alice", "alice-lost-key");
	assert_int_equal(remove(itest_path(lost, "identity.pem")), 0);
	snap_take(lost, &was);
	refused(&f, lost, "alice", wrong);
	snap_expect(lost, &was);
	snap_free(&was);

	/* A passphrase given to bob's home, which has none: refused too (he
	 * would believe his keys protected), nothing changed. */
	snap_take(b_home, &was);
	refused(&f, b_home, "bob", right);
	snap_expect(b_home, &was);
	snap_free(&was);

	/* The control: the right passphrase opens the home and the room. */
	alice = registered(&f, a_home, "alice", right);
	json_decref(rt_join(alice, room, 0));
	rt_quit(alice);
	lc_stop(&f);
}

/* ---- 3. changing it ----------------------------------------------------------------------- */

static void test_change_passphrase(void **state)
{
	struct lc_fixture f;
	char room[RT_ROOM_HEX];
	struct snapshot was;
	(void)state;
	lc_start(&f, "pass-change", 0);
	const char *old_file = pass_file(&f, "old.pass", "old passphrase");
	const char *new_file = pass_file(&f, "new.pass", "new passphrase");
	const char *bob_file = pass_file(&f, "bob.pass", "bob's first passphrase");
	const char *a_home = lc_home(&f, "alice"), *b_home = lc_home(&f, "bob");
	struct itest_client *alice = registered(&f, a_home, "alice", old_file);
	struct itest_client *bob = registered(&f, b_home, "bob", NULL);
	make_room(alice, bob, "Changing", room);
	rt_quit(alice);

	assert_int_equal(change(&f, a_home, "old passphrase", "new passphrase", NULL), 0);
	refused(&f, a_home, "alice", old_file);
	alice = registered(&f, a_home, "alice", new_file);
	json_decref(rt_join(alice, room, 0));
	struct rt_sent s = rt_say(bob, room, "after the change", 0);
	rt_expect_msg(alice, room, "bob", "after the change", s.seq, s.msg_id);
	rt_quit(alice);

	/* The old one again, wrong now: refused, nothing changed. */
	snap_take(a_home, &was);
	assert_int_equal(change(&f, a_home, "old passphrase", "third", NULL), 4);
	snap_expect(a_home, &was);
	snap_free(&was);

	/* bob's home had none: given one; the first run there warned once
	 * that its keys were in clear, and runs after it do not. */
	rt_quit(bob);
	assert_true(itest_file_contains(itest_path(f.dir, "client-bob.log"), "stored in clear"));
	bob = registered(&f, b_home, "bob", NULL);
	rt_quit(bob);
	assert_false(itest_file_contains(itest_path(f.dir, "client-bob-2.log"), "stored in clear"));
	assert_int_equal(change(&f, b_home, NULL, "bob's first passphrase", NULL), 0);
	assert_true(identity_encrypted(b_home));
	refused(&f, b_home, "bob", NULL);
	bob = registered(&f, b_home, "bob", bob_file);
	json_decref(rt_join(bob, room, 0));

	/* Removed from alice's: no passphrase needed, none taken, and the
	 * warning comes again (her keys are in clear from now on). */
	assert_int_equal(change(&f, a_home, "new passphrase", "", NULL), 0);
	assert_false(identity_encrypted(a_home));
	refused(&f, a_home, "alice", new_file);
	alice = registered(&f, a_home, "alice", NULL);
	json_decref(rt_join(alice, room, 0));
	s = rt_say(bob, room, "bob's keys work", 0);
	rt_expect_msg(alice, room, "bob", "bob's keys work", s.seq, s.msg_id);
	s = rt_say(alice, room, "so do alice's", 0);
	rt_expect_msg(bob, room, "alice", "so do alice's", s.seq, s.msg_id);
	rt_quit(alice);
	rt_quit(bob);
	int warned = 0;
	for (int i = 1; i <= 30; i++) {
		char log[64];
		snprintf(log, sizeof log, i == 1 ? "client-alice.log" : "client-alice-%d.log", i);
		warned += itest_file_contains(itest_path(f.dir, log), "stored in clear");
	}
	assert_int_equal(warned, 1);
	lc_stop(&f);
}

/* ---- 4. a change cut short ------------------------------------------------------------------ */

struct crash_point {
	const char *name;
	int committed;          /* the new passphrase is the one after it */
	int new_file_left;      /* identity.pem.new is there after the crash */
};

static void test_interrupted_change(void **state)
{
	static const struct crash_point points[] = {
		{"passphrase:identity-written", 0, 1},
		{"reseal:first-row", 0, 1},
		{"passphrase:db-committed", 1, 1},
		{"passphrase:renamed", 1, 0},
	};
	struct lc_fixture f;
	char room[RT_ROOM_HEX];
	(void)state;
	lc_start(&f, "pass-crash", 0);
	const char *old_file = pass_file(&f, "old.pass", "before the crash");
	const char *new_file = pass_file(&f, "new.pass", "after the crash");
	const char *a_home = lc_home(&f, "alice");
	struct itest_client *alice = registered(&f, a_home, "alice", old_file);
	struct itest_client *bob = registered(&f, lc_home(&f, "bob"), "bob", NULL);
	make_room(alice, bob, "Crashes", room);
	rt_quit(alice);

	for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
		const struct crash_point *p = &points[i];
		char name[32];
		snprintf(name, sizeof name, "alice-%zu", i);
		const char *copy = lc_home_copy(&f, "alice", name);
		fprintf(stderr, "[crash] at %s\n", p->name);
		/* Killed there: SIGKILL, nothing reported. */
		assert_int_equal(change(&f, copy, "before the crash", "after the crash", p->name),
				 128 + 9);
		struct stat st;
		assert_int_equal(stat(itest_path(copy, "identity.pem.new"), &st) == 0,
				 p->new_file_left);
		/* The passphrase it must not be now is refused... */
		refused(&f, copy, "alice", p->committed ? old_file : new_file);
		/* ...the one it must be opens the home, and its keys read what
		 * bob says in the room. */
		rt_say(bob, room, name, 0);
		alice = registered(&f, copy, "alice", p->committed ? new_file : old_file);
		json_decref(rt_join(alice, room, -1));
		expect_text(alice, room, "bob", name);
		rt_quit(alice);
		assert_int_not_equal(stat(itest_path(copy, "identity.pem.new"), &st), 0);
		assert_int_equal(identity_encrypted(copy), 1);
	}
	rt_quit(bob);
	lc_stop(&f);
}

/* ---- 5. nothing in clear ----------------------------------------------------------------------- */

/* A title only members read: the server never sees it, nor should a copy. */
#define SCAN_TITLE "Scanned: a title for members only"

/* Every secret of HOME's (opened with the client's own code, under PASS if
 * not NULL): the identity key's private numbers, the receiving key, the
 * chain keys of both senders in ROOM's current epoch, the room's title. */
static void needles_of(struct secrets_scan *scan, const char *home, const char *nick,
		       const char *pass, const char *room)
{
	struct insider in;
	insider_load_passphrase(&in, home, nick, pass);
	scan_add_rsa(scan, in.identity, nick);
	struct client_store *cs = insider_store_open(&in);
	struct cstore_recv_key k;
	assert_int_equal(cstore_recv_current(cs, &k), CC_OK);
	scan_add(scan, k.priv, sizeof k.priv, "receiving key");
	mem_wipe(&k, sizeof k);
	uint8_t room_id[PROTO_ROOM_ID_LEN], ck[32];
	uint64_t next;
	assert_int_equal(hex_decode(room, room_id, sizeof room_id), CC_OK);
	uint32_t epoch = (uint32_t)rt_sql_int("SELECT epoch FROM rooms WHERE room_id = X'%s'",
					      room);
	for (int i = 0; pair[i]; i++) {
		size_t n;
		uint8_t *fp = rt_sql_blob(&n, "SELECT hex(fingerprint) FROM users WHERE"
					  " nick_lower = '%s'", pair[i]);
		assert_int_equal(cstore_chain_get(cs, room_id, epoch, fp, ck, &next), CC_OK);
		assert_true(next > 1);  /* stepped: both have said something */
		scan_add(scan, ck, sizeof ck, "chain key");
		free(fp);
	}
	mem_wipe(ck, sizeof ck);
	struct cstore_room r;
	assert_int_equal(cstore_room_get(cs, room_id, &r), CC_OK);
	assert_string_equal(r.title, SCAN_TITLE);
	scan_add(scan, r.title, strlen(r.title), "title");
	cstore_close(cs);
	insider_free(&in);
}

static void test_no_key_in_clear(void **state)
{
	struct lc_fixture f;
	char room[RT_ROOM_HEX];
	(void)state;
	lc_start(&f, "pass-scan", 0);
	const char *a_pass = pass_file(&f, "alice.pass", "scan me if you can");
	const char *a_home = lc_home(&f, "alice"), *b_home = lc_home(&f, "bob");
	struct itest_client *alice = registered(&f, a_home, "alice", a_pass);
	struct itest_client *bob = registered(&f, b_home, "bob", NULL);
	make_room(alice, bob, SCAN_TITLE, room);
	struct rt_sent s = rt_say(alice, room, "one", 0);
	rt_expect_msg(bob, room, "alice", "one", s.seq, s.msg_id);
	s = rt_say(bob, room, "two", 0);
	rt_expect_msg(alice, room, "bob", "two", s.seq, s.msg_id);
	rt_quit(alice);
	rt_quit(bob);

	struct secrets_scan a, b;
	scan_init(&a);
	scan_init(&b);
	needles_of(&a, a_home, "alice", "scan me if you can", room);
	needles_of(&b, b_home, "bob", NULL, room);
	assert_int_equal(a.n, 10);
	/* alice's home, under a passphrase: none of her keys, in any file. */
	assert_int_equal(scan_dir(&a, a_home, 1), 0);
	/* The control: bob's, in clear, shows every one of his. */
	assert_int_equal(scan_dir(&b, b_home, 1), b.n);
	/* And alice's own keys, once her passphrase is removed: the scan sees
	 * these very keys when they are there. */
	assert_int_equal(change(&f, a_home, "scan me if you can", "", NULL), 0);
	assert_int_equal(scan_dir(&a, a_home, 0), a.n);
	/* A home that had its keys in clear, given a passphrase: nothing of
	 * them is left in its files (sealed in place, the old bytes
	 * overwritten), and the keys still work. */
	assert_int_equal(change(&f, a_home, NULL, "a new one", NULL), 0);
	assert_int_equal(change(&f, b_home, NULL, "bob's", NULL), 0);
	assert_int_equal(scan_dir(&a, a_home, 1), 0);
	assert_int_equal(scan_dir(&b, b_home, 1), 0);
	scan_free(&a);
	scan_free(&b);
	const char *a_new = pass_file(&f, "alice-new.pass", "a new one");
	const char *b_new = pass_file(&f, "bob-new.pass", "bob's");
	alice = registered(&f, a_home, "alice", a_new);
	bob = registered(&f, b_home, "bob", b_new);
	json_decref(rt_join(alice, room, 0));
	json_decref(rt_join(bob, room, 0));
	s = rt_say(bob, room, "three", 0);
	rt_expect_msg(alice, room, "bob", "three", s.seq, s.msg_id);
	rt_quit(alice);
	rt_quit(bob);
	lc_stop(&f);
}

/* ---- 6. a key move under a passphrase ------------------------------------------------- */

/* 1 once HOME/FILE is gone, within the timeout; each look pings C so that
 * its work goes on. */
static int file_goes(struct itest_client *c, const char *home, const char *file)
{
	for (int i = 0; i < 100; i++) {
		if (access(itest_path(home, file), F_OK) != 0)
			return 1;
		rt_ping(c);
		usleep(50 * 1000);
	}
	return 0;
}

/* /rotate-key in a home under a passphrase: the new key is written under
 * it too (never in clear, even for the moment of a move), the old one
 * stays under it until every room has moved, a passphrase change waits
 * for the move to finish (it would leave one of the two files under the
 * old passphrase), and the move finishes under the passphrase. */
static void test_rotate_under_passphrase(void **state)
{
	struct lc_fixture f;
	char room[RT_ROOM_HEX];
	(void)state;
	lc_start(&f, "pass-rotate", 0);
	const char *a_pass = pass_file(&f, "alice.pass", "moving house");
	const char *a_home = lc_home(&f, "alice"), *b_home = lc_home(&f, "bob");
	struct itest_client *alice = registered(&f, a_home, "alice", a_pass);
	struct itest_client *bob = registered(&f, b_home, "bob", NULL);
	make_room(alice, bob, "Moving", room);
	json_decref(rt_cmd(alice, "key_rotated", "/rotate-key"));
	itest_client_kill(alice);  /* before it reconnects and moves the room */
	assert_true(identity_encrypted(a_home));
	assert_true(itest_file_contains(itest_path(a_home, "identity.old.pem"),
					"-----BEGIN ENCRYPTED PRIVATE KEY-----"));

	struct snapshot before;
	snap_take(a_home, &before);
	assert_int_equal(change(&f, a_home, "moving house", "another", NULL), 1);
	snap_expect(a_home, &before);
	snap_free(&before);

	alice = registered(&f, a_home, "alice", a_pass);
	lc_see(alice, "rekeyed", room, "by", "alice", NULL);
	lc_see(bob, "key_moved", room, "nick", "alice", NULL);
	lc_see(bob, "rekeyed", room, "by", "alice", NULL);
	assert_true(file_goes(alice, a_home, "identity.old.pem"));
	json_decref(rt_join(alice, room, 0));
	struct rt_sent s = rt_say(bob, room, "welcome to the new key", 0);
	rt_expect_msg(alice, room, "bob", "welcome to the new key", s.seq, s.msg_id);
	rt_quit(alice);
	rt_quit(bob);
	assert_int_equal(change(&f, a_home, "moving house", "another", NULL), 0);
	const char *a_new = pass_file(&f, "alice-new.pass", "another");
	alice = registered(&f, a_home, "alice", a_new);
	rt_quit(alice);
	lc_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_round_trip, lc_teardown),
		cmocka_unit_test_teardown(test_wrong_passphrase, lc_teardown),
		cmocka_unit_test_teardown(test_change_passphrase, lc_teardown),
		cmocka_unit_test_teardown(test_interrupted_change, lc_teardown),
		cmocka_unit_test_teardown(test_no_key_in_clear, lc_teardown),
		cmocka_unit_test_teardown(test_rotate_under_passphrase, lc_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

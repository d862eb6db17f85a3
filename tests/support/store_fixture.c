/* The server store's unit tests' fixture and shorthands: store_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "store_fixture.h"
int store_setup(void **state)
{
	struct fixture *f = tmpdir_fixture_new(sizeof *f, "cc_test_store_rooms", "server.db");
	if (!f || store_open(f->tmp.path, &f->st) != CC_OK) {
		tmpdir_fixture_free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int store_teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->st);
	tmpdir_fixture_free(f);
	return 0;
}

void st_reopen(struct fixture *f)
{
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(store_open(f->tmp.path, &f->st), CC_OK);
}

/* A fake key and fingerprint made from seed. */
void st_key(uint8_t seed, uint8_t key[64], uint8_t fp[STORE_FINGERPRINT_LEN])
{
	for (size_t i = 0; i < 64; i++)
		key[i] = (uint8_t)(seed * 31 + i);
	for (size_t i = 0; i < STORE_FINGERPRINT_LEN; i++)
		fp[i] = (uint8_t)(seed ^ (i * 7));
}

/* A registered user with a key and fingerprint made from seed. */
int64_t st_user(struct fixture *f, const char *nick, uint8_t seed)
{
	uint8_t key[64], fp[STORE_FINGERPRINT_LEN];
	st_key(seed, key, fp);
	struct store_user u;
	assert_int_equal(store_user_register(f->st, nick, key, sizeof key, fp, 1, &u), CC_OK);
	int64_t id = u.id;
	store_user_clear(&u);
	return id;
}

void st_room_id(uint8_t seed, uint8_t rid[STORE_ROOM_ID_LEN])
{
	for (size_t i = 0; i < STORE_ROOM_ID_LEN; i++)
		rid[i] = (uint8_t)(seed + i * 13);
}

int64_t st_room(struct fixture *f, uint8_t seed, int64_t admin)
{
	uint8_t rid[STORE_ROOM_ID_LEN];
	int64_t id;
	st_room_id(seed, rid);
	assert_int_equal(store_room_create(f->st, rid, admin, 1000 + seed, &id), CC_OK);
	assert_true(id > 0);
	return id;
}

/* ---- What the walks saw ---------------------------------------------------- */


int st_seen_stop(struct seen *s)
{
	return s->stop_after && s->n == s->stop_after ? s->stop_with : 0;
}

int st_seen_member(void *ctx, const struct store_member *m)
{
	struct seen *s = ctx;
	assert_true(s->n < SEEN_MAX);
	s->a[s->n] = m->user;
	s->b[s->n] = m->room;
	s->epoch[s->n] = m->since_epoch;
	s->n++;
	return st_seen_stop(s);
}

int st_seen_blob(void *ctx, uint32_t n, const uint8_t *blob, size_t len)
{
	struct seen *s = ctx;
	assert_true(s->n < SEEN_MAX);
	assert_non_null(blob);
	assert_true(len > 0);
	s->a[s->n] = n;
	s->first[s->n] = blob[0];
	s->len[s->n] = len;
	s->n++;
	return st_seen_stop(s);
}

/* A record: its seq, its position (in seq[]), first byte and length. */
int st_seen_record(void *ctx, uint32_t n, uint64_t position, const uint8_t *record,
		       size_t len)
{
	struct seen *s = ctx;
	assert_true(s->n < SEEN_MAX);
	assert_non_null(record);
	assert_true(len > 0);
	s->a[s->n] = n;
	s->seq[s->n] = position;
	s->first[s->n] = record[0];
	s->len[s->n] = len;
	s->n++;
	return st_seen_stop(s);
}

int st_seen_message(void *ctx, const struct store_message *m)
{
	struct seen *s = ctx;
	assert_true(s->n < SEEN_MAX);
	assert_non_null(m->blob);
	s->a[s->n] = m->msg_id;
	s->b[s->n] = m->sender;
	s->first[s->n] = m->blob[0];
	s->len[s->n] = m->len;
	s->ts[s->n] = m->ts_ms;
	s->seq[s->n] = m->seq;
	s->epoch[s->n] = m->epoch;
	s->n++;
	return st_seen_stop(s);
}

size_t st_members(struct fixture *f, int64_t room, struct seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_member_each(f->st, room, st_seen_member, s), CC_OK);
	return s->n;
}

size_t st_records(struct fixture *f, int64_t room, struct seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_record_each(f->st, room, 0, st_seen_record, s), CC_OK);
	return s->n;
}

size_t st_keys(struct fixture *f, int64_t room, int64_t user, uint32_t min,
			struct seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_key_each(f->st, room, user, min, st_seen_blob, s), CC_OK);
	return s->n;
}

size_t st_messages(struct fixture *f, int64_t room, int64_t after, uint32_t limit,
			    struct seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_message_each(f->st, room, after, limit, st_seen_message, s), CC_OK);
	return s->n;
}

/* The seq of the last st_append: every call takes the next, so no two
 * are ever one replayed. */
static uint64_t test_seq;

/* Appends a 40-byte message of epoch 3 filled with tag; returns its id. */
int64_t st_append(struct fixture *f, int64_t room, int64_t sender, uint64_t ts,
			   uint8_t tag)
{
	uint8_t blob[40];
	memset(blob, tag, sizeof blob);
	int64_t id;
	assert_int_equal(store_message_append(f->st, room, sender, 3, ++test_seq, ts, blob,
					      sizeof blob, &id), CC_OK);
	return id;
}

int st_seen_gone(void *ctx, uint32_t n, const uint8_t *blob, size_t len)
{
	struct gone_seen *s = ctx;
	assert_true(s->n < GONE_MAX);
	assert_int_equal(n, 0);
	assert_true(len > STORE_FINGERPRINT_LEN && len <= STORE_FINGERPRINT_LEN + STORE_NICK_MAX);
	memcpy(s->fp[s->n], blob, STORE_FINGERPRINT_LEN);
	memcpy(s->nick[s->n], blob + STORE_FINGERPRINT_LEN, len - STORE_FINGERPRINT_LEN);
	s->nick[s->n][len - STORE_FINGERPRINT_LEN] = '\0';
	s->n++;
	return 0;
}

size_t st_gone(struct fixture *f, int64_t room, struct gone_seen *s)
{
	memset(s, 0, sizeof *s);
	assert_int_equal(store_room_gone_each(f->st, room, st_seen_gone, s), CC_OK);
	return s->n;
}

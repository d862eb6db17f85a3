/* The server store's unit tests' fixture and shorthands (test_store_*.c of
 * the room half): a store in a temporary directory, fake users, keys and
 * rooms, and walkers that record what the store's walks saw. */
#ifndef CC_TESTS_STORE_FIXTURE_H
#define CC_TESTS_STORE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "tmpdir.h"

struct fixture {
	struct tmpdir tmp;            /* first: see tmpdir_fixture_new */
	struct store *st;
};

#define SEEN_MAX 64

struct seen {
	size_t n;
	int64_t a[SEEN_MAX];          /* user, room, seq, epoch or msg_id */
	int64_t b[SEEN_MAX];          /* the other id, or sender */
	uint8_t first[SEEN_MAX];      /* first byte of the blob */
	size_t len[SEEN_MAX];
	uint64_t ts[SEEN_MAX];
	uint64_t seq[SEEN_MAX];       /* a message's seq, a record's position */
	uint32_t epoch[SEEN_MAX];
	size_t stop_after;            /* 0: never stop */
	int stop_with;
};

int store_setup(void **state);
int store_teardown(void **state);
void st_reopen(struct fixture *f);
void st_key(uint8_t seed, uint8_t key[64], uint8_t fp[STORE_FINGERPRINT_LEN]);
int64_t st_user(struct fixture *f, const char *nick, uint8_t seed);
void st_room_id(uint8_t seed, uint8_t rid[STORE_ROOM_ID_LEN]);
int64_t st_room(struct fixture *f, uint8_t seed, int64_t admin);
int st_seen_stop(struct seen *s);
int st_seen_member(void *ctx, const struct store_member *m);
int st_seen_blob(void *ctx, uint32_t n, const uint8_t *blob, size_t len);
int st_seen_record(void *ctx, uint32_t n, uint64_t position, const uint8_t *record,
		       size_t len);
int st_seen_message(void *ctx, const struct store_message *m);
size_t st_members(struct fixture *f, int64_t room, struct seen *s);
size_t st_records(struct fixture *f, int64_t room, struct seen *s);
size_t st_keys(struct fixture *f, int64_t room, int64_t user, uint32_t min,
			struct seen *s);
size_t st_messages(struct fixture *f, int64_t room, int64_t after, uint32_t limit,
			    struct seen *s);
int64_t st_append(struct fixture *f, int64_t room, int64_t sender, uint64_t ts,
			   uint8_t tag);

#define GONE_MAX 8

struct gone_seen {
	size_t n;
	uint8_t fp[GONE_MAX][STORE_FINGERPRINT_LEN];
	char nick[GONE_MAX][STORE_NICK_MAX + 1];
};

int st_seen_gone(void *ctx, uint32_t n, const uint8_t *blob, size_t len);
size_t st_gone(struct fixture *f, int64_t room, struct gone_seen *s);

#endif

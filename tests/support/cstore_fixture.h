/* The client store's unit tests' fixture and shorthands (test_client_store*.c):
 * a store in a temporary directory, distinctive test values, scans of the
 * files on disk for a key, SQL run on the file as another program would. */
#ifndef CC_TESTS_CSTORE_FIXTURE_H
#define CC_TESTS_CSTORE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/client_store.h"
#include "tmpdir.h"

/* The client store's schema version now: every upgrade test ends there. */
#define TEST_CSTORE_LATEST 5

struct fixture {
	struct tmpdir tmp;            /* first: see tmpdir_fixture_new */
	struct client_store *cs;
};

void cs_fill(uint8_t seed, uint8_t *p, size_t n);
void cs_secret(uint32_t seed, uint8_t key[CSTORE_KEY_LEN]);
void cs_expect_zero(const uint8_t *p, size_t n);
void cs_recv_expect_wiped(const struct cstore_recv_key *k);
int cstore_setup(void **state);
int cstore_teardown(void **state);
void cs_close(struct fixture *f);
void cs_open(struct fixture *f);
void cs_reopen(struct fixture *f);
bool cs_file_holds(const char *path, const uint8_t *needle, size_t n);
bool cs_files_hold(const char *path, const uint8_t key[CSTORE_KEY_LEN]);
void cs_expect_rollback_journal(const char *path);
void cs_sql(const char *path, const char *sql);
const char *cs_sql_blob(const uint8_t *p, size_t n, char *out, size_t cap);
uint64_t cs_chain_of(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			      uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			      uint8_t key[CSTORE_KEY_LEN]);
void cs_chain_expect(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			      uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			      const uint8_t want[CSTORE_KEY_LEN], uint64_t next);
void cs_chain_expect_none(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
				   uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN]);
void cs_epoch_add1(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			    uint32_t epoch, const uint8_t sender[CSTORE_FP_LEN],
			    const uint8_t key[CSTORE_KEY_LEN]);
uint64_t cs_messages_of(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
				 uint32_t epoch);
struct cstore_recv_key cs_recv_key(uint32_t version, uint64_t created_ms,
					    uint32_t seed);
void cs_recv_expect(struct fixture *f, const struct cstore_recv_key *want,
			     uint64_t retired_ms);
void cs_recv_expect_none(struct fixture *f, uint32_t version);
uint32_t cs_current_version(struct fixture *f);
void cs_room_put(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			  uint32_t count);
uint64_t cs_last_id(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN]);
uint64_t cs_seen_of(struct fixture *f, const uint8_t room[CSTORE_ROOM_ID_LEN],
			     const uint8_t fp[CSTORE_FP_LEN], uint32_t epoch);
uint64_t cs_activity_of(struct fixture *f, const uint8_t fp[CSTORE_FP_LEN]);

#endif

/* The people and fixed epoch secrets of the end-to-end layer's unit tests
 * (test_e2e.c, test_e2e_chain.c): alice and bob are the example keys of
 * tests/data, carol, dave and erin are made once per run. */
#ifndef CC_TEST_E2E_PEOPLE_H
#define CC_TEST_E2E_PEOPLE_H

#include <stdint.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/room.h"

struct who {
	const char *nick;
	struct crypto_rsa_key *key;
	uint8_t fp[PROTO_FINGERPRINT_LEN];
	uint8_t seed[CRYPTO_ED25519_SEED_LEN];
	uint8_t pub[CRYPTO_ED25519_PUB_LEN];
};

extern struct who alice, bob, carol, dave, erin;
extern const uint8_t room_a[PROTO_ROOM_ID_LEN];
extern const uint8_t room_b[PROTO_ROOM_ID_LEN];

/* The secret of each epoch in these tests: fixed, so commitments can be
 * recomputed anywhere. */
void epoch_secret(uint32_t epoch, uint8_t secret[E2E_KEY_LEN]);
void epoch_commit(const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
		  uint8_t out[PROTO_HASH_LEN]);
/* A stand-in for the chain hash of the record that opened an epoch, for the
 * tests of messages and titles that need no chain. */
void open_hash_of(uint32_t epoch, uint8_t out[PROTO_HASH_LEN]);
/* The base messages and titles of an epoch of room_a derive from. */
void epoch_key(uint32_t epoch, uint8_t key[E2E_KEY_LEN]);

/* An envelope header of room_a from sender, with a made-up chain head. */
void header_for(struct proto_envelope *env, const struct who *sender, uint32_t epoch,
		uint64_t seq);

/* cmocka group setup and teardown: the keys of everyone above. */
int people_setup(void **state);
int people_teardown(void **state);

#endif

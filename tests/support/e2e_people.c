/* The people and fixed epoch secrets of the end-to-end layer's unit tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include <string.h>

#include "e2e_people.h"

struct who alice = {.nick = "alice"};
struct who bob = {.nick = "bob"};
struct who carol = {.nick = "carol"};
struct who dave = {.nick = "dave"};
struct who erin = {.nick = "erin"};

const uint8_t room_a[PROTO_ROOM_ID_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
					   0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xa0};
const uint8_t room_b[PROTO_ROOM_ID_LEN] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8,
					   0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xb0};

void epoch_secret(uint32_t epoch, uint8_t secret[E2E_KEY_LEN])
{
	for (size_t i = 0; i < E2E_KEY_LEN; i++)
		secret[i] = (uint8_t)(epoch * 37 + i * 5 + 1);
}

void epoch_commit(const uint8_t room[PROTO_ROOM_ID_LEN], uint32_t epoch,
		  uint8_t out[PROTO_HASH_LEN])
{
	uint8_t secret[E2E_KEY_LEN];
	epoch_secret(epoch, secret);
	e2e_key_commit(room, epoch, secret, out);
}

void open_hash_of(uint32_t epoch, uint8_t out[PROTO_HASH_LEN])
{
	for (size_t i = 0; i < PROTO_HASH_LEN; i++)
		out[i] = (uint8_t)(0x80 + epoch * 11 + i);
}

void epoch_key(uint32_t epoch, uint8_t key[E2E_KEY_LEN])
{
	uint8_t secret[E2E_KEY_LEN], open_hash[PROTO_HASH_LEN];
	epoch_secret(epoch, secret);
	open_hash_of(epoch, open_hash);
	assert_int_equal(e2e_epoch_base(secret, room_a, epoch, open_hash, key), CC_OK);
}

static int load_key(const char *file, struct who *w)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/data/%s", CC_SOURCE_DIR, file);
	return crypto_rsa_load_private_file(path, &w->key) == CC_OK ? 0 : -1;
}

static int identity_finish(struct who *w)
{
	if (crypto_rsa_fingerprint(w->key, w->fp) != CC_OK ||
	    e2e_signing_key_derive(w->key, w->seed, w->pub) != CC_OK)
		return -1;
	return 0;
}

int people_setup(void **state)
{
	(void)state;
	if (crypto_init() != CC_OK || load_key("example_server_key.pem", &alice) ||
	    load_key("example_client_key.pem", &bob) ||
	    crypto_rsa_generate(2048, &carol.key) != CC_OK ||
	    crypto_rsa_generate(2048, &dave.key) != CC_OK ||
	    crypto_rsa_generate(2048, &erin.key) != CC_OK)
		return -1;
	struct who *all[] = {&alice, &bob, &carol, &dave, &erin};
	for (size_t i = 0; i < 5; i++)
		if (identity_finish(all[i]))
			return -1;
	return 0;
}

int people_teardown(void **state)
{
	(void)state;
	struct who *all[] = {&alice, &bob, &carol, &dave, &erin};
	for (size_t i = 0; i < 5; i++) {
		crypto_rsa_free(all[i]->key);
		mem_wipe(all[i]->seed, sizeof all[i]->seed);
	}
	return 0;
}

void header_for(struct proto_envelope *env, const struct who *sender, uint32_t epoch,
		       uint64_t seq)
{
	memset(env, 0, sizeof *env);
	env->version = PROTO_ENVELOPE_VERSION;
	memcpy(env->room_id, room_a, PROTO_ROOM_ID_LEN);
	env->epoch = epoch;
	env->sender = proto_bytes_str(sender->nick);
	env->seq = seq;
	env->time_ms = 1700000000123ull;
	/* The sender's chain head: a record of the epoch (made-up values here). */
	env->head_seq = epoch + 7;
	for (size_t i = 0; i < PROTO_HASH_LEN; i++)
		env->head_hash[i] = (uint8_t)(0x30 + epoch + i);
}

/* Membership work is bounded (docs/ROBUSTNESS.md, "Membership requests"):
 * every kind of record counts against a room's cap, leaving stays possible
 * at the cap, a forged record is refused before the room's chain is read,
 * and a room's chain is verified from the store once, then kept.
 *
 * The requests come from raw sessions (itest_chan.h) that sign their own
 * records, so a chain of 8000 records is built in seconds; the server is the
 * real test variant. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "e2e/e2e.h"
#include "proto/msg.h"
#include "proto/room.h"
#include "support/itest.h"
#include "support/itest_chan.h"
#include "support/itest_rooms.h"
#include "transport/chan.h"
#include "util/buf.h"

/* The server's cap: a room's records plus its members (PROTOCOL.md 11). */
#define CAP 8000
#define MAX_PEOPLE 4

struct person {
	const char *nick;
	struct crypto_rsa_key *key;
	uint8_t fp[PROTO_FINGERPRINT_LEN];
	struct ichan w;
};

struct raw_room {
	uint8_t id[PROTO_ROOM_ID_LEN];
	uint32_t count, epoch;
	uint8_t last_hash[PROTO_HASH_LEN];
	uint8_t commit[PROTO_HASH_LEN];
	struct person *members[MAX_PEOPLE];
	size_t nmembers;
};

static struct person people[MAX_PEOPLE];
static struct itest_server *srv;
static const char *dir, *data;

static void people_open(size_t n)
{
	static const char *const nicks[MAX_PEOPLE] = {"anna", "ben", "cleo", "dora"};
	assert_int_equal(crypto_init(), CC_OK);
	for (size_t i = 0; i < n; i++) {
		struct person *p = &people[i];
		p->nick = nicks[i];
		if (!p->key) {
			assert_int_equal(crypto_rsa_generate(2048, &p->key), CC_OK);
			assert_int_equal(crypto_rsa_fingerprint(p->key, p->fp), CC_OK);
		}
		int fd = itest_tcp_connect(itest_server_port(srv));
		assert_true(fd >= 0);
		ichan_handshake(&p->w, fd, p->key, p->nick, NULL);
		p->w.skip_rekey_owed = 1;
	}
}

static void people_close(size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (people[i].w.ch)
			ichan_close(&people[i].w);
}

static void server_up(const char *const *extra)
{
	srv = itest_server_start_on(data, 0, extra);
	assert_non_null(srv);
}

static void start(const char *name, const char *const *extra)
{
	if (!itest_have_binaries() || !rt_sqlite3())
		skip();
	dir = itest_tmpdir(name);
	assert_non_null(dir);
	data = itest_subdir(dir, "server");
	assert_non_null(data);
	server_up(extra);
	rt_db_use(itest_path(data, "cryptocat.db"), dir);
}

static int teardown(void **state)
{
	people_close(MAX_PEOPLE);
	for (size_t i = 0; i < MAX_PEOPLE; i++) {
		crypto_rsa_free(people[i].key);
		people[i].key = NULL;
	}
	srv = NULL;
	return itest_teardown(state);
}

/* ---- records, signed here ------------------------------------------------------ */

static bool opens(uint8_t action)
{
	return action == PROTO_REC_CREATE || action == PROTO_REC_ADD ||
	       action == PROTO_REC_KICK || action == PROTO_REC_REKEY;
}

/* The next record of the room, by actor about subject; forged: its
 * signature spoilt. commit gets the epoch's commitment. */
static void record_make(const struct raw_room *r, const struct person *actor,
			const struct person *subject, uint8_t action, bool forged,
			uint8_t commit[PROTO_HASH_LEN], struct buf *out)
{
	struct proto_record rec = {0};
	rec.version = PROTO_RECORD_VERSION;
	memcpy(rec.room_id, r->id, PROTO_ROOM_ID_LEN);
	rec.seq = r->count;
	if (r->count)
		memcpy(rec.prev_hash, r->last_hash, PROTO_HASH_LEN);
	rec.action = action;
	rec.actor = proto_bytes_str(actor->nick);
	memcpy(rec.actor_fp, actor->fp, PROTO_FINGERPRINT_LEN);
	rec.subject = proto_bytes_str(subject->nick);
	memcpy(rec.subject_fp, subject->fp, PROTO_FINGERPRINT_LEN);
	rec.epoch = r->count == 0 ? 0 : r->epoch + (opens(action) ? 1 : 0);
	if (opens(action))
		assert_int_equal(crypto_random_bytes(commit, PROTO_HASH_LEN), CC_OK);
	else
		memcpy(commit, r->commit, PROTO_HASH_LEN);
	memcpy(rec.key_commit, commit, PROTO_HASH_LEN);
	rec.time_ms = 1700000000000ull + r->count;
	buf_reset(out);
	assert_int_equal(e2e_record_sign(actor->key, &rec, out), CC_OK);
	if (forged)
		out->data[out->len - 1] ^= 1;
}

static void record_took(struct raw_room *r, const struct buf *rec,
			const uint8_t commit[PROTO_HASH_LEN])
{
	struct proto_record d;
	assert_int_equal(proto_record_decode(rec->data, rec->len, &d), CC_OK);
	e2e_record_hash(rec->data, rec->len, r->last_hash);
	memcpy(r->commit, commit, PROTO_HASH_LEN);
	r->epoch = d.epoch;
	r->count++;
}

/* One (junk) wrapped key of the epoch for each member in the list. */
static void keys_for(struct person *const *who, size_t n, uint32_t epoch, struct buf *raw)
{
	static const uint8_t wrapped[E2E_WRAPPED_LEN] = {0x5a};
	buf_reset(raw);
	for (size_t i = 0; i < n; i++) {
		struct proto_wrapped_item wi = {proto_bytes_str(who[i]->nick), epoch,
						{wrapped, sizeof wrapped}};
		assert_int_equal(proto_item_encode(PROTO_ITEM_WRAPPED, &wi, raw), CC_OK);
	}
}

/* Sends the request; 0 for OK, else the error's code. */
static int answer_of(struct person *p, struct proto_msg *req)
{
	struct proto_msg m;
	uint32_t id = ichan_request(&p->w, req);
	ichan_answer(&p->w, id, &m);
	if (m.type == PROTO_OK)
		return 0;
	assert_int_equal(m.type, PROTO_ERROR);
	return m.u.error.code;
}

static void room_create(struct raw_room *r, struct person *admin, struct person *other)
{
	static const uint8_t title[40] = {1};
	struct buf records, keys, rec;
	uint8_t commit[PROTO_HASH_LEN];
	struct proto_msg m = {.type = PROTO_ROOM_CREATE};

	memset(r, 0, sizeof *r);
	assert_int_equal(crypto_random_bytes(r->id, sizeof r->id), CC_OK);
	buf_init(&records, 1 << 20);
	buf_init(&keys, 1 << 20);
	buf_init(&rec, PROTO_RECORD_MAX);
	record_make(r, admin, admin, PROTO_REC_CREATE, false, commit, &rec);
	struct proto_blob_item bi = {{rec.data, rec.len}};
	assert_int_equal(proto_item_encode(PROTO_ITEM_BLOB, &bi, &records), CC_OK);
	record_took(r, &rec, commit);
	record_make(r, admin, other, PROTO_REC_ADD, false, commit, &rec);
	bi.data = (struct proto_bytes){rec.data, rec.len};
	assert_int_equal(proto_item_encode(PROTO_ITEM_BLOB, &bi, &records), CC_OK);
	record_took(r, &rec, commit);
	r->members[r->nmembers++] = admin;
	r->members[r->nmembers++] = other;
	keys_for(r->members, r->nmembers, r->epoch, &keys);
	memcpy(m.u.room_create.room_id, r->id, PROTO_ROOM_ID_LEN);
	m.u.room_create.title_ct = (struct proto_bytes){title, sizeof title};
	m.u.room_create.records = (struct proto_list){2, {records.data, records.len}};
	m.u.room_create.keys = (struct proto_list){(uint16_t)r->nmembers, {keys.data, keys.len}};
	m.u.room_create.request_id = ++admin->w.next_request;
	assert_int_equal(chan_send_msg(admin->w.ch, &m, &admin->w.out), CC_OK);
	ichan_flush(&admin->w);
	struct proto_msg a;
	ichan_answer(&admin->w, m.u.room_create.request_id, &a);
	assert_int_equal(a.type, PROTO_OK);
	buf_free(&records);
	buf_free(&keys);
	buf_free(&rec);
}

/* ROOM_ADMIN or ROOM_LEAVE: one record; 0 or the error's code. */
static int room_change(struct raw_room *r, struct person *actor, struct person *subject,
		       uint8_t action, bool forged)
{
	struct buf rec;
	uint8_t commit[PROTO_HASH_LEN];
	struct proto_msg m = {.type = action == PROTO_REC_ADMIN ? PROTO_ROOM_ADMIN
								 : PROTO_ROOM_LEAVE};
	buf_init(&rec, PROTO_RECORD_MAX);
	record_make(r, actor, subject, action, forged, commit, &rec);
	memcpy(m.u.room_leave.room_id, r->id, PROTO_ROOM_ID_LEN);
	m.u.room_leave.record = (struct proto_bytes){rec.data, rec.len};
	int code = answer_of(actor, &m);
	if (code == 0) {
		record_took(r, &rec, commit);
		if (action == PROTO_REC_LEAVE) {
			for (size_t i = 0; i < r->nmembers; i++)
				if (r->members[i] == actor)
					r->members[i] = r->members[--r->nmembers];
		}
	}
	buf_free(&rec);
	return code;
}

/* ROOM_REKEY (subject = actor) or ROOM_ADD: one record and the new epoch's
 * keys; 0 or the error's code. */
static int room_epoch(struct raw_room *r, struct person *actor, struct person *subject,
		      uint8_t action)
{
	static const uint8_t title[40] = {2};
	struct buf rec, records, keys;
	uint8_t commit[PROTO_HASH_LEN];
	struct person *who[MAX_PEOPLE + 1];
	size_t n = r->nmembers;
	struct proto_msg m = {.type = action == PROTO_REC_ADD ? PROTO_ROOM_ADD : PROTO_ROOM_REKEY};

	buf_init(&rec, PROTO_RECORD_MAX);
	buf_init(&records, 1 << 16);
	buf_init(&keys, 1 << 16);
	record_make(r, actor, subject, action, false, commit, &rec);
	struct proto_blob_item bi = {{rec.data, rec.len}};
	assert_int_equal(proto_item_encode(PROTO_ITEM_BLOB, &bi, &records), CC_OK);
	memcpy(who, r->members, n * sizeof *who);
	if (action == PROTO_REC_ADD)
		who[n++] = subject;
	keys_for(who, n, r->epoch + 1, &keys);
	memcpy(m.u.room_rekey.room_id, r->id, PROTO_ROOM_ID_LEN);
	m.u.room_rekey.title_ct = (struct proto_bytes){title, sizeof title};
	m.u.room_rekey.records = (struct proto_list){1, {records.data, records.len}};
	m.u.room_rekey.keys = (struct proto_list){(uint16_t)n, {keys.data, keys.len}};
	int code = answer_of(actor, &m);
	if (code == 0) {
		record_took(r, &rec, commit);
		if (action == PROTO_REC_ADD)
			r->members[r->nmembers++] = subject;
	}
	buf_free(&rec);
	buf_free(&records);
	buf_free(&keys);
	return code;
}

static long long stored_records(const struct raw_room *r)
{
	char *hex = rt_hex(r->id, sizeof r->id);
	long long n = rt_sql_int("SELECT count(*) FROM records WHERE room = "
				 "(SELECT id FROM rooms WHERE room_id = X'%s');", hex);
	free(hex);
	return n;
}

/* How often the server verified a room's chain from the store. */
static int chain_loads(void)
{
	char *log = itest_read_file(itest_server_log(srv), NULL);
	int n = 0;
	assert_non_null(log);
	for (const char *p = log; (p = strstr(p, "verified from the store")); p++)
		n++;
	free(log);
	return n;
}

/* ---- tests ---------------------------------------------------------------------- */

/* ADMIN records, which no cap counted before, fill the room to its cap
 * (records + members = 8000) and are then refused with limit, as are a
 * REKEY and an ADD; a member can still leave, and so can the last one,
 * which ends the room; nothing was stored past what was accepted. */
static void test_cap_counts_every_record(void **state)
{
	struct raw_room r;
	(void)state;
	start("bounded-cap", NULL);
	people_open(3);
	struct person *anna = &people[0], *ben = &people[1], *cleo = &people[2];
	room_create(&r, anna, ben);
	struct person *admin = anna, *other = ben;
	while (r.count + r.nmembers < CAP) {
		assert_int_equal(room_change(&r, admin, other, PROTO_REC_ADMIN, false), 0);
		struct person *t = admin;
		admin = other;
		other = t;
	}
	assert_int_equal(r.count, CAP - 2);
	assert_int_equal(room_change(&r, admin, other, PROTO_REC_ADMIN, false), CC_ERR_LIMIT);
	assert_int_equal(room_epoch(&r, other, other, PROTO_REC_REKEY), CC_ERR_LIMIT);
	assert_int_equal(room_epoch(&r, admin, cleo, PROTO_REC_ADD), CC_ERR_LIMIT);
	assert_int_equal(stored_records(&r), CAP - 2);
	/* Leaving is never refused by the cap: the member's slot was kept. */
	assert_int_equal(room_change(&r, other, other, PROTO_REC_LEAVE, false), 0);
	assert_int_equal(stored_records(&r), CAP - 1);
	/* Alone at the cap: no new epoch, but the last member can still go. */
	assert_int_equal(room_epoch(&r, admin, admin, PROTO_REC_REKEY), CC_ERR_LIMIT);
	assert_int_equal(room_change(&r, admin, admin, PROTO_REC_LEAVE, false), 0);
	char *hex = rt_hex(r.id, sizeof r.id);
	assert_int_equal(rt_sql_int("SELECT count(*) FROM rooms WHERE room_id = X'%s';", hex), 0);
	free(hex);
	people_close(3);
	assert_int_equal(itest_server_stop(srv), 0);
}

/* After a restart the first request of a room verifies its chain from the
 * store, once; a forged record is refused before that (it costs one
 * verification, not the whole chain's), and the requests after the first
 * use the chain kept in memory. */
static void test_chain_verified_once(void **state)
{
	struct raw_room r;
	(void)state;
	start("bounded-once", NULL);
	people_open(2);
	struct person *anna = &people[0], *ben = &people[1];
	room_create(&r, anna, ben);
	assert_int_equal(room_change(&r, anna, ben, PROTO_REC_ADMIN, false), 0);
	people_close(2);
	assert_int_equal(itest_server_stop(srv), 0);

	server_up(NULL);
	people_open(2);
	assert_int_equal(room_change(&r, ben, anna, PROTO_REC_ADMIN, true), CC_ERR_SECURITY);
	assert_int_equal(chain_loads(), 0);
	assert_int_equal(room_change(&r, ben, anna, PROTO_REC_ADMIN, false), 0);
	assert_int_equal(chain_loads(), 1);
	assert_int_equal(room_epoch(&r, ben, ben, PROTO_REC_REKEY), 0);
	assert_int_equal(room_change(&r, anna, ben, PROTO_REC_ADMIN, true), CC_ERR_SECURITY);
	assert_int_equal(room_epoch(&r, anna, anna, PROTO_REC_REKEY), 0);
	assert_int_equal(chain_loads(), 1);
	assert_int_equal(stored_records(&r), r.count);
	people_close(2);
	assert_int_equal(itest_server_stop(srv), 0);
}

/* With room for one chain only, two rooms used in turn evict each other:
 * each request verifies its room's chain again, and every answer is still
 * right (a stale record refused, the good ones stored). */
static void test_chain_cache_evicts(void **state)
{
	static const char *const one_room[] = {"--chain-cache", "1", NULL};
	struct raw_room r1, r2;
	(void)state;
	start("bounded-evict", one_room);
	people_open(2);
	struct person *anna = &people[0], *ben = &people[1];
	room_create(&r1, anna, ben);
	room_create(&r2, anna, ben);
	int loads = chain_loads();
	for (int i = 0; i < 3; i++) {
		assert_int_equal(room_epoch(&r1, ben, ben, PROTO_REC_REKEY), 0);
		assert_int_equal(room_epoch(&r2, anna, anna, PROTO_REC_REKEY), 0);
	}
	assert_int_equal(chain_loads(), loads + 6);
	/* A record on an old head of r1: stale, whatever is kept. */
	struct raw_room old = r1;
	old.count -= 1;
	assert_int_equal(room_epoch(&old, ben, ben, PROTO_REC_REKEY), CC_ERR_STALE_EPOCH);
	assert_int_equal(stored_records(&r1), r1.count);
	assert_int_equal(stored_records(&r2), r2.count);
	people_close(2);
	assert_int_equal(itest_server_stop(srv), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_cap_counts_every_record, teardown),
		cmocka_unit_test_teardown(test_chain_verified_once, teardown),
		cmocka_unit_test_teardown(test_chain_cache_evicts, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

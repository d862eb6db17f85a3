/* Verified membership chains kept in memory, so that a membership request
 * costs one signature verification (its own record's) instead of one per
 * stored record of the room.
 *
 * At most cfg->chain_cache_rooms rooms are kept, and at most
 * CHAIN_CACHE_BYTES of chains (a room at its caps takes about 2 MB: 8,000
 * records' hashes, spans and epochs, 5,120 members), least recently used
 * out first; a room not kept is read from the store and every record verified
 * again, as before. A kept chain is used only while it ends exactly where
 * the store's chain does (the room row's record count and last hash, read in
 * the same loop turn): a transaction that failed or was rolled back cannot
 * leave the cache ahead of the database, and a chain changed behind the
 * server's back is verified again. Entries are replaced only after a commit
 * (chain_cache_keep) and dropped with their room (chain_cache_forget). */
#include <stdlib.h>
#include <string.h>

#include "e2e/e2e.h"
#include "server/rooms_internal.h"
#include "store/store.h"
#include "util/log.h"

#define CHAIN_CACHE_BYTES (64u * 1024 * 1024)

struct chain_cache_entry {
	int64_t room;                    /* row id; 0: empty */
	uint64_t used;                   /* the tick of its last use */
	size_t bytes;                    /* what chain holds */
	struct e2e_chain chain;
};

struct chain_cache {
	struct chain_cache_entry *entries;
	size_t cap;
	size_t bytes;                    /* every entry's */
	uint64_t tick;
	uint64_t loads;                  /* chains verified from the store */
};

cc_err chain_cache_init(struct server *srv)
{
	struct chain_cache *cc = calloc(1, sizeof *cc);
	if (!cc)
		return CC_ERR_NOMEM;
	cc->cap = srv->cfg->chain_cache_rooms;
	if (cc->cap && !(cc->entries = calloc(cc->cap, sizeof *cc->entries))) {
		free(cc);
		return CC_ERR_NOMEM;
	}
	srv->chains = cc;
	return CC_OK;
}

void chain_cache_free(struct server *srv)
{
	struct chain_cache *cc = srv->chains;
	if (!cc)
		return;
	for (size_t i = 0; i < cc->cap; i++)
		e2e_chain_free(&cc->entries[i].chain);
	free(cc->entries);
	free(cc);
	srv->chains = NULL;
}

static size_t chain_bytes(const struct e2e_chain *c)
{
	return c->members_cap * sizeof *c->members + c->spans_cap * sizeof *c->spans +
	       c->epochs_cap * sizeof *c->epochs + c->hashes_cap * sizeof *c->hashes;
}

static void entry_clear(struct chain_cache *cc, struct chain_cache_entry *e)
{
	e2e_chain_free(&e->chain);
	cc->bytes -= e->bytes;
	e->bytes = 0;
	e->room = 0;
}

/* e holds chain now (taken, not copied); others go, least recently used
 * first, while the cache holds more than its bytes. */
static void entry_set(struct chain_cache *cc, struct chain_cache_entry *e, int64_t room,
		      const struct e2e_chain *chain)
{
	e->room = room;
	e->chain = *chain;
	e->bytes = chain_bytes(chain);
	cc->bytes += e->bytes;
	while (cc->bytes > CHAIN_CACHE_BYTES) {
		struct chain_cache_entry *lru = NULL;
		for (size_t i = 0; i < cc->cap; i++)
			if (&cc->entries[i] != e && cc->entries[i].room &&
			    (!lru || cc->entries[i].used < lru->used))
				lru = &cc->entries[i];
		if (!lru)
			break;  /* e alone is over: kept all the same, until the next */
		entry_clear(cc, lru);
	}
}

static struct chain_cache_entry *entry_find(struct chain_cache *cc, int64_t room)
{
	for (size_t i = 0; i < cc->cap; i++)
		if (cc->entries[i].room == room)
			return &cc->entries[i];
	return NULL;
}

/* The entry for room if kept, else an empty or the least recently used one,
 * emptied. NULL when the cache holds nothing (chain_cache_rooms 0). */
static struct chain_cache_entry *entry_claim(struct chain_cache *cc, int64_t room)
{
	struct chain_cache_entry *e = entry_find(cc, room), *lru = NULL;
	if (e)
		return e;
	for (size_t i = 0; i < cc->cap && (!lru || lru->room); i++)
		if (!lru || cc->entries[i].room == 0 || cc->entries[i].used < lru->used)
			lru = &cc->entries[i];
	if (lru)
		entry_clear(cc, lru);
	return lru;
}

/* 1 if the kept chain ends where the stored one does. */
static int entry_current(const struct chain_cache_entry *e, const struct store_room *room)
{
	return e->chain.count == room->record_count &&
	       (room->record_count == 0 ||
		memcmp(e->chain.last_hash, room->last_record_hash, PROTO_HASH_LEN) == 0);
}

struct chain_load {
	struct e2e_chain *chain;
	struct key_cache *keys;
	cc_err err;
};

static int chain_load_record(void *ctx, uint32_t seq, uint64_t position, const uint8_t *rec,
			     size_t len)
{
	struct chain_load *cl = ctx;
	const char *why;
	(void)seq;
	(void)position;
	cl->err = e2e_chain_apply(cl->chain, rec, len, key_cache_lookup, cl->keys, &why);
	if (cl->err)
		log_error("stored chain does not verify: %s", why);
	return cl->err ? 1 : 0;
}

/* The room's chain as stored, every record verified. */
static cc_err chain_load(struct server *srv, const struct store_room *room,
			 struct e2e_chain *chain, struct key_cache *keys)
{
	struct chain_load cl = {chain, keys, CC_OK};
	e2e_chain_init(chain, room->room_id);
	cc_err err = store_record_each(srv->store, room->id, 0, chain_load_record, &cl);
	if (!err && !cl.err && chain->count != room->record_count)
		err = CC_ERR_STORE;  /* the room row and its records disagree */
	if (cl.err || err)
		e2e_chain_free(chain);
	return cl.err ? cl.err : err;
}

cc_err chain_cache_get(struct server *srv, const struct store_room *room,
		       struct e2e_chain *out, struct key_cache *keys)
{
	struct chain_cache *cc = srv->chains;
	struct chain_cache_entry *e = entry_find(cc, room->id);
	cc_err err;

	if (e && !entry_current(e, room)) {
		log_warn("a room's kept chain is not the stored one: verifying it again");
		entry_clear(cc, e);
		e = NULL;
	}
	if (!e) {
		struct e2e_chain loaded;
		if ((err = chain_load(srv, room, &loaded, keys)))
			return err;
		cc->loads++;
		log_debug("the chain of room %lld verified from the store: %u records",
			  (long long)room->id, loaded.count);
		e = entry_claim(cc, room->id);
		if (!e) {
			*out = loaded;  /* nothing is kept: the caller owns it */
			return CC_OK;
		}
		e->used = ++cc->tick;
		entry_set(cc, e, room->id, &loaded);
	}
	e->used = ++cc->tick;
	return e2e_chain_copy(out, &e->chain);
}

void chain_cache_keep(struct server *srv, int64_t room, struct e2e_chain *chain)
{
	struct chain_cache *cc = srv->chains;
	struct chain_cache_entry *e = entry_claim(cc, room);
	if (!e)
		return;
	entry_clear(cc, e);
	e->used = ++cc->tick;
	entry_set(cc, e, room, chain);
	e2e_chain_init(chain, e->chain.room_id);
}

void chain_cache_forget(struct server *srv, int64_t room)
{
	struct chain_cache_entry *e = entry_find(srv->chains, room);
	if (e)
		entry_clear(srv->chains, e);
}

uint64_t chain_cache_loads(const struct server *srv)
{
	return srv->chains->loads;
}

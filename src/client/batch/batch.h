/* --batch: one JSON object per line on standard output for every event, and
 * one command per line on standard input, each run once the previous one has
 * ended. The only user of jansson. The events are listed in the README. */
#ifndef CC_CLIENT_BATCH_BATCH_H
#define CC_CLIENT_BATCH_BATCH_H

#include "client/core/client.h"

struct event_base;

int batch_run(const struct client_config *cfg, struct event_base *base);

#endif

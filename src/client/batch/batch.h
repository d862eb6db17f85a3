/* --batch: one JSON object per line on standard output for every event, and
 * one command per line on standard input, each run once the previous one has
 * ended. The only user of jansson. The events are listed in the README. */
#ifndef CC_CLIENT_BATCH_BATCH_H
#define CC_CLIENT_BATCH_BATCH_H

#include "client/cli/passphrase.h"
#include "client/core/client.h"

struct event_base;

int batch_run(const struct client_config *cfg, struct event_base *base);
/* What comes before a session (the passphrase: client/cli/passphrase.h) as
 * JSON: {"event":"error","code":...,"message":...}, and for
 * --change-passphrase {"event":"passphrase_changed","protected":BOOL}. */
extern const struct passphrase_report batch_passphrase_report;

#endif

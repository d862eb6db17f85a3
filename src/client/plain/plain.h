/* --plain (and the default when standard input or output is not a
 * terminal): the line mode people read. Commands are typed one per line and
 * run at once; events are printed as short lines of text, every string
 * others chose escaped (util/display.h). For dumb terminals, screen readers
 * and pipes. */
#ifndef CC_CLIENT_PLAIN_PLAIN_H
#define CC_CLIENT_PLAIN_PLAIN_H

#include "client/core/client.h"

struct event_base;

int plain_run(const struct client_config *cfg, struct event_base *base);

#endif

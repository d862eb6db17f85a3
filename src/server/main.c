#include <stdio.h>

#include "server/server.h"
#include "util/log.h"

int main(int argc, char **argv)
{
	struct server_config cfg;
	int exit_now = 0;

	server_config_defaults(&cfg);
	cc_err err = server_config_parse(&cfg, argc, argv, &exit_now);
	if (err)
		return 2;
	if (exit_now)
		return 0;
	err = server_run(&cfg);
	if (err) {
		log_error("server stopped: %s", cc_err_str(err));
		return 1;
	}
	return 0;
}

/* The line-mode front ends' driver: see linemode.h. */
#include "client/cli/linemode.h"

#include <event2/event.h>
#include <signal.h>
#include <unistd.h>

#include "client/cli/cli.h"
#include "client/cli/lines.h"

struct linemode {
	const struct linemode_view *view;
	struct event_base *base;
	struct client *client;
	struct cli *cli;
	struct lines *lines;
	bool quit;                 /* /quit or the end of input: no more lines */
};

static void lm_on_event(void *ctx, const struct client_event *ev)
{
	struct linemode *lm = ctx;
	if (lm->cli)
		cli_on_event(lm->cli, ev);
	lm->view->event(lm->view->ctx, ev);
}

static void lm_on_done(void *ctx, uint32_t request, cc_err err)
{
	struct linemode *lm = ctx;
	if (lm->cli)
		cli_on_done(lm->cli, request, err);
}

static void lm_on_state(void *ctx)
{
	struct linemode *lm = ctx;
	if (lm->client && client_get_state(lm->client) == CLIENT_CLOSED)
		event_base_loopexit(lm->base, NULL);
	else
		lines_kick(lm->lines);
}

static void lm_quit(void *ctx)
{
	struct linemode *lm = ctx;
	lm->quit = true;
	client_quit(lm->client);
}

static void lm_cli_error(void *ctx, const char *room, const char *code, const char *message)
{
	struct linemode *lm = ctx;
	lm->view->error(lm->view->ctx, room, code, message);
}

static void lm_help(void *ctx, const char *const *lines, size_t n)
{
	struct linemode *lm = ctx;
	lm->view->help(lm->view->ctx, lines, n);
}

static bool lm_ready(void *ctx)
{
	struct linemode *lm = ctx;
	/* Reconnecting, lines still run: the core queues them (and batch's
	 * one-at-a-time holds: a line waiting for the connection keeps it busy). */
	if (lm->quit || !client_takes_calls(lm->client))
		return false;
	return !(lm->view->one_at_a_time && client_busy(lm->client));
}

static void lm_line(void *ctx, const char *line)
{
	struct linemode *lm = ctx;
	cli_run(lm->cli, line);
}

static void lm_line_error(void *ctx, const char *code, const char *message)
{
	struct linemode *lm = ctx;
	lm->view->error(lm->view->ctx, "", code, message);
}

static void lm_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	lm_quit(arg);
}

int linemode_run(const struct client_config *cfg, struct event_base *base,
		 const struct linemode_view *view)
{
	struct linemode lm = {.view = view, .base = base};
	struct client_callbacks ccb = {lm_on_event, lm_on_done, lm_on_state, &lm};
	struct cli_callbacks kcb = {lm_cli_error, lm_help, lm_quit, &lm};
	struct lines_callbacks lcb = {lm_ready, lm_line, lm_line_error, lm_quit, &lm};
	struct event *sigint = NULL, *sigterm = NULL;
	int status = CLIENT_EXIT_ERROR;

	cc_err err = client_new(cfg, base, &ccb, &lm.client);
	if (err) {
		view->error(view->ctx, "", cc_err_code(err), cc_err_str(err));
		return err == CC_ERR_USAGE || err == CC_ERR_BAD_NICK ? CLIENT_EXIT_USAGE
		       : err == CC_ERR_BAD_PASSPHRASE		     ? CLIENT_EXIT_PASSPHRASE
								     : CLIENT_EXIT_ERROR;
	}
	lm.cli = cli_new(lm.client, &kcb, NULL, 0);
	lm.lines = lines_new(base, STDIN_FILENO, &lcb);
	sigint = evsignal_new(base, SIGINT, lm_signal_cb, &lm);
	sigterm = evsignal_new(base, SIGTERM, lm_signal_cb, &lm);
	if (!lm.cli || !lm.lines || !sigint || !sigterm) {
		view->error(view->ctx, "", "no_memory", cc_err_str(CC_ERR_NOMEM));
		goto out;
	}
	evsignal_add(sigint, NULL);
	evsignal_add(sigterm, NULL);
	if (client_connect(lm.client) == CC_OK || client_get_state(lm.client) != CLIENT_CLOSED)
		event_base_dispatch(base);
	status = client_exit_status(lm.client);
out:
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	lines_free(lm.lines);
	lm.lines = NULL;
	client_free(lm.client);
	cli_free(lm.cli);
	return status;
}

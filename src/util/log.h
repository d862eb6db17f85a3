/* Leveled logging, to stderr unless a sink is set (a full-screen front end
 * shows the lines itself). Never log secrets, plaintext or key material. */
#ifndef CC_UTIL_LOG_H
#define CC_UTIL_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns -1 on anything else. */
int log_level_parse(const char *name);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Where lines go instead of stderr (NULL: back to stderr). LINE is the
 * message alone, without time or level. */
typedef void (*log_sink_fn)(void *ctx, enum log_level level, const char *line);
void log_set_sink(log_sink_fn fn, void *ctx);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                          \
	do {                                                    \
		if (log_get_level() >= LOG_LEVEL_DEBUG)         \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);  \
	} while (0)

#endif

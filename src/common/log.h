/*
 * log — one line per event to stderr (and syslog when enabled).
 *
 * Only the daemon's own code logs (STYLE.md: library-like code does not).
 * Never pass a password, PIN, digest response or key to these functions:
 * mask such values as "********".
 */
#ifndef BULWARK_LOG_H
#define BULWARK_LOG_H

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };

/* Configure: minimum level printed, and whether to copy lines to syslog
 * (ident "bulwarkd"). Thread-safe to call log_*() from any thread. */
void log_setup(enum log_level min, int use_syslog);

void log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(mod, ...) log_msg(LOG_LVL_DEBUG, mod, __VA_ARGS__)
#define log_info(mod, ...)  log_msg(LOG_LVL_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_msg(LOG_LVL_WARN, mod, __VA_ARGS__)
#define log_err(mod, ...)   log_msg(LOG_LVL_ERR, mod, __VA_ARGS__)

#endif

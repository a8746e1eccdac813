#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <pthread.h>

#include "common/log.h"

static enum log_level min_level = LOG_LVL_INFO;
static int syslog_on;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_setup(enum log_level min, int use_syslog)
{
	min_level = min;
	syslog_on = use_syslog;
	if (use_syslog)
		openlog("bulwarkd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
	char line[1024];
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (lvl < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", ts, now.tv_nsec / 1000000L,
		names[lvl], module, line);
	pthread_mutex_unlock(&log_lock);
	if (syslog_on)
		syslog(prio[lvl], "%s: %s", module, line);
}

/*
 * routes_rec — call recordings for the administrator (issue 13;
 * docs/admin/calls.md "Call recording"):
 *
 *   GET /cdr/:id/recording   the recording of call :id, audio/wav
 *                            (8 kHz 16-bit stereo: left the caller,
 *                            right the callee)
 *
 * The admin API's credential is required as for every /api/v1 route (a
 * user's portal session does not reach it). The path comes from the
 * call's record, never from the request, and is checked for its form
 * ("YYYY-MM-DD/<id>.wav") before it is opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "api/routes.h"
#include "common/report.h"
#include "daemon/daemon.h"
#include "store/cdr_db.h"

/* Largest recording served through the API (about 70 minutes); longer
 * ones are read from DATA/recordings. */
#define REC_SERVE_MAX (128u << 20)

static void not_found(struct api_resp *resp, const char *rule,
		      const char *msg)
{
	struct report r;

	report_init(&r);
	report_add(&r, "", "id", rule, "%s", msg);
	api_error(resp, 404, msg, &r);
	report_reset(&r);
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 39)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

/* "YYYY-MM-DD/" + an id + ".wav" */
static bool rel_ok(const char *rel)
{
	char id[64];
	size_t n = strlen(rel);

	if (n < 16 || n - 15 >= sizeof(id) || rel[10] != '/' ||
	    strcmp(rel + n - 4, ".wav"))
		return false;
	for (int i = 0; i < 10; i++)
		if (!(i == 4 || i == 7 ? rel[i] == '-' :
		      rel[i] >= '0' && rel[i] <= '9'))
			return false;
	memcpy(id, rel + 11, n - 15);
	id[n - 15] = '\0';
	return id_ok(id);
}

static int read_rec(const char *path, char **bufp, size_t *lenp)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		close(fd);
		return ENOENT;
	}
	if ((uint64_t)sb.st_size > REC_SERVE_MAX) {
		close(fd);
		return EFBIG;
	}
	buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
	if (!buf) {
		close(fd);
		return ENOMEM;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? errno : EIO;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	*bufp = buf;
	*lenp = got;
	return 0;
}

static void rec_get(struct daemon *d, const struct api_req *req,
		    struct api_resp *resp)
{
	char rel[128], path[1024];
	char *buf = NULL;
	size_t len = 0;
	int err;

	if (!id_ok(req->param[0])) {
		not_found(resp, "cdr.not_found", "No such call.");
		return;
	}
	if (!d->store) {
		api_error(resp, 503, "The store is not open.", NULL);
		return;
	}
	err = store_cdr_recording(d->store, req->param[0], rel, sizeof(rel));
	if (err == ENOENT) {
		not_found(resp, "cdr.no_recording", "That call has no "
			  "recording (no such call, or it was not recorded).");
		return;
	}
	if (err || !rel_ok(rel)) {
		api_error(resp, 500, "Reading the call records failed.", NULL);
		return;
	}
	snprintf(path, sizeof(path), "%s/recordings/%s", d->data_dir, rel);
	err = read_rec(path, &buf, &len);
	if (err == ENOENT) {
		/* still being completed (the writer renames it within a
		 * second of the end), or removed, or no audio came */
		not_found(resp, "cdr.recording_missing", "The recording's "
			  "file is not there (not complete yet, removed, or "
			  "the call carried no G.711 audio).");
		return;
	}
	if (err == EFBIG) {
		api_error(resp, 413, "The recording is too large for the API: "
			  "read it from DATA/recordings.", NULL);
		return;
	}
	if (err) {
		api_error(resp, 500, "Reading the recording failed.", NULL);
		return;
	}
	resp->status = 200;
	resp->raw = buf;
	resp->raw_len = len;
	resp->content_type = "audio/wav";
}

const struct api_route api_routes_rec[] = {
	{ "GET", "/cdr/:id/recording", rec_get },
};
const size_t api_routes_rec_n = API_ROUTES_N(api_routes_rec);

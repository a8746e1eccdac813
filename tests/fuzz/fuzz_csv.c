/*
 * fuzz_csv — libFuzzer target for the CSV import (RFC 4180 quoting,
 * header of field names, every cell through the model's field rules,
 * all-or-nothing staging). The file comes from an administrator, but
 * through the API: it must never crash the daemon that parses it. Runs
 * against a real store in a temporary data directory; whatever an input
 * staged is discarded before the next.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/report.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

static struct store *st;
static char dir[] = "/tmp/bulwark-fuzz-csv-XXXXXX";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report r;
	size_t count = 0;
	int err;

	if (!st) {
		if (!mkdtemp(dir) || store_open(&st, dir, NULL))
			abort();
	}
	if (size > 256 * 1024)
		return 0;
	report_init(&r);
	err = store_ext_import_csv(st, (const char *)data, size, &r, &count);
	if (!err) {
		if (store_discard(st))
			abort();
	}
	else if (err == EINVAL && !report_count(&r)) {
		abort();   /* a refused file always says why */
	}
	report_reset(&r);
	return 0;
}

void fuzz_cleanup(void)
{
	char cmd[128];

	store_close(st);
	st = NULL;
	/* the temporary data directory: files only, made here */
	snprintf(cmd, sizeof(cmd), "%s/bulwark.db", dir);
	remove(cmd);
	snprintf(cmd, sizeof(cmd), "%s/bulwark.db-wal", dir);
	remove(cmd);
	snprintf(cmd, sizeof(cmd), "%s/bulwark.db-shm", dir);
	remove(cmd);
	snprintf(cmd, sizeof(cmd), "%s/secret.key", dir);
	remove(cmd);
	remove(dir);
}

/*
 * replay — runs a libFuzzer target over files and directories given on
 * the command line (the checked-in seed corpus), for builds without
 * -fsanitize=fuzzer. `make test` runs it under ASan/UBSan.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_cleanup(void);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	size_t count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(argv[i], &st))
			return 2;
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]))
				return 2;
			count++;
			continue;
		}
		d = opendir(argv[i]);
		if (!d)
			return 2;
		while ((de = readdir(d))) {
			char p[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
			if (run_file(p)) {
				closedir(d);
				return 2;
			}
			count++;
		}
		closedir(d);
	}
	fuzz_cleanup();
	printf("replayed %zu inputs\n", count);
	return count ? 0 : 1;
}

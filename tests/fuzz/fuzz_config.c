/* The configuration file, read by libinih and checked by config_load(): it
 * loads or it is refused with one "file:line: ..." line per problem, without
 * a fault or a leak. The input is written to a file in a temporary folder of
 * the target's own, removed at exit. */
#include <errno.h>
#include <unistd.h>

#include "coopbill/config.h"
#include "fuzz.h"

static char dir[64];
static char path[96];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(dir, sizeof(dir), "/tmp/coopbill-fuzz-config.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/coopbill.conf", dir);
	atexit(remove_dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *config = NULL;
	char *errors = NULL;
	FILE *file = fopen(path, "we");
	int r;

	if (!file || fwrite(data, 1, size, file) != size || fclose(file) != 0)
		abort();
	r = config_load(path, &config, &errors);
	if (r < 0) {
		/* Every problem names the file (and the line) to fix. */
		fuzz_check(errors && strncmp(errors, path, strlen(path)) == 0);
		free(errors);
		return 0;
	}
	fuzz_check(config && config->zone && config->listen_addr_len > 0);
	config_free(config);
	return 0;
}

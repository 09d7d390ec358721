/* Tariff documents as the treasurer posts them: tariff_parse() refuses or
 * accepts without a fault, and an accepted tariff's canonical text (what is
 * hashed and signed) parses back to the same canonical text. */
#include "coopbill/tariff.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tariff *tariff = NULL, *again = NULL;
	char err[512], *canonical = NULL, *canonical_again = NULL;

	/* The input without a NUL after it: tariff_parse() takes a length. */
	char *text = malloc(size ? size : 1);

	if (!text)
		abort();
	memcpy(text, data, size);
	err[0] = '\0';
	if (tariff_parse(text, size, &tariff, err, sizeof(err)) < 0) {
		/* A refusal says where the problem is. */
		fuzz_check(err[0] != '\0');
		free(text);
		return 0;
	}
	fuzz_check(tariff_canonical_json(tariff, &canonical) == 0);
	fuzz_check(tariff_parse(canonical, strlen(canonical), &again, err, sizeof(err)) == 0);
	fuzz_check(tariff_canonical_json(again, &canonical_again) == 0);
	fuzz_check(strcmp(canonical, canonical_again) == 0);
	free(canonical_again);
	free(canonical);
	tariff_free(again);
	tariff_free(tariff);
	free(text);
	return 0;
}

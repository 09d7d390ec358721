/* Signed notes as coopbill-verify reads them from a server or a saved file,
 * checked against the C2SP example key (tests/data/signed-note), which signs
 * a seed: open_checkpoint() refuses or accepts without a fault. The input is
 * also read as the verifier key a member passes on the command line: a key
 * that parses prints back the same. */
#include "fuzz.h"
#include "verify-source.h"

static const char example_key[] =
	"example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct session session;
	char *note = fuzz_text(data, size), printed[TLOG_VERIFIER_KEY_TEXT_MAX];
	struct tlog_checkpoint checkpoint;
	struct tlog_verifier verifier;

	if (!session.key.name[0] && tlog_verifier_parse(example_key, &session.key) < 0)
		abort();
	if (open_checkpoint(&session, note, size, "the note", &checkpoint) < 0)
		fuzz_check(session.why[0] != '\0');
	session.why[0] = '\0';
	if (tlog_verifier_parse(note, &verifier) == 0) {
		fuzz_check(tlog_verifier_format(&verifier, printed) == 0);
		fuzz_check(strcmp(printed, note) == 0);
	}
	free(note);
	return 0;
}

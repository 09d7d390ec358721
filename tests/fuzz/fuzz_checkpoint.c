/* Checkpoint bodies: tlog_checkpoint_parse() accepts only the one canonical
 * text of a checkpoint, which tlog_checkpoint_format() prints back byte for
 * byte; and coopbill-verify, given the input signed by the key it trusts,
 * accepts exactly the checkpoints of that key's log. */
#include "fuzz.h"
#include "verify-source.h"

static const uint8_t empty_root[TLOG_HASH_SIZE] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
	0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
	0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tlog_signer signer;
	static struct session session;
	struct tlog_checkpoint parsed, opened;
	char *text = fuzz_text(data, size), printed[TLOG_CHECKPOINT_TEXT_MAX], *note = NULL;
	size_t printed_len, note_len;
	bool parses, ours;

	if (!signer.verifier.name[0]) {
		if (tlog_signer_generate("coop.example/log", &signer) < 0)
			abort();
		session.key = signer.verifier;
	}
	parses = tlog_checkpoint_parse(text, size, &parsed) == 0;
	if (parses) {
		fuzz_check(tlog_checkpoint_format(&parsed, printed, &printed_len) == 0);
		fuzz_check(printed_len == size && memcmp(printed, text, size) == 0);
	}
	if (tlog_note_sign(text, size, &signer, &note, &note_len) == 0) {
		ours = parses && strcmp(parsed.origin, signer.verifier.name) == 0 &&
		       (parsed.size > 0 || memcmp(parsed.root, empty_root, TLOG_HASH_SIZE) == 0);
		fuzz_check((open_checkpoint(&session, note, note_len, "the note", &opened) == 0) ==
			   ours);
		if (ours)
			fuzz_check(opened.size == parsed.size &&
				   memcmp(opened.root, parsed.root, TLOG_HASH_SIZE) == 0);
		free(note);
	}
	free(text);
	return 0;
}

/* FNV-1a, 64 bits: a digest that tells changed bytes, not forged ones. Start
 * from FNV1A_INIT and fold in each run of bytes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FNV1A_INIT UINT64_C(0xcbf29ce484222325)

static inline uint64_t fnv1a(uint64_t digest, const void *data, size_t size)
{
	const uint8_t *bytes = data;

	for (size_t i = 0; i < size; i++)
		digest = (digest ^ bytes[i]) * UINT64_C(0x100000001b3);
	return digest;
}

/* Test-only: a deterministic random generator, so a handshake can be replayed
 * byte for byte (the worked example in docs/PROTOCOL.md). Linked only into
 * tests and tools, never into cryptocat or cryptocat-server. */
#ifndef CC_CRYPTO_RNG_TEST_H
#define CC_CRYPTO_RNG_TEST_H

#include <stddef.h>
#include <stdint.h>

/* From now on every random byte OpenSSL hands out in this process (including
 * the OAEP seed and the PSS salt) is SHA-256(seed || counter) output. */
void crypto_test_rng_seed(const uint8_t *seed, size_t seed_len);
/* Back to the system CSPRNG. */
void crypto_test_rng_restore(void);

#endif

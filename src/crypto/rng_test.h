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
/* Back to the system CSPRNG; also ends any trace. */
void crypto_test_rng_restore(void);

/* Optional trace, for tools that document the stream: from now on, fn(arg,
 * len, first_block) is called once for every request the generator serves
 * (len bytes, taking blocks first_block .. first_block + ceil(len / 32) - 1).
 * It is called with the generator's lock held, so it must not draw random
 * bytes itself. NULL ends the trace. */
typedef void (*crypto_test_rng_trace_fn)(void *arg, size_t len, uint64_t first_block);
void crypto_test_rng_set_trace(crypto_test_rng_trace_fn fn, void *arg);

#endif

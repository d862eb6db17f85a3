/* Small additions to the integration-test harness (itest.h) shared by the
 * tests/test_itest_*.c programs: waiting for a line in a process's log,
 * copying fixture files, and reading one plaintext frame from a raw socket.
 *
 * Like itest.h: failures never abort, they return 0 / -1 and the test
 * asserts; timeouts go through itest_scale_ms(). */
#ifndef CC_TESTS_ITEST_EXTRA_H
#define CC_TESTS_ITEST_EXTRA_H

#include <stddef.h>
#include <stdint.h>

/* 1 if the file at PATH contains NEEDLE, else 0 (also if unreadable). */
int itest_file_contains(const char *path, const char *needle);
/* Waits up to TIMEOUT_MS (scaled) for the file at PATH to contain NEEDLE,
 * polling every 10 ms: for a log line that marks an event in another
 * process. 1 if it came, 0 on timeout (then the log's tail is printed). */
int itest_wait_file_contains(const char *path, const char *needle, int timeout_ms);
/* Copies SRC to DST (created with MODE, replaced if it exists). 0 or -1. */
int itest_copy_file(const char *src, const char *dst, unsigned mode);

/* Milliseconds from a monotonic clock. */
int64_t itest_now_ms(void);

/* Reads one frame (u32 length, then the body) from the socket FD within
 * TIMEOUT_MS (scaled). The length is checked against MAX before the body is
 * read. On success, returns 1, with the whole frame, header included
 * (malloc'd, caller frees), in *FRAME and its length in *LEN; the body
 * starts at *FRAME + 4. 0 if the peer closed (EOF or ECONNRESET) first, -1
 * on timeout, on a length over MAX or zero, or on another error. */
int itest_read_frame(int fd, size_t max, uint8_t **frame, size_t *len, int timeout_ms);
/* Reads and discards until the peer closes, like itest_tcp_wait_closed(),
 * and also reports in *GOT how many bytes came before the close. */
int itest_tcp_wait_closed_count(int fd, int timeout_ms, size_t *got);
/* A TCP socket to 127.0.0.1:PORT whose receive buffer was set to RCVBUF
 * bytes (SO_RCVBUF) before connecting, so it stays small. -1 on error. */
int itest_tcp_connect_rcvbuf(int port, int rcvbuf);

#endif

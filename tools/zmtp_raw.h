/* zmtp_raw.h - a raw ZMTP 3 client over a plain TCP socket, for tests and floods that must
 * send what libzmq never would (endless MORE frames, huge topics) */
#ifndef LSTD_ZMTP_RAW_H
#define LSTD_ZMTP_RAW_H

#include <stddef.h>

/** Write all of data to fd (a send timeout set on fd ends a stalled write).
 *  Returns: 0, or -1 (errno from send). */
int zmtp_raw_write(int fd, const void *data, size_t len);

/** Connect to url ("tcp://IPv4:PORT"), send a ZMTP 3.0 NULL greeting and READY as socket
 *  `type` ("DEALER", "SUB"), and read the peer's greeting and READY. rcvbuf: SO_RCVBUF when
 *  > 0; send_timeout_ms: SO_SNDTIMEO. Returns: the socket, or -1. */
int zmtp_raw_open(const char *url, const char *type, int rcvbuf, int send_timeout_ms);

#endif

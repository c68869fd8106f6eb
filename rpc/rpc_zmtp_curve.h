/* rpc_zmtp_curve.h - what rpc_zmtp.c and rpc_zmtp_curve.c share (not for other callers) */
#ifndef LSTD_RPC_ZMTP_CURVE_H
#define LSTD_RPC_ZMTP_CURVE_H

#include "rpc_zmtp.h"

#define RPC_ZMTP_FLAG_MORE 0x01
#define RPC_ZMTP_FLAG_LONG 0x02
#define RPC_ZMTP_FLAG_COMMAND 0x04
#define RPC_ZMTP_PROPS_MAX 32 /* the metadata lstd sends: Socket-Type ROUTER or PUB */

/** A CURVE connection's command f (its body as received; the reader has moved to the next
 *  frame): HELLO or INITIATE during the handshake, a MESSAGE after it.
 *  Out: *f (for RPC_ZMTP_SEND the bytes to write; for RPC_ZMTP_FRAME the frame the box held,
 *  skipped beyond the limits' sizes).
 *  Returns: RPC_ZMTP_SEND, RPC_ZMTP_FRAME, or an RPC_ZMTP_E_* code. */
int rpc_zmtp_curve_frame(rpc_zmtp_in *in, rpc_zmtp_frame *f);

/** Whether the n bytes at b are ZMTP properties (1-byte name length, name, 4-byte value length,
 *  value) with exactly one Socket-Type, one that may talk to role. Returns: true when so. */
bool rpc_zmtp_props_ok(int role, const uint8_t *b, size_t n);

/** Write our properties (Socket-Type ROUTER or PUB) into out (RPC_ZMTP_PROPS_MAX bytes).
 *  Returns: their length. */
size_t rpc_zmtp_props_put(uint8_t *out, int role);

/** Room for n bytes in in->buf. Returns: 0, or -1 (no memory; in->buf unchanged). */
int rpc_zmtp_buf_reserve(rpc_zmtp_in *in, size_t n);

#endif

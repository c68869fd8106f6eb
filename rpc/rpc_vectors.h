/* rpc_vectors.h - the signing test vectors published in PROTOCOL.md */
#ifndef LSTD_RPC_VECTORS_H
#define LSTD_RPC_VECTORS_H

#include <stdio.h>

/** Write the test-vector section of PROTOCOL.md (markdown) for every transaction kind:
 *  secret key, fields, signing bytes, hash, BIP-340 signature (all-zero aux randomness,
 *  so deterministic) and the complete msgpack request, all in hex.
 *  Returns: 0, or -1 if signing failed. */
int rpc_vectors_write(FILE *out);

/** Write the history vector (rpc_history_vector.c): a genesis and three records applied on
 *  a real store in a temporary directory, with the genesis bytes and hash, each record's
 *  stored value, the chain head and the state digest, all in hex. Part of rpc_vectors_write.
 *  Returns: 0, or -1. */
int rpc_history_vector_write(FILE *out);

#endif

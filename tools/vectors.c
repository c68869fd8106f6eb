/* vectors.c - lstd-vectors: print PROTOCOL.md's signing test vectors */
#include <stdio.h>
#include <string.h>

#include "rpc_vectors.h"

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("lstd-vectors %s\n", LSTD_VERSION);
        return 0;
    }
    if (argc > 1) {
        puts("usage: lstd-vectors [--version]\n\nPrints the test-vector section of PROTOCOL.md: "
             "one signed "
             "example of every transaction kind (keys, signing bytes, hash, signature, request).");
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    return rpc_vectors_write(stdout) == 0 ? 0 : 1;
}

/* store_pages.h - memory for the in-memory state: huge-page regions and a slab of fixed sizes */
#ifndef LSTD_STORE_PAGES_H
#define LSTD_STORE_PAGES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The state of a million accounts is hundreds of megabytes read at random: with 4 KiB pages
 * nearly every entry read also misses the TLB, and on a virtual machine each such miss walks
 * two page tables. Regions from here are aligned to 2 MiB and advised as transparent huge
 * pages (where the kernel offers them, with the default "madvise" setting too), so one TLB
 * entry covers 512 times as much. Without huge pages they work as ordinary memory. */

#define STORE_PAGE_BYTES ((size_t)2 << 20)

/** Map bytes (a multiple of STORE_PAGE_BYTES) of zeroed memory, 2 MiB aligned and advised as
 *  huge pages. Returns: the region, or NULL when out of memory. */
void *store_pages_map(size_t bytes);

/** Give back a region of store_pages_map (bytes as mapped). NULL is ignored. */
void store_pages_unmap(void *p, size_t bytes);

/** A zeroed array of n elements of size bytes (n * size must not overflow): from the heap
 *  while it is smaller than a huge page, else a region of store_pages_map (read at random).
 *  Returns: the array, or NULL when out of memory. */
void *store_pages_array(uint64_t n, size_t size);

/** Give back an array of store_pages_array (n and size as asked). NULL is ignored. */
void store_pages_array_free(void *p, uint64_t n, size_t size);

/** Bytes of huge pages an array of store_pages_array takes, or 0 when it is on the heap. */
size_t store_pages_array_mapped(uint64_t n, size_t size);

/* Pre-faulting. The first write to each huge page of a fresh region faults it in and the
 * kernel clears 2 MiB then (on a virtual machine the host backs the page too): hundreds of
 * microseconds the applying thread would otherwise spend in the middle of a batch. A
 * prefault faults a region in writable on a thread of its own (madvise MADV_POPULATE_WRITE,
 * which leaves the contents as they are), while the owner may already use the region. It is
 * best effort: where the kernel or a thread is missing, the owner's writes fault as before. */

typedef struct store_prefault {
    pthread_t thread;
    void *p;
    size_t bytes;
    bool running;
} store_prefault;

/** Begin faulting in the region [p, p + bytes) of store_pages_map on a thread of its own,
 *  after waiting for f's previous one. f starts zeroed. */
void store_prefault_start(store_prefault *f, void *p, size_t bytes);

/** Wait for f's thread, if one runs. Call before unmapping its region. */
void store_prefault_wait(store_prefault *f);

/* A slab hands out blocks of sizes rounded up to 64 bytes (so every block starts a cache
 * line and an entry of 192 bytes spans exactly 3), carved from huge-page regions, with a
 * free list per size. Blocks are given back to the slab, never to the system, until
 * store_slab_release. One thread at a time. */

#define STORE_SLAB_MAX 512 /* the largest block */

typedef struct store_slab {
    void
        *free[STORE_SLAB_MAX / 64]; /* freed blocks of each size, linked through their first word */
    uint8_t *at, *end;              /* the unused part of the newest region */
    void *regions;                  /* every region, linked through its first word */
    uint64_t mapped;                /* bytes of regions */
} store_slab;

/** A zeroed block of size bytes (1..STORE_SLAB_MAX), 64-byte aligned. Returns: the block, or
 *  NULL when out of memory or size is out of range. */
void *store_slab_alloc(store_slab *s, size_t size);

/** Give back a block of store_slab_alloc (size as asked). NULL is ignored. */
void store_slab_free(store_slab *s, void *p, size_t size);

/** Bytes a block of size bytes takes. */
size_t store_slab_size(size_t size);

/** Unmap every region; the slab is empty (and usable) again. */
void store_slab_release(store_slab *s);

#endif

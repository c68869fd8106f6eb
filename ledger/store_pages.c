/* store_pages.c - huge-page regions (mmap, madvise) and a slab of 64-byte-rounded blocks */
#include "store_pages.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define REGION_BYTES ((size_t)32 << 20) /* a slab region: 16 huge pages */
#define LINE 64

void *store_pages_map(size_t bytes)
{
    if (bytes == 0 || bytes % STORE_PAGE_BYTES != 0 || bytes > SIZE_MAX - STORE_PAGE_BYTES)
        return NULL;
    /* map one page more and trim both ends to the alignment */
    size_t span = bytes + STORE_PAGE_BYTES;
    uint8_t *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    size_t head = (STORE_PAGE_BYTES - (uintptr_t)p % STORE_PAGE_BYTES) % STORE_PAGE_BYTES;
    if (head > 0)
        munmap(p, head);
    if (span - head > bytes)
        munmap(p + head + bytes, span - head - bytes);
    p += head;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice: refused, the pages are just smaller */
#endif
    return p;
}

void store_pages_unmap(void *p, size_t bytes)
{
    if (p != NULL)
        munmap(p, bytes);
}

size_t store_pages_array_mapped(uint64_t n, size_t size)
{
    size_t bytes = n * size;
    return bytes < STORE_PAGE_BYTES
               ? 0
               : (bytes + STORE_PAGE_BYTES - 1) / STORE_PAGE_BYTES * STORE_PAGE_BYTES;
}

void *store_pages_array(uint64_t n, size_t size)
{
    size_t mapped = store_pages_array_mapped(n, size);
    return mapped == 0 ? calloc(n, size) : store_pages_map(mapped);
}

void store_pages_array_free(void *p, uint64_t n, size_t size)
{
    size_t mapped = store_pages_array_mapped(n, size);
    if (mapped == 0)
        free(p);
    else
        store_pages_unmap(p, mapped);
}

static void *prefault_main(void *arg)
{
    store_prefault *f = arg;
#ifdef MADV_POPULATE_WRITE
    (void)madvise(f->p, f->bytes, MADV_POPULATE_WRITE); /* refused: the owner faults instead */
#endif
    return NULL;
}

void store_prefault_start(store_prefault *f, void *p, size_t bytes)
{
    store_prefault_wait(f);
    f->p = p;
    f->bytes = bytes;
    f->running = p != NULL && bytes > 0 && pthread_create(&f->thread, NULL, prefault_main, f) == 0;
}

void store_prefault_wait(store_prefault *f)
{
    if (f->running)
        pthread_join(f->thread, NULL);
    f->running = false;
}

size_t store_slab_size(size_t size)
{
    return (size + LINE - 1) / LINE * LINE;
}

void *store_slab_alloc(store_slab *s, size_t size)
{
    if (size == 0 || size > STORE_SLAB_MAX)
        return NULL;
    size = store_slab_size(size);
    void **list = &s->free[size / LINE - 1];
    if (*list != NULL) {
        void *b = *list;
        memcpy(list, b, sizeof *list);
        return memset(b, 0, size);
    }
    if ((size_t)(s->end - s->at) < size) { /* the rest of the region is left unused */
        uint8_t *r = store_pages_map(REGION_BYTES);
        if (r == NULL)
            return NULL;
        memcpy(r, &s->regions, sizeof s->regions);
        s->regions = r;
        s->mapped += REGION_BYTES;
        s->at = r + LINE; /* the first line links the regions */
        s->end = r + REGION_BYTES;
    }
    void *b = s->at; /* fresh from the mapping: zero */
    s->at += size;
    return b;
}

void store_slab_free(store_slab *s, void *p, size_t size)
{
    if (p == NULL || size == 0 || size > STORE_SLAB_MAX)
        return;
    void **list = &s->free[store_slab_size(size) / LINE - 1];
    memcpy(p, list, sizeof *list);
    *list = p;
}

void store_slab_release(store_slab *s)
{
    while (s->regions != NULL) {
        void *r = s->regions;
        memcpy(&s->regions, r, sizeof s->regions);
        store_pages_unmap(r, REGION_BYTES);
    }
    *s = (store_slab){0};
}

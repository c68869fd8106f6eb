/* rpc_net.c - TCP listener and connections speaking ZMTP: bounded input, output and frames */
#include "rpc_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"

#define LISTEN_BACKLOG 256
#define ACCEPT_BURST 64       /* connections accepted per turn */
#define OUT_KEEP (256u << 10) /* an empty output buffer larger than this is released */

typedef struct conn {
    int fd; /* -1: the slot is free */
    uint32_t gen;
    uint64_t opened_ms; /* when accepted */
    rpc_zmtp_in in;
    uint8_t *out; /* queued output: [out_off, out_len) */
    size_t out_off, out_len, out_cap;
    uint64_t queued_total, written_total; /* output bytes queued and written, ever */
    uint64_t *ends;                       /* queued_total at the end of each unwritten message */
    size_t ends_head, ends_len, ends_cap; /* ends[ends_head, ends_len) */
    uint8_t *left;                        /* input read but not parsed yet: [left_off, left_len) */
    size_t left_off, left_len;
    bool dirty;   /* in the dirty list (output queued) */
    unsigned pos; /* its place in open[] */
} conn;

struct rpc_net {
    int listen_fd;
    rpc_net_config cfg;
    rpc_net_handler h;
    conn *conns;
    unsigned *free_slots; /* a FIFO: the slot freed longest ago is used first */
    unsigned free_head, free_count;
    unsigned *dirty;
    unsigned ndirty;
    unsigned *polled; /* the slot of each item rpc_net_poll_items filled after the listener */
    unsigned npolled;
    unsigned *open; /* the slots in use, live of them, in no order */
    unsigned live;
    uint64_t drops[RPC_NET_DROPS];
    uint64_t lost; /* messages queued by rpc_net_send, not written whole before a close */
    uint64_t auth_failures;
    bool has_curve;
    rpc_zmtp_curve curve;
    uint64_t allow_seen; /* the allow-list generation the connections were checked against */
    uint8_t rbuf[RPC_NET_READ_MAX];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- listening --------------------------------------------------------------------------------
 */

/* Split "tcp://HOST:PORT" into an address. Returns: 0, or -1 with errno (EINVAL, ENOENT). */
static int parse_endpoint(const char *endpoint, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *hp = endpoint + 6, *colon = strrchr(endpoint, ':');
    if (strncmp(endpoint, "tcp://", 6) != 0 || colon == NULL || colon < hp ||
        (size_t)(colon - hp) >= sizeof host) {
        errno = EINVAL;
        return -1;
    }
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    char *end;
    unsigned long port = strcmp(colon + 1, "*") == 0 ? 0 : strtoul(colon + 1, &end, 10);
    if (strcmp(colon + 1, "*") != 0 && (colon[1] == '\0' || *end != '\0' || port > 65535)) {
        errno = EINVAL;
        return -1;
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1 ? 0 : (errno = EINVAL, -1);
    }
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof *v4;
    if (strcmp(host, "*") == 0) {
        v4->sin_addr.s_addr = htonl(INADDR_ANY);
        return 0;
    }
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1)
        return 0;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
        errno = ENOENT;
        return -1;
    }
    v4->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

/* The endpoint as bound ("tcp://127.0.0.1:40123"). */
static void actual_endpoint(int fd, char *out, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char addr[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, addr, sizeof addr);
        port = ntohs(v6->sin6_port);
        snprintf(out, size, "tcp://[%s]:%u", addr, port);
        return;
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &v4->sin_addr, addr, sizeof addr);
    port = ntohs(v4->sin_port);
    snprintf(out, size, "tcp://%s:%u", addr, port);
}

/* Returns: the listening socket, or -1 with errno. */
static int listen_on(const char *endpoint)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    if (parse_endpoint(endpoint, &ss, &len) != 0)
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* CURVE: the endpoint's keys and cookie clock. Returns: 0 or -1. */
static int curve_setup(rpc_net *n, const rpc_net_config *cfg)
{
    n->cfg.curve_secret_key = NULL; /* the caller's copy is not kept */
    if (cfg->curve_secret_key == NULL)
        return 0;
    n->has_curve = true;
    if (cfg->allow_generation != NULL)
        n->allow_seen = cfg->allow_generation(cfg->allow_ctx);
    return rpc_zmtp_curve_init(&n->curve, cfg->curve_secret_key, cfg->allow, cfg->allow_ctx,
                               now_ms());
}

static int net_alloc(rpc_net *n, const rpc_net_config *cfg, const rpc_net_handler *h)
{
    n->listen_fd = -1;
    n->cfg = *cfg;
    n->h = *h;
    n->conns = calloc(cfg->conn_max, sizeof *n->conns);
    n->free_slots = calloc(cfg->conn_max, sizeof *n->free_slots);
    n->dirty = calloc(cfg->conn_max, sizeof *n->dirty);
    n->polled = calloc(cfg->conn_max, sizeof *n->polled);
    n->open = calloc(cfg->conn_max, sizeof *n->open);
    if (!n->conns || !n->free_slots || !n->dirty || !n->polled || !n->open)
        return -1;
    for (unsigned i = 0; i < cfg->conn_max; i++) {
        n->conns[i].fd = -1;
        n->free_slots[i] = i;
    }
    n->free_count = cfg->conn_max;
    return 0;
}

int rpc_net_bind(rpc_net **out, const char *endpoint, const rpc_net_config *cfg,
                 const rpc_net_handler *h, char *actual, size_t actual_size)
{
    rpc_net *n = calloc(1, sizeof *n);
    *out = NULL;
    if (n == NULL || cfg->conn_max == 0 || net_alloc(n, cfg, h) != 0 || curve_setup(n, cfg) != 0) {
        fprintf(stderr, "lstd: cannot bind %s: out of memory, or no CURVE\n", endpoint);
        rpc_net_close(&n);
        return -1;
    }
    n->listen_fd = listen_on(endpoint);
    if (n->listen_fd < 0) {
        fprintf(stderr, "lstd: cannot bind %s: %s\n", endpoint,
                errno == ENOENT ? "unknown host" : strerror(errno));
        rpc_net_close(&n);
        return -1;
    }
    actual_endpoint(n->listen_fd, actual, actual_size);
    *out = n;
    return 0;
}

/* ---- connections ------------------------------------------------------------------------------
 */

static void tell_queued(rpc_net *n, unsigned slot)
{
    if (n->h.queued != NULL)
        n->h.queued(n->h.ctx, slot, n->conns[slot].out_len - n->conns[slot].out_off);
}

static void conn_release(rpc_net *n, unsigned slot)
{
    conn *c = &n->conns[slot];
    close(c->fd);
    c->fd = -1;
    c->gen++;
    rpc_zmtp_in_free(&c->in);
    n->lost += c->ends_len - c->ends_head;
    free(c->out);
    free(c->left);
    free(c->ends);
    c->out = c->left = NULL;
    c->ends = NULL;
    c->out_off = c->out_len = c->out_cap = c->left_off = c->left_len = 0;
    c->ends_head = c->ends_len = c->ends_cap = 0;
    c->queued_total = c->written_total = 0;
    for (unsigned i = 0; c->dirty && i < n->ndirty; i++)
        if (n->dirty[i] == slot) {
            n->dirty[i] = n->dirty[--n->ndirty];
            break;
        }
    c->dirty = false;
    n->free_slots[(n->free_head + n->free_count++) % n->cfg.conn_max] = slot;
    n->open[c->pos] = n->open[--n->live];
    n->conns[n->open[c->pos]].pos = c->pos;
    if (n->h.queued != NULL)
        n->h.queued(n->h.ctx, slot, 0);
    if (n->h.closed != NULL)
        n->h.closed(n->h.ctx, slot);
}

/* Room for more bytes of output, the buffer growing by doubling but never past max + more
 * (out_max, checked by the caller). Returns: 0 or -1. */
static int out_reserve(conn *c, size_t more, size_t max)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + more <= c->out_cap)
        return 0;
    if (c->out_off > 0) { /* compact first */
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + more <= c->out_cap)
            return 0;
    }
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + more)
        cap *= 2;
    if (cap > max + more && max + more >= c->out_len + more)
        cap = max + more;
    uint8_t *grown = realloc(c->out, cap);
    if (grown == NULL)
        return -1;
    c->out = grown;
    c->out_cap = cap;
    return 0;
}

static void mark_dirty(rpc_net *n, unsigned slot)
{
    if (!n->conns[slot].dirty) {
        n->conns[slot].dirty = true;
        n->dirty[n->ndirty++] = slot;
    }
}

/* Queue bytes of our own (the hello, a PONG) within out_max. Returns: 0 or -1. */
static int queue_raw(rpc_net *n, unsigned slot, const void *data, size_t len)
{
    conn *c = &n->conns[slot];
    if (c->out_len - c->out_off + len > n->cfg.out_max || out_reserve(c, len, n->cfg.out_max) != 0)
        return -1;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    c->queued_total += len;
    mark_dirty(n, slot);
    return 0;
}

static void accept_one(rpc_net *n, int fd)
{
    int one = 1;
    if (n->live >= n->cfg.conn_max || n->free_count == 0) {
        close(fd);
        n->drops[RPC_NET_REFUSED]++;
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    unsigned slot = n->free_slots[n->free_head];
    n->free_head = (n->free_head + 1) % n->cfg.conn_max;
    n->free_count--;
    conn *c = &n->conns[slot];
    c->pos = n->live;
    n->open[n->live++] = slot;
    c->fd = fd;
    c->opened_ms = now_ms();
    rpc_zmtp_in_init(&c->in, n->cfg.role, &n->cfg.limits, n->has_curve ? &n->curve : NULL);
    uint8_t hello[RPC_ZMTP_HELLO_MAX];
    size_t len = rpc_zmtp_greet(&c->in, hello);
    if (n->h.opened != NULL)
        n->h.opened(n->h.ctx, slot);
    if (queue_raw(n, slot, hello, len) != 0)
        conn_release(n, slot);
}

static void accept_burst(rpc_net *n)
{
    for (int i = 0; i < ACCEPT_BURST; i++) {
        int fd = accept4(n->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or an error the next poll shows again */
        accept_one(n, fd);
    }
}

/* ---- reading ----------------------------------------------------------------------------------
 */

static int queue_frames(rpc_net *n, unsigned slot, const rpc_net_part *parts, size_t count,
                        bool command);

static bool may_read(rpc_net *n, unsigned slot)
{
    return n->h.can_read == NULL || n->h.can_read(n->h.ctx, slot);
}

/* A command the peer sent: PING is answered, ERROR ends the connection, others go to the owner.
 * Returns: 0, 1 (stop reading), or -1 (the connection was closed). */
static int on_command(rpc_net *n, unsigned slot, const rpc_zmtp_frame *f)
{
    const uint8_t *arg;
    size_t arg_len;
    if (rpc_zmtp_command_is(f, "PING", &arg, &arg_len)) {
        uint8_t pong[RPC_ZMTP_PONG_MAX];
        size_t len = rpc_zmtp_pong_body(pong, arg, arg_len);
        rpc_net_part part = {pong, len};
        if (queue_frames(n, slot, &part, 1, true) != 0) { /* PINGs, and no PONG read: dropped */
            n->drops[RPC_NET_PROTOCOL]++;
            conn_release(n, slot);
            return -1;
        }
        return 0;
    }
    if (rpc_zmtp_command_is(f, "ERROR", &arg, &arg_len)) {
        conn_release(n, slot);
        return -1;
    }
    return n->h.frame(n->h.ctx, slot, f);
}

/* A peer refused: counted, and told why before the close where ZMTP has a way (the rest of
 * our greeting: the other mechanism; ERROR 400 for a CURVE key refused, which libzmq reports
 * as ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), written now, best effort: it is small and the
 * handshake left the socket's buffer empty. */
static void refuse(rpc_net *n, unsigned slot, int status)
{
    conn *c = &n->conns[slot];
    uint8_t why[RPC_ZMTP_REPLY_MAX];
    size_t len = rpc_zmtp_refusal(&c->in, status, why);
    n->drops[RPC_NET_PROTOCOL]++;
    n->auth_failures += status == RPC_ZMTP_E_AUTH;
    if (len > 0 && c->out_off == c->out_len)
        (void)send(c->fd, why, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    conn_release(n, slot);
}

/* Parse frames from *data while the connection may be read. *data and *len are advanced past
 * what was parsed. Returns: true while the connection is open. */
static bool parse(rpc_net *n, unsigned slot, const uint8_t **data, size_t *len)
{
    conn *c = &n->conns[slot];
    uint32_t gen = c->gen;
    while (*len > 0 && may_read(n, slot)) {
        rpc_zmtp_frame f;
        int st = rpc_zmtp_next(&c->in, data, len, &f);
        if (st == RPC_ZMTP_NEED)
            break;
        if (st < 0) {
            refuse(n, slot, st);
            return false;
        }
        if (st == RPC_ZMTP_SEND) { /* the greeting's rest (and READY), WELCOME, READY */
            if (queue_raw(n, slot, f.data, f.len) != 0) {
                n->drops[RPC_NET_PROTOCOL]++;
                conn_release(n, slot);
                return false;
            }
            continue;
        }
        int rc = f.command ? on_command(n, slot, &f) : n->h.frame(n->h.ctx, slot, &f);
        if (c->fd < 0 || c->gen != gen)
            return false; /* closed by the callback */
        if (rc != 0)
            break;
    }
    return true;
}

/* Keep what could not be parsed yet. Returns: 0 or -1 (no memory: the connection is closed). */
static int keep_left(rpc_net *n, unsigned slot, const uint8_t *data, size_t len)
{
    conn *c = &n->conns[slot];
    c->left = malloc(len);
    if (c->left == NULL) {
        conn_release(n, slot);
        return -1;
    }
    memcpy(c->left, data, len);
    c->left_off = 0;
    c->left_len = len;
    return 0;
}

/* Parse what was kept from an earlier read, if the connection may be read now. */
static void parse_left(rpc_net *n, unsigned slot)
{
    conn *c = &n->conns[slot];
    const uint8_t *p = c->left + c->left_off;
    size_t len = c->left_len - c->left_off;
    if (!parse(n, slot, &p, &len))
        return;
    c->left_off = c->left_len - len;
    if (len == 0) {
        free(c->left);
        c->left = NULL;
        c->left_off = c->left_len = 0;
    }
}

static void read_conn(rpc_net *n, unsigned slot)
{
    conn *c = &n->conns[slot];
    ssize_t got = recv(c->fd, n->rbuf, sizeof n->rbuf, 0);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (got <= 0) { /* closed by the peer, or reset */
        conn_release(n, slot);
        return;
    }
    const uint8_t *p = n->rbuf;
    size_t len = (size_t)got;
    if (parse(n, slot, &p, &len) && len > 0)
        keep_left(n, slot, p, len);
}

/* ---- writing ----------------------------------------------------------------------------------
 */

/* Write as much queued output as the kernel takes. Returns: false when the connection closed. */
static bool write_conn(rpc_net *n, unsigned slot)
{
    conn *c = &n->conns[slot];
    size_t before = c->out_len - c->out_off;
    while (c->out_off < c->out_len) {
        ssize_t w =
            send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w <= 0) {
            conn_release(n, slot);
            return false;
        }
        c->out_off += (size_t)w;
        c->written_total += (uint64_t)w;
    }
    while (c->ends_head < c->ends_len && c->ends[c->ends_head] <= c->written_total)
        c->ends_head++;
    if (c->ends_head == c->ends_len)
        c->ends_head = c->ends_len = 0;
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->out_cap > OUT_KEEP) {
            free(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
    }
    if (c->out_len - c->out_off != before)
        tell_queued(n, slot);
    return true;
}

void rpc_net_flush(rpc_net *n)
{
    for (unsigned i = 0; i < n->ndirty;) {
        unsigned slot = n->dirty[i];
        if (!write_conn(n, slot))
            continue; /* released: the list was changed under i */
        conn *c = &n->conns[slot];
        if (c->out_len > c->out_off) {
            i++;
            continue;
        }
        c->dirty = false;
        n->dirty[i] = n->dirty[--n->ndirty];
    }
}

/* Room for one more message end. Returns: 0 or -1 (no memory). */
static int ends_reserve(conn *c)
{
    if (c->ends_head > 0 && c->ends_len == c->ends_cap) { /* compact first */
        memmove(c->ends, c->ends + c->ends_head, (c->ends_len - c->ends_head) * sizeof *c->ends);
        c->ends_len -= c->ends_head;
        c->ends_head = 0;
    }
    if (c->ends_len < c->ends_cap)
        return 0;
    size_t cap = c->ends_cap ? 2 * c->ends_cap : 64;
    uint64_t *grown = realloc(c->ends, cap * sizeof *grown);
    if (grown == NULL)
        return -1;
    c->ends = grown;
    c->ends_cap = cap;
    return 0;
}

/* Queue frames (every one but the last with MORE; command: one command frame) within out_max,
 * boxed under CURVE. Returns: 0, -1 (beyond out_max, no memory, cannot seal: nothing queued)
 * or -2 (CURVE, before READY). */
static int queue_frames(rpc_net *n, unsigned slot, const rpc_net_part *parts, size_t count,
                        bool command)
{
    conn *c = &n->conns[slot];
    size_t total = 0;
    if (n->has_curve && !c->in.ready)
        return -2;
    for (size_t i = 0; i < count; i++)
        total += rpc_zmtp_frame_bytes(&c->in, parts[i].len);
    if (c->out_len - c->out_off + total > n->cfg.out_max ||
        out_reserve(c, total, n->cfg.out_max) != 0)
        return -1;
    size_t at = c->out_len;
    for (size_t i = 0; i < count; i++) {
        size_t w = rpc_zmtp_put_frame(&c->in, c->out + at, parts[i].data, parts[i].len,
                                      i + 1 < count, command);
        if (w == 0) {
            crypto_wipe(c->out + c->out_len, at - c->out_len);
            return -1; /* cannot happen: the session key is set once READY is */
        }
        at += w;
    }
    c->queued_total += at - c->out_len;
    c->out_len = at;
    mark_dirty(n, slot);
    return 0;
}

int rpc_net_send(rpc_net *n, unsigned slot, const rpc_net_part *parts, size_t count)
{
    if (slot >= n->cfg.conn_max || n->conns[slot].fd < 0)
        return -2;
    conn *c = &n->conns[slot];
    if (ends_reserve(c) != 0)
        return -1;
    int rc = queue_frames(n, slot, parts, count, false);
    if (rc == 0) {
        c->ends[c->ends_len++] = c->queued_total;
        tell_queued(n, slot);
    }
    return rc;
}

/* ---- the owner's loop -------------------------------------------------------------------------
 */

size_t rpc_net_poll_items(rpc_net *n, zmq_pollitem_t *items)
{
    size_t k = 0;
    items[k++] = (zmq_pollitem_t){NULL, n->listen_fd, ZMQ_POLLIN, 0};
    n->npolled = 0;
    for (unsigned i = 0; i < n->live; i++) {
        unsigned slot = n->open[i];
        conn *c = &n->conns[slot];
        short ev = (short)(c->left == NULL && may_read(n, slot) ? ZMQ_POLLIN : 0);
        if (c->out_len > c->out_off)
            ev |= ZMQ_POLLOUT;
        if (ev == 0)
            continue;
        items[k++] = (zmq_pollitem_t){NULL, c->fd, ev, 0};
        n->polled[n->npolled++] = slot;
    }
    return k;
}

long rpc_net_poll_timeout(const rpc_net *n, long idle_ms)
{
    for (unsigned i = 0; i < n->live; i++) {
        unsigned slot = n->open[i];
        const conn *c = &n->conns[slot];
        if (c->left != NULL && (n->h.can_read == NULL || n->h.can_read(n->h.ctx, slot)))
            return 0;
    }
    return idle_ms;
}

/* The allow-list changed: close each authenticated connection whose key it no longer holds. */
static void recheck_allowed(rpc_net *n)
{
    uint64_t gen = n->cfg.allow_generation(n->cfg.allow_ctx);
    if (gen == n->allow_seen)
        return;
    n->allow_seen = gen;
    for (unsigned i = 0; i < n->live;) {
        unsigned slot = n->open[i];
        conn *c = &n->conns[slot];
        if (c->in.ready &&
            (n->cfg.allow == NULL || !n->cfg.allow(n->cfg.allow_ctx, c->in.client_key))) {
            n->auth_failures++;
            conn_release(n, slot); /* open[i] is another one now */
            continue;
        }
        i++;
    }
}

void rpc_net_service(rpc_net *n, const zmq_pollitem_t *items, size_t count)
{
    uint64_t now = now_ms();
    if (n->has_curve) {
        rpc_zmtp_curve_tick(&n->curve, now);
        if (n->cfg.allow_generation != NULL)
            recheck_allowed(n);
    }
    for (unsigned i = 0; i < n->live;) {
        unsigned slot = n->open[i];
        conn *c = &n->conns[slot];
        if (!c->in.ready && now - c->opened_ms > RPC_NET_HANDSHAKE_MS) {
            n->drops[RPC_NET_PROTOCOL]++; /* it holds a slot and says nothing */
            conn_release(n, slot);        /* open[i] is another one now */
            continue;
        }
        if (c->left != NULL)
            parse_left(n, slot);
        i += n->open[i] == slot; /* unless parsing released it */
    }
    for (size_t i = 1; i < count && i - 1 < n->npolled; i++) {
        unsigned slot = n->polled[i - 1];
        conn *c = &n->conns[slot];
        if (c->fd != items[i].fd) /* closed (and perhaps reused) since the poll */
            continue;
        if ((items[i].revents & ZMQ_POLLOUT) && !write_conn(n, slot))
            continue;
        if ((items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) && c->left == NULL && may_read(n, slot))
            read_conn(n, slot);
    }
    if (count > 0 && (items[0].revents & ZMQ_POLLIN))
        accept_burst(n);
}

/* ---- the rest ---------------------------------------------------------------------------------
 */

size_t rpc_net_queued(const rpc_net *n, unsigned slot)
{
    if (slot >= n->cfg.conn_max || n->conns[slot].fd < 0)
        return 0;
    return n->conns[slot].out_len - n->conns[slot].out_off;
}

bool rpc_net_pending(const rpc_net *n)
{
    return n->ndirty > 0;
}

uint64_t rpc_net_handle(const rpc_net *n, unsigned slot)
{
    return (uint64_t)n->conns[slot].gen << 32 | slot;
}

int rpc_net_slot(const rpc_net *n, uint64_t handle)
{
    uint32_t slot = (uint32_t)handle;
    if (slot >= n->cfg.conn_max || n->conns[slot].fd < 0 ||
        n->conns[slot].gen != (uint32_t)(handle >> 32))
        return -1;
    return (int)slot;
}

void rpc_net_drop(rpc_net *n, unsigned slot)
{
    if (slot < n->cfg.conn_max && n->conns[slot].fd >= 0) {
        n->drops[RPC_NET_OWNER]++;
        conn_release(n, slot);
    }
}

void rpc_net_stats_get(const rpc_net *n, rpc_net_stats *out)
{
    out->connections = n->live;
    out->messages_lost = n->lost;
    memcpy(out->drops, n->drops, sizeof out->drops);
    out->auth_failures = n->auth_failures;
}

void rpc_net_close(rpc_net **np)
{
    rpc_net *n = *np;
    if (n == NULL)
        return;
    *np = NULL;
    n->h.queued = NULL; /* the owner is going away: tell it nothing more */
    n->h.closed = NULL;
    while (n->open != NULL && n->live > 0)
        conn_release(n, n->open[0]);
    if (n->listen_fd >= 0)
        close(n->listen_fd);
    rpc_zmtp_curve_wipe(&n->curve);
    free(n->conns);
    free(n->free_slots);
    free(n->dirty);
    free(n->polled);
    free(n->open);
    free(n);
}

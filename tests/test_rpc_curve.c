/* test_rpc_curve.c - CurveZMQ on both sockets: allowed keys served, every other peer refused */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto_curve.h"
#include "rpc_config.h"
#include "rpc_curve.h"
#include "rpc_harness.h"
#include "test_util.h"
#include "zmtp_raw.h"

/* A key pair of the test: public, secret. */
typedef struct pair {
    uint8_t pk[32], sk[32];
} pair;

static pair server_keys, alice, bob; /* alice is in the allow-list, bob is not (at first) */
static rh_reply rp;

static void key_line(FILE *f, const uint8_t key[32], bool hex)
{
    char text[65];
    if (hex)
        rh_hex(text, key);
    else
        rpc_curve_key_z85(text, key);
    fprintf(f, "%s  # a client\n", text);
}

/* Write the allow-list: a comment, then each key given (alice in Z85, bob in hex). */
static void write_clients(const char *path, bool with_alice, bool with_bob)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fprintf(f, "# lstd CURVE clients\n\n");
    if (with_alice)
        key_line(f, alice.pk, false);
    if (with_bob)
        key_line(f, bob.pk, true);
    fclose(f);
}

static void write_secret(const char *path, const uint8_t sk[32], mode_t mode)
{
    char z85[41];
    rpc_curve_key_z85(z85, sk);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0 && fchmod(fd, mode) == 0);
    CHECK(write(fd, z85, 40) == 40 && write(fd, "\n", 1) == 1);
    close(fd);
}

/* The paths of a server's key files, in its directory. */
typedef struct files {
    char secret[600], clients[600];
} files;

static rh_server *curve_server(files *fl, bool clients_file, bool launch_checks)
{
    rh_server *s = rh_prepare(NULL);
    snprintf(fl->secret, sizeof fl->secret, "%s/server.secret", s->dir);
    snprintf(fl->clients, sizeof fl->clients, "%s/clients", s->dir);
    write_secret(fl->secret, server_keys.sk, 0600);
    if (clients_file)
        write_clients(fl->clients, true, false);
    const char *extra[] = {"--curve-secret-key", fl->secret, "--curve-clients", fl->clients};
    for (int i = 0; i < 4; i++)
        s->extra[s->extra_count++] = strdup(extra[i]);
    snprintf(s->err_path, sizeof s->err_path, "%s/stderr", s->dir);
    s->curve = true;
    memcpy(s->curve_server, server_keys.pk, 32);
    memcpy(s->curve_public, alice.pk, 32);
    memcpy(s->curve_secret, alice.sk, 32);
    s->no_ledger_id = !launch_checks;
    if (rh_launch(s) != 0) {
        fprintf(stderr, "lstd with CURVE did not start; its stderr:\n");
        FILE *f = fopen(s->err_path, "r");
        char line[1024];
        while (f != NULL && fgets(line, sizeof line, f) != NULL)
            fputs(line, stderr);
        if (f != NULL)
            fclose(f);
        rh_free(&s);
        exit(1);
    }
    return s;
}

static uint64_t counter(void *sock, const char *name)
{
    CHECK(rh_query(sock, &rp, "health", NULL, 0) == 0);
    const msgpack_object *h = RH_MAP(rp.root, "result");
    return RH_U64(RH_MAP(h, "counters"), name);
}

/* Wait (at most 10 s) until the counter reaches want. Returns: its value. */
static uint64_t counter_reaches(void *sock, const char *name, uint64_t want)
{
    uint64_t v = counter(sock, name);
    for (int i = 0; i < 500 && v < want; i++) {
        rh_sleep_ms(20);
        v = counter(sock, name);
    }
    return v;
}

/* How often the server's log (its stderr file) holds needle. */
static int log_count(const rh_server *s, const char *needle)
{
    FILE *f = fopen(s->err_path, "r");
    char line[4096];
    int n = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        n += strstr(line, needle) != NULL;
    if (f != NULL)
        fclose(f);
    return n;
}

/* Wait (at most 10 s) until the log holds needle `want` times. Returns: true when it does. */
static bool log_reaches(const rh_server *s, const char *needle, int want)
{
    for (int i = 0; i < 500; i++) {
        if (log_count(s, needle) >= want)
            return true;
        rh_sleep_ms(20);
    }
    return false;
}

/* No message arrives on sock now. */
static bool nothing_received(void *sock)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    int rc = zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
    zmq_msg_close(&m);
    return rc < 0;
}

/* A socket of bob's (CURVE, his key) to url, its monitor (for want) attached before it
 * connects, so that no event can come before the monitor. Out: *mon. Returns: the socket. */
static void *watched_socket(int type, const char *url, const char *name, uint16_t want, void **mon)
{
    char murl[64];
    int timeout = 10000, zero = 0;
    void *sock = zmq_socket(rh_ctx(), type);
    CHECK(sock != NULL);
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    CHECK(zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_keys.pk, 32) == 0);
    CHECK(zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, bob.pk, 32) == 0);
    CHECK(zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, bob.sk, 32) == 0);
    snprintf(murl, sizeof murl, "inproc://curve-monitor-%s", name);
    CHECK(zmq_socket_monitor(sock, murl, want) == 0);
    *mon = zmq_socket(rh_ctx(), ZMQ_PAIR);
    zmq_setsockopt(*mon, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    CHECK(zmq_connect(*mon, murl) == 0);
    CHECK(zmq_connect(sock, url) == 0);
    return sock;
}

/* The monitor reports event want (waiting up to 10 s), then is closed. Out: *value.
 * Returns: true if so. */
static bool monitor_sees(void *sock, void *mon, uint16_t want, uint32_t *value)
{
    bool seen = false;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, 0) == 6) {
        uint16_t ev;
        memcpy(&ev, zmq_msg_data(&m), 2);
        memcpy(value, (uint8_t *)zmq_msg_data(&m) + 2, 4);
        seen = ev == want;
    }
    zmq_msg_close(&m);
    zmq_socket_monitor(sock, NULL, 0);
    zmq_close(mon);
    return seen;
}

/* ---- allowed clients ----------------------------------------------------------------------- */

/* An allowed DEALER gets replies (a transaction applied), an allowed SUB its events. */
static void test_allowed(rh_server *s, void *dl)
{
    void *sub = rh_sub(s, "tx/");
    CHECK(rh_query(dl, &rp, "health", NULL, 0) == 0);
    CHECK_OK(&rp);
    for (int i = 0; i < 500 && RH_U64(RH_MAP(rp.root, "result"), "subscriptions") < 1; i++) {
        rh_sleep_ms(20);
        CHECK(rh_query(dl, &rp, "health", NULL, 0) == 0);
    }
    CHECK(RH_U64(RH_MAP(rp.root, "result"), "subscriptions") >= 1);
    rh_key to;
    rh_keygen(&to);
    uint8_t ref[32] = "curve deposit", hash[32];
    ledger_tx t = rh_tx(LEDGER_TX_DEPOSIT);
    rh_tx_key(&t, "to", to.pk);
    rh_tx_u64(&t, "amount", 5000000);
    rh_tx_key(&t, "external_ref", ref);
    CHECK(rh_submit(s, dl, &t, &s->custodian, &rp, hash) == 0);
    CHECK_OK(&rp);
    char topic[128];
    rh_reply ev;
    rh_reply_init(&ev);
    CHECK(rh_recv_event(sub, topic, sizeof topic, &ev) == 0);
    CHECK(strncmp(topic, "tx/", 3) == 0);
    CHECK(ev.root != NULL && rh_get_bin(ev.root, "hash", 32) != NULL &&
          memcmp(rh_get_bin(ev.root, "hash", 32), hash, 32) == 0);
    rh_reply_free(&ev);
    rh_close(sub);
    CHECK_U64(counter(dl, "auth_failures"), 0);
}

/* ---- refused peers ------------------------------------------------------------------------- */

/* bob's key is not in the list: his DEALER is told (ERROR 400, which libzmq reports as an
 * authentication failure), counted, and never answered; nor is his SUB served. */
static void test_key_not_allowed(rh_server *s, void *dl)
{
    uint64_t before = counter(dl, "auth_failures"), drops = counter(dl, "protocol_drops");
    void *mon;
    void *bd =
        watched_socket(ZMQ_DEALER, s->requests, "bob", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &mon);
    uint32_t status = 0;
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    rh_pack_map(&b, rh_next_id(), "health", NULL, 0);
    CHECK(rh_send(bd, b.data, b.size) == 0); /* queued, never answered */
    msgpack_sbuffer_destroy(&b);
    CHECK(monitor_sees(bd, mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
    CHECK_U64(status, 400);
    CHECK(counter_reaches(dl, "auth_failures", before + 1) >= before + 1);
    CHECK(counter(dl, "protocol_drops") >= drops + 1);
    CHECK(nothing_received(bd));
    rh_close(bd);
    void *bs = watched_socket(ZMQ_SUB, s->events, "bob-sub", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &mon);
    zmq_setsockopt(bs, ZMQ_SUBSCRIBE, "", 0);
    CHECK(monitor_sees(bs, mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, &status));
    CHECK(counter_reaches(dl, "auth_failures", before + 2) >= before + 2);
    rh_close(bs);
    /* the raw client sees the refusal where READY would be */
    zmtp_raw_curve c;
    CHECK(zmtp_raw_curve_init(&c, server_keys.pk, bob.pk, bob.sk) == 0);
    CHECK(zmtp_raw_curve_connect(s->requests, "DEALER", &c, 5000) == -1);
}

/* A NULL-mechanism client (libzmq without CURVE, or raw) is refused by a CURVE server. */
static void test_null_client(rh_server *s, void *dl)
{
    uint64_t drops = counter(dl, "protocol_drops"), auth = counter(dl, "auth_failures");
    void *plain = rh_socket_curve(ZMQ_DEALER, s->requests, NULL, NULL, NULL);
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    rh_pack_map(&b, rh_next_id(), "health", NULL, 0);
    CHECK(rh_send(plain, b.data, b.size) == 0);
    msgpack_sbuffer_destroy(&b);
    CHECK(counter_reaches(dl, "protocol_drops", drops + 1) >= drops + 1);
    CHECK(counter(dl, "auth_failures") >= auth + 1);
    CHECK(nothing_received(plain));
    rh_close(plain);
    int fd = rh_zmtp_open(s->requests, "DEALER", 0); /* its greeting says CURVE: no READY */
    CHECK(fd < 0);
}

/* A raw connection through greeting and HELLO, WELCOME taken. Returns: the socket or -1. */
static int raw_welcomed(const rh_server *s, zmtp_raw_curve *c, bool break_hello)
{
    uint8_t g[64], hello[202], buf[512];
    size_t n;
    bool command;
    CHECK(zmtp_raw_curve_init(c, server_keys.pk, alice.pk, alice.sk) == 0);
    int fd = zmtp_raw_connect(s->requests, 0, 5000);
    CHECK(fd >= 0);
    zmtp_raw_greeting(g, "CURVE");
    CHECK(zmtp_raw_write(fd, g, 64) == 0 && zmtp_raw_read(fd, g, 64) == 0);
    CHECK(memcmp(g + 12, "CURVE", 5) == 0 && g[32] == 1);
    CHECK(zmtp_raw_curve_hello(c, hello) == 202);
    if (break_hello)
        hello[2 + 150] ^= 0x10; /* inside the signature box */
    CHECK(zmtp_raw_write(fd, hello, 202) == 0);
    if (break_hello)
        return fd;
    CHECK(zmtp_raw_read_frame(fd, buf, sizeof buf, &n, &command) == 0 && command);
    CHECK(zmtp_raw_curve_welcome(c, buf, n) == 0);
    return fd;
}

/* A raw CURVE DEALER's health request, answered in a box. */
static void raw_health(int fd, zmtp_raw_curve *c, uint64_t nonce)
{
    msgpack_sbuffer b;
    static uint8_t buf[70000], plain[70000];
    size_t n, len;
    bool command;
    uint8_t flags;
    msgpack_sbuffer_init(&b);
    rh_pack_map(&b, 7, "health", NULL, 0);
    n = zmtp_raw_curve_message(c, buf, sizeof buf, b.data, b.size, false, false, nonce);
    msgpack_sbuffer_destroy(&b);
    CHECK(n > 0 && zmtp_raw_write(fd, buf, n) == 0);
    CHECK(zmtp_raw_read_frame(fd, buf, sizeof buf, &n, &command) == 0 && !command);
    CHECK(zmtp_raw_curve_open(c, buf, n, plain, sizeof plain, &len, &flags) == 0);
    CHECK(flags == 0 && len > 10 && memmem(plain, len, "\xa2ok\xc3", 4) != NULL);
}

/* Raw handshakes that break one step each: the connection is closed (counted in
 * protocol_drops), and the server goes on serving the others. */
static void test_hostile(rh_server *s, void *dl)
{
    enum { CASES = 6 };
    uint64_t drops = counter(dl, "protocol_drops");
    uint8_t buf[1024], h[9];
    zmtp_raw_curve c;
    for (int kind = 0; kind < CASES; kind++) {
        int fd = -1;
        size_t n;
        if (kind == 0) { /* a HELLO whose box does not open */
            fd = raw_welcomed(s, &c, true);
        } else if (kind == 1) { /* an INITIATE cut short: its box does not open */
            fd = raw_welcomed(s, &c, false);
            n = zmtp_raw_curve_initiate(&c, buf, sizeof buf, "DEALER");
            CHECK(n > 9 && buf[0] == 0x06);
            uint64_t size = n - 9 - 3;
            h[0] = 0x06;
            for (int i = 0; i < 8; i++)
                h[1 + i] = (uint8_t)(size >> (56 - 8 * i));
            CHECK(zmtp_raw_write(fd, h, 9) == 0 && zmtp_raw_write(fd, buf + 9, size) == 0);
        } else if (kind == 2 || kind == 3) { /* a MESSAGE nonce replayed, then one smaller */
            fd = zmtp_raw_curve_connect(s->requests, "DEALER", &c, 5000);
            CHECK(fd >= 0);
            raw_health(fd, &c, 10);
            n = zmtp_raw_curve_message(&c, buf, sizeof buf, "x", 1, false, false,
                                       kind == 2 ? 10 : 9);
            CHECK(zmtp_raw_write(fd, buf, n) == 0);
        } else if (kind == 4) { /* a box larger than any frame lstd keeps: refused at its header */
            fd = zmtp_raw_curve_connect(s->requests, "DEALER", &c, 5000);
            uint64_t size = 2u << 20;
            h[0] = 0x06;
            for (int i = 0; i < 8; i++)
                h[1 + i] = (uint8_t)(size >> (56 - 8 * i));
            memset(buf, 0, sizeof buf);
            CHECK(fd >= 0 && zmtp_raw_write(fd, h, 9) == 0);
            (void)zmtp_raw_write(fd, buf, sizeof buf); /* the server may have closed already */
        } else { /* a frame that is no MESSAGE, where only MESSAGEs may come */
            fd = zmtp_raw_curve_connect(s->requests, "DEALER", &c, 5000);
            CHECK(fd >= 0 && zmtp_raw_write(fd,
                                            "\x00\x03"
                                            "abc",
                                            5) == 0);
        }
        if (!rh_zmtp_closed(fd, 10000)) {
            fprintf(stderr, "hostile case %d: the connection was not closed\n", kind);
            test_failures++;
        }
        close(fd);
        CHECK(rh_query(dl, &rp, "health", NULL, 0) == 0); /* the others are served */
        CHECK_OK(&rp);
    }
    CHECK(counter_reaches(dl, "protocol_drops", drops + CASES) >= drops + CASES);
}

/* ---- the allow-list file ------------------------------------------------------------------- */

/* Whether alice's raw CURVE client gets through the handshake now. */
static bool alice_gets_in(const rh_server *s)
{
    zmtp_raw_curve c;
    CHECK(zmtp_raw_curve_init(&c, server_keys.pk, alice.pk, alice.sk) == 0);
    int fd = zmtp_raw_curve_connect(s->requests, "DEALER", &c, 5000);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

/* No allow-list file: everyone is refused (and the log says so); SIGHUP once it is written
 * lets its keys in; SIGHUP after a key is removed closes that key's connection and refuses
 * it from then on. A list that no longer parses refuses everyone again. */
static void test_reload(void)
{
    files fl;
    rh_server *s = curve_server(&fl, false, false);
    CHECK(log_reaches(s, "outcome=refusing_all", 1));
    CHECK(!alice_gets_in(s));
    write_clients(fl.clients, true, true);
    rh_signal(s, SIGHUP);
    CHECK(log_reaches(s, "keys=2 outcome=loaded", 1));
    CHECK(alice_gets_in(s));
    void *ad = rh_dealer(s); /* a libzmq client refused with ERROR does not retry: a new one */
    CHECK(rh_query(ad, &rp, "health", NULL, 0) == 0);
    CHECK_OK(&rp);
    void *bd = rh_socket_curve(ZMQ_DEALER, s->requests, server_keys.pk, bob.pk, bob.sk);
    CHECK(rh_query(bd, &rp, "health", NULL, 0) == 0);
    zmtp_raw_curve c;
    CHECK(zmtp_raw_curve_init(&c, server_keys.pk, bob.pk, bob.sk) == 0);
    int bob_fd = zmtp_raw_curve_connect(s->requests, "DEALER", &c, 5000);
    CHECK(bob_fd >= 0);
    uint64_t auth = counter(ad, "auth_failures");
    write_clients(fl.clients, true, false); /* bob removed */
    rh_signal(s, SIGHUP);
    CHECK(log_reaches(s, "keys=1 outcome=loaded", 1));
    CHECK(rh_zmtp_closed(bob_fd, 10000)); /* his open connection is closed */
    close(bob_fd);
    CHECK(zmtp_raw_curve_init(&c, server_keys.pk, bob.pk, bob.sk) == 0);
    CHECK(zmtp_raw_curve_connect(s->requests, "DEALER", &c, 5000) == -1); /* and refused */
    CHECK(counter_reaches(ad, "auth_failures", auth + 2) >= auth + 2);
    CHECK(alice_gets_in(s));
    FILE *f = fopen(fl.clients, "a"); /* a line that is no key: nobody, not everybody */
    fprintf(f, "not-a-key\n");
    fclose(f);
    rh_signal(s, SIGHUP);
    CHECK(log_reaches(s, "outcome=refusing_all", 2));
    CHECK(!alice_gets_in(s));
    rh_close(bd);
    rh_close(ad);
    CHECK_U64(rh_stop(s, SIGTERM, 20000), 0);
    rh_free(&s);
}

/* ---- mismatches and misconfiguration ------------------------------------------------------- */

/* A CURVE client at a server without CURVE is refused there (its greeting asks for CURVE). */
static void test_curve_client_null_server(void)
{
    rh_server *s = rh_start(NULL);
    CHECK(s != NULL);
    void *dl = rh_dealer(s);
    uint64_t drops = counter(dl, "protocol_drops");
    void *cd = rh_socket_curve(ZMQ_DEALER, s->requests, server_keys.pk, alice.pk, alice.sk);
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    rh_pack_map(&b, rh_next_id(), "health", NULL, 0);
    CHECK(rh_send(cd, b.data, b.size) == 0);
    msgpack_sbuffer_destroy(&b);
    CHECK(counter_reaches(dl, "protocol_drops", drops + 1) >= drops + 1);
    CHECK(nothing_received(cd));
    CHECK_U64(counter(dl, "auth_failures"), 0);
    rh_close(cd);
    rh_close(dl);
    rh_free(&s);
}

/* A secret key file others may read, a key file that holds no key, an allow-list without a
 * secret key: lstd does not start. */
static void test_refused_settings(void)
{
    static const struct {
        mode_t mode;
        bool garbage, no_secret;
        int exit_code;
    } cases[] = {{0644, false, false, 1},
                 {0604, false, false, 1},
                 {0600, true, false, 1},
                 {0600, false, true, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rh_server *s = rh_prepare(NULL);
        char secret[600], clients[600];
        snprintf(secret, sizeof secret, "%s/server.secret", s->dir);
        snprintf(clients, sizeof clients, "%s/clients", s->dir);
        write_secret(secret, server_keys.sk, cases[i].mode);
        if (cases[i].garbage) {
            FILE *f = fopen(secret, "w");
            fprintf(f, "# nothing\n");
            fclose(f);
        }
        write_clients(clients, true, false);
        if (!cases[i].no_secret) {
            s->extra[s->extra_count++] = strdup("--curve-secret-key");
            s->extra[s->extra_count++] = strdup(secret);
        }
        s->extra[s->extra_count++] = strdup("--curve-clients");
        s->extra[s->extra_count++] = strdup(clients);
        snprintf(s->err_path, sizeof s->err_path, "%s/stderr", s->dir);
        CHECK(rh_launch(s) != 0);
        CHECK(s->has_status && WIFEXITED(s->wait_status));
        CHECK_U64(WEXITSTATUS(s->wait_status), cases[i].exit_code);
        CHECK(cases[i].mode == 0600 || log_count(s, "chmod 600") == 1);
        rh_free(&s);
    }
}

/* ---- key files, the allow-list, loopback (no server) ------------------------------------- */

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0 && fchmod(fd, mode) == 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static void test_key_files(void)
{
    char *dir = test_tmpdir("lstd-curve-keys"), path[600], msg[700], line[600], z85[41], hex[65];
    uint8_t key[32];
    size_t count;
    /* a Z85 key may hold '#': a comment starts only at a line's start or after a blank */
    for (int tries = 0; tries < 1000; tries++) {
        uint8_t pk[32], sk[32];
        CHECK(crypto_curve_keypair(pk, sk) == 0);
        rpc_curve_key_z85(z85, pk);
        if (strchr(z85, '#') == NULL)
            continue;
        snprintf(path, sizeof path, "%s/hash.public", dir);
        snprintf(line, sizeof line, "# a key with a hash in it\n  %s   # and a comment\n", z85);
        write_text(path, line, 0644);
        CHECK(rpc_curve_public_read(path, key, msg, sizeof msg) == 0 && memcmp(key, pk, 32) == 0);
        break;
    }
    rpc_curve_key_z85(z85, alice.pk);
    rh_hex(hex, bob.pk);
    CHECK(rpc_curve_key_parse(key, z85) == 0 && memcmp(key, alice.pk, 32) == 0);
    CHECK(rpc_curve_key_parse(key, hex) == 0 && memcmp(key, bob.pk, 32) == 0);
    char broken[41];
    memcpy(broken, z85, sizeof broken);
    broken[3] = ' ';
    CHECK(rpc_curve_key_parse(key, broken) == -1);
    CHECK(rpc_curve_key_parse(key, "abc") == -1);
    /* the list: comments, blank lines, duplicates once; one bad line or a long one: nobody */
    rpc_curve_allow *a;
    CHECK(rpc_curve_allow_new(&a) == 0);
    CHECK(!rpc_curve_allowed(a, alice.pk)); /* empty: nobody */
    snprintf(path, sizeof path, "%s/clients", dir);
    snprintf(line, sizeof line, "# clients\n\n%s\n%s # again\n\t%s\n", z85, z85, hex);
    write_text(path, line, 0644);
    uint64_t gen = rpc_curve_allow_generation(a);
    CHECK(rpc_curve_allow_load(a, path, &count, msg, sizeof msg) == 0 && count == 2);
    CHECK(rpc_curve_allowed(a, alice.pk) && rpc_curve_allowed(a, bob.pk));
    CHECK(!rpc_curve_allowed(a, server_keys.pk));
    CHECK(rpc_curve_allow_generation(a) != gen);
    snprintf(line, sizeof line, "%s\nnot-a-key\n", z85);
    write_text(path, line, 0644);
    CHECK(rpc_curve_allow_load(a, path, &count, msg, sizeof msg) == -1 && count == 0);
    CHECK(strstr(msg, ":2:") != NULL && !rpc_curve_allowed(a, alice.pk));
    snprintf(line, sizeof line, "%s extra words\n", z85);
    write_text(path, line, 0644);
    CHECK(rpc_curve_allow_load(a, path, &count, msg, sizeof msg) == -1 && strstr(msg, ":1:"));
    char *huge = malloc(RPC_CURVE_LINE_MAX * 2);
    CHECK(huge != NULL);
    memset(huge, 'a', RPC_CURVE_LINE_MAX * 2 - 1);
    huge[RPC_CURVE_LINE_MAX * 2 - 1] = '\0';
    write_text(path, huge, 0644);
    free(huge);
    CHECK(rpc_curve_allow_load(a, path, &count, msg, sizeof msg) == -1 && strstr(msg, "longer"));
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK(rpc_curve_allow_load(a, path, &count, msg, sizeof msg) == -1 && count == 0);
    rpc_curve_allow_free(&a);
    CHECK(a == NULL);
    /* a secret key file: the owner's alone, one key */
    snprintf(path, sizeof path, "%s/two.secret", dir);
    snprintf(line, sizeof line, "%s\n%s\n", z85, hex);
    write_text(path, line, 0600);
    CHECK(rpc_curve_secret_read(path, key, msg, sizeof msg) == -1 && strstr(msg, "more than one"));
    /* keygen: both files, never over an existing one */
    snprintf(path, sizeof path, "%s/gen", dir);
    uint8_t pk[32], sk[32], derived[32];
    CHECK(rpc_curve_keygen(path, pk, msg, sizeof msg) == 0);
    CHECK(rpc_curve_keygen(path, pk, msg, sizeof msg) == -1 && strstr(msg, "exists"));
    snprintf(line, sizeof line, "%s/gen.secret", dir);
    CHECK(rpc_curve_secret_read(line, sk, msg, sizeof msg) == 0);
    CHECK(crypto_curve_public(derived, sk) == 0 && memcmp(derived, pk, 32) == 0);
    snprintf(line, sizeof line, "%s/gen.public", dir);
    CHECK(rpc_curve_public_read(line, key, msg, sizeof msg) == 0 && memcmp(key, pk, 32) == 0);
    /* which binds warn without CURVE */
    CHECK(rpc_endpoint_loopback("tcp://127.0.0.1:7440"));
    CHECK(rpc_endpoint_loopback("tcp://127.9.0.1:*"));
    CHECK(rpc_endpoint_loopback("tcp://[::1]:7440") && rpc_endpoint_loopback("tcp://localhost:1"));
    CHECK(!rpc_endpoint_loopback("tcp://*:7440") && !rpc_endpoint_loopback("tcp://0.0.0.0:7440"));
    CHECK(!rpc_endpoint_loopback("tcp://127.example.com:1"));
    CHECK(!rpc_endpoint_loopback("tcp://10.0.0.1:7440") && !rpc_endpoint_loopback("tcp://[::]:1"));
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    rh_init("test_rpc_curve", 240);
    CHECK(crypto_curve_keypair(server_keys.pk, server_keys.sk) == 0);
    CHECK(crypto_curve_keypair(alice.pk, alice.sk) == 0);
    CHECK(crypto_curve_keypair(bob.pk, bob.sk) == 0);
    rh_reply_init(&rp);
    test_key_files();
    files fl;
    rh_server *s = curve_server(&fl, true, true);
    void *dl = rh_dealer(s);
    test_allowed(s, dl);
    test_key_not_allowed(s, dl);
    test_null_client(s, dl);
    test_hostile(s, dl);
    rh_close(dl);
    rh_free(&s);
    test_reload();
    test_curve_client_null_server();
    test_refused_settings();
    rh_reply_free(&rp);
    return test_finish("test_rpc_curve");
}

/* zmtp_raw.c - a raw ZMTP 3 client over a plain TCP socket */
#include "zmtp_raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int zmtp_raw_write(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t r = recv(fd, p, len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static int tcp_connect(const char *url, int rcvbuf, int send_timeout_ms)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char host[64];
    unsigned port;
    if (sscanf(url, "tcp://%63[^:]:%u", host, &port) != 2 ||
        inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    a.sin_port = htons((uint16_t)port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {send_timeout_ms / 1000, (send_timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int zmtp_raw_open(const char *url, const char *type, int rcvbuf, int send_timeout_ms)
{
    uint8_t g[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L'};
    uint8_t ready[64], head[66], body[256];
    size_t tl = strlen(type), n = 0;
    if (tl > 32)
        return -1;
    int fd = tcp_connect(url, rcvbuf, send_timeout_ms);
    if (fd < 0)
        return -1;
    ready[n++] = 0x04; /* a short command: READY with its Socket-Type property */
    ready[n++] = (uint8_t)(1 + 5 + 1 + 11 + 4 + tl);
    memcpy(ready + n, "\x05READY\x0bSocket-Type\0\0\0", 21);
    n += 21;
    ready[n++] = (uint8_t)tl;
    memcpy(ready + n, type, tl);
    n += tl;
    if (zmtp_raw_write(fd, g, sizeof g) != 0 || zmtp_raw_write(fd, ready, n) != 0 ||
        read_all(fd, head, sizeof head) != 0 || head[0] != 0xff || head[64] != 0x04 ||
        read_all(fd, body, head[65]) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

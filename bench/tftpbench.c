/*
 * tftpbench: an independent, fast TFTP read client for the benchmark.
 *
 * Not part of the product: bench/run.mjs builds it with `cc -O2` at bench
 * time so that the figures measure the servers, not a Node.js client.
 *
 * One process, one epoll loop, one UDP socket per session (each session has
 * its own TID). RRQ with blksize / windowsize / tsize (and optionally the RFC
 * 2349 timeout), lock-step or RFC 7440 windows, N sessions at once, a seeded
 * drop of received DATA (as if the network lost it), and a burst mode that
 * fires K requests within a time span without retrying any and counts how
 * many were answered. Every byte received is compared with the served file
 * (mapped from --root): a session is ok only with the right length and
 * content. Prints one JSON object on stdout.
 *
 *   tftpbench --port P --root DIR --file NAME[:COUNT] [--file ...]
 *             [--host 127.0.0.1] [--source CIDR] [--concurrency C] [--blksize N]
 *             [--windowsize N] [--tsize] [--timeout-option S] [--drop P]
 *             [--seed S] [--rto-ms MS] [--rto-max-ms MS] [--retries N] [--time-limit S]
 *             [--burst K --burst-ms MS --answer-ms MS]
 *             [--drop-ack P] [--drop-oack] [--no-ack-retransmit] [--probe] [--sequence]
 *             [--ack-unexpected]
 *
 * Firmware imitations: --drop-ack P drops the client's own ACKs (seeded, as
 * --drop), --drop-oack applies --drop to OACKs too; --no-ack-retransmit never
 * re-sends an ACK on the client's timeout (GRUB: only the server's
 * retransmission recovers a loss; a duplicate block or OACK is ACKed again);
 * --ack-unexpected answers every block other than the expected one (a
 * duplicate, or one past a gap) at once with the ACK of the last block in
 * order, as EDK2 does (default: once per gap or run of duplicates);
 * --probe precedes each fetch with EDK2's size probe (RRQ with tsize, OACK,
 * ERROR 8 from the client, then the fetch from a new port without tsize);
 * --ack-delay-us N ACKs a window N us after its last block arrived (the
 * time firmware spends per block; the final ACK is not delayed);
 * --sequence makes each session slot one "boot": it fetches every --file in
 * order (NAME:COUNT = COUNT fetches of NAME), sessions then count boots.
 * dup_data counts DATA blocks received again after they were received in
 * order (a server retransmission); dup_data_unprovoked those in sessions where
 * the client neither dropped anything nor re-sent an ACK (on a clean path
 * every retransmission is unprovoked). For the unprovoked ones,
 * dup_ack_lag_max_ms is the longest the client took to ACK the block before
 * a duplicate (a large one: the client was slow, e.g. descheduled) and
 * dup_after_ack_min_ms the shortest time from that ACK to the duplicate's
 * arrival (near 0: the server had resent before the ACK could reach it);
 * -1 when none.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 32
#define MAX_PKT 65536

struct file {
  const char *name;
  int count;
  const uint8_t *data; /* mapped */
  size_t size;
};

enum state { IDLE, WAIT_FIRST, RUNNING, DONE_OK, DONE_FAIL };

struct session {
  int fd;
  enum state st;
  int file;
  uint16_t tid; /* server's port, 0 until known */
  size_t got;   /* bytes received in order */
  uint32_t next; /* next block expected (not masked) */
  int blksize, windowsize;
  int in_window;  /* in-order blocks since our last ACK */
  int gap_acked;  /* ACK already sent for the current gap */
  int retries;
  double deadline; /* when we resend (or give up) */
  double started, ended;
  uint16_t last_ack;
  int acked_any; /* an ACK was sent (else resend the RRQ) */
  int mismatch;
  int error_code; /* TFTP error received, -1 none */
  int answered;   /* the server answered at all */
  int probing;    /* --probe: this request is the size probe */
  int step;       /* --sequence: index into steps[] */
  int provoked;   /* the client dropped or re-sent something in this transfer */
  long long dups; /* duplicate DATA received in this transfer */
  double data_at; /* when the last in-order DATA arrived */
  double ack_at;  /* when the last ACK left */
  double dup_lag; /* this transfer's duplicates: largest delay of our ACK after its DATA (s) */
  double dup_after; /* and the shortest time from our ACK to the duplicate (s), -1 none */
  int ack_pending; /* --ack-delay-us: an ACK waits until ack_due */
  uint16_t ack_block;
  double ack_due;
};

/* ---------------------------------------------------------------- options */
static const char *host = "127.0.0.1";
static int port = 69;
static const char *root = ".";
static struct file files[MAX_FILES];
static int nfiles = 0;
static int concurrency = 1;
static int blksize = 0, windowsize = 0, want_tsize = 0, timeout_option = 0;
static double drop = 0;
static uint64_t seed = 42;
static int rto_ms = 1000, rto_max_ms = 8000, max_retries = 8;
static double time_limit = 600, grace = 30;
static int time_capped = 0;
static int burst = 0, burst_ms = 100, answer_ms = 3000;
static double drop_ack = 0;
static int ack_delay_us = 0; /* the client's time per block before it ACKs (firmware writing the block away) */
static int drop_oack = 0, no_ack_retransmit = 0, probe = 0, sequence = 0, ack_unexpected = 0;
static int *steps = NULL, nsteps = 0, sequence_boots = 1; /* --sequence: the file of each fetch of a boot */
static uint32_t src_first = 0, src_hosts = 0; /* --source CIDR: one source address per session, round robin */

static int parse_cidr(const char *v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", v);
  char *slash = strchr(buf, '/');
  int len = 32;
  if (slash) {
    *slash = 0;
    len = atoi(slash + 1);
  }
  struct in_addr a;
  if (inet_pton(AF_INET, buf, &a) != 1 || len < 8 || len > 32) return -1;
  uint32_t mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
  uint32_t net = ntohl(a.s_addr) & mask;
  uint32_t size = len == 32 ? 1 : (uint32_t)1 << (32 - len);
  if (size > 2) {
    src_first = net + 1; /* skip the network and broadcast addresses */
    src_hosts = size - 2;
  } else {
    src_first = net;
    src_hosts = size;
  }
  return 0;
}

/* ---------------------------------------------------------------- helpers */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng;
static double rnd(void) { /* xorshift64*, seeded */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static void die(const char *m) {
  fprintf(stderr, "tftpbench: %s%s%s\n", m, errno ? ": " : "", errno ? strerror(errno) : "");
  exit(2);
}

static struct sockaddr_in server;
static int epfd;
static struct session *ss;
static double now(void);
static int nsessions;
static uint8_t pkt[MAX_PKT];

/* counters */
/* Unprovoked duplicates, for telling a slow client from a hasty server: the largest delay of
   the client's ACK after the DATA it answered, and the shortest time from an ACK to the
   duplicate that followed it (ms; -1: none). */
static double dup_ack_lag_max = -1, dup_after_ack_min = -1;
static long long dup_data = 0, dup_data_unprovoked = 0, acks_dropped = 0, oacks_dropped = 0, probes_done = 0, transfers_ok = 0;
static long long bytes_total = 0, acks_resent = 0, rrq_resent = 0, dropped = 0, strangers = 0, out_of_order = 0;
static int errors_by_code[9];
static int errors_other = 0, timeouts = 0, mismatches = 0;
static char granted[256] = "";

static size_t put_str(uint8_t *p, const char *s) {
  size_t n = strlen(s) + 1;
  memcpy(p, s, n);
  return n;
}

static void send_rrq(struct session *s) {
  uint8_t b[512];
  size_t n = 0;
  char v[32];
  b[n++] = 0;
  b[n++] = 1;
  n += put_str(b + n, files[s->file].name);
  n += put_str(b + n, "octet");
  if (blksize) {
    n += put_str(b + n, "blksize");
    snprintf(v, sizeof v, "%d", blksize);
    n += put_str(b + n, v);
  }
  if (windowsize > 1) {
    n += put_str(b + n, "windowsize");
    snprintf(v, sizeof v, "%d", windowsize);
    n += put_str(b + n, v);
  }
  if (probe ? s->probing : want_tsize) {
    n += put_str(b + n, "tsize");
    n += put_str(b + n, "0");
  }
  if (timeout_option) {
    n += put_str(b + n, "timeout");
    snprintf(v, sizeof v, "%d", timeout_option);
    n += put_str(b + n, v);
  }
  sendto(s->fd, b, n, 0, (struct sockaddr *)&server, sizeof server);
}

static int trace = 0; /* TFTPBENCH_TRACE=1: every packet of every session on stderr */
#define TRACE(s, ...) do { if (trace) { fprintf(stderr, "%9.3f s%ld ", now(), (long)((s) - ss)); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static void send_ack(struct session *s, uint16_t block) {
  TRACE(s, "ACK %u", block);
  s->last_ack = block;
  s->acked_any = 1;
  s->in_window = 0;
  if (drop_ack > 0 && rnd() < drop_ack) {
    TRACE(s, "  ACK dropped");
    acks_dropped++;
    s->provoked = 1;
    return;
  }
  s->ack_at = now();
  uint8_t b[4] = {0, 4, (uint8_t)(block >> 8), (uint8_t)block};
  struct sockaddr_in to = server;
  to.sin_port = htons(s->tid);
  sendto(s->fd, b, 4, 0, (struct sockaddr *)&to, sizeof to);
  s->last_ack = block;
  s->acked_any = 1;
  s->in_window = 0;
}

static void send_error_to(int fd, struct sockaddr_in *to, int code, const char *msg) {
  uint8_t b[128];
  size_t n = 0;
  b[n++] = 0;
  b[n++] = 5;
  b[n++] = 0;
  b[n++] = (uint8_t)code;
  n += put_str(b + n, msg);
  sendto(fd, b, n, 0, (struct sockaddr *)to, sizeof *to);
}

static int active = 0, started_count = 0, finished = 0, ok_count = 0, answered_count = 0;
static double *durations;

/* A transfer's duplicate DATA into the totals (the unprovoked ones with their timing). */
static void count_dups(struct session *s) {
  dup_data += s->dups;
  if (s->provoked || s->dups == 0) return;
  dup_data_unprovoked += s->dups;
  double lag = s->dup_lag * 1000, after = s->dup_after * 1000;
  if (lag > dup_ack_lag_max) dup_ack_lag_max = lag;
  if (s->dup_after >= 0 && (dup_after_ack_min < 0 || after < dup_after_ack_min)) dup_after_ack_min = after;
}

static void finish(struct session *s, int ok) {
  /* A transfer that failed or was cut off: its duplicates count too (a good one's were counted as it ended). */
  if (!ok) count_dups(s);
  s->st = ok ? DONE_OK : DONE_FAIL;
  s->ended = now();
  close(s->fd);
  s->fd = -1;
  active--;
  finished++;
  if (ok) {
    durations[ok_count++] = s->ended - s->started;
  }
}

static void open_socket(struct session *s);
static void begin_transfer(struct session *s);

/* One transfer of a session ended well: the next step of a probe or a boot, or the session's end. */
static void transfer_done(struct session *s) {
  transfers_ok++;
  count_dups(s);
  if (s->probing) {
    s->probing = 0;
    probes_done++;
  } else if (sequence && s->step + 1 < nsteps) {
    s->step++;
    s->file = steps[s->step];
    s->probing = probe;
  } else {
    finish(s, 1);
    return;
  }
  /* A new port for the next request, as firmware does. */
  epoll_ctl(epfd, EPOLL_CTL_DEL, s->fd, NULL);
  close(s->fd);
  s->fd = -1;
  open_socket(s);
  begin_transfer(s);
}

static void open_socket(struct session *s) {
  s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (s->fd < 0) die("socket");
  int rb = 1 << 20;
  setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
  struct sockaddr_in me = {.sin_family = AF_INET};
  if (src_hosts > 0) {
    /* --source CIDR: session i binds to the i-th host address of the range (round robin). */
    me.sin_addr.s_addr = htonl(src_first + (uint32_t)((s - ss) % src_hosts));
  } else {
    inet_pton(AF_INET, host, &me.sin_addr);
  }
  if (bind(s->fd, (struct sockaddr *)&me, sizeof me) < 0) die("bind");
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0) die("epoll_ctl");
}

static double burst_first = 0, burst_last = 0;

/* Resets the per-transfer state and sends the request. */
static void begin_transfer(struct session *s) {
  s->st = WAIT_FIRST;
  s->tid = 0;
  s->got = 0;
  s->next = 1;
  s->blksize = 512;
  s->windowsize = 1;
  s->in_window = 0;
  s->gap_acked = 0;
  s->retries = 0;
  s->acked_any = 0;
  s->mismatch = 0;
  s->error_code = -1;
  s->provoked = 0;
  s->dups = 0;
  s->dup_lag = 0;
  s->dup_after = -1;
  s->data_at = 0;
  s->ack_at = 0;
  s->ack_pending = 0;
  s->deadline = now() + (burst ? answer_ms : rto_ms) / 1000.0;
  send_rrq(s);
}

static void start(struct session *s) {
  if (s->fd < 0) open_socket(s);
  s->answered = 0;
  s->step = 0;
  if (sequence) s->file = steps[0];
  s->probing = probe;
  s->started = now();
  active++;
  started_count++;
  begin_transfer(s);
  if (burst) {
    if (!burst_first) burst_first = s->started;
    burst_last = s->started;
  }
}

static void parse_oack(struct session *s, const uint8_t *p, size_t n) {
  size_t i = 2;
  int first = granted[0] == 0;
  while (i < n) {
    const char *k = (const char *)p + i;
    size_t kl = strnlen(k, n - i);
    if (i + kl >= n) break;
    i += kl + 1;
    const char *v = (const char *)p + i;
    size_t vl = strnlen(v, n - i);
    if (i + vl >= n) break;
    i += vl + 1;
    if (!strcasecmp(k, "blksize")) s->blksize = atoi(v);
    else if (!strcasecmp(k, "windowsize")) s->windowsize = atoi(v);
    if (first && strlen(granted) + kl + vl + 8 < sizeof granted) {
      char item[96];
      snprintf(item, sizeof item, "%s\"%.*s\":\"%.*s\"", granted[0] ? "," : "", (int)(kl > 32 ? 32 : kl), k, (int)(vl > 32 ? 32 : vl), v);
      strcat(granted, item);
    }
  }
}

static void on_data(struct session *s, uint16_t block, const uint8_t *d, size_t n) {
  const struct file *f = &files[s->file];
  TRACE(s, "DATA %u (%zu bytes) expecting %u", block, n, (uint16_t)s->next);
  if (drop > 0 && rnd() < drop) {
    TRACE(s, "  dropped");
    dropped++;
    s->provoked = 1;
    return; /* lost on the way: leaves no trace */
  }
  uint16_t ahead = (uint16_t)(block - (uint16_t)s->next);
  if (ahead == 0) {
    s->data_at = now();
    if (s->got + n > f->size || memcmp(f->data + s->got, d, n) != 0) s->mismatch = 1;
    s->got += n;
    bytes_total += (long long)n;
    s->next++;
    s->in_window++;
    s->gap_acked = 0;
    s->retries = 0;
    s->deadline = now() + rto_ms / 1000.0;
    if ((int)n < s->blksize) {
      send_ack(s, block);
      int good = !s->mismatch && s->got == f->size;
      if (!good) {
        mismatches++;
        finish(s, 0);
      } else {
        transfer_done(s);
      }
      return;
    }
    if (s->in_window >= s->windowsize) {
      if (ack_delay_us > 0) {
        s->ack_pending = 1;
        s->ack_block = block;
        s->ack_due = now() + ack_delay_us / 1e6;
        s->in_window = 0;
      } else {
        send_ack(s, block);
      }
    }
  } else if (ack_unexpected) {
    /* EDK2 (Mtftp4RrqHandleData): every block other than the expected one, a duplicate or one
       past a gap, is answered at once with the ACK of the last block in order, and the window
       count restarts there. */
    if (ahead >= 32768) s->dups++;
    else out_of_order++;
    s->ack_pending = 0;
    send_ack(s, (uint16_t)(s->next - 1));
  } else if (ahead >= 32768) {
    s->dups++;
    if (s->data_at > 0) {
      /* The last block in order: ACKed already (how long that took, and how long since), or
         not yet (the client is still on it: the lag so far). */
      double t = now();
      int acked = s->acked_any && s->last_ack == (uint16_t)(s->next - 1) && s->ack_at >= s->data_at;
      double lag = (acked ? s->ack_at : t) - s->data_at;
      if (lag > s->dup_lag) s->dup_lag = lag;
      if (acked && (s->dup_after < 0 || t - s->ack_at < s->dup_after)) s->dup_after = t - s->ack_at;
    }
    /* A block we already have, sent again: the server missed our ACK or timed out. Lock-step:
       ACK it again. Windows: say once where we are, so the next window starts there. */
    if (s->windowsize == 1) {
      if (block == (uint16_t)(s->next - 1)) send_ack(s, block);
    } else if (s->last_ack != (uint16_t)(s->next - 1)) {
      send_ack(s, (uint16_t)(s->next - 1));
    }
  } else {
    /* Ahead of what we expect: a block before it was lost. Say once where we are (RFC 7440). */
    out_of_order++;
    if (!s->gap_acked) {
      send_ack(s, (uint16_t)(s->next - 1));
      s->gap_acked = 1;
    }
  }
}

static void on_readable(struct session *s) {
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(s->fd, pkt, sizeof pkt, 0, (struct sockaddr *)&from, &fl);
    if (n < 0) return;
    if (s->st != WAIT_FIRST && s->st != RUNNING) return;
    if (n < 4) continue;
    uint16_t sport = ntohs(from.sin_port);
    if (from.sin_addr.s_addr != server.sin_addr.s_addr) continue;
    if (s->tid == 0) {
      s->tid = sport;
    } else if (sport != s->tid) {
      strangers++;
      send_error_to(s->fd, &from, 5, "Unknown transfer ID");
      continue;
    }
    uint16_t op = (uint16_t)(pkt[0] << 8 | pkt[1]);
    if (!s->answered && (op == 3 || op == 6)) {
      /* Answered = served (an OACK or DATA); an ERROR such as "busy" is counted apart. */
      s->answered = 1;
      answered_count++;
    }
    if (op != 3) TRACE(s, "op %u from %u", op, sport);
    if (op == 6 && drop > 0 && drop_oack && rnd() < drop) {
      TRACE(s, "  OACK dropped");
      oacks_dropped++;
      s->provoked = 1;
      if (s->tid == sport && s->st == WAIT_FIRST) s->tid = 0; /* never seen */
      continue;
    }
    if (op == 6 && s->st == WAIT_FIRST && s->probing) {
      /* EDK2's size probe: the OACK told the size; abort as EDK2 does and fetch from a new port. */
      send_error_to(s->fd, &from, 8, "User aborted the transfer");
      transfer_done(s);
      return;
    }
    if (op == 6 && s->st == RUNNING && s->next == 1) {
      /* The OACK again (our ACK 0 was lost): ACK it again. */
      s->dups++;
      send_ack(s, 0);
    } else if (op == 6 && s->st == WAIT_FIRST) {
      parse_oack(s, pkt, (size_t)n);
      s->st = RUNNING;
      s->deadline = now() + rto_ms / 1000.0;
      s->retries = 0;
      send_ack(s, 0);
    } else if (op == 3) {
      if (s->st == WAIT_FIRST) {
        s->st = RUNNING; /* no OACK: defaults (the server ignored our options) */
        if (granted[0] == 0) strcpy(granted, "\"none\":\"no OACK\"");
      }
      on_data(s, (uint16_t)(pkt[2] << 8 | pkt[3]), pkt + 4, (size_t)n - 4);
      if (s->st != RUNNING) return;
    } else if (op == 5) {
      int code = pkt[2] << 8 | pkt[3];
      s->error_code = code;
      if (code >= 0 && code <= 8) errors_by_code[code]++;
      else errors_other++;
      finish(s, 0);
      return;
    }
  }
}

static void on_timer(struct session *s, double t) {
  if (t < s->deadline) return;
  if (burst && s->st == WAIT_FIRST) {
    /* Burst: a request is sent once; unanswered by the deadline, it counts as not answered. */
    timeouts++;
    finish(s, 0);
    return;
  }
  if (++s->retries > max_retries) {
    timeouts++;
    finish(s, 0);
    return;
  }
  if (s->st == WAIT_FIRST) {
    rrq_resent++;
    send_rrq(s);
  } else if (no_ack_retransmit) {
    /* GRUB: no ACK of our own accord; wait for the server's retransmission. */
    s->deadline = t + rto_ms / 1000.0;
    return;
  } else {
    /* The last block we have in order (not the last ACK sent: a window may be part-received). */
    acks_resent++;
    s->provoked = 1;
    send_ack(s, (uint16_t)(s->next - 1));
  }
  /* Exponential backoff: 1, 2, 4, 8, 8, ... s (a client that re-sent at a fixed pace could keep resetting a server's own timer). */
  double wait = (double)rto_ms * (1 << (s->retries < 10 ? s->retries : 10));
  s->deadline = t + (wait < rto_max_ms ? wait : rto_max_ms) / 1000.0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: tftpbench --port P --root DIR --file NAME[:COUNT] [--file ...] [--host A] [--source CIDR] [--concurrency C]\n"
          "       [--blksize N] [--windowsize N] [--tsize] [--timeout-option S] [--drop P] [--seed S]\n"
          "       [--rto-ms MS] [--rto-max-ms MS] [--retries N] [--time-limit S] [--burst K --burst-ms MS --answer-ms MS]\n"
          "       [--drop-ack P] [--drop-oack] [--no-ack-retransmit] [--probe] [--sequence --boots N] [--ack-delay-us N] [--ack-unexpected]\n");
  exit(2);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double p) {
  if (ok_count == 0) return -1;
  int i = (int)(p * (ok_count - 1) + 0.5);
  return durations[i] * 1000;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
    if (ARG("--host")) host = v;
    else if (ARG("--source")) {
      if (parse_cidr(v) < 0) usage();
    }
    else if (ARG("--port")) port = atoi(v);
    else if (ARG("--root")) root = v;
    else if (ARG("--file")) {
      if (nfiles == MAX_FILES) usage();
      char *dup = strdup(v), *colon = strrchr(dup, ':');
      files[nfiles].count = 1;
      if (colon) {
        *colon = 0;
        files[nfiles].count = atoi(colon + 1);
      }
      files[nfiles++].name = dup;
    } else if (ARG("--concurrency")) concurrency = atoi(v);
    else if (ARG("--blksize")) blksize = atoi(v);
    else if (ARG("--windowsize")) windowsize = atoi(v);
    else if (!strcmp(a, "--tsize")) want_tsize = 1;
    else if (ARG("--timeout-option")) timeout_option = atoi(v);
    else if (ARG("--drop")) drop = atof(v);
    else if (ARG("--seed")) seed = strtoull(v, NULL, 10);
    else if (ARG("--rto-ms")) rto_ms = atoi(v);
    else if (ARG("--rto-max-ms")) rto_max_ms = atoi(v);
    else if (ARG("--retries")) max_retries = atoi(v);
    else if (ARG("--time-limit")) time_limit = atof(v);
    else if (ARG("--grace")) grace = atof(v);
    else if (ARG("--burst")) burst = atoi(v);
    else if (ARG("--burst-ms")) burst_ms = atoi(v);
    else if (ARG("--answer-ms")) answer_ms = atoi(v);
    else if (ARG("--drop-ack")) drop_ack = atof(v);
    else if (!strcmp(a, "--drop-oack")) drop_oack = 1;
    else if (ARG("--ack-delay-us")) ack_delay_us = atoi(v);
    else if (!strcmp(a, "--no-ack-retransmit")) no_ack_retransmit = 1;
    else if (!strcmp(a, "--ack-unexpected")) ack_unexpected = 1;
    else if (!strcmp(a, "--probe")) probe = 1;
    else if (!strcmp(a, "--sequence")) sequence = 1;
    else if (ARG("--boots")) sequence_boots = atoi(v);
    else usage();
#undef ARG
  }
  if (nfiles == 0 || port <= 0 || concurrency < 1) usage();
  rng = seed * 0x9E3779B97F4A7C15ULL + 1;
  trace = getenv("TFTPBENCH_TRACE") != NULL;
  memset(&server, 0, sizeof server);
  server.sin_family = AF_INET;
  server.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &server.sin_addr) != 1) die("bad --host (IPv4 only)");

  nsessions = 0;
  for (int f = 0; f < nfiles; f++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, files[f].name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) die(path);
    struct stat st;
    fstat(fd, &st);
    files[f].size = (size_t)st.st_size;
    files[f].data = st.st_size ? mmap(NULL, files[f].size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : (const uint8_t *)"";
    if (files[f].data == MAP_FAILED) die("mmap");
    close(fd);
    nsessions += files[f].count;
  }
  if (sequence) {
    /* --sequence: each session is a boot fetching every file in order, COUNT times each. */
    steps = calloc((size_t)nsessions, sizeof *steps);
    nsteps = 0;
    for (int f = 0; f < nfiles; f++)
      for (int c = 0; c < files[f].count; c++) steps[nsteps++] = f;
    nsessions = sequence_boots > 0 ? sequence_boots : 1;
  }
  if (burst) {
    /* Burst: K requests of the first file, all at once (no concurrency cap). */
    nsessions = burst;
    concurrency = burst;
    struct rlimit rl = {(rlim_t)burst + 256, (rlim_t)burst + 256};
    struct rlimit cur;
    getrlimit(RLIMIT_NOFILE, &cur);
    if (cur.rlim_cur < rl.rlim_cur) {
      if (cur.rlim_max > rl.rlim_max) rl.rlim_max = cur.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit(NOFILE) for the burst");
    }
  }
  ss = calloc((size_t)nsessions, sizeof *ss);
  durations = calloc((size_t)nsessions, sizeof *durations);
  /* Interleave the files: a b a b ... so a storm mixes big and small. */
  {
    int left[MAX_FILES], k = 0;
    for (int f = 0; f < nfiles; f++) left[f] = burst || sequence ? 0 : files[f].count;
    if (sequence) left[0] = nsessions;
    if (burst) left[0] = burst;
    while (k < nsessions)
      for (int f = 0; f < nfiles && k < nsessions; f++)
        if (left[f] > 0) {
          left[f]--;
          ss[k].file = f;
          ss[k].fd = -1;
          k++;
        }
  }
  epfd = epoll_create1(0);
  if (epfd < 0) die("epoll_create1");

  /* Burst: every socket is opened before the first request, so the burst is only sendto()s. */
  if (burst)
    for (int i = 0; i < nsessions; i++) open_socket(&ss[i]);
  double t0 = now(), hard_end = t0 + time_limit;
  int next = 0;
  struct epoll_event evs[256];
  double last_scan = t0;
  for (;;) {
    double t = now();
    int may_start = next < nsessions && t < hard_end;
    if (!may_start && active == 0) break;
    if (burst) {
      /* Pace the K requests evenly over burst_ms. */
      int due = (int)((t - t0) * 1000.0 / (burst_ms > 0 ? burst_ms : 1) * burst) + 1;
      if (due > nsessions) due = nsessions;
      while (next < due) start(&ss[next++]);
    } else {
      while (active < concurrency && next < nsessions && t < hard_end) start(&ss[next++]);
    }
    double wait_s = burst && next < nsessions ? 0 : 0.005;
    if (ack_delay_us > 0)
      for (int i = 0; i < next; i++)
        if (ss[i].ack_pending && ss[i].st == RUNNING && ss[i].ack_due - t < wait_s) wait_s = ss[i].ack_due - t > 0 ? ss[i].ack_due - t : 0;
    struct timespec ts = {(time_t)wait_s, (long)((wait_s - (time_t)wait_s) * 1e9)};
    int n = epoll_pwait2(epfd, evs, 256, &ts, NULL);
    if (n < 0 && errno == ENOSYS) n = epoll_wait(epfd, evs, 256, (int)(wait_s * 1000 + 0.999));
    for (int i = 0; i < n; i++) on_readable(evs[i].data.ptr);
    t = now();
    if (ack_delay_us > 0)
      for (int i = 0; i < next; i++)
        if (ss[i].ack_pending && ss[i].st == RUNNING && t >= ss[i].ack_due) {
          ss[i].ack_pending = 0;
          send_ack(&ss[i], ss[i].ack_block);
        }
    if (t - last_scan >= 0.005 && !(burst && next < nsessions)) {
      last_scan = t;
      for (int i = 0; i < next; i++)
        if (ss[i].st == WAIT_FIRST || ss[i].st == RUNNING) {
          if (t > hard_end + grace) {
            time_capped = 1;
            timeouts++;
            finish(&ss[i], 0);
          } else on_timer(&ss[i], t);
        }
    }
  }
  double t1 = now();
  double first = 1e300, last = 0;
  for (int i = 0; i < next; i++) {
    if (ss[i].started < first) first = ss[i].started;
    if (ss[i].ended > last) last = ss[i].ended;
  }
  double elapsed = next ? last - first : t1 - t0;
  qsort(durations, (size_t)ok_count, sizeof *durations, cmp_double);
  printf("{\"tool\":\"tftpbench\",\"sessions\":%d,\"started\":%d,\"ok\":%d,\"failed\":%d,\"answered\":%d,"
         "\"bytes\":%lld,\"elapsed_s\":%.6f,\"mbps\":%.3f,\"sessions_per_s\":%.3f,"
         "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
         "\"burst_span_ms\":%.3f,\"timeouts\":%d,\"mismatches\":%d,\"errors\":{",
         nsessions, started_count, ok_count, started_count - ok_count, answered_count, bytes_total, elapsed,
         elapsed > 0 ? bytes_total / 1e6 / elapsed : 0, elapsed > 0 ? ok_count / elapsed : 0, pct(0.5), pct(0.99),
         ok_count ? durations[ok_count - 1] * 1000 : -1, (burst_last - burst_first) * 1000, timeouts, mismatches);
  int comma = 0;
  for (int c = 0; c <= 8; c++)
    if (errors_by_code[c]) {
      printf("%s\"%d\":%d", comma ? "," : "", c, errors_by_code[c]);
      comma = 1;
    }
  if (errors_other) printf("%s\"other\":%d", comma ? "," : "", errors_other);
  printf("},\"dropped\":%lld,\"out_of_order\":%lld,\"acks_resent\":%lld,\"rrq_resent\":%lld,\"strangers\":%lld,"
         "\"dup_data\":%lld,\"dup_data_unprovoked\":%lld,\"dup_ack_lag_max_ms\":%.3f,\"dup_after_ack_min_ms\":%.3f,\"acks_dropped\":%lld,\"oacks_dropped\":%lld,\"probes\":%lld,\"transfers\":%lld,"
         "\"steps\":%d,\"time_capped\":%s,\"granted\":{%s}}\n",
         dropped, out_of_order, acks_resent, rrq_resent, strangers, dup_data, dup_data_unprovoked, dup_ack_lag_max, dup_after_ack_min, acks_dropped, oacks_dropped, probes_done,
         transfers_ok, sequence ? nsteps : 1, time_capped ? "true" : "false", granted);
  return 0;
}

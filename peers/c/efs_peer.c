/*
 * efs_peer: a non-JVM participant of an eventfd-sync named semaphore on the shared-memory store.
 *
 *   efs_peer <socket-dir> <name>          reads commands on stdin, one per line:
 *       acquire N | try N | release N | available | exit
 *     and answers each with "OK <command> [result]" (or "ERR <command> <why>").
 *   efs_peer <socket-dir> <name> chaos    loops acquire(n)/release(n), n = 1..3, until a "stop"
 *     line arrives; prints READY first and "DONE grants=<n>" last (the kill-chaos test's child).
 *
 * It joins through a participant's socket (request: magic 'EFDS', version 1, kind 3, type 0), gets
 * the sealed memfd and one doorbell eventfd per slot, opens the memfd again for an open file
 * description of its own (its OFD lock on byte <slot> is its liveness lock) and claims a slot. The
 * layout (version 4) and every step are those of SlotPermits (see its implementation overview):
 * each change of shared memory is one sequentially consistent atomic operation. It serves no
 * socket, so the others notice its death by their periodic recovery, not by a pidfd. Build:
 * cc -O2 -o efs_peer efs_peer.c (or, as a library for other languages, with -shared -fPIC
 * -DEFS_LIBRARY: see efs_join below).
 *
 * A slot's word is LIVE (bit 63) | WAITING (62) | HINT (61) | generation (45..60) | CACHED (34..44)
 * | KEPT (0..33), and the next word of its line is INFLIGHT. KEPT is what the owner's threads hold;
 * CACHED, permits a Java process keeps for its next acquires, which anyone may return to the pool
 * (a CAS of that word to CACHED = 0); INFLIGHT, what takes in progress have added. A LIVE slot holds
 * KEPT + CACHED + INFLIGHT, and the pool is BASE minus every LIVE slot's holding. This peer never
 * caches: it takes from the pool only (INFLIGHT += n, sum, then KEPT += n and INFLIGHT -= n), taking
 * the others' caches back to the pool when the pool alone is short, and gives to the pool. A waiter
 * sets its WAITING bit and then HINT in every other live slot, so that their owners stop caching
 * and release to the pool, with a ring; it leaves its own HINT as it finds it (it caches nothing).
 * Beside the permit words it keeps the words that say who holds what: SINCE, WAITERS, PID and
 * PID_NS of its own slot, and DIED (the generation and KEPT of a dead owner that held permits)
 * when it recovers such a slot, or leaves holding permits itself. It publishes no TURN (it is not
 * fair: it takes its chance), and zeroes the one a dead owner left when it claims that owner's
 * slot, so that fair processes do not wait for a turn nobody has.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x45464453u
#define KIND_SLOTS 3
#define SLOTS_SENT 128

static const uint64_t MAGIC_VERSION = 0x454644534c4f5404ull;   /* "EFDSLOT", layout version 4 */
static const uint64_t LIVE = 1ull << 63, WAITING = 1ull << 62, HINT = 1ull << 61;
static const int GEN_SHIFT = 45, CACHED_SHIFT = 34;
static const uint64_t GEN_MASK = ((1ull << 16) - 1) << 45, CACHED_MASK = ((1ull << 11) - 1) << 34;
static const uint64_t KEPT_MASK = (1ull << 34) - 1;            /* also the most a slot's threads may hold */
static const int64_t MAX_PERMITS = 2147483647;
#define TOO_MANY "a process holds at most 17179869183 permits"   /* KEPT_MASK */
enum { SLOT_COUNT = 8, HIGH_WATER = 16, BASE = 64, SLOTS = 128, LINE = 64 };
/* the words of a slot's line after its slot word */
enum { INFLIGHT = 8, SINCE = 16, WAITERS = 24, PID = 32, PID_NS = 40, DIED = 48, TURN = 56 };

static unsigned char *mem;
static uint64_t slot_count;
static int bells[SLOTS_SENT];
static int memfd = -1;
static int own = -1;

static volatile uint64_t *word_at(uint64_t off) { return (volatile uint64_t *) (mem + off); }
static volatile uint64_t *slot_word(int j) { return word_at(SLOTS + (uint64_t) j * LINE); }
static volatile uint64_t *line_word(int j, int off) { return word_at(SLOTS + (uint64_t) j * LINE + (uint64_t) off); }
static uint64_t load(volatile uint64_t *w) { return __atomic_load_n(w, __ATOMIC_SEQ_CST); }
static void store(volatile uint64_t *w, uint64_t value) { __atomic_store_n(w, value, __ATOMIC_SEQ_CST); }
static uint64_t add(volatile uint64_t *w, int64_t delta) { return __atomic_fetch_add(w, (uint64_t) delta, __ATOMIC_SEQ_CST); }
static int cas(volatile uint64_t *w, uint64_t expect, uint64_t value) {
    return __atomic_compare_exchange_n(w, &expect, value, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
static int64_t kept(uint64_t w) { return (int64_t) (w & KEPT_MASK); }
static int64_t cached(uint64_t w) { return (int64_t) ((w & CACHED_MASK) >> CACHED_SHIFT); }
static int high_water(void) {
    uint64_t h = load(word_at(HIGH_WATER));
    return (int) (h < slot_count ? h : slot_count);
}

static int ofd(int cmd, short type, int j) {
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = j, .l_len = 1, .l_pid = 0 };
    if (fcntl(memfd, cmd, &fl) < 0) return -1;
    return cmd == F_OFD_GETLK ? fl.l_type != F_UNLCK : 0;
}

static void ring_waiters(void) {
    int high = high_water();
    for (int j = 0; j < high; j++) {
        if (j == own) continue;
        uint64_t w = load(slot_word(j));
        if ((w & (LIVE | WAITING)) == (LIVE | WAITING)) {
            uint64_t one = 1;
            if (write(bells[j], &one, 8) < 0 && errno != EAGAIN) perror("ring");
        }
    }
}

/*
 * What the LIVE slots below HIGH_WATER hold: KEPT + INFLIGHT, and CACHED too if with_caches. Each
 * slot's INFLIGHT is read before its word (a take moves its n to KEPT before it takes them off
 * INFLIGHT, so the sum may count a take twice, never zero times).
 */
static int64_t held_by_all(int with_caches) {
    int64_t sum = 0;
    int high = high_water();
    for (int j = 0; j < high; j++) {
        int64_t inflight = (int64_t) load(line_word(j, INFLIGHT));
        uint64_t w = load(slot_word(j));
        if (w & LIVE) sum += kept(w) + inflight + (with_caches ? cached(w) : 0);
    }
    return sum;
}

/* The pool: BASE - every holding (the slots, then BASE, which only grows). */
static int64_t pool(void) {
    int64_t held = held_by_all(1);
    return (int64_t) load(word_at(BASE)) - held;
}

/* The permits free: the pool and every cache. */
static int64_t available(void) {
    int64_t held = held_by_all(0);
    return (int64_t) load(word_at(BASE)) - held;
}

/* Marks the death of slot j's owner of word w if it held permits; before the CAS that frees w. */
static void mark_death(int j, uint64_t w) {
    if (kept(w) == 0) return;
    uint64_t gen = w & GEN_MASK, mark = gen | (uint64_t) kept(w);
    for (;;) {
        uint64_t d = load(line_word(j, DIED));
        uint64_t age = ((gen - (d & GEN_MASK)) & GEN_MASK) >> GEN_SHIFT;
        if (d != 0 && (age == 0 || age > (GEN_MASK >> GEN_SHIFT) / 2)) return;   /* marked, or a newer death is */
        if (cas(line_word(j, DIED), d, mark)) return;
    }
}

/* Sets HINT in slot j's word if it is LIVE and has none yet. */
static void set_hint(int j) {
    volatile uint64_t *sw = slot_word(j);
    for (uint64_t w; ((w = load(sw)) & (LIVE | HINT)) == LIVE; ) {
        if (cas(sw, w, w | HINT)) return;
    }
}

/* Whether a LIVE slot other than the own one below HIGH_WATER has its WAITING bit set. */
static int another_waits(void) {
    int high = high_water();
    for (int j = 0; j < high; j++) {
        if (j != own && (load(slot_word(j)) & (LIVE | WAITING)) == (LIVE | WAITING)) return 1;
    }
    return 0;
}

static uint64_t pid_namespace(void) {
    char link[64];
    ssize_t n = readlink("/proc/self/ns/pid", link, sizeof link - 1);
    if (n < 0) return 0;
    link[n] = 0;
    char *open_bracket = strchr(link, '[');
    return open_bracket ? strtoull(open_bracket + 1, NULL, 10) : 0;
}

static uint64_t now_millis(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t) t.tv_sec * 1000 + (uint64_t) t.tv_nsec / 1000000;
}

static void recover_all(void) {
    int high = high_water();
    for (int j = 0; j < high; j++) {
        if (j == own) continue;
        uint64_t w = load(slot_word(j));
        if (!(w & LIVE) || ofd(F_OFD_GETLK, F_WRLCK, j) != 0) continue;   /* free, or its owner lives */
        mark_death(j, w);
        if (cas(slot_word(j), w, w & GEN_MASK)) ring_waiters();   /* KEPT, CACHED and INFLIGHT come back */
    }
}

static void claim(void) {
    for (int j = 0; j < (int) slot_count; j++) {
        if (ofd(F_OFD_SETLK, F_WRLCK, j) < 0) continue;     /* another process owns or claims it */
        for (uint64_t h; (h = load(word_at(HIGH_WATER))) < (uint64_t) j + 1; ) {
            if (cas(word_at(HIGH_WATER), h, (uint64_t) j + 1)) break;
        }
        for (;;) {
            uint64_t w = load(slot_word(j));
            if (w & LIVE) mark_death(j, w);                 /* of the word the CAS below takes over */
            uint64_t stale = __atomic_exchange_n(line_word(j, INFLIGHT), 0, __ATOMIC_SEQ_CST);
            store(line_word(j, WAITERS), 0);
            store(line_word(j, PID), (uint64_t) getpid());
            store(line_word(j, PID_NS), pid_namespace());
            store(line_word(j, TURN), 0);                   /* a dead owner's turn is not ours */
            uint64_t gen = ((w & GEN_MASK) + (1ull << GEN_SHIFT)) & GEN_MASK;
            if (cas(slot_word(j), w, LIVE | gen)) {
                own = j;
                if (another_waits()) set_hint(j);           /* pair "joiner": LIVE, then the WAITING bits */
                /* recovered a dead owner's slot; or reset a dead owner's INFLIGHT, which a sum that read it
                   before the reset and this LIVE word after counted once more (its back-off rang nobody) */
                if ((w & LIVE) || stale != 0) ring_waiters();
                return;
            }
        }
    }
    fprintf(stderr, "every slot is in use\n");
    exit(1);
}

/* Returns every other LIVE slot's cache to the pool. @return whether it returned any */
static int return_caches(void) {
    int returned = 0, high = high_water();
    for (int j = 0; j < high; j++) {
        if (j == own) continue;
        volatile uint64_t *sw = slot_word(j);
        uint64_t w = load(sw), gen = w & GEN_MASK;
        while ((w & LIVE) && (w & GEN_MASK) == gen && cached(w) > 0) {
            if (cas(sw, w, w & ~CACHED_MASK)) { returned = 1; break; }
            w = load(sw);
        }
    }
    return returned;
}

/*
 * Takes n from the pool (the peer's only take: it never caches, and makes no barging take).
 * @return 1 if it took them, 0 if not, -1 if its threads would hold more than a slot can keep
 */
static int try_take(int64_t n) {
    volatile uint64_t *mine = slot_word(own);
    for (uint64_t w; cached(w = load(mine)) > 0; ) {       /* the own cache to the pool (the peer keeps none) */
        if (cas(mine, w, w & ~CACHED_MASK)) break;
    }
    add(line_word(own, INFLIGHT), n);                       /* pair "sum": the own add, then every other slot */
    int result = 0;
    for (int round = 0; ; round++) {
        if (pool() >= 0) {                                  /* the pool is not overdrawn: keep them */
            for (;;) {
                uint64_t w = load(mine);
                if (kept(w) + n > (int64_t) KEPT_MASK) break;
                if (cas(mine, w, w + (uint64_t) n)) {
                    if (kept(w) == 0) store(line_word(own, SINCE), now_millis());
                    add(line_word(own, INFLIGHT), -n);      /* after the move to KEPT: counted twice, never zero times */
                    if (available() > 0) ring_waiters();    /* a contender that backed off meanwhile rang nobody */
                    return 1;
                }
            }
            result = -1;                                    /* more than a slot keeps: back off */
            break;
        }
        if (round == 2 || !return_caches()) break;          /* read again after each return of caches, twice at most */
    }
    add(line_word(own, INFLIGHT), -n);                      /* the back-off: a release, if a permit is free */
    if (available() > 0) ring_waiters();
    return result;
}

static void set_waiting(int on) {
    volatile uint64_t *mine = slot_word(own);
    for (uint64_t w; (((w = load(mine)) & WAITING) != 0) != on; ) {
        if (cas(mine, w, w ^ WAITING)) return;
    }
}

/*
 * Waits on the own doorbell: drain, set the bit, then HINT in every other live slot, try again,
 * sleep; recovers dead slots on each wake. @return 0, or -1 as try_take
 */
static int acquire(int64_t n) {
    int got = try_take(n);
    if (got != 0) return got < 0 ? -1 : 0;
    add(line_word(own, WAITERS), 1);                        /* shown by holders() */
    while ((got = try_take(n)) == 0) {
        uint64_t drained;
        if (read(bells[own], &drained, 8) < 0 && errno != EAGAIN) perror("doorbell");
        set_waiting(1);
        int high = high_water();
        for (int j = 0; j < high; j++) if (j != own) set_hint(j);   /* pair "hint": the bits, then the look */
        recover_all();
        got = try_take(n);
        if (got == 0) {
            struct pollfd p = { .fd = bells[own], .events = POLLIN };
            poll(&p, 1, 100);                               /* 100 ms: a dead holder is found by recovery */
        }
        set_waiting(0);
        if (got != 0) break;
    }
    add(line_word(own, WAITERS), -1);
    return got < 0 ? -1 : 0;
}

static int release(int64_t n) {
    volatile uint64_t *mine = slot_word(own);
    int64_t k;
    for (;;) {                                              /* what this process holds: off KEPT */
        uint64_t w = load(mine);
        k = n < kept(w) ? n : kept(w);
        uint64_t v = w - (uint64_t) k;
        if (w & (WAITING | HINT)) v &= ~CACHED_MASK;        /* a cache goes to the pool while anyone waits */
        if (v == w || cas(mine, w, v)) break;
    }
    int64_t gift = n - k;
    while (gift > 0) {
        uint64_t b = load(word_at(BASE));
        if ((int64_t) b + gift > MAX_PERMITS + held_by_all(0)) {   /* the caches count as free */
            ring_waiters();
            return -1;
        }
        if (cas(word_at(BASE), b, b + (uint64_t) gift)) break;
    }
    ring_waiters();
    return 0;
}

static void leave(void) {
    for (;;) {
        uint64_t w = load(slot_word(own));
        mark_death(own, w);                                 /* leaving holding permits is as dying holding them */
        if (cas(slot_word(own), w, w & GEN_MASK)) break;    /* others may set HINT or take CACHED meanwhile */
    }
    store(line_word(own, INFLIGHT), 0);
    ring_waiters();
    ofd(F_OFD_SETLK, F_UNLCK, own);
    own = -1;
}

/*
 * Maps the sealed permit memfd (an open file description of our own, for the liveness lock), checks
 * the layout, takes the doorbells (one per slot) and claims a slot. Closes memfd_sent.
 */
static void attach(int memfd_sent, const int *doorbells) {
    int seals = fcntl(memfd_sent, F_GET_SEALS);
    struct stat st;
    if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW) || fstat(memfd_sent, &st) < 0
            || st.st_size < SLOTS + (off_t) LINE * SLOTS_SENT) {
        fprintf(stderr, "the first descriptor is not a sealed permit memfd\n");
        exit(1);
    }
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", memfd_sent);
    memfd = open(self, O_RDWR | O_CLOEXEC);                 /* an open file description of our own */
    if (memfd < 0) { perror(self); exit(1); }
    close(memfd_sent);
    mem = mmap(NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (mem == MAP_FAILED) { perror("mmap"); exit(1); }
    uint64_t magic = load(word_at(0));
    if (magic != MAGIC_VERSION) {
        if ((magic >> 8) == (MAGIC_VERSION >> 8)) {
            fprintf(stderr, "permit segment of layout version %u; this peer speaks version 4 only\n", (unsigned) (magic & 0xff));
        } else {
            fprintf(stderr, "not a permit segment (magic 0x%016llx)\n", (unsigned long long) magic);
        }
        exit(1);
    }
    slot_count = load(word_at(SLOT_COUNT));
    if (slot_count != SLOTS_SENT) { fprintf(stderr, "%llu slots, expected %d\n", (unsigned long long) slot_count, SLOTS_SENT); exit(1); }
    for (int i = 0; i < SLOTS_SENT; i++) bells[i] = doorbells[i];
    claim();
}

/* Joins through the first participant socket of the name that answers. */
static void join(const char *dir, const char *name) {
    char prefix[256];
    snprintf(prefix, sizeof prefix, "semaphore.%s.", name);
    DIR *d = opendir(dir);
    if (!d) { perror(dir); exit(1); }
    for (struct dirent *e; (e = readdir(d)); ) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || len < 5 || strcmp(e->d_name + len - 5, ".sock") != 0) continue;
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        if ((size_t) snprintf(a.sun_path, sizeof a.sun_path, "%s/%s", dir, e->d_name) >= sizeof a.sun_path) continue;
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(s, (struct sockaddr *) &a, sizeof a) < 0) { close(s); continue; }
        unsigned char req[8];
        uint32_t magic = MAGIC; uint16_t version = 1;
        memcpy(req, &magic, 4); memcpy(req + 4, &version, 2); req[6] = KIND_SLOTS; req[7] = 0;
        if (write(s, req, 8) != 8) { close(s); continue; }
        unsigned char resp[16];
        char control[CMSG_SPACE(sizeof(int) * (SLOTS_SENT + 2))];
        struct iovec iov = { resp, sizeof resp };
        struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
        ssize_t got = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
        close(s);
        int fds[SLOTS_SENT + 2], nfds = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                nfds = (int) ((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                memcpy(fds, CMSG_DATA(c), sizeof(int) * nfds);
            }
        }
        if (got != 16 || resp[6] != 0 || resp[7] != KIND_SLOTS || nfds != SLOTS_SENT + 1) {
            fprintf(stderr, "%s: unexpected answer (%zd bytes, status %d, kind %d, %d descriptors)\n",
                    e->d_name, got, got >= 8 ? resp[6] : -1, got >= 8 ? resp[7] : -1, nfds);
            for (int i = 0; i < nfds; i++) close(fds[i]);
            continue;
        }
        closedir(d);
        attach(fds[0], fds + 1);
        return;
    }
    closedir(d);
    fprintf(stderr, "no participant of %s answered in %s\n", name, dir);
    exit(1);
}

/*
 * The library interface, for peers in other languages (cc -shared -fPIC -DEFS_LIBRARY -o libefs.so
 * efs_peer.c; peers/python/efs_peer.py calls it through ctypes). One semaphore per process.
 */
int efs_join(const char *dir, const char *name) { join(dir, name); return own; }
int efs_acquire(int64_t n) { return acquire(n); }          /* 0, or -1: more than a slot keeps */
int efs_try(int64_t n) { return try_take(n); }             /* 1, 0, or -1: more than a slot keeps */
int efs_release(int64_t n) { return release(n); }
int64_t efs_available(void) { recover_all(); return available(); }
void efs_leave(void) { leave(); }

#ifndef EFS_LIBRARY
static void chaos(void) {
    unsigned seed = (unsigned) getpid() ^ (unsigned) time(NULL);
    long grants = 0;
    printf("READY\n");
    fflush(stdout);
    for (;;) {
        struct pollfd in = { .fd = 0, .events = POLLIN };
        if (poll(&in, 1, 0) > 0) break;                     /* "stop" (or EOF) */
        int64_t n = 1 + rand_r(&seed) % 3;
        if (acquire(n) < 0) break;
        grants++;
        for (volatile int spin = rand_r(&seed) % 2000; spin > 0; spin--) {}
        release(n);
    }
    printf("DONE grants=%ld\n", grants);
    fflush(stdout);
    leave();
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: efs_peer <socket-dir> <name> [chaos]\n"); return 2; }
    join(argv[1], argv[2]);
    if (argc > 3 && strcmp(argv[3], "chaos") == 0) { chaos(); return 0; }
    printf("READY slot=%d\n", own);
    fflush(stdout);
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        long long n = 0;
        char cmd[32];
        if (sscanf(line, "%31s %lld", cmd, &n) < 1) continue;
        if (strcmp(cmd, "available") != 0 && strcmp(cmd, "exit") != 0 && (n < 1 || n > MAX_PERMITS)) {
            printf("ERR %s permits %lld not in [1, %lld]\n", cmd, n, (long long) MAX_PERMITS);
            fflush(stdout);
            continue;
        }
        if (strcmp(cmd, "acquire") == 0) printf(acquire(n) == 0 ? "OK acquire\n" : "ERR acquire " TOO_MANY "\n");
        else if (strcmp(cmd, "try") == 0) {
            int took = try_take(n);
            if (took < 0) printf("ERR try " TOO_MANY "\n");
            else printf("OK try %s\n", took ? "true" : "false");
        }
        else if (strcmp(cmd, "release") == 0) {
            printf(release(n) == 0 ? "OK release\n" : "ERR release Maximum permit count exceeded\n");
        }
        else if (strcmp(cmd, "available") == 0) { recover_all(); printf("OK available %lld\n", (long long) available()); }
        else if (strcmp(cmd, "exit") == 0) { leave(); printf("OK exit\n"); fflush(stdout); return 0; }
        else printf("ERR %s unknown command\n", cmd);
        fflush(stdout);
    }
    leave();
    return 0;
}
#endif

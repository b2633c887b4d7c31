/*
 * tether-launch: starts one target process for the tether exec server and makes
 * sure nothing it started outlives it. Node cannot set PR_SET_PDEATHSIG, be a
 * subreaper or read a child's rusage, so every child goes Node -> tether-launch -> target.
 *
 * Usage: tether-launch [--no-pdeathsig] [--pty ROWS COLS | --pty-slave PATH] [--cgroup DIR] [--] FILE ARGV0 [ARGV...]
 *   --pty-slave  the exec server holds the pty master itself (no relay here, one hop less
 *             per keystroke): the target opens PATH (/dev/pts/N) as its controlling
 *             terminal and fd 0/1/2; this process then behaves as in pipe mode
 *   --no-pdeathsig  do not die with the parent (set by tether-zygote, whose children
 *             must outlive it): EOF on fd 3 is then what says the exec server is gone
 *   --cgroup  join the cgroup DIR (writes to DIR/cgroup.procs) before forking the
 *             target, so the target and everything it forks count against DIR's
 *             limits (pids.max) from their first instruction
 *   fd 0/1/2  pipes from Node (pipe mode: handed to the target as they are;
 *             PTY mode: relayed to/from the pty master by this process)
 *   fd 3      control, Node -> launcher, lines: "resize R C", "kill SIGNO"; EOF = Node is gone
 *   fd 4      status, launcher -> Node, lines: "pid N", "error STAGE ERRNO TEXT",
 *             "exit code|signal N UTIME_US STIME_US MAXRSS_KB" (always the last line)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#define CGROUP2_MAGIC 0x63677270 /* linux/magic.h CGROUP2_SUPER_MAGIC */

/* clone3's argument (linux/sched.h struct clone_args, v2 size: up to .cgroup). */
struct clone3_args {
    unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

#define CTL_FD 3
#define STATUS_FD 4
#define RELAY_BUF 65536

static pid_t target = -1; /* pid == pgid == sid of the target */
static int target_reaped;
static int target_status;
static struct rusage target_ru;

static void usage(const char *msg) {
    fprintf(stderr,
            "tether-launch: %s\n"
            "usage: tether-launch [--no-pdeathsig] [--pty ROWS COLS | --pty-slave PATH] [--cgroup DIR] [--] FILE ARGV0 [ARGV...] "
            "(with fd 3 = control pipe, fd 4 = status pipe)\n",
            msg);
    exit(2);
}

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

__attribute__((format(printf, 1, 2))) static void status_line(const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
    /* A failed write means Node is gone; there is nobody left to tell. */
    (void)write_all(STATUS_FD, line, (size_t)n);
}

static void fail(const char *stage, int err) {
    status_line("error %s %d %s\n", stage, err, strerror(err));
    exit(1);
}

/* ---- descendants ---------------------------------------------------------- */

struct proc_ent {
    pid_t pid, ppid, pgrp;
    int mark;
};

static int cmp_pid(const void *a, const void *b) {
    pid_t x = ((const struct proc_ent *)a)->pid, y = ((const struct proc_ent *)b)->pid;
    return (x > y) - (x < y);
}

static int read_stat(const char *name, pid_t *ppid, pid_t *pgrp) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    /* comm may contain ')' and spaces; the fields after it never contain ')'. */
    char *rp = strrchr(buf, ')');
    char state;
    int pp, pg;
    if (!rp || sscanf(rp + 1, " %c %d %d", &state, &pp, &pg) != 3) return -1;
    *ppid = pp;
    *pgrp = pg;
    return 0;
}

/*
 * Sends sig to every descendant of this process (any depth, any session), found by
 * scanning /proc, except members of skip_pgrp (already signalled as a group: a handled
 * signal must arrive once). A descendant that is not our direct child can be reaped by
 * its own parent between scan and kill; the pid reuse window that opens is accepted.
 */
static void signal_descendants(int sig, pid_t skip_pgrp) {
    DIR *d = opendir("/proc");
    if (!d) return;
    struct proc_ent *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        pid_t pp, pg;
        if (read_stat(e->d_name, &pp, &pg) < 0) continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 512;
            struct proc_ent *nv = realloc(v, ncap * sizeof *v);
            if (!nv) break;
            v = nv;
            cap = ncap;
        }
        v[n].pid = (pid_t)atoi(e->d_name);
        v[n].ppid = pp;
        v[n].pgrp = pg;
        v[n].mark = 0;
        n++;
    }
    closedir(d);
    if (n == 0) {
        free(v);
        return;
    }
    qsort(v, n, sizeof *v, cmp_pid);
    pid_t self = getpid();
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].mark) continue;
            int parent_marked = v[i].ppid == self;
            if (!parent_marked) {
                struct proc_ent key = {.pid = v[i].ppid};
                struct proc_ent *p = bsearch(&key, v, n, sizeof *v, cmp_pid);
                parent_marked = p && p->mark;
            }
            if (parent_marked) v[i].mark = changed = 1;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (v[i].mark && v[i].pgrp != skip_pgrp) (void)kill(v[i].pid, sig); /* ESRCH: died meanwhile */
    free(v);
}

/* ---- reaping -------------------------------------------------------------- */

static void collect_target(void) {
    /* Kill the group while the zombie target still pins its pgid: no recycled-pid risk. */
    (void)kill(-target, SIGKILL);
    while (wait4(target, &target_status, 0, &target_ru) < 0 && errno == EINTR) {
    }
    target_reaped = 1;
}

/*
 * Reaps exited children (one when blocking, all ready ones with WNOHANG).
 * Returns 0 once this process has no children left at all.
 */
static int reap(int options) {
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT | options) < 0) {
            if (errno == EINTR) continue;
            return 0; /* ECHILD */
        }
        if (si.si_pid == 0) return 1; /* children exist, none has exited */
        if (si.si_pid == target && !target_reaped)
            collect_target();
        else
            while (waitpid(si.si_pid, NULL, 0) < 0 && errno == EINTR) {
            }
        if (!(options & WNOHANG)) return 1;
    }
}

/*
 * SIGKILLs the target's group and every descendant, and reaps them all. No children
 * left (ECHILD) means no descendants left: any orphan is reparented to us, the subreaper.
 */
static void kill_tree(void) {
    if (!target_reaped) (void)kill(-target, SIGKILL);
    while (reap(WNOHANG)) {
        signal_descendants(SIGKILL, 0);
        reap(0);
    }
}

static void report_exit(void) {
    long long ut = (long long)target_ru.ru_utime.tv_sec * 1000000 + target_ru.ru_utime.tv_usec;
    long long st = (long long)target_ru.ru_stime.tv_sec * 1000000 + target_ru.ru_stime.tv_usec;
    if (WIFSIGNALED(target_status))
        status_line("exit signal %d %lld %lld %ld\n", WTERMSIG(target_status), ut, st, target_ru.ru_maxrss);
    else
        status_line("exit code %d %lld %lld %ld\n", WEXITSTATUS(target_status), ut, st, target_ru.ru_maxrss);
}

/* Node is gone or asked us to stop: take everything down and leave. */
static void shutdown_all(void) {
    kill_tree();
    if (target_reaped) report_exit();
    exit(0);
}

/* ---- start ---------------------------------------------------------------- */

static int open_pty(unsigned rows, unsigned cols, char *slave, size_t slave_len) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) fail("openpt", errno);
    if (grantpt(m) < 0) fail("grantpt", errno);
    if (unlockpt(m) < 0) fail("unlockpt", errno);
    if (ptsname_r(m, slave, slave_len) != 0) fail("ptsname", errno);
    struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
    if (ioctl(m, TIOCSWINSZ, &ws) < 0) fail("winsize", errno);
    struct termios t;
    if (tcgetattr(m, &t) == 0) {
        t.c_iflag |= IUTF8; /* so line editing erases whole UTF-8 characters */
        (void)tcsetattr(m, TCSANOW, &t);
    }
    /* The relay polls the master; writes to it must never block the loop. */
    (void)fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
    return m;
}

/* In the forked child: only async-signal-safe calls from here on. */
static void child_exec(const char *file, char **args, const char *slave, int errfd, pid_t launcher) {
    int err;
    if (setsid() < 0) goto failed;
    if (slave) {
        int fd = open(slave, O_RDWR);
        if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0) goto failed;
        if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) goto failed;
        if (fd > 2) close(fd);
        struct termios t; /* so line editing erases whole UTF-8 characters (tcgetattr is signal-safe) */
        if (tcgetattr(0, &t) == 0 && !(t.c_iflag & IUTF8)) {
            t.c_iflag |= IUTF8;
            (void)tcsetattr(0, TCSANOW, &t);
        }
    } else {
        /* Larger output pipes: the server drains them in bursts, and a 64 KiB pipe makes a
         * fast producer stall between bursts. Best effort (capped by fs.pipe-max-size). */
        (void)fcntl(1, F_SETPIPE_SZ, 1 << 20);
        (void)fcntl(2, F_SETPIPE_SZ, 1 << 20);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) (void)sigaction(s, &sa, NULL); /* EINVAL for KILL/STOP is fine */
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    /* If the launcher itself is SIGKILLed, at least the target goes with it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) goto failed;
    if (getppid() != launcher) _exit(127);
    execv(file, args);
failed:
    err = errno;
    (void)!write(errfd, &err, sizeof err);
    _exit(127);
}

/* close_range(2) (Linux 5.9), else one close per possible fd. */
static void close_above(int fd) {
    if (syscall(SYS_close_range, (unsigned)fd + 1, ~0U, 0) == 0) return;
    struct rlimit rl;
    long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 65536 ? (long)rl.rlim_cur : 65536;
    for (long i = fd + 1; i < max; i++) (void)close((int)i);
}

static unsigned parse_dim(const char *s) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v > 65535) usage("--pty ROWS COLS must be numbers 0..65535");
    return (unsigned)v;
}

static void set_blocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* Moves this process into a cgroup (v1 or v2): "0" means the writing process. */
static void join_cgroup(const char *dir) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= sizeof path) fail("cgroup", ENAMETOOLONG);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail("cgroup", errno);
    if (write_all(fd, "0\n", 2) < 0) {
        int err = errno;
        close(fd);
        fail("cgroup", err);
    }
    close(fd);
}

/*
 * cgroup v2: a directory fd of DIR for clone3(CLONE_INTO_CGROUP), which starts the target in
 * the cgroup with no migration (a migration waits for an RCU grace period once the kernel's
 * cgroup code has gone idle, ~12 ms). -1 on cgroup v1, where the launcher joins instead.
 */
static int cgroup2_fd(const char *dir) {
    struct statfs st;
    if (statfs(dir, &st) < 0 || (unsigned long)st.f_type != CGROUP2_MAGIC) return -1;
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* fork(), straight into the cgroup of cgfd when there is one; a kernel without clone3 or
 * CLONE_INTO_CGROUP (< 5.7) joins the cgroup first, as on v1. */
static pid_t fork_into(int cgfd, const char *cgroup) {
    if (cgfd < 0) return fork();
    struct clone3_args a;
    memset(&a, 0, sizeof a);
    a.flags = CLONE_INTO_CGROUP;
    a.exit_signal = SIGCHLD;
    a.cgroup = (unsigned long long)cgfd;
    long pid = syscall(SYS_clone3, &a, sizeof a);
    if (pid >= 0 || (errno != ENOSYS && errno != EINVAL && errno != E2BIG)) return (pid_t)pid;
    join_cgroup(cgroup);
    return fork();
}

/* ---- relay loop ----------------------------------------------------------- */

struct relay {
    int pty, master, sfd;
    int ctl_open, stdin_open, master_open;
    char ctl[256];
    size_t ctl_len;
    char in[RELAY_BUF];
    size_t in_len, in_off;
};

static void on_control_line(struct relay *r, char *line) {
    int a, b;
    if (sscanf(line, "resize %d %d", &a, &b) == 2) {
        if (r->master_open && a >= 0 && b >= 0 && a <= 65535 && b <= 65535) {
            struct winsize ws = {.ws_row = (unsigned short)a, .ws_col = (unsigned short)b};
            (void)ioctl(r->master, TIOCSWINSZ, &ws); /* the kernel sends SIGWINCH to the fg group */
        }
    } else if (sscanf(line, "kill %d", &a) == 1 && a >= 0 && a < NSIG) {
        if (!target_reaped && kill(-target, a) == 0)
            signal_descendants(a, target);
        else
            signal_descendants(a, 0);
    }
    /* Unknown lines are ignored: Node and launcher ship together. */
}

static void on_control(struct relay *r) {
    ssize_t n = read(CTL_FD, r->ctl + r->ctl_len, sizeof r->ctl - r->ctl_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) shutdown_all(); /* EOF: the exec server is gone */
    r->ctl_len += (size_t)n;
    char *start = r->ctl, *nl;
    while ((nl = memchr(start, '\n', r->ctl_len - (size_t)(start - r->ctl))) != NULL) {
        *nl = '\0';
        on_control_line(r, start);
        start = nl + 1;
    }
    r->ctl_len -= (size_t)(start - r->ctl);
    memmove(r->ctl, start, r->ctl_len);
    if (r->ctl_len == sizeof r->ctl) r->ctl_len = 0; /* an over-long line: drop it */
}

static void on_signals(struct relay *r) {
    struct signalfd_siginfo si;
    while (read(r->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            if (!target_reaped) {
                reap(WNOHANG);
                if (target_reaped) kill_tree(); /* nothing outlives the target */
            } else {
                reap(WNOHANG);
            }
            break;
        case SIGTERM: /* PDEATHSIG: Node died */
        case SIGHUP:
            shutdown_all();
            break;
        default:
            /* SIGINT: a Ctrl-C at the exec server's terminal. The target has its own
             * session; the exec server decides whether it dies (via "kill"). */
            break;
        }
    }
}

static void flush_in(struct relay *r);

static void on_stdin(struct relay *r) {
    ssize_t n = read(0, r->in, sizeof r->in);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n > 0) {
        r->in_len = (size_t)n;
        r->in_off = 0;
        /* The master is almost always writable: a keystroke goes in now, not after another poll. */
        if (r->master_open) flush_in(r);
        return;
    }
    /* EOF (or a broken stdin): tell the terminal once, as a user's ^D would. */
    r->stdin_open = 0;
    struct termios t;
    if (tcgetattr(r->master, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE) {
        r->in[0] = (char)t.c_cc[VEOF];
        r->in_len = 1;
        r->in_off = 0;
    }
}

/* Writes what stdin gave to the (non-blocking) master; what does not fit waits for POLLOUT. */
static void flush_in(struct relay *r) {
    ssize_t n = write(r->master, r->in + r->in_off, r->in_len - r->in_off);
    if (n > 0) r->in_off += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR) r->in_off = r->in_len;
    if (r->in_off == r->in_len) r->in_len = r->in_off = 0;
}

static void on_master(struct relay *r, short revents) {
    if ((revents & POLLOUT) && r->in_len > r->in_off) flush_in(r);
    if (!(revents & (POLLIN | POLLHUP | POLLERR))) return;
    char buf[RELAY_BUF];
    ssize_t n = read(r->master, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) { /* EIO: every slave fd is closed */
        r->master_open = 0;
        r->in_len = r->in_off = 0;
        return;
    }
    /* Blocking write: when Node stops reading, we stop reading and the target blocks. */
    if (write_all(1, buf, (size_t)n) < 0) shutdown_all();
}

static void relay_loop(struct relay *r) {
    for (;;) {
        if (target_reaped && !r->master_open) return;
        struct pollfd p[4];
        int np = 0, ictl = -1, iin = -1, im = -1;
        p[np++] = (struct pollfd){.fd = r->sfd, .events = POLLIN};
        if (r->ctl_open) {
            ictl = np;
            p[np++] = (struct pollfd){.fd = CTL_FD, .events = POLLIN};
        }
        if (r->stdin_open && r->in_len == 0 && !target_reaped) {
            iin = np;
            p[np++] = (struct pollfd){.fd = 0, .events = POLLIN};
        }
        if (r->master_open) {
            im = np;
            p[np++] = (struct pollfd){.fd = r->master, .events = (short)(POLLIN | (r->in_len ? POLLOUT : 0))};
        }
        if (poll(p, (nfds_t)np, -1) < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            kill_tree(); /* never leave the tree running unsupervised */
            fail("poll", err);
        }
        if (p[0].revents) on_signals(r);
        if (ictl >= 0 && p[ictl].revents) on_control(r);
        if (iin >= 0 && p[iin].revents) on_stdin(r);
        if (im >= 0 && p[im].revents && r->master_open) on_master(r, p[im].revents);
    }
}

/* tether-zygote links this file in and calls it under another name (see build-native.sh). */
#ifndef LAUNCH_MAIN
#define LAUNCH_MAIN main
#endif
int LAUNCH_MAIN(int argc, char **argv) {
    int pty = 0;
    unsigned rows = 0, cols = 0;
    int i = 1;
    int pdeathsig = 1;
    if (i < argc && strcmp(argv[i], "--no-pdeathsig") == 0) {
        pdeathsig = 0;
        i++;
    }
    if (i < argc && strcmp(argv[i], "--pty") == 0) {
        if (i + 2 >= argc) usage("--pty needs ROWS and COLS");
        rows = parse_dim(argv[i + 1]);
        cols = parse_dim(argv[i + 2]);
        pty = 1;
        i += 3;
    }
    const char *pty_slave = NULL;
    if (!pty && i < argc && strcmp(argv[i], "--pty-slave") == 0) {
        if (i + 1 >= argc || strncmp(argv[i + 1], "/dev/", 5) != 0) usage("--pty-slave needs a /dev/ path");
        pty_slave = argv[i + 1];
        i += 2;
    }
    const char *cgroup = NULL;
    if (i < argc && strcmp(argv[i], "--cgroup") == 0) {
        if (i + 1 >= argc || argv[i + 1][0] == '\0') usage("--cgroup needs a directory");
        cgroup = argv[i + 1];
        i += 2;
    }
    if (i < argc && strcmp(argv[i], "--") == 0) i++;
    if (argc - i < 2) usage("missing FILE and ARGV0");
    const char *file = argv[i];
    char **args = &argv[i + 1];

    if (fcntl(CTL_FD, F_GETFD) < 0 || fcntl(STATUS_FD, F_GETFD) < 0) usage("fd 3 and fd 4 must be open");
    /* Node cannot mark every fd close-on-exec (node-pty's pty masters are not): whatever
     * leaked into this process must not reach the target, least of all another terminal. */
    close_above(STATUS_FD);
    /* The target must never see the control or status pipes. */
    (void)fcntl(CTL_FD, F_SETFD, FD_CLOEXEC);
    (void)fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC);
    set_blocking(STATUS_FD);

    pid_t parent = getppid();
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) fail("subreaper", errno);
    if (pdeathsig) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0) fail("pdeathsig", errno);
        if (getppid() != parent) return 1; /* Node died before the death signal was armed */
    }
    signal(SIGPIPE, SIG_IGN);          /* EPIPE from write() is how we notice Node left */

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) fail("sigprocmask", errno);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) fail("signalfd", errno);

    /* The launcher forks exactly once, so counting it against pids.max costs one slot (v1;
     * on v2 the target is cloned into the cgroup and the launcher stays out). */
    int cgfd = cgroup ? cgroup2_fd(cgroup) : -1;
    if (cgroup && cgfd < 0) join_cgroup(cgroup);

    char slave[128];
    int master = pty ? open_pty(rows, cols, slave, sizeof slave) : -1;

    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) < 0) fail("pipe", errno);
    pid_t self = getpid();
    target = fork_into(cgfd, cgroup);
    if (target < 0) fail("fork", errno);
    if (cgfd >= 0) close(cgfd);
    if (target == 0) child_exec(file, args, pty ? slave : pty_slave, errpipe[1], self);
    close(errpipe[1]);

    int child_errno = 0;
    ssize_t n;
    do n = read(errpipe[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == (ssize_t)sizeof child_errno) { /* exec failed; the child already exited 127 */
        while (waitpid(target, NULL, 0) < 0 && errno == EINTR) {
        }
        status_line("error exec %d %s\n", child_errno, strerror(child_errno));
        return 127;
    }
    status_line("pid %d\n", (int)target);

    struct relay *r = calloc(1, sizeof *r);
    if (!r) {
        kill_tree();
        fail("alloc", ENOMEM);
    }
    r->pty = pty;
    r->master = master;
    r->sfd = sfd;
    r->ctl_open = 1;
    if (pty) {
        r->stdin_open = r->master_open = 1;
        set_blocking(1);
    } else {
        /* The target owns the pipes now; holding copies would delay EOF at Node. */
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            if (null > 2) close(null);
        }
    }
    relay_loop(r);
    report_exit();
    return 0;
}

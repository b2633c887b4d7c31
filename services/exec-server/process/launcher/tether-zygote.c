/*
 * tether-zygote: a small spawn server the exec server starts once, so that starting a
 * process forks this small process instead of the large Node one (most of a spawn's
 * cost). Each connection becomes one tether-launch (linked in, see build-native.sh):
 * the forked child reads the request, makes the stdio pipes, lets Node open its ends
 * through /proc/PID/fd (Node cannot receive fds over a socket), then runs the launcher
 * with the connection as its control and status channel (fd 3 and 4).
 *
 * Usage: tether-zygote SOCKET_PATH PARENT_PID   (the socket's directory should be 0700)
 *   stdout  "ready\n" once listening; stdin EOF, SIGTERM or the parent's death: exit
 *   Only PARENT_PID may connect (SO_PEERCRED): a sandboxed process of the same user
 *   must not be able to ask for an unsandboxed one.
 * Per connection, Node -> child, optionally first a join frame: u32 LE length, "join\0DIR\0"
 *   (the child joins cgroup DIR at once; Node opens such connections ahead of time, so the
 *   slow join is off the Start's path: prejoined-launchers.ts); then the request:
 *   u32 LE length, then NUL-terminated fields:
 *   TTY ("pipe", "ROWSxCOLS" or "pts:/dev/pts/N" when Node holds the master), STDIN ("0"|"1"), CGROUP ("" = none), CWD, FILE,
 *   ARGC, ARGV..., ENVC, ENV ("K=V")...
 * child -> Node: "fds PID STDIN_W STDOUT_R STDERR_R\n" (STDIN_W -1: none) or
 *   "error STAGE ERRNO TEXT\n"; Node opens the fds, then sends "go\n"; from then on the
 *   connection speaks tether-launch's control and status protocol.
 * Launchers run with --no-pdeathsig: they outlive a crashed zygote, and stop when Node's
 * end of their connection closes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REQUEST (64u << 20) /* far above ARG_MAX: argv + env of one exec */
#define HIGH_FD 10

int tether_launch_main(int argc, char **argv);
extern char **environ;

static int listen_fd = -1, signal_fd = -1;

static int read_full(int fd, void *buf, size_t len) {
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void reply(int conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(int conn, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
    (void)!write(conn, line, (size_t)n); /* a short write means Node is gone */
}

static void child_fail(int conn, const char *stage, int err) {
    reply(conn, "error %s %d %s\n", stage, err, strerror(err));
    _exit(1);
}

/* Splits the NUL-terminated fields of buf; returns the count, or -1 if the last is unterminated. */
static long split(char *buf, size_t len, char ***out) {
    if (len == 0 || buf[len - 1] != '\0') return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += buf[i] == '\0';
    char **v = calloc(n + 1, sizeof *v);
    if (!v) return -1;
    char *p = buf;
    for (size_t i = 0; i < n; i++) {
        v[i] = p;
        p += strlen(p) + 1;
    }
    *out = v;
    return (long)n;
}

static long count_at(char **f, long nf, long i) {
    if (i >= nf) return -1;
    char *end;
    long v = strtol(f[i], &end, 10);
    return (*f[i] && !*end && v >= 0 && v <= nf - i - 1) ? v : -1;
}

/* Moves fd above the stdio/launcher range so the dup2s below never clobber one another. */
static int high(int conn, int fd) {
    int h = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
    if (h < 0) child_fail(conn, "fcntl", errno);
    close(fd);
    return h;
}

/* One request frame (u32 LE length, then the body); EOF before it ends: Node let go, leave. */
static char *read_frame(int conn, uint32_t *len) {
    if (read_full(conn, len, sizeof *len) < 0) _exit(0);
    if (*len > MAX_REQUEST) child_fail(conn, "request", E2BIG);
    char *buf = malloc(*len ? *len : 1);
    if (!buf) child_fail(conn, "request", ENOMEM);
    if (read_full(conn, buf, *len) < 0) _exit(0);
    return buf;
}

/* Moves this process into the cgroup DIR (v1 or v2). On an idle kernel this waits for an RCU
 * grace period (~12 ms here), which is why Node asks for it ahead of the request. */
static void join_cgroup(int conn, const char *dir) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= sizeof path) child_fail(conn, "cgroup", ENAMETOOLONG);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_fail(conn, "cgroup", errno);
    if (write(fd, "0", 1) != 1) child_fail(conn, "cgroup", errno);
    close(fd);
}

/* In the forked child: serve one connection, then become tether-launch. Never returns. */
static void serve(int conn) {
    (void)prctl(PR_SET_NAME, "tether-launch"); /* what ps shows: it is one from here on */
    conn = high(conn, conn);
    uint32_t len;
    char *buf = read_frame(conn, &len);
    if (len > 5 && memcmp(buf, "join", 5) == 0) {
        /* Prejoined: move into the cgroup now, while no request waits on it, then wait for one. */
        if (buf[len - 1] != '\0') child_fail(conn, "request", EINVAL);
        join_cgroup(conn, buf + 5);
        free(buf);
        /* A spare until a request comes: leftover checks tell it from a launcher that leaked. */
        (void)prctl(PR_SET_NAME, "tether-spare");
        buf = read_frame(conn, &len);
        (void)prctl(PR_SET_NAME, "tether-launch");
    }
    char **f = NULL;
    long nf = split(buf, len, &f);
    long argc = count_at(f, nf, 5);
    long envc = argc < 1 ? -1 : count_at(f, nf, 6 + argc);
    if (nf < 7 || argc < 1 || envc < 0 || 7 + argc + envc != nf) child_fail(conn, "request", EINVAL);
    const char *tty = f[0], *cgroup = f[2], *cwd = f[3], *file = f[4];
    /* "pts:PATH": Node holds the master, the target opens PATH (tether-launch --pty-slave). */
    const char *pts = strncmp(tty, "pts:", 4) == 0 ? tty + 4 : NULL;
    int pty = !pts && strcmp(tty, "pipe") != 0, stdin_open = pty || strcmp(f[1], "1") == 0;
    char rows[8] = "", cols[8] = "";
    if (pty && sscanf(tty, "%7[0-9]x%7[0-9]", rows, cols) != 2) child_fail(conn, "request", EINVAL);

    if (chdir(cwd) < 0) child_fail(conn, "chdir", errno);
    int in[2] = {-1, -1}, out[2], err[2];
    if (stdin_open && pipe2(in, O_CLOEXEC) < 0) child_fail(conn, "pipe", errno);
    if (!stdin_open && (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) child_fail(conn, "open", errno);
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) child_fail(conn, "pipe", errno);
    reply(conn, "fds %d %d %d %d\n", (int)getpid(), in[1], out[0], err[0]);
    char go[3];
    if (read_full(conn, go, sizeof go) < 0 || memcmp(go, "go\n", 3) != 0) _exit(0);
    /* Node holds its ends now; our copies would hold back EOF (stdin) or EPIPE (output). */
    if (in[1] >= 0) close(in[1]);
    close(out[0]);
    close(err[0]);
    int target_fds[3] = {high(conn, in[0]), high(conn, out[1]), high(conn, err[1])};
    for (int fd = 0; fd < 3; fd++)
        if (dup2(target_fds[fd], fd) < 0) child_fail(conn, "dup2", errno);
    if (dup2(conn, 3) < 0 || dup2(conn, 4) < 0) child_fail(conn, "dup2", errno);
    for (int i = 0; i < 3; i++) close(target_fds[i]);
    close(conn);

    environ = &f[7 + argc];
    char *argv[8 + 64];
    char **args = argv;
    if ((size_t)argc + 10 > sizeof argv / sizeof *argv && !(args = calloc((size_t)argc + 10, sizeof *args))) _exit(1);
    int n = 0;
    args[n++] = "tether-launch";
    args[n++] = "--no-pdeathsig";
    if (pty) {
        args[n++] = "--pty";
        args[n++] = rows;
        args[n++] = cols;
    } else if (pts) {
        args[n++] = "--pty-slave";
        args[n++] = (char *)pts;
    }
    if (*cgroup) {
        args[n++] = "--cgroup";
        args[n++] = (char *)cgroup;
    }
    args[n++] = "--";
    args[n++] = (char *)file;
    for (long i = 0; i < argc; i++) args[n++] = f[6 + i];
    args[n] = NULL;
    exit(tether_launch_main(n, args));
}

static int listen_on(const char *path) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "tether-zygote: socket path too long: %s\n", path);
        exit(2);
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 128) < 0) {
        fprintf(stderr, "tether-zygote: cannot listen on %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return fd;
}

static void on_connection(pid_t parent, sigset_t *old) {
    int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) return; /* EAGAIN, ECONNABORTED, EMFILE: the client sees a closed connection */
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.pid != parent) {
        close(conn);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(listen_fd);
        close(signal_fd);
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(SIGPIPE, &dfl, NULL);
        sigprocmask(SIG_SETMASK, old, NULL);
        serve(conn);
    }
    close(conn); /* fork failed: the client sees a closed connection and spawns directly */
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tether-zygote SOCKET_PATH PARENT_PID\n");
        return 2;
    }
    pid_t parent = (pid_t)atoi(argv[2]);
    /* Whatever Node leaked to us (pty masters from node-pty are not close-on-exec) stays out. */
    if (syscall(SYS_close_range, 3U, ~0U, 0) < 0) {
        for (int fd = 3; fd < 1024; fd++) (void)close(fd);
    }
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent) return 1;
    signal(SIGPIPE, SIG_IGN);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, &old);
    int sfd = signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) return 1;
    const char *path = argv[1];
    int lfd = listen_fd = listen_on(path);
    if (write(1, "ready\n", 6) != 6) return 1;
    for (;;) {
        struct pollfd p[3] = {{.fd = sfd, .events = POLLIN}, {.fd = 0, .events = POLLIN}, {.fd = lfd, .events = POLLIN}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[0].revents) {
            struct signalfd_siginfo si;
            int stop = 0;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) stop |= si.ssi_signo != SIGCHLD;
            while (waitpid(-1, NULL, WNOHANG) > 0) {
            }
            if (stop) break;
        }
        if (p[1].revents) break; /* stdin EOF (or anything else on it): Node is gone or done with us */
        if (p[2].revents) on_connection(parent, &old);
    }
    /* Launchers already started keep running on their own connections. The directory is
     * the exec server's private one, made for this zygote alone: nobody else would remove it. */
    unlink(path);
    char dir[sizeof((struct sockaddr_un *)0)->sun_path];
    snprintf(dir, sizeof dir, "%s", path);
    (void)rmdir(dirname(dir));
    return 0;
}

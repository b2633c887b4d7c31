/*
 * tether-escalation-shim.so: LD_PRELOADed into a zsh-fork shell. Before the shell
 * execs a program it asks the escalation broker (Unix socket) whether to run it here
 * (inside the sandbox), have the broker run it outside with our stdio, or deny it.
 * The shim strips itself from the exec'd program's environment, so only the shell
 * (and its forks) is ever wrapped. Programs between the exec server and zsh (the
 * launcher, bwrap) load it too, but it stays passive there and passes the environment
 * on untouched: it is active only in a zsh image. The sandbox stays the boundary:
 * skipping the shim only keeps a command inside.
 *
 * Wire (must match escalation-broker.c):
 *   shim -> broker  "TZE1", u32 payload length, u8 fd mask (bit i: fd i attached via
 *                   SCM_RIGHTS), then payload: NUL-terminated strings
 *                   token, file, cwd, argc, argv..., envc, env...
 *   broker -> shim  replies: u8 kind, i32 value, u32 message length, message bytes;
 *                   kind 'R' run here, 'D' deny (message = reason), 'E' escalate (the
 *                   broker waits for "go"), later 'X' exited (value = wait status)
 *   shim -> broker  after 'E': i32 0 ("go": forwarding is ready, start the command),
 *                   then i32 signal numbers to forward to the command
 *
 * Build: cc -O2 -shared -fPIC -o tether-escalation-shim.so escalation-shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define SOCKET_ENV "TETHER_ESCALATION_SOCKET"
#define TOKEN_ENV "TETHER_ESCALATION_TOKEN"
#define SELF_NAME "tether-escalation-shim.so"
#define DENY_PREFIX "tether: command denied: "

extern char **environ;

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);

static char *g_socket;
static char *g_token;
static char g_self[PATH_MAX];
static int g_active; /* this process is the zsh-fork shell (or a fork of it) */
static execve_fn real_execve;
static spawn_fn real_posix_spawn;
static spawn_fn real_posix_spawnp;
static volatile sig_atomic_t g_conn = -1; /* the broker connection while an escalated command runs */

static int zsh_name(const char *path) {
  if (path == NULL) return 0;
  const char *slash = strrchr(path, '/');
  return strncmp(slash ? slash + 1 : path, "zsh", 3) == 0;
}

/* AT_EXECFN needs no /proc (a sandbox may lack it); /proc/self/exe also sees through a
 * link with another name. */
static int is_zsh_image(void) {
  if (zsh_name((const char *)getauxval(AT_EXECFN))) return 1;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return 0;
  exe[n] = '\0';
  return zsh_name(exe);
}

__attribute__((constructor)) static void shim_init(void) {
  const char *s = getenv(SOCKET_ENV);
  const char *t = getenv(TOKEN_ENV);
  /* Copied now: the shell may later unset or change them, and the values decide where we ask. */
  if (s != NULL && *s != '\0') g_socket = strdup(s);
  g_token = strdup(t != NULL ? t : "");
  Dl_info info;
  if (dladdr((void *)shim_init, &info) && info.dli_fname != NULL) {
    snprintf(g_self, sizeof g_self, "%s", info.dli_fname);
  }
  real_execve = (execve_fn)dlsym(RTLD_NEXT, "execve");
  g_active = g_socket != NULL && is_zsh_image();
  real_posix_spawn = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
  real_posix_spawnp = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawnp");
}

/* ---------- environment stripping ---------- */

static int is_self(const char *entry, size_t len) {
  if (len == 0) return 0;
  if (g_self[0] != '\0' && strlen(g_self) == len && memcmp(entry, g_self, len) == 0) return 1;
  size_t n = strlen(SELF_NAME);
  if (len >= n && memcmp(entry + len - n, SELF_NAME, n) == 0 && (len == n || entry[len - n - 1] == '/')) return 1;
  return 0;
}

/* LD_PRELOAD without our entry; NULL when nothing else is left. Separators are ':' and ' '. */
static char *preload_without_self(const char *value) {
  size_t vlen = strlen(value);
  char *out = malloc(sizeof "LD_PRELOAD=" + vlen);
  if (out == NULL) return NULL;
  size_t o = strlen(strcpy(out, "LD_PRELOAD="));
  size_t base = o;
  const char *p = value;
  while (*p != '\0') {
    size_t len = strcspn(p, ": ");
    if (len > 0 && !is_self(p, len)) {
      if (o > base) out[o++] = ':';
      memcpy(out + o, p, len);
      o += len;
    }
    p += len;
    if (*p != '\0') p++;
  }
  out[o] = '\0';
  if (o == base) {
    free(out);
    return NULL;
  }
  return out;
}

/* A copy of envp without the shim's variables: the exec'd program must not be wrapped. */
static char **strip_env(char *const envp[]) {
  size_t n = 0;
  while (envp != NULL && envp[n] != NULL) n++;
  char **out = calloc(n + 1, sizeof *out);
  if (out == NULL) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    const char *e = envp[i];
    if (strncmp(e, SOCKET_ENV "=", sizeof SOCKET_ENV) == 0) continue;
    if (strncmp(e, TOKEN_ENV "=", sizeof TOKEN_ENV) == 0) continue;
    if (strncmp(e, "LD_PRELOAD=", 11) == 0) {
      char *kept = preload_without_self(e + 11);
      if (kept != NULL) out[o++] = kept; /* leaked on purpose: we are about to exec or exit */
      continue;
    }
    out[o++] = (char *)e;
  }
  out[o] = NULL;
  return out;
}

/* ---------- talking to the broker ---------- */

struct buf {
  char *data;
  size_t len, cap;
};

static int buf_put(struct buf *b, const char *s, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

static int buf_str(struct buf *b, const char *s) { return buf_put(b, s, strlen(s) + 1); }

static int buf_num(struct buf *b, size_t v) {
  char num[32];
  snprintf(num, sizeof num, "%zu", v);
  return buf_str(b, num);
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Like write_all, but a broker that went away is an error, not a SIGPIPE: we must
 * live to print the denial. */
static int send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *p, size_t n) {
  char *c = p;
  while (n > 0) {
    ssize_t r = read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

__attribute__((noreturn)) static void deny_exit(const char *reason) {
  char msg[4096];
  int n = snprintf(msg, sizeof msg, DENY_PREFIX "%s\n", reason);
  if (n > (int)sizeof msg - 1) n = (int)sizeof msg - 1;
  if (n > 0) (void)write_all(2, msg, (size_t)n);
  _exit(126);
}

struct reply {
  char kind;
  int32_t value;
  char message[4096];
};

/* Sends the request with our stdio attached; returns the connected socket or -1 (errno set). */
static int send_request(const char *file, char *const argv[], char *const env[], char *err, size_t errlen) {
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL) snprintf(cwd, sizeof cwd, "/");
  char abs[PATH_MAX * 2];
  if (file[0] == '/') snprintf(abs, sizeof abs, "%s", file);
  else snprintf(abs, sizeof abs, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, file[0] == '.' && file[1] == '/' ? file + 2 : file);

  struct buf b = {0};
  size_t argc = 0, envc = 0;
  while (argv != NULL && argv[argc] != NULL) argc++;
  while (env != NULL && env[envc] != NULL) envc++;
  int bad = buf_str(&b, g_token) || buf_str(&b, abs) || buf_str(&b, cwd) || buf_num(&b, argc);
  for (size_t i = 0; !bad && i < argc; i++) bad = buf_str(&b, argv[i]);
  bad = bad || buf_num(&b, envc);
  for (size_t i = 0; !bad && i < envc; i++) bad = buf_str(&b, env[i]);
  if (bad) {
    snprintf(err, errlen, "out of memory building the escalation request");
    free(b.data);
    return -1;
  }

  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(g_socket) >= sizeof addr.sun_path) {
    snprintf(err, errlen, "escalation socket path is too long: %s", g_socket);
    free(b.data);
    return -1;
  }
  strcpy(addr.sun_path, g_socket);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    snprintf(err, errlen, "escalation broker unreachable at %s: %s", g_socket, strerror(errno));
    if (fd >= 0) close(fd);
    free(b.data);
    return -1;
  }

  /* Header with the stdio fds that are open; closed ones stay closed for the command. */
  unsigned char header[9];
  uint32_t len = (uint32_t)b.len;
  memcpy(header, "TZE1", 4);
  memcpy(header + 4, &len, 4);
  int fds[3], nfds = 0;
  header[8] = 0;
  for (int i = 0; i < 3; i++) {
    if (fcntl(i, F_GETFD) != -1) {
      header[8] |= (unsigned char)(1u << i);
      fds[nfds++] = i;
    }
  }
  struct iovec iov = {.iov_base = header, .iov_len = sizeof header};
  union {
    char buf[CMSG_SPACE(sizeof(int) * 3)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
  }
  ssize_t sent;
  do sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  int ok = sent > 0 && send_all(fd, header + sent, sizeof header - (size_t)sent) == 0 && send_all(fd, b.data, b.len) == 0;
  free(b.data);
  if (!ok) {
    snprintf(err, errlen, "could not send the escalation request: %s", strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

static int read_reply(int fd, struct reply *r) {
  unsigned char head[9];
  if (read_all(fd, head, sizeof head) != 0) return -1;
  uint32_t mlen;
  r->kind = (char)head[0];
  memcpy(&r->value, head + 1, 4);
  memcpy(&mlen, head + 5, 4);
  if (mlen >= sizeof r->message) return -1;
  if (read_all(fd, r->message, mlen) != 0) return -1;
  r->message[mlen] = '\0';
  return 0;
}

/* Signals the terminal sends to "the command" go to the shell's group, i.e. to us: the
 * escalated command lives in the broker's world, so we forward them. */
static const int forwarded[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH};

static void forward_signal(int sig) {
  int saved = errno;
  int32_t s = sig;
  if (g_conn >= 0) (void)!send(g_conn, &s, sizeof s, MSG_NOSIGNAL);
  errno = saved;
}

/* Waits for the escalated command and ends this process the way the command ended. */
__attribute__((noreturn)) static void finish_escalated(int fd) {
  /* The broker starts the command only after our "go", sent once forwarding is in place:
   * a ^C can never fall between the command starting and us being ready to pass it on. */
  sigset_t fwd;
  sigemptyset(&fwd);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaddset(&fwd, forwarded[i]);
  sigprocmask(SIG_BLOCK, &fwd, NULL);
  g_conn = fd;
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) {
    struct sigaction old;
    /* A job that ignores SIGINT (background `cmd &`) keeps ignoring it. */
    if (sigaction(forwarded[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    struct sigaction sa = {.sa_handler = forward_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(forwarded[i], &sa, NULL);
  }
  int32_t go = 0;
  if (send_all(fd, &go, sizeof go) != 0) deny_exit("escalation broker went away before the command started");
  sigprocmask(SIG_UNBLOCK, &fwd, NULL);
  struct reply r;
  if (read_reply(fd, &r) != 0) deny_exit("escalation broker went away before the command finished");
  if (r.kind == 'D') deny_exit(r.message); /* the process was disposed before the command started */
  if (r.kind != 'X') deny_exit("escalation broker sent an unknown reply");
  int status = r.value;
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore); /* the command already dumped core if it wanted to */
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* Asks the broker. Returns 'R' (caller execs), or never returns (deny / escalate / failure). */
static char decide_or_exit(const char *file, char *const argv[], char *const env[], int *conn_out) {
  char err[PATH_MAX + 256];
  int fd = send_request(file, argv, env, err, sizeof err);
  if (fd < 0) deny_exit(err);
  struct reply r;
  if (read_reply(fd, &r) != 0) {
    close(fd);
    deny_exit("escalation broker closed the connection without a decision");
  }
  if (r.kind == 'R') {
    close(fd);
    return 'R';
  }
  if (r.kind == 'D') deny_exit(r.message[0] ? r.message : "denied by policy");
  if (r.kind == 'E') {
    if (conn_out != NULL) {
      *conn_out = fd;
      return 'E';
    }
    finish_escalated(fd);
  }
  deny_exit("escalation broker sent an unknown reply");
}

static int executable_file(const char *path) {
  struct stat st;
  return path != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* ---------- the exec family ---------- */

int execve(const char *path, char *const argv[], char *const envp[]) {
  if (real_execve == NULL) real_execve = (execve_fn)dlsym(RTLD_NEXT, "execve");
  if (!g_active) return real_execve(path, argv, envp);
  char **env = strip_env(envp);
  if (env == NULL) {
    errno = ENOMEM;
    return -1;
  }
  /* zsh tries each PATH entry in turn; only an exec that can succeed is worth asking about,
   * and a failing one must fail with the kernel's errno so the search goes on. */
  if (executable_file(path)) decide_or_exit(path, argv, env, NULL);
  int rc = real_execve(path, argv, env);
  int saved = errno;
  free(env);
  errno = saved;
  return rc;
}

int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

int execvpe(const char *file, char *const argv[], char *const envp[]) {
  if (!g_active) {
    typedef int (*execvpe_fn)(const char *, char *const[], char *const[]);
    execvpe_fn real = (execvpe_fn)dlsym(RTLD_NEXT, "execvpe");
    return real(file, argv, envp);
  }
  if (*file == '\0') {
    errno = ENOENT;
    return -1;
  }
  if (strchr(file, '/') != NULL) return execve(file, argv, envp);
  const char *path = getenv("PATH");
  if (path == NULL) path = "/bin:/usr/bin";
  int saw_eacces = 0;
  char full[PATH_MAX];
  for (const char *p = path;; p++) {
    size_t len = strcspn(p, ":");
    if (len == 0) snprintf(full, sizeof full, "%s", file);
    else snprintf(full, sizeof full, "%.*s/%s", (int)len, p, file);
    execve(full, argv, envp);
    if (errno == EACCES) saw_eacces = 1;
    else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV && errno != ETIMEDOUT) return -1;
    p += len;
    if (*p == '\0') break;
  }
  if (saw_eacces) errno = EACCES;
  return -1;
}

int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

/* Collects execl-style varargs into an argv array (and the trailing envp for execle). */
#define COLLECT_ARGS(first, ap, argv_out, envp_out)               \
  do {                                                          \
    size_t n_ = 1;                                              \
    va_list c_;                                                 \
    va_copy(c_, ap);                                            \
    while (va_arg(c_, char *) != NULL) n_++;                    \
    va_end(c_);                                                 \
    argv_out = alloca((n_ + 1) * sizeof(char *));               \
    argv_out[0] = (char *)(first);                              \
    for (size_t i_ = 1; i_ <= n_; i_++) argv_out[i_] = va_arg(ap, char *); \
    if (envp_out != NULL) *(char ***)(envp_out) = va_arg(ap, char **); \
  } while (0)

int execl(const char *path, const char *arg, ...) {
  va_list ap;
  char **argv;
  va_start(ap, arg);
  COLLECT_ARGS(arg, ap, argv, (void *)NULL);
  va_end(ap);
  return execve(path, argv, environ);
}

int execlp(const char *file, const char *arg, ...) {
  va_list ap;
  char **argv;
  va_start(ap, arg);
  COLLECT_ARGS(arg, ap, argv, (void *)NULL);
  va_end(ap);
  return execvpe(file, argv, environ);
}

int execle(const char *path, const char *arg, ...) {
  va_list ap;
  char **argv, **envp;
  va_start(ap, arg);
  COLLECT_ARGS(arg, ap, argv, &envp);
  va_end(ap);
  return execve(path, argv, envp);
}

/* posix_spawn runs the program from the caller's process, so the question is asked here.
 * An escalation is run by a forked stand-in that waits for the broker and exits like the
 * command; with file actions or attributes we cannot reproduce the child's stdio, so
 * escalation is refused there (fail closed). */
static int spawn_common(spawn_fn real, pid_t *pid, const char *file, const char *resolved,
                        const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr, char *const argv[],
                        char *const envp[]) {
  if (!g_active) return real(pid, file, fa, attr, argv, envp);
  char **env = strip_env(envp);
  if (env == NULL) return ENOMEM;
  if (!executable_file(resolved)) {
    int rc = real(pid, file, fa, attr, argv, env);
    free(env);
    return rc;
  }
  char err[PATH_MAX + 256];
  int fd = send_request(resolved, argv, env, err, sizeof err);
  struct reply r = {.kind = 'D'};
  if (fd < 0) snprintf(r.message, sizeof r.message, "%.4000s", err);
  else if (read_reply(fd, &r) != 0) {
    r.kind = 'D';
    snprintf(r.message, sizeof r.message, "escalation broker closed the connection without a decision");
  }
  if (r.kind == 'E' && (fa != NULL || attr != NULL)) {
    close(fd);
    fd = -1;
    r.kind = 'D';
    snprintf(r.message, sizeof r.message, "escalation is not supported for posix_spawn with file actions or attributes");
  }
  int rc;
  if (r.kind == 'R') {
    rc = real(pid, file, fa, attr, argv, env);
  } else if (r.kind == 'E') {
    pid_t child = fork();
    if (child == 0) finish_escalated(fd);
    rc = child < 0 ? errno : 0;
    if (child > 0 && pid != NULL) *pid = child;
  } else {
    char msg[4200];
    int n = snprintf(msg, sizeof msg, DENY_PREFIX "%s\n", r.message[0] ? r.message : "denied by policy");
    if (n > 0) (void)write_all(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    rc = EACCES;
  }
  if (fd >= 0) close(fd);
  free(env);
  return rc;
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                char *const argv[], char *const envp[]) {
  if (real_posix_spawn == NULL) real_posix_spawn = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawn");
  return spawn_common(real_posix_spawn, pid, path, path, fa, attr, argv, envp);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                 char *const argv[], char *const envp[]) {
  if (real_posix_spawnp == NULL) real_posix_spawnp = (spawn_fn)dlsym(RTLD_NEXT, "posix_spawnp");
  char full[PATH_MAX];
  const char *resolved = file;
  if (strchr(file, '/') == NULL) {
    const char *path = getenv("PATH");
    if (path == NULL) path = "/bin:/usr/bin";
    resolved = NULL;
    for (const char *p = path; resolved == NULL; p++) {
      size_t len = strcspn(p, ":");
      snprintf(full, sizeof full, "%.*s%s%s", (int)len, p, len ? "/" : "", file);
      if (executable_file(full)) resolved = full;
      p += len;
      if (*p == '\0') break;
    }
  }
  return spawn_common(real_posix_spawnp, pid, file, resolved, fa, attr, argv, envp);
}

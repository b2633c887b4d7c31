/*
 * tether-escalation-broker: the exec server's end of the zsh-fork escalation socket.
 * Node cannot receive file descriptors over a Unix socket, so this process accepts the
 * shim's requests (with the shell's stdio fds), asks Node what to do, and runs escalated
 * commands outside any sandbox with those fds. Nothing it starts outlives it: it is a
 * subreaper and kills every tree it owns when it exits.
 *
 * Usage: tether-escalation-broker SOCKET_PATH   (the socket's directory should be 0700)
 * stdout, JSON lines to Node:
 *   {"type":"ready"}
 *   {"type":"request","id":N,"token":S,"file":S,"cwd":S,"argv":[S...],"env":["K=V"...]}
 *   {"type":"cancel","id":N}     the shell hung up before a decision arrived
 * stdin, JSON lines from Node: {"id":N,"decision":"run"|"escalate"|"deny","reason":S}
 *   {"type":"forget","token":S}   the process ended: deny its waiting shells, kill its commands
 * EOF on stdin, SIGTERM, SIGINT, SIGHUP or the parent's death: kill everything, exit.
 * Socket wire format: see escalation-shim.c (the two files must agree).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REQUEST (8u << 20) /* well above ARG_MAX: argv + env of one exec */
#define MAX_CONNS 512 /* each holds up to 4 fds; the nofile limit is raised to fit */
#define MAX_LINE (1u << 20)
#define MAX_REASON 4000 /* the shim keeps 4096 bytes of reason */

enum state { READING, PENDING, STARTING, RUNNING }; /* STARTING: waiting for the shim's go */

struct conn {
  int fd; /* -1 once the shim hung up while its command still runs */
  enum state state;
  unsigned char head[9];
  size_t head_len;
  char *payload;
  uint32_t plen;
  size_t got;
  int fds[3];
  int nfds;
  long long id;
  pid_t pid;
  unsigned char sig[4];
  size_t sig_len;
};

static struct conn *conns[MAX_CONNS];
static const char *socket_path;
static pid_t broker_pid;
static long long next_id = 1;
static struct rlimit nofile_at_start; /* escalated commands get the limit we were given */

/* ---------- small helpers ---------- */

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      poll(&pfd, 1, 1000);
      continue;
    }
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static void close_fds(struct conn *c) {
  for (int i = 0; i < c->nfds; i++) close(c->fds[i]);
  c->nfds = 0;
}

static void drop(struct conn *c) {
  for (int i = 0; i < MAX_CONNS; i++) {
    if (conns[i] == c) conns[i] = NULL;
  }
  if (c->fd >= 0) close(c->fd);
  close_fds(c);
  free(c->payload);
  free(c);
}

/* Replies are tiny and the shim reads them right away, so a blocking write is fine. */
static void reply(struct conn *c, char kind, int32_t value, const char *msg) {
  if (c->fd < 0) return;
  size_t mlen = msg ? strlen(msg) : 0;
  if (mlen > MAX_REASON) mlen = MAX_REASON;
  unsigned char head[9];
  uint32_t l = (uint32_t)mlen;
  head[0] = (unsigned char)kind;
  memcpy(head + 1, &value, 4);
  memcpy(head + 5, &l, 4);
  int fl = fcntl(c->fd, F_GETFL);
  fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
  if (write_all(c->fd, head, sizeof head) != 0 || write_all(c->fd, msg, mlen) != 0) {
    close(c->fd); /* the shim is gone; it fails closed on its own */
    c->fd = -1;
  } else {
    fcntl(c->fd, F_SETFL, fl);
  }
}

/* ---------- JSON out ---------- */

static void json_str(FILE *f, const char *s, size_t n) {
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch == '\n') fputs("\\n", f);
    else if (ch == '\t') fputs("\\t", f);
    else if (ch < 0x20 || ch == 0x7f) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f); /* bytes >= 0x80 pass through: Node decodes them as UTF-8 */
  }
  fputc('"', f);
}

static void emit_done(void) {
  fputc('\n', stdout);
  if (fflush(stdout) != 0) {
    /* Node is gone: nobody can decide anymore. */
    raise(SIGTERM);
  }
}

/* Parses the NUL-separated payload and forwards it; returns -1 if malformed. */
static int forward_request(struct conn *c) {
  char *p = c->payload, *end = c->payload + c->plen;
  const char *fields[3];
  size_t lens[3];
  for (int i = 0; i < 3; i++) {
    char *z = memchr(p, '\0', (size_t)(end - p));
    if (z == NULL) return -1;
    fields[i] = p;
    lens[i] = (size_t)(z - p);
    p = z + 1;
  }
  /* Validate the counts before printing anything, so a bad request prints nothing. */
  char *q = p;
  for (int part = 0; part < 2; part++) {
    char *z = memchr(q, '\0', (size_t)(end - q));
    if (z == NULL) return -1;
    char *stop;
    unsigned long n = strtoul(q, &stop, 10);
    if (stop != z || n > MAX_REQUEST) return -1;
    q = z + 1;
    for (unsigned long i = 0; i < n; i++) {
      z = memchr(q, '\0', (size_t)(end - q));
      if (z == NULL) return -1;
      q = z + 1;
    }
  }
  if (q != end || lens[1] == 0 || fields[1][0] != '/') return -1;

  c->id = next_id++;
  fprintf(stdout, "{\"type\":\"request\",\"id\":%lld,\"token\":", c->id);
  json_str(stdout, fields[0], lens[0]);
  fputs(",\"file\":", stdout);
  json_str(stdout, fields[1], lens[1]);
  fputs(",\"cwd\":", stdout);
  json_str(stdout, fields[2], lens[2]);
  for (int part = 0; part < 2; part++) {
    fputs(part == 0 ? ",\"argv\":[" : "],\"env\":[", stdout);
    unsigned long n = strtoul(p, NULL, 10);
    p += strlen(p) + 1;
    for (unsigned long i = 0; i < n; i++) {
      size_t l = strlen(p);
      if (i > 0) fputc(',', stdout);
      json_str(stdout, p, l);
      p += l + 1;
    }
  }
  fputs("]}", stdout);
  emit_done();
  c->state = PENDING;
  return 0;
}

/* ---------- JSON in (a flat object of strings and integers is all Node sends) ---------- */

static const char *ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
  return p;
}

static void put_utf8(char *out, size_t cap, size_t *o, unsigned cp) {
  char tmp[4];
  size_t n;
  if (cp < 0x80) tmp[0] = (char)cp, n = 1;
  else if (cp < 0x800) tmp[0] = (char)(0xc0 | (cp >> 6)), tmp[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
  else if (cp < 0x10000)
    tmp[0] = (char)(0xe0 | (cp >> 12)), tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f)), tmp[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
  else
    tmp[0] = (char)(0xf0 | (cp >> 18)), tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
    tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), tmp[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
  if (*o + n < cap) {
    memcpy(out + *o, tmp, n);
    *o += n;
  }
}

static int hex4(const char *p, unsigned *v) {
  *v = 0;
  for (int i = 0; i < 4; i++) {
    char ch = p[i];
    unsigned d;
    if (ch >= '0' && ch <= '9') d = (unsigned)(ch - '0');
    else if (ch >= 'a' && ch <= 'f') d = (unsigned)(ch - 'a' + 10);
    else if (ch >= 'A' && ch <= 'F') d = (unsigned)(ch - 'A' + 10);
    else return -1;
    *v = *v * 16 + d;
  }
  return 0;
}

/* p points at '"'; copies the decoded string (truncated to cap-1) and returns the end. */
static const char *json_parse_str(const char *p, char *out, size_t cap) {
  size_t o = 0;
  if (*p++ != '"') return NULL;
  while (*p != '"') {
    if (*p == '\0') return NULL;
    if (*p != '\\') {
      if (o + 1 < cap) out[o++] = *p;
      p++;
      continue;
    }
    p++;
    unsigned cp;
    switch (*p) {
      case 'n': cp = '\n'; break;
      case 't': cp = '\t'; break;
      case 'r': cp = '\r'; break;
      case 'b': cp = '\b'; break;
      case 'f': cp = '\f'; break;
      case 'u':
        if (hex4(p + 1, &cp) != 0) return NULL;
        p += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u') {
          unsigned lo;
          if (hex4(p + 3, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p += 6;
          }
        }
        break;
      case '\0': return NULL;
      default: cp = (unsigned char)*p; break;
    }
    put_utf8(out, cap, &o, cp);
    p++;
  }
  out[o] = '\0';
  return p + 1;
}

/* A decision {"id","decision","reason"} or a {"type":"forget","token"} line. */
struct decision {
  long long id;
  char type[16];
  char token[128];
  char decision[16];
  char reason[MAX_REASON + 1];
};

static int parse_decision(const char *line, struct decision *d) {
  memset(d, 0, sizeof *d);
  d->id = -1;
  const char *p = ws(line);
  if (*p++ != '{') return -1;
  p = ws(p);
  if (*p == '}') return -1;
  for (;;) {
    char key[32];
    p = json_parse_str(ws(p), key, sizeof key);
    if (p == NULL) return -1;
    p = ws(p);
    if (*p++ != ':') return -1;
    p = ws(p);
    if (*p == '"') {
      char scratch[8];
      char *dst = scratch;
      size_t cap = sizeof scratch;
      if (strcmp(key, "decision") == 0) dst = d->decision, cap = sizeof d->decision;
      else if (strcmp(key, "reason") == 0) dst = d->reason, cap = sizeof d->reason;
      else if (strcmp(key, "type") == 0) dst = d->type, cap = sizeof d->type;
      else if (strcmp(key, "token") == 0) dst = d->token, cap = sizeof d->token;
      p = json_parse_str(p, dst, cap);
      if (p == NULL) return -1;
    } else {
      char *stop;
      long long v = strtoll(p, &stop, 10);
      if (stop == p) {
        if (strncmp(p, "null", 4) == 0 || strncmp(p, "true", 4) == 0) stop = (char *)p + 4;
        else if (strncmp(p, "false", 5) == 0) stop = (char *)p + 5;
        else return -1;
      } else if (strcmp(key, "id") == 0) {
        d->id = v;
      }
      p = stop;
    }
    p = ws(p);
    if (*p == ',') {
      p++;
      continue;
    }
    if (*p == '}') break;
    return -1;
  }
  return d->id >= 0 || strcmp(d->type, "forget") == 0 ? 0 : -1;
}

/* ---------- running an escalated command ---------- */

__attribute__((noreturn)) static void exec_escalated(struct conn *c) {
  /* Its own session: Ctrl-C reaches it through the shim's forwarding, and it has no
   * controlling terminal of the exec server's to open. */
  setsid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != broker_pid) _exit(126);
  int high[3] = {-1, -1, -1};
  int k = 0;
  unsigned mask = c->head[8];
  /* Move the received fds out of the 0..2 range first so dup2 never clobbers one. */
  for (int i = 0; i < 3; i++) {
    if (mask & (1u << i)) high[i] = fcntl(c->fds[k++], F_DUPFD_CLOEXEC, 10);
  }
  for (int i = 0; i < 3; i++) {
    if (high[i] >= 0) dup2(high[i], i);
    else close(i);
  }
  close_range(3, ~0u, 0);
  setrlimit(RLIMIT_NOFILE, &nofile_at_start);
  sigset_t none;
  sigemptyset(&none);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  sigprocmask(SIG_SETMASK, &none, NULL);

  char *p = c->payload;
  p += strlen(p) + 1; /* token */
  char *file = p;
  p += strlen(p) + 1;
  char *cwd = p;
  p += strlen(p) + 1;
  char **vec[2];
  for (int part = 0; part < 2; part++) {
    unsigned long n = strtoul(p, NULL, 10);
    p += strlen(p) + 1;
    vec[part] = calloc(n + 1, sizeof(char *));
    if (vec[part] == NULL) _exit(126);
    for (unsigned long i = 0; i < n; i++) {
      vec[part][i] = p;
      p += strlen(p) + 1;
    }
  }
  char msg[4096];
  if (chdir(cwd) != 0) {
    int n = snprintf(msg, sizeof msg, "tether: escalated command cannot enter %s: %s\n", cwd, strerror(errno));
    (void)!write(2, msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : 0);
    _exit(126);
  }
  execve(file, vec[0], vec[1]);
  int err = errno;
  if (err == ENOEXEC) {
    /* A script without #!: run it with sh, as the shell would have. */
    unsigned long n = 0;
    while (vec[0][n] != NULL) n++;
    char **sh = calloc(n + 3, sizeof(char *));
    if (sh != NULL) {
      sh[0] = "sh";
      sh[1] = file;
      for (unsigned long i = 1; i < n; i++) sh[i + 1] = vec[0][i];
      execve("/bin/sh", sh, vec[1]);
    }
  }
  int n = snprintf(msg, sizeof msg, "tether: escalated command %s failed to start: %s\n", file, strerror(err));
  (void)!write(2, msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : 0);
  _exit(err == ENOENT ? 127 : 126);
}

/* The process owning `token` ended: nothing of it may keep running or waiting. */
static void forget(const char *token) {
  for (int i = 0; i < MAX_CONNS; i++) {
    struct conn *c = conns[i];
    if (c == NULL || c->state == READING || strcmp(c->payload, token) != 0) continue;
    if (c->state == RUNNING) {
      kill(-c->pid, SIGKILL); /* unreaped, so the group id is still this command's */
    } else {
      reply(c, 'D', 0, "the process this shell belongs to has ended");
      drop(c);
    }
  }
}

static void apply_decision(const struct decision *d) {
  if (strcmp(d->type, "forget") == 0) {
    forget(d->token);
    return;
  }
  struct conn *c = NULL;
  for (int i = 0; i < MAX_CONNS; i++) {
    if (conns[i] && conns[i]->state == PENDING && conns[i]->id == d->id) c = conns[i];
  }
  if (c == NULL) return; /* the shell hung up meanwhile; Node was told with a cancel */
  if (strcmp(d->decision, "run") == 0) {
    reply(c, 'R', 0, NULL);
    drop(c);
  } else if (strcmp(d->decision, "escalate") == 0) {
    c->state = STARTING;
    reply(c, 'E', 0, NULL);
    if (c->fd < 0) drop(c);
  } else {
    reply(c, 'D', 0, strcmp(d->decision, "deny") == 0 ? d->reason : "exec server sent an unknown decision");
    drop(c);
  }
}

/* Returns -1 when it failed and the connection was dropped. */
static int start_escalated(struct conn *c) {
  pid_t pid = fork();
  if (pid < 0) {
    reply(c, 'X', 126 << 8, NULL);
    drop(c);
    return -1;
  }
  if (pid == 0) exec_escalated(c);
  c->pid = pid;
  c->state = RUNNING;
  close_fds(c);
  return 0;
}

/* ---------- connections ---------- */

static void accept_one(int lfd) {
  int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  struct ucred cred;
  socklen_t clen = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || cred.uid != getuid()) {
    close(fd); /* only our own user's shells may ask */
    return;
  }
  int slot = -1;
  for (int i = 0; i < MAX_CONNS && slot < 0; i++) {
    if (conns[i] == NULL) slot = i;
  }
  struct conn *c = slot < 0 ? NULL : calloc(1, sizeof *c);
  if (c == NULL) {
    close(fd); /* the shim fails closed */
    return;
  }
  c->fd = fd;
  c->state = READING;
  c->pid = -1;
  conns[slot] = c;
}

/* Returns -1 when the connection must be dropped. */
static int read_request(struct conn *c) {
  if (c->head_len < sizeof c->head) {
    union {
      char buf[CMSG_SPACE(sizeof(int) * 3)];
      struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = c->head + c->head_len, .iov_len = sizeof c->head - c->head_len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
    ssize_t r = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
    if (r < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (r == 0) return -1;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
      int n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      int *fds = (int *)CMSG_DATA(cm);
      for (int i = 0; i < n; i++) {
        if (c->nfds < 3) c->fds[c->nfds++] = fds[i];
        else close(fds[i]);
      }
    }
    if (msg.msg_flags & MSG_CTRUNC) return -1;
    c->head_len += (size_t)r;
    if (c->head_len < sizeof c->head) return 0;
    if (memcmp(c->head, "TZE1", 4) != 0) return -1;
    memcpy(&c->plen, c->head + 4, 4);
    unsigned mask = c->head[8];
    if (c->plen == 0 || c->plen > MAX_REQUEST || mask > 7 || __builtin_popcount(mask) != c->nfds) return -1;
    c->payload = malloc(c->plen);
    if (c->payload == NULL) return -1;
  }
  ssize_t r = read(c->fd, c->payload + c->got, c->plen - c->got);
  if (r < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
  if (r == 0) return -1;
  c->got += (size_t)r;
  if (c->got == c->plen) return forward_request(c);
  return 0;
}

static void on_conn_readable(struct conn *c) {
  if (c->state == READING) {
    if (read_request(c) != 0) drop(c);
    return;
  }
  unsigned char buf[256];
  ssize_t r = read(c->fd, buf, sizeof buf);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (r <= 0) {
    if (c->state == STARTING) {
      drop(c); /* the shell died before the command started: nothing to run or kill */
      return;
    }
    if (c->state == PENDING) {
      fprintf(stdout, "{\"type\":\"cancel\",\"id\":%lld}", c->id);
      emit_done();
      drop(c);
      return;
    }
    /* The shell side is gone (killed, or it died of a forwarded signal): the command's
     * tree goes too. The pid is unreaped, so its group id cannot have been reused. */
    kill(-c->pid, SIGKILL);
    close(c->fd);
    c->fd = -1;
    return;
  }
  if (c->state == PENDING) return; /* nothing is expected before a decision */
  for (ssize_t i = 0; i < r; i++) {
    c->sig[c->sig_len++] = buf[i];
    if (c->sig_len < 4) continue;
    int32_t s;
    memcpy(&s, c->sig, 4);
    c->sig_len = 0;
    if (c->state == STARTING) {
      if (s != 0) {
        drop(c);
        return;
      }
      if (start_escalated(c) != 0) return;
    } else if (s > 0 && s < NSIG && s != SIGKILL && s != SIGSTOP) {
      kill(-c->pid, s);
    }
  }
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_CONNS; i++) {
      struct conn *c = conns[i];
      if (c && c->state == RUNNING && c->pid == pid) {
        reply(c, 'X', status, NULL);
        drop(c);
      }
    }
    /* Other pids are orphans re-parented to us (subreaper); reaping is all they need. */
  }
}

/* Kills every child until none is left: children of killed children re-parent to us. */
static void kill_everything(void) {
  for (int i = 0; i < MAX_CONNS; i++) {
    if (conns[i] && conns[i]->state == RUNNING && conns[i]->pid > 0) kill(-conns[i]->pid, SIGKILL);
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)broker_pid);
  for (;;) {
    FILE *f = fopen(path, "r");
    if (f != NULL) {
      int pid;
      while (fscanf(f, "%d", &pid) == 1) kill(pid, SIGKILL);
      fclose(f);
    }
    if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD) break;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: tether-escalation-broker SOCKET_PATH\n");
    return 2;
  }
  socket_path = argv[1];
  /* Node's pty masters (node-pty) are not close-on-exec: holding one would keep that
   * terminal allocated for as long as the broker runs. */
  close_range(3, ~0u, 0);
  broker_pid = getpid();
  pid_t parent = getppid();
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) return 1; /* the exec server died before we set PDEATHSIG */
  signal(SIGPIPE, SIG_IGN);
  struct rlimit nofile;
  getrlimit(RLIMIT_NOFILE, &nofile_at_start);
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 4 * MAX_CONNS + 64) {
    nofile.rlim_cur = nofile.rlim_max < 4 * MAX_CONNS + 64 ? nofile.rlim_max : 4 * MAX_CONNS + 64;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(socket_path) >= sizeof addr.sun_path) {
    fprintf(stderr, "tether-escalation-broker: socket path too long (max %zu bytes): %s\n", sizeof addr.sun_path - 1, socket_path);
    return 2;
  }
  strcpy(addr.sun_path, socket_path);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  unlink(socket_path); /* a stale socket from a broker that died */
  mode_t old = umask(0077);
  if (sfd < 0 || lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 128) != 0) {
    fprintf(stderr, "tether-escalation-broker: cannot listen on %s: %s\n", socket_path, strerror(errno));
    return 1;
  }
  umask(old);
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);
  fputs("{\"type\":\"ready\"}", stdout);
  emit_done();

  static char line[MAX_LINE + 1];
  size_t line_len = 0;
  int discarding = 0;
  int running = 1;
  struct pollfd pfds[MAX_CONNS + 3];
  struct conn *owner[MAX_CONNS + 3];
  while (running) {
    int n = 0;
    pfds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    pfds[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
    pfds[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
    for (int i = 0; i < MAX_CONNS; i++) {
      if (conns[i] && conns[i]->fd >= 0) {
        owner[n] = conns[i];
        pfds[n++] = (struct pollfd){.fd = conns[i]->fd, .events = POLLIN};
      }
    }
    if (poll(pfds, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfds[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo != SIGCHLD) running = 0;
      }
      reap();
    }
    if (pfds[1].revents) {
      ssize_t r = read(0, line + line_len, MAX_LINE - line_len);
      if (r <= 0 && !(r < 0 && errno == EINTR)) running = 0;
      else {
        line_len += (size_t)r;
        char *start = line, *nl;
        while ((nl = memchr(start, '\n', line_len - (size_t)(start - line))) != NULL) {
          *nl = '\0';
          struct decision d;
          if (!discarding && parse_decision(start, &d) == 0) apply_decision(&d);
          else if (!discarding) fprintf(stderr, "tether-escalation-broker: ignoring a malformed decision line\n");
          discarding = 0;
          start = nl + 1;
        }
        line_len -= (size_t)(start - line);
        memmove(line, start, line_len);
        if (line_len == MAX_LINE) {
          line_len = 0; /* an over-long line cannot be a decision; skip to its end */
          discarding = 1;
        }
      }
    }
    if (pfds[2].revents) accept_one(lfd);
    for (int i = 3; i < n; i++) {
      /* A connection earlier in this pass may have been dropped (and its memory reused). */
      int live = 0;
      for (int j = 0; j < MAX_CONNS && !live; j++) live = conns[j] == owner[i] && owner[i]->fd == pfds[i].fd;
      if (live && pfds[i].revents) on_conn_readable(owner[i]);
    }
  }
  close(lfd);
  unlink(socket_path);
  kill_everything();
  for (int i = 0; i < MAX_CONNS; i++) {
    if (conns[i]) drop(conns[i]);
  }
  return 0;
}

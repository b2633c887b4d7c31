// tether-net-relay PORT SOCKET: the sandbox's one way out to the network. Inside the
// sandbox's own network namespace it listens on 127.0.0.1:PORT and joins every connection to
// the managed proxy's Unix socket (bind-mounted in). Once listening it prints "ready\n" and
// closes stdout: the shell prefix waits for exactly that before it execs the command. It then
// serves until the sandbox's pid namespace ends with the command. One child per connection,
// each copying both ways with half-closes passed on (an HTTP client's EOF reaches the proxy).
// The native twin of proxy-relay.ts's node relay: no interpreter start-up per command.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { BUFFER_BYTES = 64 * 1024, BACKLOG = 64 };

static int write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

// Copies a <-> b until both directions reached EOF; any error ends both.
static void pump(int a, int b) {
  static char buffer[BUFFER_BYTES];
  int from[2] = {a, b}, to[2] = {b, a}, open[2] = {1, 1};
  while (open[0] || open[1]) {
    struct pollfd fds[2];
    int dir[2], n = 0;
    for (int i = 0; i < 2; i++) {
      if (!open[i]) continue;
      fds[n].fd = from[i];
      fds[n].events = POLLIN;
      fds[n].revents = 0;
      dir[n++] = i;
    }
    if (poll(fds, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int k = 0; k < n; k++) {
      if (fds[k].revents == 0) continue;
      int i = dir[k];
      ssize_t got = read(from[i], buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return;
      if (got == 0) {
        shutdown(to[i], SHUT_WR);
        open[i] = 0;
        continue;
      }
      if (write_all(to[i], buffer, (size_t)got) < 0) return;
    }
  }
}

static int connect_proxy(const char *path) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: tether-net-relay PORT PROXY_SOCKET\n");
    return 2;
  }
  char *end = NULL;
  long port = strtol(argv[1], &end, 10);
  if (*argv[1] == '\0' || *end != '\0' || port < 1 || port > 65535) {
    fprintf(stderr, "tether sandbox relay: bad port %s\n", argv[1]);
    return 2;
  }
  // Children are reaped by the kernel; a peer gone mid-write is an error return, not a signal.
  signal(SIGCHLD, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  // A shell's background job ignores the terminal's signals; keep it that way explicitly.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGTSTP, SIG_IGN);
  signal(SIGHUP, SIG_IGN);

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) {
    perror("tether sandbox relay: socket");
    return 1;
  }
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, BACKLOG) < 0) {
    perror("tether sandbox relay: listen");
    return 1;
  }
  if (write_all(STDOUT_FILENO, "ready\n", 6) < 0) return 1;
  close(STDOUT_FILENO);

  for (;;) {
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      perror("tether sandbox relay: accept");
      return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(listener);
      int upstream = connect_proxy(argv[2]);
      if (upstream < 0) _exit(1); // the client sees its connection close
      pump(client, upstream);
      _exit(0);
    }
    // fork failed (the sandbox's task limit): this connection is dropped, the next may fit.
    close(client);
  }
}

/*
 * Test probe for zsh-fork.test.ts: calls one exec-family function so the shim's
 * wrappers beyond execve (which zsh uses) are exercised. It is compiled as
 * "zsh-probe" because the shim is only active in an image whose name starts with zsh.
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
  if (argc < 2) return 2;
  char *sh[] = {"sh", "-c", "exit 3", NULL};
  if (strcmp(argv[1], "spawnp") == 0) {
    pid_t pid;
    int rc = posix_spawnp(&pid, "sh", NULL, NULL, sh, environ);
    int status = 0;
    if (rc == 0) waitpid(pid, &status, 0);
    printf("rc=%d exit=%d\n", rc, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
  }
  if (strcmp(argv[1], "execvp") == 0) execvp("sh", sh);
  if (strcmp(argv[1], "execl") == 0) execl("/bin/sh", "sh", "-c", "exit 3", (char *)NULL);
  if (strcmp(argv[1], "execlp") == 0) execlp("sh", "sh", "-c", "exit 3", (char *)NULL);
  if (strcmp(argv[1], "execle") == 0) execle("/bin/sh", "sh", "-c", "exit 3", (char *)NULL, environ);
  if (strcmp(argv[1], "execv") == 0) execv("/bin/sh", sh);
  perror("exec");
  return 99;
}

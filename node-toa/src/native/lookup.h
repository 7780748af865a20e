/*
 * The record lookup behind the addon, in plain C (no Node types), so the
 * syscall logic can be read on its own. No process-wide state: each reader
 * (struct toa_map) owns its map fd, so configurations and worker threads
 * never share or close each other's fds. C, not C++: the prebuilt binaries
 * then need nothing but a few libc functions that every glibc since 2.17
 * and musl have.
 */
#ifndef TOA_NATIVE_LOOKUP_H
#define TOA_NATIVE_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

/* Mirrors include/toa/toa_record.h (a unit test checks these against it):
 * the npm package compiles without the repository's include/ folder. */
#define TOA_RECORD_SIZE 44
#define TOA_SO_RECORD 0x544f

/* toa_lookup_record() result bits: the socket's own family in the low byte,
 * where the record came from above it. */
#define TOA_FOUND_BPF 0x100
#define TOA_FOUND_SOCKOPT 0x200
/* With no record: neither a map is pinned nor toa.ko loaded. */
#define TOA_NO_SOURCE 0x400

#define TOA_PATH_MAX 4096

struct toa_err {
  const char *code;    /* TOA_E... */
  const char *syscall; /* which call failed */
  int err;             /* errno */
};

/* One reader of the records map pinned at path. Used by one thread at a time
 * (its JavaScript owner's). */
struct toa_map {
  char path[TOA_PATH_MAX];
  int fd;
  /* Identity of the pin the fd came from: a detach + attach pins a new map
   * under the same name, and the old fd would then miss forever. */
  uint64_t dev, ino;
  /* When the pin's identity was last checked (CLOCK_MONOTONIC_COARSE, ns):
   * a socket without a record costs a statx() at most once a second. */
  int64_t checked_ns;
};

/* Sets up m for path (shorter than TOA_PATH_MAX); 0, or -1 if too long. */
int toa_map_init(struct toa_map *m, const char *path, size_t len);

/* Drops the map's fd (tests, and after detach). */
void toa_map_reset(struct toa_map *m);

/* Copies fd's record into out (TOA_RECORD_SIZE bytes). family is the
 * socket's (4 or 6) when the caller knows it, else 0 (then SO_DOMAIN tells).
 * Returns 0 (or TOA_NO_SOURCE) when the socket has none, (TOA_FOUND_* | 4 or 6)
 * when found, -1 with *e filled on an error the caller must report. */
int toa_lookup_record(struct toa_map *m, int fd, uint8_t *out, int family, struct toa_err *e);

/* 4 or 6 for an inet socket, 0 for another kind, -1 with *e on error. */
int toa_socket_family(int fd, struct toa_err *e);

#endif

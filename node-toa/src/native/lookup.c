/*
 * Record lookup with raw syscalls: bpf(2) on the pinned socket-storage map,
 * then toa.ko's getsockopt. No libbpf at run time: two bpf commands do not
 * need a library, and the prebuilt binary must load on any Linux libc.
 */
#include "lookup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/stat.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* How often a miss may check that the pin still names the open map. */
#define PIN_CHECK_NS 1000000000LL

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static uint64_t ptr(const void *p) { return (uint64_t)(uintptr_t)p; }

/* The pin's identity by statx(2) itself: libc's stat() is a versioned
 * symbol (GLIBC_2.33) or an inline wrapper, depending on the glibc. */
static int pin_identity(const char *path, uint64_t *dev, uint64_t *ino) {
  struct statx st;
  if (syscall(__NR_statx, AT_FDCWD, path, 0, STATX_INO, &st) != 0) return -1;
  *dev = ((uint64_t)st.stx_dev_major << 32) | st.stx_dev_minor;
  *ino = st.stx_ino;
  return 0;
}

static int fail(struct toa_err *e, const char *code, const char *call) {
  e->code = code;
  e->syscall = call;
  e->err = errno;
  return -1;
}

/* Errors common to every call that takes the socket's fd. */
static const char *fd_code(int err) {
  switch (err) {
  case EBADF: return "TOA_EBADF";
  case ENOTSOCK: return "TOA_ENOTSOCK";
  case EPERM: case EACCES: return "TOA_EPERM";
  default: return 0;
  }
}

static int pin_unchanged(struct toa_map *m) {
  uint64_t dev, ino;
  return pin_identity(m->path, &dev, &ino) == 0 && dev == m->dev && ino == m->ino;
}

/* 1: m->fd is open; 0: nothing pinned there; -1: error in *e. */
static int open_map(struct toa_map *m, struct toa_err *e) {
  if (!m->path[0]) return 0;
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.pathname = ptr(m->path);
  a.file_flags = BPF_F_RDONLY;
  int fd = (int)sys_bpf(BPF_OBJ_GET, &a);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    if (errno == EPERM || errno == EACCES) return fail(e, "TOA_EPERM", "bpf(BPF_OBJ_GET)");
    return fail(e, "TOA_EMAP", "bpf(BPF_OBJ_GET)");
  }
  /* Refuse anything but a TOA records map: a wrong map would hand back garbage. */
  struct bpf_map_info info;
  memset(&info, 0, sizeof(info));
  memset(&a, 0, sizeof(a));
  a.info.bpf_fd = fd;
  a.info.info_len = sizeof(info);
  a.info.info = ptr(&info);
  if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0) {
    fail(e, "TOA_EMAP", "bpf(BPF_OBJ_GET_INFO_BY_FD)");
    close(fd);
    return -1;
  }
  if (info.type != BPF_MAP_TYPE_SK_STORAGE || info.key_size != 4 || info.value_size != TOA_RECORD_SIZE) {
    close(fd);
    errno = EINVAL;
    return fail(e, "TOA_EMAP", "bpf(BPF_OBJ_GET_INFO_BY_FD)");
  }
  if (pin_identity(m->path, &m->dev, &m->ino) != 0) m->dev = m->ino = 0;
  m->checked_ns = now_ns();
  m->fd = fd;
  return 1;
}

/* toa.ko's seam: getsockopt at the socket's own IP level. ENOPROTOOPT means
 * the module is not loaded, ENOENT that the socket has no record. */
static int sockopt_record(int fd, uint8_t *out, int fam, struct toa_err *e) {
  if (fam == 0) fam = toa_socket_family(fd, e);
  if (fam <= 0) return fam;
  socklen_t len = TOA_RECORD_SIZE;
  if (getsockopt(fd, fam == 6 ? SOL_IPV6 : SOL_IP, TOA_SO_RECORD, out, &len) == 0) {
    if (len != TOA_RECORD_SIZE) {
      errno = EPROTO;
      return fail(e, "TOA_ERECORD", "getsockopt(TOA_SO_RECORD)");
    }
    return TOA_FOUND_SOCKOPT | fam;
  }
  if (errno == ENOENT) return 0;
  if (errno == ENOPROTOOPT || errno == EOPNOTSUPP) return TOA_NO_SOURCE;
  const char *code = fd_code(errno);
  return fail(e, code ? code : "TOA_ESYSCALL", "getsockopt(TOA_SO_RECORD)");
}

int toa_map_init(struct toa_map *m, const char *path, size_t len) {
  memset(m, 0, sizeof(*m));
  m->fd = -1;
  if (len >= TOA_PATH_MAX) return -1;
  for (size_t i = 0; i < len; i++) m->path[i] = path[i];
  return 0;
}

void toa_map_reset(struct toa_map *m) {
  if (m->fd >= 0) close(m->fd);
  m->fd = -1;
}

int toa_socket_family(int fd, struct toa_err *e) {
  int domain = 0;
  socklen_t len = sizeof(domain);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) {
    const char *code = fd_code(errno);
    return fail(e, code ? code : "TOA_ESYSCALL", "getsockopt(SO_DOMAIN)");
  }
  return domain == AF_INET ? 4 : domain == AF_INET6 ? 6 : 0;
}

int toa_lookup_record(struct toa_map *m, int fd, uint8_t *out, int family, struct toa_err *e) {
  if (fd < 0) {
    errno = EBADF;
    return fail(e, "TOA_EBADF", "lookup");
  }
  /* Second round only after the pin was replaced or removed. */
  for (int round = 0; round < 2; round++) {
    if (m->fd < 0) {
      int r = open_map(m, e);
      if (r < 0) return -1;
      if (r == 0) return sockopt_record(fd, out, family, e);
    }
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_fd = m->fd;
    a.key = ptr(&fd);
    a.value = ptr(out);
    if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) == 0) {
      /* The family costs a syscall only when the caller could not tell it. */
      int fam = family ? family : toa_socket_family(fd, e);
      return fam < 0 ? -1 : TOA_FOUND_BPF | fam;
    }
    if (errno != ENOENT) {
      const char *code = fd_code(errno);
      return fail(e, code ? code : "TOA_ELOOKUP", "bpf(BPF_MAP_LOOKUP_ELEM)");
    }
    int64_t now = now_ns();
    if (now - m->checked_ns < PIN_CHECK_NS) return 0;
    m->checked_ns = now;
    if (pin_unchanged(m)) return 0;
    toa_map_reset(m);
  }
  return 0;
}

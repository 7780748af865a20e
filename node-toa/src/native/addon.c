/*
 * Node-API surface of the native backend (plain C, Node-API version 8).
 * Every argument is checked and bad ones throw a TypeError with a code: the
 * addon must never abort the process. Errors of system calls carry code,
 * syscall and errno; the JavaScript layer words the message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NAPI_VERSION 8
#include <node_api.h>

#include "lookup.h"

#define CHECK(call) \
  do {              \
    if ((call) != napi_ok) return NULL; \
  } while (0)

static napi_value type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "TOA_EINVAL", msg);
  return NULL;
}

static napi_value sys_error(napi_env env, const struct toa_err *e) {
  napi_value msg, code, err, syscall, errnum;
  CHECK(napi_create_string_utf8(env, e->syscall, NAPI_AUTO_LENGTH, &msg));
  CHECK(napi_create_string_utf8(env, e->code, NAPI_AUTO_LENGTH, &code));
  CHECK(napi_create_error(env, code, msg, &err));
  CHECK(napi_create_string_utf8(env, e->syscall, NAPI_AUTO_LENGTH, &syscall));
  CHECK(napi_create_int32(env, e->err, &errnum));
  CHECK(napi_set_named_property(env, err, "syscall", syscall));
  CHECK(napi_set_named_property(env, err, "errno", errnum));
  napi_throw(env, err);
  return NULL;
}

/* An integer fd in [0, 2^31). */
static int get_fd(napi_env env, napi_value v, int *fd) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0 && d <= 0x7fffffff) || d != (double)(int)d) return 0;
  *fd = (int)d;
  return 1;
}

static void map_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  toa_map_reset((struct toa_map *)data);
  free(data);
}

/* new MapReader(path): one reader of the records map pinned at path, with
 * its own fd (closed by reset() or when the object is collected). */
static napi_value map_new(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  napi_valuetype t;
  char path[TOA_PATH_MAX];
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_string)
    return type_error(env, "new MapReader(path): path must be a string");
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len) != napi_ok || len >= sizeof(path) - 1)
    return type_error(env, "new MapReader(path): path is too long");
  if (strlen(path) != len) return type_error(env, "new MapReader(path): path contains a NUL byte");
  struct toa_map *m = malloc(sizeof(*m));
  if (!m || toa_map_init(m, path, len) != 0) {
    free(m);
    return type_error(env, "new MapReader(path): path is too long");
  }
  if (napi_wrap(env, self, m, map_finalize, NULL, NULL) != napi_ok) {
    free(m);
    return NULL;
  }
  return self;
}

static struct toa_map *map_of(napi_env env, napi_value self) {
  void *m = NULL;
  if (napi_unwrap(env, self, &m) != napi_ok) return NULL;
  return m;
}

/* reset(): forget the map fd. */
static napi_value map_reset(napi_env env, napi_callback_info info) {
  napi_value self;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  struct toa_map *m = map_of(env, self);
  if (!m) return type_error(env, "reset(): not a MapReader");
  toa_map_reset(m);
  return NULL;
}

/* lookup(fd, out: Uint8Array(>= 44), family?: 0 | 4 | 6): 0 when the socket
 * has no record (TOA_NO_SOURCE with nothing to read from), else the socket's
 * family (4/6) | source bit, with the record copied into out. family, when
 * known, saves asking the kernel for it. */
static napi_value map_lookup(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, result;
  int fd, family = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  struct toa_map *m = map_of(env, self);
  if (!m) return type_error(env, "lookup(): not a MapReader");
  if (argc < 1 || !get_fd(env, argv[0], &fd)) return type_error(env, "lookup(fd, out): fd must be an integer >= 0");
  bool is_typed = false;
  napi_typedarray_type kind;
  size_t length;
  void *data;
  if (argc < 2 || napi_is_typedarray(env, argv[1], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[1], &kind, &length, &data, NULL, NULL) != napi_ok || kind != napi_uint8_array)
    return type_error(env, "lookup(fd, out): out must be a Uint8Array");
  if (length < TOA_RECORD_SIZE) return type_error(env, "lookup(fd, out): out must hold 44 bytes");
  if (argc >= 3) {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[2], &t));
    if (t != napi_undefined) {
      if (t != napi_number || napi_get_value_int32(env, argv[2], &family) != napi_ok || (family != 0 && family != 4 && family != 6))
        return type_error(env, "lookup(fd, out, family): family must be 0, 4 or 6");
    }
  }
  struct toa_err e;
  int r = toa_lookup_record(m, fd, data, family, &e);
  if (r < 0) return sys_error(env, &e);
  CHECK(napi_create_int32(env, r, &result));
  return result;
}

/* getpeername(fd): { address, port, family: 4 | 6 } as the kernel reports it. */
static napi_value get_peer_name(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o, v;
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_fd(env, argv[0], &fd)) return type_error(env, "getpeername(fd): fd must be an integer >= 0");
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
    struct toa_err e = {errno == EBADF ? "TOA_EBADF" : errno == ENOTSOCK ? "TOA_ENOTSOCK"
                        : errno == ENOTCONN ? "TOA_ESOCKCLOSED" : "TOA_ESYSCALL", "getpeername", errno};
    return sys_error(env, &e);
  }
  char buf[INET6_ADDRSTRLEN];
  int port, family;
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &s->sin_addr, buf, sizeof(buf));
    port = ntohs(s->sin_port);
    family = 4;
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof(buf));
    port = ntohs(s->sin6_port);
    family = 6;
  } else {
    struct toa_err e = {"TOA_ENOTINET", "getpeername", EAFNOSUPPORT};
    return sys_error(env, &e);
  }
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, o, "address", v));
  CHECK(napi_create_int32(env, port, &v));
  CHECK(napi_set_named_property(env, o, "port", v));
  CHECK(napi_create_int32(env, family, &v));
  CHECK(napi_set_named_property(env, o, "family", v));
  return o;
}

/* Context-aware: loads in every worker thread, each with its own exports. */
NAPI_MODULE_INIT() {
  napi_value cls, fn;
  napi_property_descriptor methods[] = {
    {"lookup", NULL, map_lookup, NULL, NULL, NULL, napi_default, NULL},
    {"reset", NULL, map_reset, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_class(env, "MapReader", NAPI_AUTO_LENGTH, map_new, NULL, 2, methods, &cls));
  CHECK(napi_set_named_property(env, exports, "MapReader", cls));
  CHECK(napi_create_function(env, "getpeername", NAPI_AUTO_LENGTH, get_peer_name, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "getpeername", fn));
  return exports;
}

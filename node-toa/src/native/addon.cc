// Node-API surface of the native backend. Every argument is checked and bad
// ones throw a TypeError with a code: built without C++ exceptions, the addon
// must never abort the process.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <napi.h>

#include "lookup.h"

namespace {

// Both strerror_r flavours (GNU returns a pointer, XSI/musl fills buf).
[[maybe_unused]] const char *PickText(int, const char *buf) { return buf; }
[[maybe_unused]] const char *PickText(const char *text, const char *) { return text; }

const char *ErrorText(int err, char *buf, size_t len) {
  buf[0] = 0;
  return PickText(strerror_r(err, buf, len), buf);
}

Napi::Value ThrowTypeError(Napi::Env env, const char *msg) {
  Napi::TypeError err = Napi::TypeError::New(env, msg);
  err.Set("code", "TOA_EINVAL");
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}

// The JS layer words the final message; it needs the code, the call and errno.
// strerror_r, not strerror: worker threads call this concurrently.
Napi::Value ThrowSys(Napi::Env env, const toa_err &e) {
  char buf[128];
  std::string msg = std::string(e.syscall) + ": " + ErrorText(e.err, buf, sizeof(buf));
  Napi::Error err = Napi::Error::New(env, msg);
  err.Set("code", e.code);
  err.Set("syscall", e.syscall);
  err.Set("errno", Napi::Number::New(env, e.err));
  err.ThrowAsJavaScriptException();
  return env.Undefined();
}

bool GetFd(const Napi::CallbackInfo &info, int *fd) {
  if (info.Length() < 1 || !info[0].IsNumber()) return false;
  double d = info[0].As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 0x7fffffff) || d != (double)(int)d) return false;
  *fd = (int)d;
  return true;
}

// new MapReader(path): one reader of the records map pinned at path, with
// its own fd (closed by reset() or when the object is collected). Nothing is
// shared between readers, so configurations and worker threads are
// independent.
class MapReader : public Napi::ObjectWrap<MapReader> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "MapReader", {
      InstanceMethod<&MapReader::Lookup>("lookup"),
      InstanceMethod<&MapReader::Reset>("reset"),
    });
  }

  explicit MapReader(const Napi::CallbackInfo &info) : Napi::ObjectWrap<MapReader>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      ThrowTypeError(env, "new MapReader(path): path must be a string");
      return;
    }
    std::string path = info[0].As<Napi::String>().Utf8Value();
    if (path.find('\0') != std::string::npos) {
      ThrowTypeError(env, "new MapReader(path): path contains a NUL byte");
      return;
    }
    map_.path = path;
  }

  ~MapReader() override { toa_map_reset(&map_); }

 private:
  // reset(): forget the map fd.
  Napi::Value Reset(const Napi::CallbackInfo &info) {
    toa_map_reset(&map_);
    return info.Env().Undefined();
  }

  // lookup(fd, out: Uint8Array(>= 44), family?: 0 | 4 | 6): 0 when the socket
  // has no record (TOA_NO_SOURCE with nothing to read from), else the
  // socket's family (4/6) | source bit, with the record copied into out.
  // family, when known, saves asking the kernel for it.
  Napi::Value Lookup(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int fd;
    if (!GetFd(info, &fd)) return ThrowTypeError(env, "lookup(fd, out): fd must be an integer >= 0");
    if (info.Length() < 2 || !info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      return ThrowTypeError(env, "lookup(fd, out): out must be a Uint8Array");
    Napi::Uint8Array out = info[1].As<Napi::Uint8Array>();
    if (out.ByteLength() < TOA_RECORD_SIZE) return ThrowTypeError(env, "lookup(fd, out): out must hold 44 bytes");
    int family = 0;
    if (info.Length() >= 3 && !info[2].IsUndefined()) {
      if (!info[2].IsNumber()) return ThrowTypeError(env, "lookup(fd, out, family): family must be 0, 4 or 6");
      family = info[2].As<Napi::Number>().Int32Value();
      if (family != 0 && family != 4 && family != 6) return ThrowTypeError(env, "lookup(fd, out, family): family must be 0, 4 or 6");
    }
    toa_err e;
    int r = toa_lookup_record(&map_, fd, out.Data(), family, &e);
    if (r < 0) return ThrowSys(env, e);
    return Napi::Number::New(env, r);
  }

  toa_map map_;
};

// getpeername(fd): { address, port, family: 4 | 6 } as the kernel reports it.
Napi::Value GetPeerName(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, &fd)) return ThrowTypeError(env, "getpeername(fd): fd must be an integer >= 0");
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
    toa_err e = {errno == EBADF ? "TOA_EBADF" : errno == ENOTSOCK ? "TOA_ENOTSOCK"
                 : errno == ENOTCONN ? "TOA_ESOCKCLOSED" : "TOA_ESYSCALL", "getpeername", errno};
    return ThrowSys(env, e);
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
    toa_err e = {"TOA_ENOTINET", "getpeername", EAFNOSUPPORT};
    return ThrowSys(env, e);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", buf);
  o.Set("port", port);
  o.Set("family", family);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("MapReader", MapReader::Define(env));
  exports.Set("getpeername", Napi::Function::New(env, GetPeerName, "getpeername"));
  return exports;
}

}  // namespace

NODE_API_MODULE(toa, Init)

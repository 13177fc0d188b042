/*
 * acceptPending(fd, max): accepts the connections already waiting on a listening socket, up to `max`,
 * and returns their file descriptors (non-blocking, close-on-exec).
 *
 * Why: libuv >= 1.45 (Node >= 20) accepts ONE connection per event-loop turn (libuv commit 6c692ad1,
 * "unix: don't accept() connections in a loop"). A proxy whose turn takes a few milliseconds under load
 * then leaves a burst of new connections in the kernel's accept queue for hundreds of milliseconds,
 * their first requests unread. Called from the 'connection' callback, this drains the queue the way
 * Go's accept loop and nginx's multi_accept do. It stops at the first error: EAGAIN (queue empty) is
 * the normal end; EMFILE/ENFILE and the rest are left for libuv's own accept on its next turn, which
 * has its own handling for them.
 *
 * It also stops once it holds a descriptor numbered at or above half the soft RLIMIT_NOFILE (descriptors
 * are allocated lowest first, so the number tracks how many are open): every connection it accepts needs
 * another descriptor for its upstream, and a helper that filled the table with clients would leave none
 * for them (a burst past the limit then got 502 for every request). Past that mark the queue drains at
 * libuv's pace again, one per turn, between the upstream connects.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/socket.h>

static napi_value accept_pending(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  int32_t max = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &max) != napi_ok || fd < 0 || max < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "acceptPending(fd, max) takes two non-negative integers");
    return NULL;
  }
  napi_value out;
  if (napi_create_array(env, &out) != napi_ok) return NULL;
  struct rlimit lim;
  rlim_t mark = RLIM_INFINITY;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) mark = lim.rlim_cur / 2;
  uint32_t n = 0;
  while ((int32_t)n < max) {
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      /* A connection reset while queued is gone; the next one may be fine. */
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;
    }
    napi_value v;
    if (napi_create_int32(env, c, &v) != napi_ok || napi_set_element(env, out, n, v) != napi_ok) return NULL;
    n++;
    if ((rlim_t)c >= mark) break;
  }
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "acceptPending", NAPI_AUTO_LENGTH, accept_pending, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "acceptPending", fn) != napi_ok) return NULL;
  return exports;
}

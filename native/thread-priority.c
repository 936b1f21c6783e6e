/*
 * One call the Node runtime lacks: put a thread of this process in the SCHED_IDLE class (Linux).
 * os.setPriority only sets a nice value, and a nice-19 thread still keeps its CPU until the next
 * scheduler tick (4 ms at HZ=250); a SCHED_IDLE thread gives way the moment another thread wakes.
 */
#define _GNU_SOURCE /* SCHED_IDLE, before any system header */
#define NAPI_VERSION 8
#include <node_api.h>

#ifdef __linux__
#include <errno.h>
#include <sched.h>
#include <string.h>
#endif

/* setIdle(tid): true when the thread is now SCHED_IDLE; throws with the errno text when refused. */
static napi_value set_idle(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t tid = 0;
  napi_value result;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &tid) != napi_ok || tid <= 0) {
    napi_throw_type_error(env, NULL, "setIdle expects a thread id");
    return NULL;
  }
#ifdef __linux__
  struct sched_param param;
  memset(&param, 0, sizeof param);
  if (sched_setscheduler(tid, SCHED_IDLE, &param) != 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  napi_get_boolean(env, 1, &result);
#else
  napi_get_boolean(env, 0, &result);
#endif
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "setIdle", NAPI_AUTO_LENGTH, set_idle, NULL, &fn);
  napi_set_named_property(env, exports, "setIdle", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

/*
 * The part of webgpu.h that bun:ffi cannot call directly: functions that take a struct by
 * value (callback infos) and the C callbacks themselves. Compiled at run time by bun:ffi's
 * TinyCC. It links against nothing: the WebGPU entry points arrive as function pointers from
 * the library that JS opened, so the same source serves Dawn and wgpu-native.
 *
 * Every asynchronous call is made in AllowProcessEvents mode; its callback writes into a
 * Completion record owned by JS, and JS polls wgpuInstanceProcessEvents until `done` is set.
 * Declarations mirror webgpu.h (webgpu-native/webgpu-headers) for the types used here.
 */
/*
 * No headers: bun writes TinyCC's stddef.h afresh (truncate, then write) at every compile, so
 * ranks compiling at once could read it empty; and stdint.h would need the libc headers.
 */
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef __SIZE_TYPE__ size_t;
#define NULL ((void *)0)

typedef struct { const char *data; size_t length; } WGPUStringView;
typedef struct { uint64_t id; } WGPUFuture;
typedef void *Handle;

typedef void (*RequestAdapterCallback)(uint32_t status, Handle adapter, WGPUStringView message, void *u1, void *u2);
typedef void (*RequestDeviceCallback)(uint32_t status, Handle device, WGPUStringView message, void *u1, void *u2);
typedef void (*StatusCallback)(uint32_t status, WGPUStringView message, void *u1, void *u2);
typedef void (*PopErrorScopeCallback)(uint32_t status, uint32_t type, WGPUStringView message, void *u1, void *u2);
typedef void (*DeviceEventCallback)(const Handle *device, uint32_t kind, WGPUStringView message, void *u1, void *u2);

typedef struct { void *nextInChain; uint32_t mode; void *callback; void *userdata1; void *userdata2; } CallbackInfo;
typedef struct { void *nextInChain; void *callback; void *userdata1; void *userdata2; } UncapturedErrorCallbackInfo;

enum { CALLBACK_MODE_ALLOW_PROCESS_EVENTS = 2 };

/* Filled by a callback; laid out for JS: done, status, kind, message length, handle, message. */
typedef struct {
  uint32_t done;
  uint32_t status;
  uint32_t kind;
  uint32_t messageLength;
  Handle handle;
  char message[4072];
} Completion;

typedef WGPUFuture (*InstanceRequestAdapterFn)(Handle instance, const void *options, CallbackInfo info);
typedef WGPUFuture (*AdapterRequestDeviceFn)(Handle adapter, const void *descriptor, CallbackInfo info);
typedef WGPUFuture (*BufferMapAsyncFn)(Handle buffer, uint64_t mode, size_t offset, size_t size, CallbackInfo info);
typedef WGPUFuture (*QueueOnSubmittedWorkDoneFn)(Handle queue, CallbackInfo info);
typedef WGPUFuture (*DevicePopErrorScopeFn)(Handle device, CallbackInfo info);
typedef struct { void *nextInChain; WGPUStringView vendor, architecture, device, description; uint32_t backendType, adapterType, vendorID, deviceID, subgroupMinSize, subgroupMaxSize; } AdapterInfo;
typedef struct { size_t featureCount; const uint32_t *features; } SupportedFeatures;
typedef void (*AdapterInfoFreeMembersFn)(AdapterInfo info);
typedef void (*SupportedFeaturesFreeMembersFn)(SupportedFeatures features);
/* Dawn's WGPUAdapterPropertiesSubgroupMatrixConfigs: {chain {next, sType}, configCount, configs}. */
typedef struct { void *next; uint32_t sType; size_t configCount; const void *configs; } SubgroupMatrixConfigs;
typedef void (*SubgroupMatrixConfigsFreeMembersFn)(SubgroupMatrixConfigs configs);

static InstanceRequestAdapterFn instanceRequestAdapter;
static AdapterRequestDeviceFn adapterRequestDevice;
static BufferMapAsyncFn bufferMapAsync;
static QueueOnSubmittedWorkDoneFn queueOnSubmittedWorkDone;
static DevicePopErrorScopeFn devicePopErrorScope;
static AdapterInfoFreeMembersFn adapterInfoFreeMembers;
static SupportedFeaturesFreeMembersFn supportedFeaturesFreeMembers;
static SubgroupMatrixConfigsFreeMembersFn subgroupMatrixConfigsFreeMembers; /* NULL outside Dawn */

/* The entry points, in the order of SHIM_ENTRY_POINTS in shim.ts, then the optional one. */
void shim_bind(void **fns) {
  instanceRequestAdapter = (InstanceRequestAdapterFn)fns[0];
  adapterRequestDevice = (AdapterRequestDeviceFn)fns[1];
  bufferMapAsync = (BufferMapAsyncFn)fns[2];
  queueOnSubmittedWorkDone = (QueueOnSubmittedWorkDoneFn)fns[3];
  devicePopErrorScope = (DevicePopErrorScopeFn)fns[4];
  adapterInfoFreeMembers = (AdapterInfoFreeMembersFn)fns[5];
  supportedFeaturesFreeMembers = (SupportedFeaturesFreeMembersFn)fns[6];
  subgroupMatrixConfigsFreeMembers = (SubgroupMatrixConfigsFreeMembersFn)fns[7];
}

void shim_adapter_info_free_members(const AdapterInfo *info) { adapterInfoFreeMembers(*info); }
void shim_supported_features_free_members(const SupportedFeatures *features) { supportedFeaturesFreeMembers(*features); }
void shim_subgroup_matrix_configs_free_members(const SubgroupMatrixConfigs *c) {
  if (subgroupMatrixConfigsFreeMembers != NULL) subgroupMatrixConfigsFreeMembers(*c);
}

static void complete(Completion *c, uint32_t status, uint32_t kind, Handle handle, WGPUStringView message) {
  size_t n = message.data == NULL ? 0 : message.length;
  if (message.data != NULL && n == (size_t)-1) { n = 0; while (message.data[n] != 0) n++; }
  if (n > sizeof(c->message)) n = sizeof(c->message);
  for (size_t i = 0; i < n; i++) c->message[i] = message.data[i];
  c->messageLength = (uint32_t)n;
  c->status = status;
  c->kind = kind;
  c->handle = handle;
  c->done = 1;
}

static void onAdapter(uint32_t status, Handle adapter, WGPUStringView message, void *c, void *unused) {
  complete((Completion *)c, status, 0, adapter, message);
}
static void onDevice(uint32_t status, Handle device, WGPUStringView message, void *c, void *unused) {
  complete((Completion *)c, status, 0, device, message);
}
static void onStatus(uint32_t status, WGPUStringView message, void *c, void *unused) {
  complete((Completion *)c, status, 0, NULL, message);
}
static void onPopErrorScope(uint32_t status, uint32_t type, WGPUStringView message, void *c, void *unused) {
  complete((Completion *)c, status, type, NULL, message);
}

static CallbackInfo callbackInfo(void *callback, Completion *c) {
  CallbackInfo info = { NULL, CALLBACK_MODE_ALLOW_PROCESS_EVENTS, callback, c, NULL };
  return info;
}

void shim_request_adapter(Handle instance, const void *options, Completion *c) {
  instanceRequestAdapter(instance, options, callbackInfo((void *)onAdapter, c));
}
void shim_request_device(Handle adapter, const void *descriptor, Completion *c) {
  adapterRequestDevice(adapter, descriptor, callbackInfo((void *)onDevice, c));
}
void shim_map_async(Handle buffer, uint64_t mode, uint64_t offset, uint64_t size, Completion *c) {
  bufferMapAsync(buffer, mode, (size_t)offset, (size_t)size, callbackInfo((void *)onStatus, c));
}
void shim_on_submitted_work_done(Handle queue, Completion *c) {
  queueOnSubmittedWorkDone(queue, callbackInfo((void *)onStatus, c));
}
void shim_pop_error_scope(Handle device, Completion *c) {
  devicePopErrorScope(device, callbackInfo((void *)onPopErrorScope, c));
}

/*
 * Dawn's adapter enumeration, a C++ entry point (dawn::native::Instance::EnumerateAdapters(
 * const WGPURequestAdapterOptions*) const) that webgpu.h lacks. `this` is a dawn::native::Instance,
 * whose one member is the InstanceBase* that a WGPUInstance is; the result is a
 * std::vector<dawn::native::Adapter> {begin, end, capacity}, each Adapter one AdapterBase* (a
 * WGPUAdapter holding one reference, which passes to the caller). A 24-byte struct returned by
 * value travels through the same hidden result pointer as the C++ return value (x86-64 SysV:
 * rdi, `this` in rsi; AArch64: x8). The vector's storage (8 bytes an adapter) is left allocated:
 * freeing it needs the library's operator delete.
 */
typedef struct { Handle *begin, *end, *capacity; } AdapterVector;
typedef AdapterVector (*EnumerateAdaptersFn)(const Handle *instance, const void *options);

uint32_t shim_enumerate_adapters(void *fn, Handle instance, const void *options, Handle *out, uint32_t max) {
  AdapterVector v = ((EnumerateAdaptersFn)fn)(&instance, options);
  uint32_t n = (uint32_t)(v.end - v.begin);
  for (uint32_t i = 0; i < n && i < max; i++) out[i] = v.begin[i];
  return n;
}

/*
 * Device-lifetime events (device lost, uncaptured errors) arrive at any time. They go into a
 * small ring that JS drains at every sync point; the oldest entries are overwritten when full.
 */
#define EVENT_RING 16
static Completion events[EVENT_RING];
static uint32_t eventsWritten;

static void onDeviceLost(const Handle *device, uint32_t reason, WGPUStringView message, void *u1, void *u2) {
  complete(&events[eventsWritten++ % EVENT_RING], reason, 1, NULL, message);
}
static void onUncapturedError(const Handle *device, uint32_t type, WGPUStringView message, void *u1, void *u2) {
  complete(&events[eventsWritten++ % EVENT_RING], type, 2, NULL, message);
}

/* Fills the two callback-info members of a WGPUDeviceDescriptor built by JS. */
void shim_fill_device_callbacks(CallbackInfo *lost, UncapturedErrorCallbackInfo *uncaptured) {
  lost->nextInChain = NULL;
  lost->mode = CALLBACK_MODE_ALLOW_PROCESS_EVENTS;
  lost->callback = (void *)onDeviceLost;
  lost->userdata1 = NULL;
  lost->userdata2 = NULL;
  uncaptured->nextInChain = NULL;
  uncaptured->callback = (void *)onUncapturedError;
  uncaptured->userdata1 = NULL;
  uncaptured->userdata2 = NULL;
}

uint32_t shim_events_written(void) { return eventsWritten; }
Completion *shim_event(uint32_t index) { return &events[index % EVENT_RING]; }
uint32_t shim_sizeof_completion(void) { return (uint32_t)sizeof(Completion); }

/*
 * stderr redirection around Dawn's adapter discovery, which prints driver notes with fprintf
 * (see withStderrFiltered in shim.ts). Declared here: TinyCC ships no POSIX headers.
 */
#ifdef _WIN32
/* Not used on Windows (withStderrFiltered runs the discovery unfiltered there). */
int shim_redirect_stderr(int fd) { return -1; }
void shim_restore_stderr(int saved) {}
#else
int dup(int); int dup2(int, int); int close(int);
int shim_redirect_stderr(int fd) {
  int saved = dup(2);
  if (saved >= 0 && dup2(fd, 2) < 0) { close(saved); return -1; }
  return saved;
}
void shim_restore_stderr(int saved) {
  if (saved >= 0) { dup2(saved, 2); close(saved); }
}
#endif

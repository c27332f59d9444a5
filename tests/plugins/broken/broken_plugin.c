/* Deliberately broken plugins, written in plain C against <ticketd/plugin.h>: one
 * shared object per BROKEN_* definition, each to be refused with an exact message (but
 * BROKEN_ABI_1_1 and BROKEN_ABI_1_2_SHORT, older descriptors that must load). */
#include <ticketd/plugin.h>

#include <stddef.h>

#if !defined(BROKEN_NO_ENTRY)
static ticketd_instance* create(const char* settings, size_t size, char* error, size_t error_size) {
    (void)settings;
    (void)size;
    (void)error;
    (void)error_size;
    static int instance;
    return (ticketd_instance*)&instance;
}
static int validate(ticketd_instance* i, const char* input, size_t size, ticketd_validation* v) {
    (void)i;
    (void)input;
    (void)size;
    (void)v;
    return 0;
}
static ticketd_run_status run(ticketd_instance* i, ticketd_job* j, const char* input, size_t size) {
    (void)i;
    (void)j;
    (void)input;
    (void)size;
    return TICKETD_RUN_SUCCEEDED;
}
static void destroy(ticketd_instance* i) { (void)i; }
#endif

#if defined(BROKEN_MISSING_LIBRARY)
/* Defined in a library the plugin links against but that is not found at load time. */
int ticketd_fixture_dependency(void);
#endif

#if !defined(BROKEN_NO_ENTRY)
TICKETD_PLUGIN_EXPORT const ticketd_plugin_descriptor* ticketd_plugin_v1(const ticketd_host_services* host) {
    (void)host;
#if defined(BROKEN_MISSING_LIBRARY)
    (void)ticketd_fixture_dependency();
#endif
    static ticketd_plugin_descriptor d = {
        TICKETD_PLUGIN_MAGIC, sizeof(ticketd_plugin_descriptor), TICKETD_PLUGIN_ABI_MAJOR, TICKETD_PLUGIN_ABI_MINOR, 0,
        "broken", "1.0.0", "Apache-2.0", "a deliberately broken plugin", "", "",
        create, validate, run, destroy, "",
    };
#if defined(BROKEN_BAD_MAGIC)
    d.magic = 0x12345678u;
#elif defined(BROKEN_OTHER_MAJOR)
    d.abi_major = TICKETD_PLUGIN_ABI_MAJOR + 1;
#elif defined(BROKEN_NEWER_MINOR)
    d.abi_minor = TICKETD_PLUGIN_ABI_MINOR + 1;
#elif defined(BROKEN_NULL_RUN)
    d.run = NULL;
#elif defined(BROKEN_EMPTY_NAME)
    d.name = "";
#elif defined(BROKEN_SMALL_STRUCT)
    d.struct_size = 16;
#elif defined(BROKEN_BAD_FILES)
    d.files = "{\"source\": {\"required\": \"yes\"}}";
#elif defined(BROKEN_ABI_1_1)
    /* Not broken: a descriptor as the 1.1 SDK made it, which ends before `files` (whose
     * bytes here are garbage the host must not read). */
    d.abi_minor = 1;
    d.struct_size = offsetof(ticketd_plugin_descriptor, files);
    d.files = "not json";
#elif defined(BROKEN_ABI_1_2_SHORT)
    /* Not broken either: a descriptor of the first 1.2 SDKs, from before `files`. */
    d.struct_size = offsetof(ticketd_plugin_descriptor, files);
    d.files = "not json";
#endif
    return &d;
}
#else
TICKETD_PLUGIN_EXPORT int not_a_ticketd_plugin(void) { return 42; }
#endif

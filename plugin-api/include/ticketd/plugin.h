/*
 * ticketd plugin ABI, version 1.2 (pure C).
 *
 * The only thing that crosses the boundary between the ticketd daemon and a job-type
 * plugin (.so). Only C types, UTF-8 JSON as (pointer, length) and opaque handles cross;
 * never exceptions, C++ standard library types or RTTI.
 *
 * A plugin exports exactly one symbol, `ticketd_plugin_v1`, whose name carries the ABI
 * major version. The host calls it once with its services table and receives a
 * constant descriptor. Evolution is append-only: new members go at the end of a struct
 * and are detected through `struct_size`; a change that cannot be expressed that way
 * bumps the major version, and with it the symbol name.
 *
 * Most plugin authors never use this header directly: see <ticketd/plugin.hpp>.
 */
#ifndef TICKETD_PLUGIN_H
#define TICKETD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TICKETD_PLUGIN_MAGIC 0x4454544Bu /* "KTTD" read as little-endian bytes */
#define TICKETD_PLUGIN_ABI_MAJOR 1
#define TICKETD_PLUGIN_ABI_MINOR 2
#define TICKETD_PLUGIN_ENTRY_SYMBOL "ticketd_plugin_v1"

#if defined(__GNUC__)
#define TICKETD_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define TICKETD_PLUGIN_EXPORT
#endif

/* Opaque handles. */
typedef struct ticketd_instance ticketd_instance;     /* a plugin's per-job-type state */
typedef struct ticketd_job ticketd_job;               /* the host's context of one attempt */
typedef struct ticketd_validation ticketd_validation; /* collects input validation errors */
typedef struct ticketd_metric ticketd_metric;         /* a metric the plugin registered */

/* A borrowed UTF-8 string; not necessarily NUL-terminated. */
typedef struct ticketd_string {
    const char* data;
    size_t size;
} ticketd_string;

typedef enum ticketd_log_level {
    TICKETD_LOG_DEBUG = 0,
    TICKETD_LOG_INFO = 1,
    TICKETD_LOG_WARNING = 2,
    TICKETD_LOG_ERROR = 3
} ticketd_log_level;

typedef enum ticketd_metric_kind {
    TICKETD_METRIC_COUNTER = 0,  /* record(v): add v >= 0; the name must end in _total */
    TICKETD_METRIC_GAUGE = 1,    /* record(v): set to v */
    TICKETD_METRIC_HISTOGRAM = 2 /* record(v): observe v */
} ticketd_metric_kind;

/* What `run` returns. */
typedef enum ticketd_run_status {
    TICKETD_RUN_SUCCEEDED = 0, /* a result was set (or the job has an empty result) */
    TICKETD_RUN_FAILED = 1,    /* `fail` was called with a code and message */
    TICKETD_RUN_CANCELED = 2   /* the plugin stopped because cancellation was requested */
} ticketd_run_status;

/*
 * Services the host offers to the plugin. All functions are thread-safe and may be
 * called from the thread that runs `run`. Functions taking a `ticketd_job*` are only
 * valid during the `run` call that received it.
 */
typedef struct ticketd_host_services {
    uint32_t struct_size; /* sizeof(ticketd_host_services) as the host compiled it */
    uint16_t abi_major;
    uint16_t abi_minor;

    /* Log a line; `job` may be NULL (outside a job). */
    void (*log)(const ticketd_job* job, ticketd_log_level level, const char* message,
                size_t message_size);
    /* Report progress: percent in [0, 100] (values never decrease within an attempt),
     * and a short human-readable message. The host throttles; call as often as useful. */
    void (*progress)(ticketd_job* job, double percent, const char* message,
                     size_t message_size);
    /* Non-zero once cancellation, timeout or shutdown asks the job to stop. */
    int (*is_canceled)(const ticketd_job* job);
    /* The attempt's deadline in milliseconds since the Unix epoch (0: none). */
    int64_t (*deadline_unix_ms)(const ticketd_job* job);
    /* The job id (stable across attempts), for idempotent side effects. */
    ticketd_string (*job_id)(const ticketd_job* job);
    /* The attempt number, starting at 1. */
    uint32_t (*attempt)(const ticketd_job* job);
    /* A private, empty-at-start directory for this attempt, removed afterwards. */
    ticketd_string (*scratch_dir)(const ticketd_job* job);
    /* Local read-only path of the input file named `name` (empty if there is none). */
    ticketd_string (*input_file)(const ticketd_job* job, const char* name, size_t name_size);
    /* Set the job's result: bytes with a media type. Returns 0 on success. */
    int (*set_result)(ticketd_job* job, const char* content_type, size_t content_type_size,
                      const void* data, size_t data_size);
    /* Record why the job failed: a stable code (e.g. "decode-error") and a message. */
    void (*fail)(ticketd_job* job, const char* code, size_t code_size, const char* message,
                 size_t message_size);
    /* Add an input validation error: a JSON Pointer into the input and a detail. */
    void (*add_validation_error)(ticketd_validation* validation, const char* pointer,
                                 size_t pointer_size, const char* detail, size_t detail_size);
    /* For large results: a path the plugin writes its result file to, with its media
     * type. When `run` succeeds the host makes that file the job's result (no copy).
     * Replaces any result set with set_result, and vice versa. */
    ticketd_string (*result_file)(ticketd_job* job, const char* content_type,
                                  size_t content_type_size);
    /* Register a Prometheus metric, exported as ticketd_plugin_<plugin name>_<name> with a
     * `type` label (the job type). Only valid inside `create`. `name` is [a-z_][a-z0-9_]*;
     * histograms take `bucket_count` increasing upper bounds. Never returns NULL: a
     * refused registration (logged) returns a metric that records nothing. */
    ticketd_metric* (*metric_register)(ticketd_metric_kind kind, const char* name, size_t name_size,
                                       const char* help, size_t help_size, const double* buckets,
                                       size_t bucket_count);
    /* Record a value (see ticketd_metric_kind). Thread-safe, cheap: call from `run`. */
    void (*metric_record)(ticketd_metric* metric, double value);

    /* ---- ABI 1.1 (check struct_size before use: a 1.0 host lacks these) ---- */

    /* Name the result for download, e.g. "sales-2026-11.csv": clients get it in
     * Content-Disposition. UTF-8, no '/'. Returns 0 on success. */
    int (*set_result_name)(ticketd_job* job, const char* name, size_t name_size);

    /* ---- ABI 1.2 (check struct_size before use: older hosts lack these) ---- */

    /* Like `fail`, for a failure that may pass if the job is tried again (a database
     * restarting, a full disk, an upstream's 503): the job runs again if its type's
     * retry policy has attempts left, else it fails. `retry_after_ms` >= 0 is when to try
     * again (at most 24 h); < 0 leaves it to the type's backoff. `run` then returns
     * TICKETD_RUN_FAILED. */
    void (*fail_retryable)(ticketd_job* job, const char* code, size_t code_size, const char* message,
                           size_t message_size, int64_t retry_after_ms);
} ticketd_host_services;

/*
 * The plugin's constant descriptor. Strings are NUL-terminated UTF-8 and live as long
 * as the library is loaded.
 */
typedef struct ticketd_plugin_descriptor {
    uint32_t magic;       /* TICKETD_PLUGIN_MAGIC */
    uint32_t struct_size; /* sizeof(ticketd_plugin_descriptor) as the plugin compiled it */
    uint16_t abi_major;   /* TICKETD_PLUGIN_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;   /* TICKETD_PLUGIN_ABI_MINOR the plugin was built against */
    uint32_t reserved;    /* zero */

    const char* name;            /* job-type plugin name, [a-z0-9_-]+ */
    const char* version;         /* the plugin's own version, e.g. "1.2.0" */
    const char* license;         /* SPDX identifier */
    const char* description;     /* one line */
    const char* settings_schema; /* JSON Schema of the job type's `settings` ("" = any) */
    const char* input_schema;    /* JSON Schema of a job's `input` ("" = any) */

    /* Create the state for one job type from its settings JSON. On failure return NULL
     * and write a NUL-terminated message into `error` (at most `error_size` bytes). */
    ticketd_instance* (*create)(const char* settings_json, size_t settings_size, char* error,
                                size_t error_size);
    /* Validate a job's input JSON before it is accepted: fast, thread-safe, no I/O.
     * Report problems with host->add_validation_error; return 0 when valid. */
    int (*validate)(ticketd_instance* instance, const char* input_json, size_t input_size,
                    ticketd_validation* validation);
    /* Run one attempt of a job on a worker thread. Must poll host->is_canceled. */
    ticketd_run_status (*run)(ticketd_instance* instance, ticketd_job* job,
                              const char* input_json, size_t input_size);
    /* Free the instance. Called before the library could ever be released. */
    void (*destroy)(ticketd_instance* instance);

    /* ---- ABI 1.2 (a 1.0 or 1.1 descriptor ends before these: the host reads struct_size) ---- */

    /* The uploads a job reads, as JSON (NULL or "" = any files, unchecked):
     *   {"<name>": {"required": true, "mediaTypes": ["text/csv"],
     *               "maxBytes": 1073741824, "description": "..."}, ...}
     * Every member but the name is optional; a media type may end in a "*" subtype (any
     * audio type: "audio/" then "*").
     * The host checks a submit's `files` against it (a required one missing, a name not
     * declared, a media type or size outside it: 400) and publishes it in
     * GET /v1/job-types. */
    const char* files;
} ticketd_plugin_descriptor;

/* The entry point every plugin exports. */
typedef const ticketd_plugin_descriptor* (*ticketd_plugin_entry_v1)(
    const ticketd_host_services* host);

#ifdef __cplusplus
}
#endif

#endif /* TICKETD_PLUGIN_H */

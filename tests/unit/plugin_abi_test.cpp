// The v1 ABI's layout is a promise to every plugin ever built: lock it down.
#include <ticketd/plugin.h>

#include <gtest/gtest.h>

#include <cstddef>

static_assert(TICKETD_PLUGIN_ABI_MAJOR == 1);
static_assert(sizeof(ticketd_string) == 16);
static_assert(offsetof(ticketd_plugin_descriptor, magic) == 0);
static_assert(offsetof(ticketd_plugin_descriptor, struct_size) == 4);
static_assert(offsetof(ticketd_plugin_descriptor, abi_major) == 8);
static_assert(offsetof(ticketd_plugin_descriptor, abi_minor) == 10);
static_assert(offsetof(ticketd_plugin_descriptor, name) == 16);
static_assert(offsetof(ticketd_plugin_descriptor, input_schema) == 56);
static_assert(offsetof(ticketd_plugin_descriptor, create) == 64);
static_assert(offsetof(ticketd_plugin_descriptor, destroy) == 88);
static_assert(offsetof(ticketd_plugin_descriptor, files) == 96);  // ABI 1.2
static_assert(sizeof(ticketd_plugin_descriptor) == 104);
static_assert(offsetof(ticketd_host_services, struct_size) == 0);
static_assert(offsetof(ticketd_host_services, log) == 8);
static_assert(offsetof(ticketd_host_services, add_validation_error) == 88);
static_assert(offsetof(ticketd_host_services, result_file) == 96);
static_assert(offsetof(ticketd_host_services, metric_register) == 104);
static_assert(offsetof(ticketd_host_services, metric_record) == 112);
static_assert(offsetof(ticketd_host_services, set_result_name) == 120);  // ABI 1.1
static_assert(offsetof(ticketd_host_services, fail_retryable) == 128);  // ABI 1.2
static_assert(sizeof(ticketd_host_services) == 136);

TEST(plugin_abi, entry_symbol_carries_the_major_version) {
    EXPECT_STREQ(TICKETD_PLUGIN_ENTRY_SYMBOL, "ticketd_plugin_v1");
}

// Plugin loading: every broken plugin is refused with one exact line naming the file,
// what was expected, what was found and the fix (`ticketd --check-plugin`).
#include "support/daemon_test.hpp"

#include <gtest/gtest.h>

#include <elf.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>

using namespace ticketd::test;

namespace {
std::string broken(const std::string& name) { return std::string(TICKETD_BROKEN_DIR) + "/" + name + ".so"; }

// Runs --check-plugin on a broken fixture: exit 1, one line on the output.
std::string rejection(const std::string& name) {
    std::string out;
    EXPECT_EQ(run_ticketd({"--check-plugin", broken(name)}, out), 1) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    return out;
}
}  // namespace

// Each broken fixture plugin (tests/plugins/broken) and the one line that refuses it.
struct refused_plugin {
    const char* file;
    const char* reason;  // after "ticketd: <file>: "
};
class plugin_refusal : public ::testing::TestWithParam<refused_plugin> {};

TEST_P(plugin_refusal, is_one_line_naming_file_expected_found_and_fix) {
    const auto& p = GetParam();
    EXPECT_EQ(rejection(p.file), "ticketd: " + broken(p.file) + ": " + p.reason + "\n");
}

INSTANTIATE_TEST_SUITE_P(
    plugin_loading, plugin_refusal,
    ::testing::Values(
        refused_plugin{"no_entry",
                       "expected an exported symbol ticketd_plugin_v1, found none (not a ticketd v1 plugin); fix: "
                       "export it with TICKETD_PLUGIN(...) from <ticketd/plugin.hpp>"},
        refused_plugin{"bad_magic",
                       "expected descriptor magic 0x4454544B, found 0x12345678; fix: build the plugin with "
                       "<ticketd/plugin.h> and TICKETD_PLUGIN(...)"},
        refused_plugin{"other_major",
                       "expected ABI major 1, found ABI major 2; fix: rebuild the plugin against this ticketd's "
                       "plugin SDK"},
        refused_plugin{"newer_minor",
                       "expected ABI minor <= 2, found ABI minor 3; fix: upgrade ticketd, or build the plugin "
                       "against an older SDK"},
        refused_plugin{"null_run",
                       "expected a run() function in the descriptor, found run = NULL; fix: use TICKETD_PLUGIN(...), "
                       "which fills them all"},
        refused_plugin{"empty_name",
                       "expected a plugin name, found an empty name; fix: pass a name to TICKETD_PLUGIN(...)"},
        refused_plugin{"small_struct",
                       "expected a descriptor of at least 96 bytes, found 16 bytes; fix: rebuild the plugin against "
                       "the current SDK"},
        refused_plugin{"bad_files",
                       "expected a JSON declaration of its files, found \"/source/required: must be true or false\"; "
                       "fix: fix the files string passed to TICKETD_PLUGIN_WITH_FILES(...) (docs/writing-a-plugin.md)"}),
    [](const ::testing::TestParamInfo<refused_plugin>& info) { return std::string(info.param.file); });

TEST(plugin_loading, executable_stack) {
    EXPECT_EQ(rejection("exec_stack"),
              "ticketd: " + broken("exec_stack") +
                  ": expected a non-executable stack (PT_GNU_STACK without PF_X), found an executable stack; fix: link "
                  "with -Wl,-z,noexecstack (ticketd_add_plugin does) and check assembly files for .note.GNU-stack\n");
}

TEST(plugin_loading, missing_library_carries_the_dlerror_text) {
    EXPECT_EQ(rejection("missing_library"),
              "ticketd: " + broken("missing_library") +
                  ": expected a library dlopen() can load (RTLD_NOW), found \"libticketd_fixture_dependency.so: cannot "
                  "open shared object file: No such file or directory\"; fix: install the libraries it needs or link "
                  "them with an rpath, and define every symbol it uses (ticketd_add_plugin links with -z defs to "
                  "catch those at build time)\n");
}

TEST(plugin_loading, a_good_plugin_prints_its_descriptor) {
    std::string out;
    ASSERT_EQ(run_ticketd({"--check-plugin", std::string(TICKETD_PLUGIN_DIR) + "/hello.so", "--settings", "greeting: Hi"},
                          out),
              0)
        << out;
    EXPECT_NE(out.find("name:        hello"), std::string::npos) << out;
    EXPECT_NE(out.find("abi:         1.2"), std::string::npos) << out;
    EXPECT_NE(out.find("\"delayMs\""), std::string::npos) << out;  // the input schema
    EXPECT_NE(out.find("create({\"greeting\":\"Hi\"}): OK"), std::string::npos) << out;
}

TEST(plugin_loading, descriptors_without_files_load_and_their_jobs_may_name_any_files) {
    // A 1.1 descriptor, and one of the first 1.2 SDKs, end before `files` (where the
    // fixtures keep text that is not JSON): the host must not read past struct_size.
    for (const auto& [fixture, abi] : {std::pair{"abi_1_1", "1.1"}, std::pair{"abi_1_2_short", "1.2"}}) {
        std::string out;
        ASSERT_EQ(run_ticketd({"--check-plugin", broken(fixture)}, out), 0) << out;
        EXPECT_NE(out.find(std::string("abi:         ") + abi + " (this ticketd: 1.2), descriptor 96 bytes"),
                  std::string::npos)
            << out;
        EXPECT_NE(out.find("files:           (none declared: any files)"), std::string::npos) << out;
    }
}

TEST(plugin_loading, settings_are_checked_against_the_schema_then_by_create) {
    std::string out;
    EXPECT_EQ(run_ticketd({"--check-plugin", std::string(TICKETD_PLUGIN_DIR) + "/hello.so", "--settings",
                           "greeting: [1, 2]"},
                          out),
              1);
    EXPECT_NE(out.find("expected settings matching the plugin's schema, found settings/greeting must be of type "
                       "string, not array"),
              std::string::npos)
        << out;
    EXPECT_EQ(run_ticketd({"--check-plugin", std::string(TICKETD_FIXTURE_DIR) + "/throw.so", "--settings", "refuse: true"},
                          out),
              1);
    EXPECT_NE(out.find("expected create() to start the job type, found it failed: refusing these settings"),
              std::string::npos)
        << out;
}

// What a plugin hands over is cleaned at the boundary: documents stay valid JSON (invalid
// UTF-8 becomes U+FFFD), codes stay URL-safe, a media type cannot inject a header.
namespace {
daemon_config_text garbage_config() {
    daemon_config_text c;
    c.job_types["garbage.yaml"] = "type: garbage\nplugin: @FIXTURES@/garbage.so\nmax_attempts: 1\n";
    return c;
}
class plugin_strings : public daemon_test_with<garbage_config> {};
}  // namespace

TEST_F(plugin_strings, malformed_strings_from_a_plugin_are_cleaned) {
    const auto failed = d.wait_terminal(submit_id("garbage"));
    ASSERT_EQ(failed.value("status", ""), "failed");
    EXPECT_EQ(failed["error"].value("code", ""), "garbage/bad-code----x");
    EXPECT_EQ(failed["error"].value("detail", ""), "broken \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD surrogate and "
                                                   "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD too far");
    EXPECT_EQ(failed["progress"].value("message", ""), "half \xEF\xBF\xBD\xEF\xBF\xBD way \xEF\xBF\xBD\xEF\xBF\xBD");

    const auto ok = d.wait_terminal(submit_id("garbage", {{"succeed", true}}));
    ASSERT_EQ(ok.value("status", ""), "succeeded");
    auto r = d.get("/v1/jobs/" + ok.value("id", "") + "/result");
    EXPECT_EQ(r.header("Content-Type").value_or(""), "application/octet-stream");
    EXPECT_FALSE(r.header("X-Injected").has_value());
    EXPECT_EQ(d.get("/v1/jobs?type=garbage").status, 200u);  // the list renders too
}

// Found by fuzzing (tests/fuzz/plugin_file_fuzzer.cpp): Boost.DLL's symbol listing trusts
// an ELF's section headers and allocated what they claimed (exabytes: std::bad_alloc, or
// under a sanitizer the end of the process). ticketd checks them first, on copies of a
// real plugin with one field made wrong.
namespace {
std::string patched_plugin(const temp_dir& dir, const std::string& name,
                           const std::function<void(std::string& elf, Elf64_Ehdr& header, Elf64_Shdr* sections)>& patch) {
    std::ifstream in(std::string(TICKETD_PLUGIN_DIR) + "/hello.so", std::ios::binary);
    std::string elf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Elf64_Ehdr header;
    std::memcpy(&header, elf.data(), sizeof header);
    patch(elf, header, reinterpret_cast<Elf64_Shdr*>(elf.data() + header.e_shoff));
    std::memcpy(elf.data(), &header, sizeof header);
    const auto file = (dir.path / (name + ".so")).string();
    std::ofstream(file, std::ios::binary) << elf;
    return file;
}

Elf64_Ehdr elf_header_of_hello() {
    std::ifstream in(std::string(TICKETD_PLUGIN_DIR) + "/hello.so", std::ios::binary);
    Elf64_Ehdr header{};
    in.read(reinterpret_cast<char*>(&header), sizeof header);
    return header;
}

std::string check_plugin_output(const std::string& file) {
    std::string out;
    EXPECT_EQ(run_ticketd({"--check-plugin", file}, out), 1) << out;
    return out;
}
}  // namespace

TEST(plugin_loading, section_headers_that_claim_more_than_the_file_holds_are_refused) {
    temp_dir dir("ticketd-elf");
    const std::vector<std::pair<std::string, std::string>> cases{
        {patched_plugin(dir, "names",
                        [](std::string&, Elf64_Ehdr& h, Elf64_Shdr* s) {
                            s[h.e_shstrndx].sh_type = SHT_NOBITS;  // whatever its type, it is read
                            s[h.e_shstrndx].sh_size = 0x70000f0021000007;
                        }),
         "found ELF section " + std::to_string(elf_header_of_hello().e_shstrndx) + " extends past the end of the file"},
        {patched_plugin(dir, "no-sections", [](std::string&, Elf64_Ehdr& h, Elf64_Shdr*) { h.e_shnum = 0; }),
         "found no ELF section headers"},
        {patched_plugin(dir, "headers-past-the-end",
                        [](std::string& elf, Elf64_Ehdr& h, Elf64_Shdr*) { h.e_shoff = elf.size() - 8; }),
         "found ELF section headers outside the file"},
        {patched_plugin(dir, "partial-symbol",
                        [](std::string&, Elf64_Ehdr& h, Elf64_Shdr* s) {
                            for (unsigned i = 0; i < h.e_shnum; ++i) {
                                if (s[i].sh_type == SHT_DYNSYM) s[i].sh_size = 8;
                            }
                        }),
         "is not a whole number of symbols"},
    };
    for (const auto& [file, found] : cases) {
        const auto out = check_plugin_output(file);
        EXPECT_EQ(out.rfind("ticketd: " + file + ": expected an ELF shared object, ", 0), 0u) << out;
        EXPECT_NE(out.find(found), std::string::npos) << out;
        EXPECT_NE(out.find("; fix: point 'plugin:' at a .so built with ticketd_add_plugin()\n"), std::string::npos)
            << out;
    }
}

// A metric name the daemon would refuse (and only log) fails the checks an author's CI runs.
TEST(plugin_loading, a_metric_the_daemon_would_refuse_fails_check_plugin_and_check_config) {
    std::string out;
    const std::string plugin = std::string(TICKETD_FIXTURE_DIR) + "/throw.so";
    EXPECT_EQ(run_ticketd({"--check-plugin", plugin, "--settings", "metric: Bad-Name_total"}, out), 1) << out;
    EXPECT_NE(out.find("metric 'Bad-Name_total' (names are [a-z_][a-z0-9_]*)"), std::string::npos) << out;
    EXPECT_EQ(run_ticketd({"--check-plugin", plugin, "--settings", "metric: jobs"}, out), 1) << out;
    EXPECT_NE(out.find("counter names end in _total"), std::string::npos) << out;
    EXPECT_EQ(run_ticketd({"--check-plugin", plugin, "--settings", "metric: jobs_total"}, out), 0) << out;

    daemon_config_text c;
    c.job_types["throw.yaml"] = "type: throw\nplugin: @FIXTURES@/throw.so\nsettings:\n  metric: jobs\n";
    daemon_process d(c);
    EXPECT_EQ(d.check_config(out), 1) << out;
    EXPECT_NE(out.find("counter names end in _total"), std::string::npos) << out;
}

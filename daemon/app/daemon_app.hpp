// Wires the daemon together (config -> store -> plugins -> engine -> HTTP) and runs its
// lifecycle: recover, serve, and on SIGTERM/SIGINT drain and stop.
#pragma once

#include "config/config.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ticketd {

struct daemon_options {
    std::filesystem::path config_file;
    std::optional<std::string> listen;               // overrides server.listen
    std::optional<std::filesystem::path> state_dir;  // overrides state_dir
    std::optional<std::filesystem::path> port_file;  // written once listening
};

// Loads and validates the config and every job type's plugin and settings; prints a
// summary. Returns the process exit code.
int check_config(const daemon_options& options);
// Loads one plugin file and prints its descriptor, or the exact rejection; with
// `settings` (YAML text, or the name of a YAML file) also creates an instance with them.
int check_plugin(const std::filesystem::path& file, const std::optional<std::string>& settings);
// Runs the daemon in the foreground until SIGTERM/SIGINT. Returns the exit code: 0 after a
// clean stop, exit_config_error when the configuration, a plugin or the state directory
// refuses start-up (a person must fix it: systemd does not restart it), 1 for other
// start-up failures; 70 is a fail-stop of an internal thread (system/threads.hpp).
int run_daemon(const daemon_options& options);
constexpr int exit_config_error = 78;  // EX_CONFIG

// `ticketd keys ...` (app/key_commands.cpp): the arguments after "keys". Returns the
// exit code.
int keys_command(const std::vector<std::string>& args);

// The config with command-line overrides applied; throws config_error.
daemon_config load_effective_config(const daemon_options& options);
// check_exposure() for the address a listening socket systemd passed is bound to, whatever
// server.listen says.
void check_exposure_of_socket(const daemon_config& config, int fd);

}  // namespace ticketd

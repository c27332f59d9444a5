// run_daemon() (about 420 lines, because its order of construction and destruction is the
// daemon's life cycle: what may call what, and until when, so it is kept in one piece):
// builds the daemon in order (config, store, job types, backend, engine, periodic jobs,
// HTTP), serves until SIGTERM/SIGINT, reloads on SIGHUP, drains and stops.
#include "app/daemon_app.hpp"
#include "app/job_types.hpp"
#include "app/status_gauges.hpp"

#include "api/http_api.hpp"
#include "api/metrics_endpoint.hpp"
#include "auth/authenticator.hpp"
#include "auth/keys_file.hpp"
#include "auth/quotas.hpp"
#include "embedded/embedded_backend.hpp"
#include "http/http_server.hpp"
#include "http/tls_credentials.hpp"
#include "jobs/job_engine.hpp"
#include "jobs/periodic_jobs.hpp"
#include "metrics/daemon_metrics.hpp"
#include "store/sqlite_schema.hpp"
#include "store/sqlite_store.hpp"
#include "system/control_signals.hpp"
#include "system/log.hpp"
#include "system/scheduler.hpp"
#include "system/service_notifier.hpp"
#include "system/thread_origin.hpp"
#include "system/threads.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <fstream>
#include <thread>

namespace ticketd {

namespace fs = std::filesystem;

namespace {

// Runs an io thread's loop until it is stopped. An exception that escapes a handler (a
// bug: handlers answer errors themselves) is logged and the loop goes on, so that one
// connection's bug costs that connection (its session is dropped), not the daemon.
void run_io(boost::asio::io_context& io) {
    for (;;) {
        try {
            io.run();
            return;
        } catch (const std::exception& e) {
            log_error(std::string("io thread: an exception escaped a handler (contained): ") + e.what());
        } catch (...) {
            log_error("io thread: an exception escaped a handler (contained)");
        }
    }
}

std::string monotonic_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::to_string(static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000);
}

// Calls `fn` every `period` on the timer thread until the process stops. The next call is
// scheduled first: one that throws (contained by the scheduler) does not end the series.
void every(scheduler& timers, std::chrono::milliseconds period, std::function<void()> fn) {
    auto tick = std::make_shared<std::function<void()>>();
    *tick = [&timers, period, fn = std::move(fn), weak = std::weak_ptr<std::function<void()>>(tick)] {
        if (auto next = weak.lock()) timers.after(period, [next] { (*next)(); });
        fn();
    };
    timers.after(period, [tick] { (*tick)(); });
}

// One daemon per state directory.
int lock_state_dir(const fs::path& dir) {
    const auto path = dir / "ticketd.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        throw std::runtime_error("state directory " + dir.string() +
                                 " is in use by another ticketd; fix: stop it or use another state_dir");
    }
    return fd;
}

// The bound port, and on a second line the metrics port when /metrics has its own.
void write_port_file(const fs::path& file, uint16_t port, uint16_t metrics_port) {
    const fs::path tmp = file.string() + ".tmp";
    {
        std::ofstream out(tmp);
        out << port << "\n";
        if (metrics_port != 0) out << metrics_port << "\n";
    }
    fs::rename(tmp, file);
}

}  // namespace

int run_daemon(const daemon_options& options) {
    // Before any thread starts (plugins' own included) and before anything outside can
    // learn that the daemon exists: a SIGTERM or SIGHUP now waits instead of ending it.
    hold_control_signals();
    daemon_config config;
    std::vector<job_type_ptr> types;
    std::optional<daemon_metrics> metrics_storage;
    std::optional<authenticator> auth;
    std::shared_ptr<const tls_credentials> tls;
    int lock_fd = -1;
    try {
        config = load_effective_config(options);
        auth.emplace(config.auth.mode);
        auto keys = load_keys_for(config);
        auth->set_keys(std::move(keys.keys), keys.principals);
        if (config.server.tls.enabled()) {
            tls = std::make_shared<const tls_credentials>(config.server.tls);
            log_info("tls: " + tls->description());
        }
        metrics_storage.emplace(TICKETD_VERSION, config.metrics.enabled);
        fs::create_directories(config.state_dir);
        lock_fd = lock_state_dir(config.state_dir);
        types = load_job_types(config, &*metrics_storage);
        metrics_storage->set_config_reload(true, static_cast<double>(now_unix_ms()) / 1000.0);
    } catch (const std::exception& e) {
        // The configuration, its plugins or the state directory need a person: exit 78
        // (EX_CONFIG), which the unit does not restart (RestartPreventExitStatus).
        log_error(std::string("startup failed: ") + e.what());
        return exit_config_error;
    }

    daemon_metrics& metrics = *metrics_storage;
    std::signal(SIGPIPE, SIG_IGN);
    // The main io thread's context: the listeners, timers, signals, and its share of the
    // connections. Each further io thread runs a context of its own (below).
    boost::asio::io_context io(1);
    scheduler timers;
    // systemd (Type=notify) hears READY=1 once everything is up (below); before that, only
    // that a schema migration makes this start longer than its start timeout allows: a
    // migration killed halfway rolls back, and would start over at every restart.
    service_notifier notifier;
    std::unique_ptr<sqlite_store> store;
    try {
        if (const auto jobs = migration_size(config.state_dir / "ticketd.db")) {
            // A minute, plus a minute per million jobs to copy: well above the migration's
            // measured time (docs/performance.md), so that the timeout never ends it.
            const auto allow = std::chrono::seconds(60) + std::chrono::seconds(*jobs * 60 / 1'000'000);
            notifier.notify("EXTEND_TIMEOUT_USEC=" +
                            std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(allow).count()) +
                            "\nSTATUS=migrating the store (" + std::to_string(*jobs) + " jobs)");
        }
        store = std::make_unique<sqlite_store>(config.state_dir / "ticketd.db", config.journal_segment_bytes);
    } catch (const std::exception& e) {
        log_error(std::string("startup failed: cannot open the store: ") + e.what());
        return 1;
    }
    std::optional<upload_store> uploads;
    try {
        uploads.emplace(config.state_dir / "uploads", *store, config.uploads.ttl);
        uploads->load();
    } catch (const std::exception& e) {
        log_error(std::string("startup failed: cannot open the uploads: ") + e.what());
        return 1;
    }
    std::optional<embedded_backend> backend;
    std::optional<job_engine> engine_storage;
    try {
        backend.emplace(embedded_backend::settings{config.state_dir, config.server.max_waiters, config.idempotency_ttl,
                                                   config.tombstone_ttl, config.purge_interval, config.max_cached_jobs},
                        *store, *uploads, timers);
        engine_storage.emplace(job_engine::settings{config.state_dir / "scratch", config.drain_timeout,
                                                    config.cancel_grace},
                               *backend, timers, std::move(types));
    } catch (const std::exception& e) {  // its directories (scratch/, attempts/) cannot be made
        log_error(std::string("startup failed: ") + e.what());
        return exit_config_error;
    }
    job_engine& engine = *engine_storage;
    // Timer callbacks call into the engine: the timer thread stops before the engine goes.
    struct timers_stopper {
        scheduler& timers;
        ~timers_stopper() { timers.stop(); }
    } stop_timers_first{timers};
    add_queue_gauges(metrics, engine);
    add_store_metrics(metrics, *store);
    quota_keeper quotas;
    quotas.set(std::make_shared<const quotas_config>(config.quotas));
    backend->set_weights(weights_of(config.quotas));
    add_principal_gauges(metrics, quotas, *backend);
    http_api api(config, engine, *uploads, *auth, quotas, metrics);
    std::vector<std::unique_ptr<boost::asio::io_context>> more_io;
    std::vector<boost::asio::io_context*> connection_io{&io};
    for (unsigned i = 1; i < config.server.io_threads; ++i) {
        more_io.push_back(std::make_unique<boost::asio::io_context>(1));
        connection_io.push_back(more_io.back().get());
    }
    http_server server(io, config.server, api, connection_io);
    server.use_tls(tls);
    // /metrics on a separate address when metrics.listen is set (e.g. private network).
    const bool separate_metrics = config.metrics.enabled && !config.metrics.listen_host.empty();
    metrics_endpoint metrics_api(metrics);
    server_config metrics_server_config = config.server;
    metrics_server_config.listen_host = config.metrics.listen_host;
    metrics_server_config.listen_port = config.metrics.listen_port;
    metrics_server_config.tls = {};  // a private address, plain HTTP (docs/security.md)
    std::optional<http_server> metrics_server;
    if (separate_metrics) metrics_server.emplace(io, metrics_server_config, metrics_api);
    periodic_jobs periodic(engine, timers, config.state_dir / "schedules.json");
    engine.report_schedules(&periodic);
    try {
        engine.recover();
        // Socket activation: systemd holds the listener (fd 3, then fd 4 for metrics.listen)
        // across restarts, so connections queue instead of being refused.
        const auto activated = take_activation_sockets();
        if (!activated.empty()) {
            check_exposure_of_socket(config, activated[0]);
            server.adopt(activated[0]);
            log_info("socket activation: serving on the listener systemd passed (fd 3)");
        } else {
            server.listen();
        }
        if (metrics_server) {
            if (activated.size() > 1) metrics_server->adopt(activated[1]);
            else metrics_server->listen();
        }
    } catch (const config_error& e) {  // a public socket without authentication: a person must decide
        log_error(std::string("startup failed: ") + e.what());
        return exit_config_error;
    } catch (const std::exception& e) {
        log_error(std::string("startup failed: ") + e.what());
        return 1;
    }
    const uint16_t port = server.port();
    std::string base_url = config.server.public_base_url;
    if (base_url.empty()) {
        const bool v6 = config.server.listen_host.find(':') != std::string::npos;
        base_url = (tls ? "https://" : "http://") + (v6 ? "[" + config.server.listen_host + "]" : config.server.listen_host) + ":" +
                   std::to_string(port);
    }
    api.set_base_url(base_url);
    metrics_api.set_base_url(base_url);
    // A write made on an io thread is answered on it (its connection lives there), so
    // that the store's threads only write; others are answered by the store's threads.
    store->set_completion_executor(
        [] { return static_cast<sqlite_store::completion_origin>(this_thread_origin); },
        [](sqlite_store::completion_origin origin, std::function<void()> fn) {
            boost::asio::post(*static_cast<boost::asio::io_context*>(origin), std::move(fn));
        });
    // A stop asked for during start-up ends it here, before any job starts or anyone is told
    // the daemon is up; a SIGHUP waits and is applied once the loop runs.
    if (const int sig = pending_stop_signal()) {
        log_info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                 " during start-up: stopping before serving");
        ::close(lock_fd);
        return 0;
    }
    bool clean_stop = true;
    std::thread drainer;
    // SIGHUP: re-read the config and jobs.d/ and apply the job types (on its own thread:
    // loading plugins must not hold an io thread). A bad config changes nothing.
    std::thread reloader;
    std::atomic<bool> reloading{false};
    auto reload = [&] {
        notifier.notify("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec() + "\nSTATUS=reloading the configuration");
        const double now_s = static_cast<double>(now_unix_ms()) / 1000.0;
        std::string outcome;
        bool ok = true;
        try {
            const daemon_config next = load_effective_config(options);
            // The keys and the certificate are loaded before anything is applied: all or nothing.
            // (A change of auth.mode or of TLS on/off waits for a restart.)
            const bool same_mode = config.auth.mode == next.auth.mode;
            auto keys = same_mode ? load_keys_for(next) : keys_document{};
            std::shared_ptr<const tls_credentials> next_tls;
            // New files, not a new kind of TLS: requiring client certificates waits for a restart.
            if (tls && next.server.tls.enabled() &&
                next.server.tls.client_ca.empty() == config.server.tls.client_ca.empty()) {
                next_tls = std::make_shared<const tls_credentials>(next.server.tls);
            }
            const std::string summary = engine.reload(next.job_types, [&](const job_type_config& t) {
                return make_job_type(next, t, &metrics);
            });
            periodic.set(next.job_types);
            if (restart_only_settings(next) != restart_only_settings(config)) {
                log_warning("reload: server (but its TLS files), metrics, state_dir, idempotency, jobs, uploads or auth.mode settings changed; "
                            "they take effect after a restart");
            }
            const size_t key_count = keys.keys.size(), principal_count = keys.principals.size();
            if (same_mode) auth->set_keys(std::move(keys.keys), keys.principals);
            if (next_tls) server.use_tls(next_tls);  // new connections; open ones keep theirs
            quotas.set(std::make_shared<const quotas_config>(next.quotas));
            backend->set_weights(weights_of(next.quotas));
            metrics.set_config_reload(true, now_s);
            outcome = "reload: applied " + config.file.string() + ": " + summary;
            if (config.auth.mode == auth_mode::api_keys) outcome += "; " + std::to_string(key_count) + " API keys";
            if (config.auth.mode == auth_mode::mtls) outcome += "; " + std::to_string(principal_count) + " certificate principals";
            if (next_tls) outcome += "; tls: " + next_tls->description();
        } catch (const std::exception& e) {
            metrics.set_config_reload(false, now_s);
            outcome = std::string("reload refused, the running configuration is unchanged: ") + e.what();
            ok = false;
        }
        notifier.notify("READY=1\nSTATUS=" + status_line(engine));
        // Done before it is said: whoever reads the line may send the next SIGHUP at once.
        reloading = false;
        if (ok) log_info(outcome);
        else log_error(outcome);
    };
    boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                if (drainer.joinable()) {
                    log_warning("SIGHUP while draining: ignored");
                } else if (reloading.exchange(true)) {
                    log_warning("SIGHUP: a reload is already running; ignored");
                } else {
                    log_info("received SIGHUP: reloading " + config.file.string());
                    if (reloader.joinable()) reloader.join();  // the previous one, finished
                    reloader = std::thread([&] {
                        hold_control_signals();  // and so do the workers a reload starts
                        name_this_thread("td-reload");
                        reload();
                    });
                }
                signals.async_wait(on_signal);
                return;
            }
            if (drainer.joinable()) return;
            log_info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": draining");
            api.set_ready(false);
            // Draining may take drain_timeout + cancel_grace: ask systemd for that long.
            const auto extend = std::chrono::duration_cast<std::chrono::microseconds>(
                config.drain_timeout + config.cancel_grace + std::chrono::seconds(10));
            notifier.notify("STOPPING=1\nSTATUS=draining: " + status_line(engine) +
                            "\nEXTEND_TIMEOUT_USEC=" + std::to_string(extend.count()));
            // Draining blocks (it waits for jobs): never on an io thread.
            drainer = std::thread([&] {
                hold_control_signals();
                name_this_thread("td-drain");
                run_or_fail_stop("td-drain", [&] {
                    periodic.stop();
                    clean_stop = engine.drain();
                    server.stop_accepting();
                    if (metrics_server) metrics_server->stop_accepting();
                    for (auto* c : connection_io) c->stop();
                });
            });
        };
    signals.async_wait(on_signal);

    engine.start();
    periodic.set(config.job_types);
    api.set_ready(true);
    if (options.port_file) write_port_file(*options.port_file, port, metrics_server ? metrics_server->port() : 0);
    if (metrics_server) {
        log_info("metrics on " + config.metrics.listen_host + ":" + std::to_string(metrics_server->port()));
    }
    // systemd (Type=notify): ready only now that the store is open, plugins are loaded and
    // the listener is bound; the watchdog is fed by the event loops, so that any hung loop
    // gets the service restarted.
    if (notifier.active()) {
        notifier.notify("READY=1\nSTATUS=" + status_line(engine));
        every(timers, std::chrono::seconds(5), [&] { notifier.notify("STATUS=" + status_line(engine)); });
        if (const auto interval = notifier.watchdog_interval()) {
            // Each ping is a round through every io thread; the last to answer sends it.
            // One wedged loop (a handler that never returns) starves the watchdog.
            every(timers, std::chrono::duration_cast<std::chrono::milliseconds>(*interval), [&] {
                auto unanswered = std::make_shared<std::atomic<size_t>>(connection_io.size());
                for (auto* c : connection_io) {
                    boost::asio::post(*c, [&notifier, unanswered] {
                        if (unanswered->fetch_sub(1) == 1) notifier.notify("WATCHDOG=1");
                    });
                }
            });
        }
    }
    log_info("ticketd listening on " + config.server.listen_host + ":" + std::to_string(port) + " (" + base_url +
             "), state in " + config.state_dir.string() + ", " + std::to_string(config.job_types.size()) +
             " job types");

    std::vector<std::thread> io_threads;
    name_this_thread("td-io");
    this_thread_origin = &io;
    for (auto& c : more_io) {
        io_threads.emplace_back([&c] {
            name_this_thread("td-io");
            this_thread_origin = c.get();
            auto busy = boost::asio::make_work_guard(*c);  // runs until stopped, even with no connection
            run_io(*c);
        });
    }
    // The handlers are in place: this thread takes the control signals from here on
    // (every other thread keeps them blocked), those that arrived during start-up first.
    release_control_signals();
    run_io(io);
    // Held again before the handlers go (`signals` restores the default actions): a late
    // SIGTERM must not end the process in the middle of its clean stop.
    hold_control_signals();
    for (auto& t : io_threads) t.join();
    timers.stop();  // before the io contexts and their list go: the watchdog's round uses them
    if (drainer.joinable()) drainer.join();
    if (reloader.joinable()) reloader.join();
    store->close();
    log_info(clean_stop ? "stopped" : "stopped; some plugins ignored cancellation and were abandoned");
    ::close(lock_fd);
    if (!clean_stop) {
        // Worker threads are stuck in plugin code: leave without joining them.
        std::fflush(nullptr);
        std::_Exit(0);
    }
    return 0;
}

}  // namespace ticketd

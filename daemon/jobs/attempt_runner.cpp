#include "jobs/attempt_runner.hpp"

#include "jobs/transitions.hpp"
#include "system/log.hpp"
#include "system/random_id.hpp"
#include "system/threads.hpp"

#include <algorithm>

namespace ticketd {

namespace {
std::string job_tag(const job_record& r) { return "job=" + r.id + " type=" + r.type; }

const job_error timeout_error{"job-timeout", "Job timed out", "the job did not finish within its timeout"};

// The attempt ended by its timeout: retried if the type's policy says so, else failed.
job_record timed_out(const job_record& current, const job_type_rules& rules, std::optional<retry_reason>& why) {
    return transitions::after_failure(current, rules.retry, transitions::failed_attempt(attempt_failure::timeout, timeout_error), now_unix_ms(),
                                      rules.retention_ms, random_fraction(), why);
}

}  // namespace

attempt_runner::attempt_runner(job_backend& backend, const type_registry& types, scheduler& timers,
                               std::filesystem::path scratch_dir, std::chrono::milliseconds cancel_grace)
    : backend_(backend),
      types_(types),
      timers_(timers),
      scratch_dir_(std::move(scratch_dir)),
      cancel_grace_(cancel_grace) {
    std::error_code ec;
    std::filesystem::remove_all(scratch_dir_, ec);
    std::filesystem::create_directories(scratch_dir_);
}

void attempt_runner::start_workers(const job_type_ptr& rt, unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
        auto seat = backend_.open_seat(rt->type);
        std::lock_guard lock(rt->workers_mutex);
        rt->workers.emplace_back([this, r = rt.get(), seat = std::move(seat)] {
            name_this_thread("td-w-" + r->type);
            run_this_thread_as_batch();
            seat->bind_to_this_thread();
            run_or_fail_stop("worker", [&] { worker_loop(*r, *seat); });
        });
    }
}

void attempt_runner::worker_loop(job_type_runtime& rt, worker_seat& seat) {
    while (auto claimed = backend_.claim(*rt.queue, seat)) {
        rt.busy++;
        // Shared with the timers that may stop it (its timeout, a cancel's grace period).
        const auto attempt = std::make_shared<const claimed_attempt>(std::move(*claimed));
        const bool abandoned = run(rt, seat, attempt);
        rt.busy--;
        if (abandoned) {  // its replacement serves the pool now
            rt.events->worker_abandoned(-1);
            log_info("worker of type " + rt.type + ": the plugin it was abandoned in returned; the worker leaves");
            return;
        }
    }
}

bool attempt_runner::run(job_type_runtime& rt, worker_seat& seat, const attempt_ptr& attempt) {
    const job_record& r = attempt->job;
    int64_t timeout_ms = rt.config()->timeout.count();
    if (r.timeout_ms > 0) timeout_ms = std::min(timeout_ms, r.timeout_ms);
    job_context ctx;
    ctx.job_id = r.id;
    ctx.type = r.type;
    ctx.attempt = r.attempt;
    ctx.deadline = r.started_at + timeout_ms;
    ctx.input_files = attempt->input_files;
    ctx.control = attempt->control;
    ctx.on_progress = [this, &attempt](double percent, std::string message) {
        backend_.progress(*attempt, percent, std::move(message));
    };
    ctx.on_log = [tag = job_tag(r)](int level, std::string_view message) {
        static constexpr log_level levels[] = {log_level::debug, log_level::info, log_level::warning,
                                               log_level::error};
        log_line(levels[std::clamp(level, 0, 3)], tag + " plugin: " + std::string(message));
    };
    const auto scratch = scratch_dir_ / (ctx.job_id + "-" + std::to_string(ctx.attempt));
    ctx.scratch_dir = scratch.string();

    auto deadline = timers_.after(std::chrono::milliseconds(timeout_ms),
                                  [this, attempt] { stop_with_grace(attempt, stop_reason::timeout); });
    const auto run_start = std::chrono::steady_clock::now();
    const ticketd_run_status status = rt.handler->run(ctx, r.input);
    seat.returned();
    deadline->cancel();
    rt.events->ran(std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count());
    finish(rt, *attempt, ctx, status);  // may adopt a result file from the scratch dir
    if (ctx.scratch_made) {
        std::error_code ec;
        std::filesystem::remove_all(scratch, ec);
    }
    return attempt->control->abandoned.load();
}

void attempt_runner::finish(job_type_runtime& rt, const claimed_attempt& attempt, job_context& ctx,
                            ticketd_run_status status) {
    const stop_reason reason = ctx.control->stop();
    // Write the result before the backend's lock is taken: the file must be durable before
    // the job is stored as succeeded, and disk I/O never happens under that lock.
    bool result_written = false;
    bool result_inline = false;
    uint64_t result_size = 0;
    std::string result_error;
    if (status == TICKETD_RUN_SUCCEEDED && ctx.has_result && reason != stop_reason::timeout &&
        reason != stop_reason::drain) {
        try {
            if (ctx.result_file.empty() && ctx.result.size() <= inline_result_limit) {
                // Small: committed with the terminal state, in the same fsync.
                result_inline = true;
                result_size = ctx.result.size();
            } else if (ctx.result_file.empty()) {
                backend_.write_result_file(ctx.job_id, ctx.result);
                result_size = ctx.result.size();
            } else {
                result_size = backend_.adopt_result_file(ctx.job_id, ctx.result_file);
            }
            result_written = true;
        } catch (const std::exception& err) {
            result_error = err.what();
        }
    }
    const job_type_rules rules = rules_of(*rt.config());
    std::optional<retry_reason> retried;  // set when the attempt is queued again
    const auto next = [&](const job_record& r) -> job_record {
        const unix_ms now = now_unix_ms();
        retried.reset();
        if (reason == stop_reason::drain) {
            // Queued again for the next start, without using the attempt.
            job_record queued = r;
            transitions::requeue(queued);
            queued.updated_at = now;
            return queued;
        }
        if (reason == stop_reason::timeout) return timed_out(r, rules, retried);
        switch (status) {
            case TICKETD_RUN_SUCCEEDED: {
                if (!ctx.has_result) {  // a bug in the plugin: an empty success would hide it
                    return transitions::terminal(
                        r, job_status::failed,
                        job_error{"job-no-result", "Job failed",
                                  "the plugin returned from run() without a result (set_result, result_file) or a "
                                  "failure (job_failed)"},
                        now, rules.retention_ms);
                }
                if (!result_written) {
                    return transitions::terminal(r, job_status::failed,
                                                 job_error{"job-failed", "Job failed",
                                                           "the result could not be stored: " + result_error},
                                                 now, rules.retention_ms);
                }
                job_record done = transitions::terminal(r, job_status::succeeded, std::nullopt, now, rules.retention_ms);
                done.result_type = ctx.result_type;
                done.result_name = ctx.result_name;
                done.result_size = result_size;
                done.result_inline = result_inline;
                return done;
            }
            case TICKETD_RUN_CANCELED:
                if (reason == stop_reason::canceled) {
                    return transitions::terminal(r, job_status::canceled,
                                                 job_error{"job-canceled", "Job canceled", "canceled while running"},
                                                 now, rules.retention_ms);
                }
                [[fallthrough]];  // a plugin that says "canceled" unasked has failed
            case TICKETD_RUN_FAILED:
            default: {
                std::string code = ctx.fail_code.empty() ? "job-failed" : rt.type + "/" + ctx.fail_code;
                std::string detail = ctx.fail_message.empty() ? "the job failed" : ctx.fail_message;
                if (status == TICKETD_RUN_CANCELED) detail = "the plugin stopped without a cancel request";
                transitions::failed_attempt f(attempt_failure::failed,
                                              job_error{std::move(code), "Job failed", std::move(detail)});
                f.plugin_code = ctx.fail_code;
                f.retryable = ctx.retryable && status == TICKETD_RUN_FAILED;
                f.retry_after_ms = ctx.retry_after_ms;
                if (reason == stop_reason::canceled) {  // asked to stop: never retried
                    f.retryable = false;
                    f.plugin_code = {};
                }
                return transitions::after_failure(r, rules.retry, f, now, rules.retention_ms, random_fraction(),
                                                  retried);
            }
        }
    };
    std::optional<std::string> inline_result;
    if (result_written && result_inline) inline_result = std::move(ctx.result);
    if (!backend_.finish(attempt, next, std::move(inline_result), {})) {
        // Already finished for it (deleted, or the grace expired): drop what it produced.
        if (result_written && !result_inline) backend_.remove_result_file(ctx.job_id);
    } else if (retried) {
        rt.events->retried(*retried);
    }
}

void attempt_runner::stop_with_grace(const attempt_ptr& attempt, stop_reason reason) {
    attempt->control->request_stop(reason);
    timers_.after(cancel_grace_, [this, attempt] { finish_without_plugin(*attempt); });
}

void attempt_runner::finish_without_plugin(const claimed_attempt& attempt) {
    const auto& control = attempt.control;
    const stop_reason reason = control->stop();
    if (reason == stop_reason::drain) return;  // the drain handles its own stragglers
    const auto rt = types_.find(attempt.job.type);
    const job_type_rules rules = rt ? rules_of(*rt->config()) : job_type_rules{};
    const bool finished = backend_.finish_without_plugin(attempt, [&](const job_record& r) {
        // Never retried: its plugin is still running, and the next attempt would run beside it.
        if (reason == stop_reason::timeout) {
            return transitions::terminal(r, job_status::failed, timeout_error, now_unix_ms(), rules.retention_ms);
        }
        return transitions::terminal(r, job_status::canceled,
                                     job_error{"job-canceled", "Job canceled", "canceled while running"},
                                     now_unix_ms(), rules.retention_ms);
    });
    if (!finished) return;
    log_warning(job_tag(attempt.job) + " plugin ignored the stop request for " + std::to_string(cancel_grace_.count()) +
                " ms; the job is finished without it, and another worker takes its worker's place");
    // The worker stays inside the plugin, perhaps for good: the pool gets a new one, so
    // that a plugin that never returns does not cost its type a worker. (During a drain
    // there is no pool left to serve.)
    if (!rt || rt->queue->retired() || !replacing_ || control->abandoned.exchange(true)) return;
    rt->events->worker_abandoned(+1);
    try {
        start_workers(rt, 1);
    } catch (const std::exception& ex) {
        log_error("worker of type " + rt->type + ": no replacement for an abandoned worker: " + ex.what());
    }
}

}  // namespace ticketd

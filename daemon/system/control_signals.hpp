// The signals that control the daemon (SIGTERM and SIGINT: drain and stop; SIGHUP:
// reload) are held from the first moment of run_daemon: blocked before any thread starts,
// so every thread inherits the block, and taken on the main io thread only once their
// handlers are installed. One that arrives during start-up waits, pending, instead of
// taking its default action (which ends the process), and start-up can ask whether a stop
// is already waiting. Children that threads spawn inherit the block: reset the mask in the
// child (posix_spawnattr_setsigmask), as the transcode plugin does.
#pragma once

namespace ticketd {

// Blocks SIGTERM, SIGINT and SIGHUP on the calling thread (and on threads it starts later).
void hold_control_signals();
// Unblocks them on the calling thread: those pending are delivered now.
void release_control_signals();
// The stop signal (SIGTERM or SIGINT) waiting while held, 0 when none is.
int pending_stop_signal();

}  // namespace ticketd

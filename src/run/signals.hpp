// SIGTERM / SIGUSR1 / SIGUSR2 (Slurm's time-limit warnings, scancel, preemption,
// a USR1 or USR2 sent to mpirun, which forwards both to every rank) only set
// a flag; the run checks it at its agreement points, stops taking new work,
// leaves the journal consistent and exits 75 so the job can be requeued.
// SIGXFSZ is ignored so a file-size limit surfaces as a write error with a
// message instead of killing the rank.
#pragma once

namespace mgi {

void install_signal_handlers();
bool interrupt_requested();
int interrupt_signal();  // the signal that arrived first (0 if none)
// Throws Error(Exit::interrupted) naming the signal once one has arrived.
void throw_if_interrupted();
// Bounds the time from a signal to exit: `seconds` after the first signal the
// process leaves with exit 75 even if a batch is still running. Safe because
// the journal is consistent at every record (a torn tail is dropped on resume).
void start_grace_watchdog(double seconds);
// For tests: behave as if `sig` had arrived.
void request_interrupt(int sig);

}  // namespace mgi

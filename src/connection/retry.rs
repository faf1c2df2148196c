//! Coalescing of retries (SPEC §3): at most one *open channels* run per token network at
//! a time, and every trigger that arrives during a run folds into one more run.
//!
//! Raiden spawned a task per chain event; on a busy network that was thousands of tasks
//! doing the same thing. This gate is the whole mechanism, kept pure so that the node and
//! the simulator share it.

/// The state of the retries of one token network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RetryGate {
    /// No run in progress.
    #[default]
    Idle,
    /// A run is in progress; nothing has asked for another.
    Running,
    /// A run is in progress and at least one trigger arrived meanwhile.
    RunningWithPending,
}

impl RetryGate {
    /// A reason to retry arrived. Returns `true` if the caller must start a run now.
    pub fn trigger(&mut self) -> bool {
        match self {
            RetryGate::Idle => {
                *self = RetryGate::Running;
                true
            }
            RetryGate::Running | RetryGate::RunningWithPending => {
                *self = RetryGate::RunningWithPending;
                false
            }
        }
    }

    /// The current run ended. Returns `true` if the caller must run once more (triggers
    /// arrived during the run), in which case the gate stays in the running state.
    pub fn finish(&mut self) -> bool {
        match self {
            RetryGate::RunningWithPending => {
                *self = RetryGate::Running;
                true
            }
            RetryGate::Running | RetryGate::Idle => {
                *self = RetryGate::Idle;
                false
            }
        }
    }
}

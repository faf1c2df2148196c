//! How a transaction ended, as the connection manager needs to know it.
//!
//! The node maps its chain errors onto this, the simulator its ledger's results; the
//! manager's rules (a close that reverted because the partner closed first, a settle
//! that reverted because the partner settled first) read only this.

/// The end of one transaction the manager asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Mined and successful.
    Confirmed,
    /// Mined and reverted (a contract rule refused it).
    Reverted,
    /// Not sent, or dropped: the account could not pay for its gas.
    NoEth,
    /// Not mined within the transaction timeout (it may still be mined).
    TimedOut,
    /// Dropped or replaced: it will never be mined.
    Dropped,
    /// The chain could not be asked (its endpoint failed): the end is unknown.
    Unknown,
}

impl Outcome {
    /// Whether the transaction did what it was sent for.
    pub fn is_confirmed(self) -> bool {
        self == Outcome::Confirmed
    }
}

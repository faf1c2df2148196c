//! Partner-selection strategies: the connection manager's own
//! ([`tokennet::connection::strategy`]), re-exported so that scenario code names them
//! as before. The node and the simulator run the same strategies.

pub use tokennet::connection::strategy::*;

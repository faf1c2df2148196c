//! Unit tests of the connection policy.

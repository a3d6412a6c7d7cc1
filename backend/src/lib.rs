//! Berth server library.

//! Counters that every thread bumps and anyone may read.
//!
//! Plain relaxed atomics: each is an independent tally, nothing is
//! synchronised through them.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters, shared by `Arc`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted and handed to a transport.
    pub accepted: AtomicU64,
    /// Connections turned away because the server was full.
    pub rejected: AtomicU64,
    /// Messages dropped because a client's outbox was full.
    pub dropped: AtomicU64,
    /// Clients disconnected for reading too slowly.
    pub slow_disconnects: AtomicU64,
    /// Events written to sockets.
    pub written: AtomicU64,
    /// `write` calls made to flush outboxes (each may carry many events).
    pub write_calls: AtomicU64,
    /// Password checks and hashes refused because the hashing pool's queue
    /// was full (the user is told the server is busy).
    pub hash_busy: AtomicU64,
    /// Account changes refused because the storage queue was full.
    pub storage_busy: AtomicU64,
    /// Batches the threaded router left to a connection's writer because
    /// its reader was using the TLS session at that moment.
    pub session_busy: AtomicU64,
    /// Delivered messages written to the history.
    pub history_stored: AtomicU64,
    /// Delivered messages not stored: the storage thread's queue was full
    /// (the router never waits for it), or their batch failed to commit.
    pub history_dropped: AtomicU64,
    /// Transactions the storage thread ran (a batch of history, or a job),
    /// and the microseconds they took in all: their mean latency.
    pub storage_transactions: AtomicU64,
    pub storage_micros: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub accepted: u64,
    pub rejected: u64,
    pub dropped: u64,
    pub slow_disconnects: u64,
    pub written: u64,
    pub write_calls: u64,
    pub hash_busy: u64,
    pub storage_busy: u64,
    pub session_busy: u64,
    pub history_stored: u64,
    pub history_dropped: u64,
    pub storage_transactions: u64,
    pub storage_micros: u64,
}

impl Stats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            accepted: read(&self.accepted),
            rejected: read(&self.rejected),
            dropped: read(&self.dropped),
            slow_disconnects: read(&self.slow_disconnects),
            written: read(&self.written),
            write_calls: read(&self.write_calls),
            hash_busy: read(&self.hash_busy),
            storage_busy: read(&self.storage_busy),
            session_busy: read(&self.session_busy),
            history_stored: read(&self.history_stored),
            history_dropped: read(&self.history_dropped),
            storage_transactions: read(&self.storage_transactions),
            storage_micros: read(&self.storage_micros),
        }
    }
}

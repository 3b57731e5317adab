//! `GET /metrics`: the Prometheus text exposition of the server's counters
//! (`stats::Stats`, shared atomics) and of what the router counts
//! ([`Counts`], asked for like any API call), encoded by
//! `prometheus-client` into a registry made for each scrape.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::protocol::api::Counts;
use crate::stats::StatsSnapshot;

/// The `Content-Type` of the text exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, &'static str)>;

/// Every metric, as text.
pub fn render(stats: &StatsSnapshot, counts: &Counts) -> String {
    let mut registry = Registry::with_prefix("switchboard");
    let counter = |registry: &mut Registry, name: &str, help: &str, value: u64| {
        let counter: Counter = Counter::default();
        counter.inc_by(value);
        registry.register(name, help, counter);
    };
    let gauge = |registry: &mut Registry, name: &str, help: &str, value: u64| {
        let gauge: Gauge = Gauge::default();
        gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        registry.register(name, help, gauge);
    };
    let clients = Family::<Labels, Gauge>::default();
    for &(carrier, protocol, count) in &counts.clients {
        clients
            .get_or_create(&vec![("carrier", carrier), ("protocol", protocol)])
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    registry.register(
        "clients",
        "Connected clients, by carrier (plain, tls, websocket, websocket-tls) and protocol",
        clients,
    );
    gauge(
        &mut registry,
        "users",
        "Clients that completed registration",
        counts.registered,
    );
    gauge(&mut registry, "rooms", "Rooms that exist", counts.rooms);
    gauge(
        &mut registry,
        "accounts",
        "Registered accounts",
        counts.accounts,
    );
    counter(
        &mut registry,
        "connections_accepted",
        "Connections accepted",
        stats.accepted,
    );
    counter(
        &mut registry,
        "connections_rejected",
        "Connections turned away because the server was full",
        stats.rejected,
    );
    counter(
        &mut registry,
        "messages_received",
        "Messages clients sent (PRIVMSG, NOTICE, line messages)",
        counts.messages_in,
    );
    counter(
        &mut registry,
        "events_delivered",
        "Events written to clients' sockets (messages and every other line)",
        stats.written,
    );
    counter(
        &mut registry,
        "messages_dropped",
        "Events dropped for clients that read too slowly",
        stats.dropped,
    );
    let cut = Family::<Labels, Counter>::default();
    cut.get_or_create(&vec![("reason", "slow")])
        .inc_by(stats.slow_disconnects);
    for &(reason, count) in &counts.cut {
        cut.get_or_create(&vec![("reason", reason)]).inc_by(count);
    }
    registry.register(
        "clients_cut",
        "Clients the server disconnected, by reason (slow, flood, ping)",
        cut,
    );
    let busy = Family::<Labels, Counter>::default();
    busy.get_or_create(&vec![("helper", "hashing")])
        .inc_by(stats.hash_busy);
    busy.get_or_create(&vec![("helper", "storage")])
        .inc_by(stats.storage_busy);
    registry.register(
        "helper_busy",
        "Requests refused because a helper's queue was full",
        busy,
    );
    gauge(
        &mut registry,
        "storage_queue_depth",
        "Jobs waiting for the storage thread",
        counts.storage_queue,
    );
    counter(
        &mut registry,
        "storage_transactions",
        "Transactions the storage thread ran: batches of history and jobs",
        stats.storage_transactions,
    );
    let seconds: Counter<f64, AtomicU64> = Counter::default();
    seconds.inc_by(stats.storage_micros as f64 / 1e6);
    registry.register(
        "storage_transaction_seconds",
        "Time those transactions took, in all (divide by their count for the mean)",
        seconds,
    );
    counter(
        &mut registry,
        "history_stored",
        "Delivered messages written to the history",
        stats.history_stored,
    );
    counter(
        &mut registry,
        "history_dropped",
        "Delivered messages not stored (the storage queue was full, or a batch failed)",
        stats.history_dropped,
    );
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut text, &registry);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_written_with_its_labels() {
        let stats = StatsSnapshot {
            accepted: 5,
            dropped: 2,
            slow_disconnects: 1,
            written: 40,
            storage_transactions: 4,
            storage_micros: 2_500_000,
            ..StatsSnapshot::default()
        };
        let counts = Counts {
            clients: vec![("plain", "irc", 3), ("websocket", "irc", 1)],
            registered: 4,
            rooms: 2,
            accounts: 1,
            messages_in: 9,
            cut: vec![("flood", 1), ("ping", 0)],
            storage_queue: 0,
        };
        let text = render(&stats, &counts);
        for line in [
            "switchboard_clients{carrier=\"websocket\",protocol=\"irc\"} 1",
            "switchboard_users 4",
            "switchboard_rooms 2",
            "switchboard_messages_received_total 9",
            "switchboard_events_delivered_total 40",
            "switchboard_messages_dropped_total 2",
            "switchboard_clients_cut_total{reason=\"slow\"} 1",
            "switchboard_clients_cut_total{reason=\"flood\"} 1",
            "switchboard_storage_transactions_total 4",
            "switchboard_storage_transaction_seconds_total 2.5",
            "# TYPE switchboard_rooms gauge",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|have| have == line),
                "{line} missing in\n{text}"
            );
        }
    }
}

//! What the traffic scenarios share besides the engine: the phases of a
//! timed run, the watchdog that bounds it, and the latency figures.

use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};
use hdrhistogram::Histogram;

/// A timed run on the engine's payload clock, in microseconds: a warm-up
/// whose deliveries are not counted, the measured stretch, and a drain in
/// which nothing new is sent and what is in flight may still arrive.
#[derive(Clone, Copy, Debug)]
pub struct Phases {
    pub measure_from: u64,
    pub measure_until: u64,
    pub drain_until: u64,
}

impl Phases {
    /// Phases of `warmup`, `duration` and `drain` seconds.
    pub fn new(warmup: f64, duration: f64, drain: f64) -> Phases {
        let micros = |seconds: f64| (seconds.max(0.0) * 1e6) as u64;
        let measure_from = micros(warmup);
        let measure_until = measure_from + micros(duration);
        Phases {
            measure_from,
            measure_until,
            drain_until: measure_until + micros(drain),
        }
    }

    /// Whether something that happened at `now` is measured.
    pub fn measures(&self, now: u64) -> bool {
        (self.measure_from..self.measure_until).contains(&now)
    }

    /// Whether new messages may still be sent at `now`.
    pub fn sending(&self, now: u64) -> bool {
        now < self.measure_until
    }

    /// The measured stretch in seconds.
    pub fn seconds(&self) -> f64 {
        (self.measure_until - self.measure_from) as f64 / 1e6
    }
}

/// Ends the process if the run is not over by its deadline: whatever a
/// server does (a lost message, a connection that never completes), the
/// generator stops itself. Dropping it disarms it.
pub struct Watchdog {
    disarm: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Arms a watchdog for `limit` from now.
    pub fn arm(limit: Duration) -> Watchdog {
        let (disarm, disarmed) = crossbeam_channel::bounded::<()>(0);
        let thread = thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || {
                // Disconnected when the watchdog is dropped: the run ended.
                if disarmed.recv_timeout(limit) == Err(RecvTimeoutError::Timeout) {
                    eprintln!(
                        "\nswitchboard-load: the run passed its deadline of {limit:?} (--deadline); giving up"
                    );
                    std::process::exit(3);
                }
            })
            .expect("spawn the watchdog");
        Watchdog {
            disarm: Some(disarm),
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.disarm.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The deadline for a whole run: its phases plus `setup` seconds to
/// connect and join, unless `deadline` says otherwise.
pub fn deadline(deadline: Option<f64>, phases: &Phases, setup: f64) -> Duration {
    Duration::from_secs_f64(deadline.unwrap_or(phases.drain_until as f64 / 1e6 + setup))
}

/// Latency in microseconds, 1 µs to 100 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000, 3).expect("valid bounds")
}

/// Records one latency, from the send time `at` to `now`.
pub fn record(histogram: &mut Histogram<u64>, at: u64, now: u64) {
    let _ = histogram.record(now.saturating_sub(at).max(1));
}

/// A line for people: the usual quantiles in milliseconds.
pub fn print_latency(histogram: &Histogram<u64>) {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "latency ms: p50 {:.2}, p99 {:.2}, p99.9 {:.2}, max {:.2}",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        histogram.max() as f64 / 1000.0
    );
}

/// The same quantiles as JSON fields.
pub fn latency_json(histogram: &Histogram<u64>) -> String {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3}",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        histogram.max() as f64 / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_each_other() {
        let phases = Phases::new(1.0, 2.0, 0.5);
        assert!(!phases.measures(999_999));
        assert!(phases.measures(1_000_000));
        assert!(phases.measures(2_999_999));
        assert!(!phases.measures(3_000_000));
        assert!(phases.sending(2_999_999));
        assert!(!phases.sending(3_000_000));
        assert_eq!(phases.drain_until, 3_500_000);
        assert_eq!(phases.seconds(), 2.0);
    }
}

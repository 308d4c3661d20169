//! How one function is timed: warm-up, repeats until a time budget, the minimum.
//!
//! These machines are shared and noisy: interference only ever adds time, so the minimum
//! over repeats is the best estimate of what the code itself costs.

use std::time::Instant;

/// When to stop repeating.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rule {
    /// Repeat until at least this many seconds were timed ...
    pub min_time: f64,
    /// ... and at least this many repeats were made ...
    pub min_runs: usize,
    /// ... unless this many seconds were timed already (slow cases get fewer repeats).
    pub max_time: f64,
    /// Calls shorter than this are timed in batches of calls at least this long.
    pub batch_time: f64,
}

impl Rule {
    /// The default run.
    pub const FULL: Rule = Rule {
        min_time: 0.3,
        min_runs: 5,
        max_time: 2.0,
        batch_time: 100e-6,
    };
    /// `--quick`.
    pub const QUICK: Rule = Rule {
        min_time: 0.03,
        min_runs: 3,
        max_time: 0.2,
        batch_time: 50e-6,
    };

    /// A one-line description, for the report.
    pub fn describe(&self) -> String {
        format!(
            "one warm-up call (never counted: it pays one-time costs such as PyTorch's \
             first autograd call), then repeats until >= {} s and >= {} repeats, or >= {} s in all; \
             calls under {} us are timed in batches; the minimum is reported",
            self.min_time,
            self.min_runs,
            self.max_time,
            self.batch_time * 1e6
        )
    }
}

/// The result of timing one function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Seconds per call: the minimum over repeats (of a batch's mean for batched calls).
    pub seconds: f64,
    /// Timed repeats.
    pub runs: usize,
    /// Calls per repeat.
    pub batch: usize,
}

/// Times `f` under `rule`.
pub fn measure(f: &dyn Fn(), rule: &Rule) -> Timing {
    let warm_up = time_batch(f, 1);
    // Calibration, which warms up further: double the batch until it takes batch_time.
    let mut batch = 1;
    let mut elapsed = warm_up;
    while elapsed < rule.batch_time && batch < 1 << 30 {
        batch *= 2;
        elapsed = time_batch(f, batch);
    }
    let (mut best, mut runs, mut total) = (f64::INFINITY, 0, 0.0);
    while runs == 0
        || !((total >= rule.min_time && runs >= rule.min_runs) || total >= rule.max_time)
    {
        let seconds = time_batch(f, batch);
        best = best.min(seconds / batch as f64);
        total += seconds;
        runs += 1;
    }
    Timing {
        seconds: best,
        runs,
        batch,
    }
}

fn time_batch(f: &dyn Fn(), calls: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        f();
    }
    start.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn fast_calls_are_batched_and_repeated_until_the_budget() {
        let calls = Cell::new(0u64);
        let rule = Rule {
            min_time: 0.002,
            min_runs: 4,
            max_time: 1.0,
            batch_time: 100e-6,
        };
        let timing = measure(&|| calls.set(std::hint::black_box(calls.get() + 1)), &rule);
        assert!(timing.batch > 1, "{timing:?}");
        assert!(timing.runs >= 4, "{timing:?}");
        assert!(timing.seconds < 1e-5, "{timing:?}");
        assert!(calls.get() >= (timing.batch * timing.runs) as u64);
    }

    #[test]
    fn slow_calls_stop_at_the_cap() {
        let sleep = || std::thread::sleep(std::time::Duration::from_millis(3));
        let rule = Rule {
            min_time: 10.0,
            min_runs: 100,
            max_time: 0.01,
            batch_time: 1e-6,
        };
        let timing = measure(&sleep, &rule);
        assert_eq!(timing.batch, 1);
        assert!((1..=4).contains(&timing.runs), "{timing:?}");
        assert!(timing.seconds >= 0.003, "{timing:?}");
    }

    #[test]
    fn a_slow_first_call_is_never_counted() {
        // Like PyTorch's first autograd call: a one-time cost far above the cap.
        let first = Cell::new(true);
        let call = || {
            if first.replace(false) {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        };
        let rule = Rule {
            max_time: 0.001,
            ..Rule::QUICK
        };
        let timing = measure(&call, &rule);
        assert!(timing.seconds < 0.01, "{timing:?}");
    }
}

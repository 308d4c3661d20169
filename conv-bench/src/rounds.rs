//! Several rounds of the whole benchmark. The speed of these shared machines drifts over
//! minutes (the same binary ran a case at 48 and at 73 GFLOP/s an hour apart, and
//! PyTorch's times moved as much), which a minimum over repeats a few seconds long
//! cannot remove: each figure, ours and PyTorch's alike, keeps its best round, and the
//! FMA peak its best round too.

use crate::report::Row;
use crate::timing::Timing;
use crate::torch::{TorchRun, TorchTiming};

/// The faster of two timings of the same thing; the repeats of both.
pub fn best(a: Timing, b: Timing) -> Timing {
    let runs = a.runs + b.runs;
    let faster = if b.seconds < a.seconds { b } else { a };
    Timing { runs, ..faster }
}

/// Folds one round's rows into the best so far (matched by case and thread count).
pub fn merge_rows(best_rows: &mut Vec<Row>, round: Vec<Row>) {
    for row in round {
        match best_rows
            .iter_mut()
            .find(|r| r.case == row.case && r.threads == row.threads)
        {
            Some(kept) => {
                kept.forward = best(kept.forward, row.forward);
                kept.grad_x = best(kept.grad_x, row.grad_x);
                kept.grad_weight_bias = best(kept.grad_weight_bias, row.grad_weight_bias);
                kept.peak = kept.peak.max(row.peak);
            }
            None => best_rows.push(row),
        }
    }
}

/// Folds one round of PyTorch's timings into the best so far.
pub fn merge_torch(best_run: Option<TorchRun>, round: TorchRun) -> TorchRun {
    let Some(mut kept) = best_run else {
        return round;
    };
    for (case, threads, timing) in round.results {
        match kept
            .results
            .iter_mut()
            .find(|(c, t, _)| *c == case && *t == threads)
        {
            Some((_, _, k)) => {
                *k = TorchTiming {
                    forward: best(k.forward, timing.forward),
                    forward_backward: best(k.forward_backward, timing.forward_backward),
                }
            }
            None => kept.results.push((case, threads, timing)),
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(seconds: f64) -> Timing {
        Timing {
            seconds,
            runs: 5,
            batch: 1,
        }
    }

    #[test]
    fn each_figure_keeps_its_fastest_round() {
        assert_eq!(best(timing(2.0), timing(1.0)).seconds, 1.0);
        assert_eq!(best(timing(1.0), timing(2.0)).seconds, 1.0);
        assert_eq!(best(timing(1.0), timing(2.0)).runs, 10);
        let run = |fwd: f64, fb: f64| TorchRun {
            version: "2".into(),
            results: vec![(
                "3x3".into(),
                1,
                TorchTiming {
                    forward: timing(fwd),
                    forward_backward: timing(fb),
                },
            )],
        };
        let merged = merge_torch(Some(run(1.0, 4.0)), run(2.0, 3.0));
        let t = merged.get("3x3", 1).expect("kept");
        assert_eq!((t.forward.seconds, t.forward_backward.seconds), (1.0, 3.0));
    }
}

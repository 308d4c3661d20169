#[allow(dead_code)] // the harness that reads every field is still being written
mod cases;
mod peak;
use std::time::Instant;
fn main() {
    println!("peak 1 thread: {:.1} GFLOP/s", peak::peak(1) / 1e9);
    for case in cases::all() {
        for (what, f) in [
            ("fwd", &case.forward),
            ("gx", &case.grad_x),
            ("gw", &case.grad_weight_bias),
        ] {
            let t = Instant::now();
            f();
            let s = t.elapsed().as_secs_f64();
            println!(
                "{:10} {what} {:.4}s {:.2} GFLOP/s",
                case.name,
                s,
                2.0 * case.macs / s / 1e9
            );
        }
    }
}

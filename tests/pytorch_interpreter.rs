//! Every PyTorch fixture (tests/fixtures) through the reference interpreter, from the
//! kernel's text: the forward result and the gradient of every operand and of the bias,
//! against PyTorch's within `pytorch_support::tolerance`. Prints the largest relative
//! error of every case and of each dtype; fails listing every case out of tolerance.

mod pytorch_support;

use pytorch_support::{compare, largest, run_interpreter, Case, Fixture, CASES};

fn check<T: conv_kernels::Element>(case: &Case) -> Result<f64, String> {
    let fixture = Fixture::<T>::load(case);
    let results = run_interpreter(case, &fixture);
    compare(case, "interpreter", &fixture, &results)
}

#[test]
fn every_fixture_through_the_interpreter() {
    let mut failures = Vec::new();
    for case in CASES {
        let outcome = match case.dtype {
            "f32" => check::<f32>(case),
            _ => check::<f64>(case),
        };
        match outcome {
            Ok(worst) => println!(
                "{:<26} {} largest relative error {worst:.2e}",
                case.name, case.dtype
            ),
            Err(message) => failures.push(message),
        }
    }
    println!(
        "{} cases; largest relative error: f32 {:.2e}, f64 {:.2e}",
        CASES.len(),
        largest("f32"),
        largest("f64")
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases out of tolerance:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

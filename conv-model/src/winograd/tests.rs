use super::*;

fn r(num: i64, den: i64) -> Ratio {
    Ratio::new(num as i128, den as i128).unwrap()
}

fn finite(values: &[(i64, i64)]) -> Vec<Point> {
    let mut points: Vec<Point> = values
        .iter()
        .map(|&(n, d)| Point::Finite(r(n, d)))
        .collect();
    points.push(Point::Infinity);
    points
}

/// `A^T [(G g) ⊙ (B^T d)]` in exact fractions.
fn apply(w: &Winograd, d: &[Ratio], g: &[Ratio]) -> Vec<Ratio> {
    let n = w.n();
    let dot = |row: &[Ratio], v: &[Ratio]| {
        row.iter()
            .zip(v)
            .try_fold(Ratio::ZERO, |s, (a, b)| s.checked_add(a.checked_mul(*b)?))
            .unwrap()
    };
    let u: Vec<Ratio> = w.g.chunks(w.r).map(|row| dot(row, g)).collect();
    let v: Vec<Ratio> = w.b_t.chunks(n).map(|row| dot(row, d)).collect();
    let m: Vec<Ratio> = u
        .iter()
        .zip(&v)
        .map(|(a, b)| a.checked_mul(*b).unwrap())
        .collect();
    w.a_t.chunks(n).map(|row| dot(row, &m)).collect()
}

/// Small pseudo-random integers, as fractions.
fn values(count: usize, seed: u64) -> Vec<Ratio> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            Ratio::int((state >> 33) as i64 % 19 - 9)
        })
        .collect()
}

#[test]
fn every_derived_algorithm_is_the_correlation_exactly() {
    let sets: [(usize, usize, Vec<Point>); 5] = [
        (2, 3, finite(&[(0, 1), (1, 1), (-1, 1)])),
        (4, 3, POINTS_4_3.to_vec()),
        (4, 3, finite(&[(0, 1), (1, 1), (-1, 1), (2, 1), (-2, 1)])),
        (2, 5, finite(&[(0, 1), (1, 1), (-1, 1), (2, 1), (-2, 1)])),
        // No point at infinity.
        (
            3,
            2,
            finite(&[(0, 1), (1, 1), (-1, 1)])[..3]
                .iter()
                .copied()
                .chain([Point::Finite(r(1, 3))])
                .collect(),
        ),
    ];
    for (m, taps, points) in sets {
        let w = Winograd::cook_toom(m, taps, &points).expect("distinct points");
        assert_eq!(
            (w.a_t.len(), w.g.len(), w.b_t.len()),
            (m * w.n(), w.n() * taps, w.n() * w.n())
        );
        for seed in 0..20 {
            let d = values(w.n(), seed);
            let g = values(taps, seed + 100);
            let want: Vec<Ratio> = (0..m)
                .map(|i| {
                    (0..taps).fold(Ratio::ZERO, |s, k| {
                        s.checked_add(d[i + k].checked_mul(g[k]).unwrap()).unwrap()
                    })
                })
                .collect();
            assert_eq!(apply(&w, &d, &g), want, "F({m},{taps}) on {points:?}");
        }
    }
}

#[test]
fn f2_3_on_0_1_minus_1_is_lavins_algorithm() {
    // Lavin and Gray (2015), section 4.1, up to the sign of B^T's last row and G's last
    // row, which cancel.
    let w = Winograd::cook_toom(2, 3, &finite(&[(0, 1), (1, 1), (-1, 1)])).unwrap();
    let ints = |v: &[i64]| v.iter().map(|&x| Ratio::int(x)).collect::<Vec<_>>();
    assert_eq!(w.a_t, ints(&[1, 1, 1, 0, 0, 1, -1, 1]));
    assert_eq!(
        w.b_t,
        ints(&[1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, -1, 0, 1])
    );
    let half = r(1, 2);
    assert_eq!(
        w.g,
        vec![
            Ratio::ONE,
            Ratio::ZERO,
            Ratio::ZERO,
            half,
            half,
            half,
            half,
            half.negated(),
            half,
            Ratio::ZERO,
            Ratio::ZERO,
            Ratio::ONE,
        ]
    );
}

#[test]
fn points_that_repeat_or_do_not_count_n_are_refused() {
    let twice = finite(&[(0, 1), (1, 1), (1, 1)]);
    assert_eq!(Winograd::cook_toom(2, 3, &twice), None);
    assert_eq!(Winograd::cook_toom(4, 3, &finite(&[(0, 1)])), None);
    assert_eq!(Winograd::cook_toom(0, 3, &[]), None);
}

/// The largest error, relative to the largest output, of 2-D `F(4x4, 3x3)` in f32 over
/// `channels` channels of N(0, 1)-like values, against the same sum in f64.
fn f32_error(w: &Winograd, channels: usize) -> f64 {
    let n = w.n();
    let f = |v: &[Ratio]| v.iter().map(|x| x.to_f64() as f32).collect::<Vec<f32>>();
    let (a_t, g_m, b_t) = (f(&w.a_t), f(&w.g), f(&w.b_t));
    let mut state = 12345u64;
    let mut normal = || {
        // Sum of 12 uniforms less 6: close enough to N(0, 1) for an error estimate.
        (0..12)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                (state >> 40) as f64 / (1u64 << 24) as f64
            })
            .sum::<f64>()
            - 6.0
    };
    // two-sided product M = L X R^T with L (p x q), X (q x q).
    let sandwich = |l: &[f32], p: usize, x: &[f32], q: usize| -> Vec<f32> {
        let mut t = vec![0f32; p * q];
        for i in 0..p {
            for j in 0..q {
                t[i * q + j] = (0..q).map(|k| l[i * q + k] * x[k * q + j]).sum();
            }
        }
        let mut out = vec![0f32; p * p];
        for i in 0..p {
            for j in 0..p {
                out[i * p + j] = (0..q).map(|k| t[i * q + k] * l[j * q + k]).sum();
            }
        }
        out
    };
    let (mut worst, mut largest) = (0f64, 0f64);
    for _ in 0..50 {
        let d: Vec<Vec<f64>> = (0..channels)
            .map(|_| (0..n * n).map(|_| normal()).collect())
            .collect();
        let g: Vec<Vec<f64>> = (0..channels)
            .map(|_| (0..9).map(|_| normal() / 3.0).collect())
            .collect();
        let mut acc = vec![0f32; n * n];
        for c in 0..channels {
            let d32: Vec<f32> = d[c].iter().map(|&v| v as f32).collect();
            let g32: Vec<f32> = g[c].iter().map(|&v| v as f32).collect();
            let u = sandwich(&g_m, n, &g32, 3);
            let v = sandwich(&b_t, n, &d32, n);
            for i in 0..n * n {
                acc[i] += u[i] * v[i];
            }
        }
        let y = sandwich(&a_t, w.m, &acc, n);
        for i in 0..w.m {
            for j in 0..w.m {
                let want: f64 = (0..channels)
                    .map(|c| {
                        (0..9)
                            .map(|t| d[c][(i + t / 3) * n + j + t % 3] * g[c][t])
                            .sum::<f64>()
                    })
                    .sum();
                worst = worst.max((y[i * w.m + j] as f64 - want).abs());
                largest = largest.max(want.abs());
            }
        }
    }
    worst / largest
}

#[test]
fn the_stated_points_are_the_more_accurate() {
    let lavin =
        Winograd::cook_toom(4, 3, &finite(&[(0, 1), (1, 1), (-1, 1), (2, 1), (-2, 1)])).unwrap();
    let stated = Winograd::f4_3();
    // Measured: 4.8e-6 against 1.4e-5 over 512 channels.
    let (ours, theirs) = (f32_error(&stated, 512), f32_error(&lavin, 512));
    assert!(ours < 1e-5, "F(4x4, 3x3) on the stated points: {ours:e}");
    assert!(
        2.0 * ours <= theirs,
        "stated points {ours:e}, Lavin's {theirs:e}"
    );
}

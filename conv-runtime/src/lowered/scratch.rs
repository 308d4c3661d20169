//! Buffers per calling thread and element type, kept from call to call: the padded copy
//! of the direct kernels is as large as the input, and allocating it afresh on every
//! call costs a page fault per 4 KiB (a tenth of a 3x3 layer's time, measured).

use crate::Element;
use std::any::Any;
use std::cell::{Cell, RefCell};

/// Buffers kept per thread: a call inside a call gets the next one.
const SLOTS: usize = 3;

thread_local! {
    static BUFFERS: RefCell<[(Vec<f32>, Vec<f64>); SLOTS]> = const {
        RefCell::new([const { (Vec::new(), Vec::new()) }; SLOTS])
    };
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` with one of this thread's buffers of `T` (of any length and contents): the
/// first for an outer call, the second for a call inside it, a fresh one deeper.
pub(crate) fn with<T: Element, R>(f: impl FnOnce(&mut Vec<T>) -> R) -> R {
    let depth = DEPTH.get();
    if depth >= SLOTS {
        return f(&mut Vec::new());
    }
    let mut buffer = BUFFERS.with_borrow_mut(|slots| take::<T>(&mut slots[depth]));
    DEPTH.set(depth + 1);
    // Restores the depth and the buffer even if `f` panics.
    struct Restore<'b, T: Element>(usize, &'b mut Vec<T>);
    impl<T: Element> Drop for Restore<'_, T> {
        fn drop(&mut self) {
            DEPTH.set(self.0);
            let buffer = std::mem::take(self.1);
            BUFFERS.with_borrow_mut(|slots| put(&mut slots[self.0], buffer));
        }
    }
    let restore = Restore(depth, &mut buffer);
    f(restore.1)
}

fn take<T: Element>(slot: &mut (Vec<f32>, Vec<f64>)) -> Vec<T> {
    let (f32s, f64s) = slot;
    let any: &mut dyn Any = if T::NAME == "f32" { f32s } else { f64s };
    any.downcast_mut::<Vec<T>>()
        .map(std::mem::take)
        .unwrap_or_default()
}

fn put<T: Element>(slot: &mut (Vec<f32>, Vec<f64>), buffer: Vec<T>) {
    let (f32s, f64s) = slot;
    let any: &mut dyn Any = if T::NAME == "f32" { f32s } else { f64s };
    if let Some(kept) = any.downcast_mut::<Vec<T>>() {
        *kept = buffer;
    }
}

/// Fills every buffer of this thread with `len` copies of `value`: what a call finds
/// left by other calls, for tests of kernels that must write every element they read.
#[cfg(test)]
pub(crate) fn dirty<T: Element>(len: usize, value: T) {
    BUFFERS.with_borrow_mut(|slots| {
        for slot in slots.iter_mut() {
            let mut buffer = take::<T>(slot);
            buffer.clear();
            buffer.resize(len, value);
            put(slot, buffer);
        }
    });
}

//! Every extent of a generated kernel from its operands' shapes, remembered per thread.

use crate::shapes::Extents;
use crate::ShapeError;
use conv_model::facts::Facts;
use std::cell::RefCell;
use std::sync::Arc;

/// Shapes remembered per thread by [`resolve`].
const REMEMBERED: usize = 16;

/// A kernel, by the address of its `Facts` (a `static`, so the address is the
/// kernel's for good), the shapes it was last resolved for, and their extents.
type Resolved = (usize, Vec<Vec<usize>>, Arc<Extents>);

thread_local! {
    static RESOLVED: RefCell<Vec<Resolved>> = const { RefCell::new(Vec::new()) };
}

/// Resolves every extent of a generated kernel from its operands' shapes. A small kernel
/// is called again and again on the same shapes, where working the extents out (maps,
/// and the geometry of every window) cost a third of a 1 µs call: the last shapes of
/// each kernel on each thread are remembered, and their extents shared.
pub fn resolve(facts: &'static Facts, shapes: &[&[usize]]) -> Result<Arc<Extents>, ShapeError> {
    let key = facts as *const Facts as usize;
    let same = |remembered: &[Vec<usize>]| {
        remembered.len() == shapes.len() && remembered.iter().zip(shapes).all(|(r, s)| r == s)
    };
    RESOLVED.with(|resolved| {
        let mut resolved = resolved.borrow_mut();
        if let Some((_, _, extents)) = resolved.iter().find(|(k, s, _)| *k == key && same(s)) {
            return Ok(Arc::clone(extents));
        }
        let extents = Arc::new(crate::shapes::resolve(facts.kernel(), shapes)?);
        let entry = (
            key,
            shapes.iter().map(|s| s.to_vec()).collect(),
            Arc::clone(&extents),
        );
        match resolved.iter().position(|(k, _, _)| *k == key) {
            Some(at) => resolved[at] = entry,
            None if resolved.len() < REMEMBERED => resolved.push(entry),
            // The oldest kernel gives way.
            None => {
                resolved.remove(0);
                resolved.push(entry);
            }
        }
        Ok(extents)
    })
}

/// The extents of the output axes, read off the upstream gradient (for `grad_bias`,
/// which needs no operand).
pub fn output_extents(axes: &[char], shape: &[usize]) -> Extents {
    Extents {
        axes: axes.iter().copied().zip(shape.iter().copied()).collect(),
        windows: Vec::new(),
    }
}

#[cfg(all(test, feature = "text"))]
mod tests {
    use super::*;
    use std::sync::LazyLock;

    #[test]
    fn remembered_extents_are_those_of_the_same_shapes() {
        static FACTS: LazyLock<Facts> = LazyLock::new(|| {
            let text = "c(x, w) = \"nclk,dck->ndl\" { unfold x.l by k, pad = 1; }";
            let program = crate::compile_text(text).expect("a valid kernel").remove(0);
            Facts::derive(program)
        });
        let conv: &'static Facts = &FACTS;
        let (x, w): (&[usize], &[usize]) = (&[2, 3, 40], &[4, 3, 3]);
        let first = resolve(conv, &[x, w]).expect("shapes fit");
        let again = resolve(conv, &[x, w]).expect("shapes fit");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same shapes: the same extents"
        );
        let longer = resolve(conv, &[&[2, 3, 41], w]).expect("shapes fit");
        assert_eq!(longer.of('l'), 41);
        // A mismatch is reported, not remembered, and does not hide the good shapes.
        assert!(resolve(conv, &[x, &[4, 5, 3]]).is_err());
        let back = resolve(conv, &[x, w]).expect("shapes fit");
        assert_eq!(
            *back,
            crate::shapes::resolve(conv.kernel(), &[x, w]).expect("fit")
        );
        assert_eq!(back.of('l'), 40);
    }
}

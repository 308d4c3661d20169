//! Shape resolution: the extent of every axis of a kernel from its arguments' shapes,
//! with an error naming operand, axis, expected and actual extent for every mismatch.
//!
//! Generated kernels and the [`Interpreter`](crate::Interpreter) resolve shapes with
//! these same functions, so they accept and reject the same arguments.

use crate::ShapeError;
use conv_model::kernel::{Geometry, Kernel, Misfit};
use std::collections::BTreeMap;

/// The extent of every axis, and the geometry of every unfold (in declaration order).
///
/// [`Interpreter::extents`](crate::Interpreter::extents) gives it for operands of given
/// shapes.
///
/// # Example
///
/// ```
/// use conv_runtime::Interpreter;
///
/// let conv = Interpreter::new(r#"conv(x, w) = "nclk,dck->ndl" { unfold x.l by k, stride = 2, pad = 1; }"#)?;
/// let extents = conv.extents(&[&[2, 3, 10], &[4, 3, 3]])?;
/// // l = floor((10 + 1 + 1 - (3 - 1) - 1) / 2) + 1
/// assert_eq!(extents.of('l'), 5);
/// assert_eq!(extents.shape(&['n', 'd', 'l']), [2, 4, 5]);
/// let window = &extents.windows[0];
/// assert_eq!((window.len, window.lo, window.hi, window.span, window.out), (10, 1, 1, 3, 5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extents {
    /// Every axis of the spec and its extent; an unfolded axis has the length of the
    /// operand's view along it (the output length of the unfold), a window axis its
    /// number of taps.
    pub axes: BTreeMap<char, usize>,
    /// The input length, padding, span and output length of every unfold, in the order
    /// of the `unfold` statements. For a window on the output, `len` is the output's
    /// length and `out` the view's.
    pub windows: Vec<Geometry>,
}

impl Extents {
    /// The extent of `axis` (every axis of a resolved kernel has one).
    pub fn of(&self, axis: char) -> usize {
        self.axes[&axis]
    }

    /// The shape of a tensor with these axes.
    pub fn shape(&self, axes: &[char]) -> Vec<usize> {
        axes.iter().map(|&a| self.of(a)).collect()
    }

    /// The shape of operand `operand` of `kernel` (the kernel these extents were
    /// resolved for): unfolded axes at their input length.
    pub fn operand_shape(&self, kernel: &Kernel, operand: usize) -> Vec<usize> {
        self.operand_shape_in(kernel, operand, &kernel.operands[operand].physical)
    }

    /// The shape of the output of `kernel` (the kernel these extents were resolved for):
    /// axes with a window on the output at the output's length.
    pub fn output_shape(&self, kernel: &Kernel) -> Vec<usize> {
        self.operand_shape_in(kernel, kernel.output_slot(), &kernel.output)
    }

    fn operand_shape_in(&self, kernel: &Kernel, slot: usize, axes: &[char]) -> Vec<usize> {
        axes.iter()
            .map(|&axis| {
                kernel
                    .windows
                    .iter()
                    .zip(&self.windows)
                    .find(|(w, _)| w.operand == slot && w.axis == axis)
                    .map_or_else(|| self.of(axis), |(_, g)| g.len)
            })
            .collect()
    }
}

/// Resolves every extent from the operands' shapes and checks that they agree.
///
/// `kernel` is the checked kernel of a [`Program`](conv_model::ir::Program) (as
/// [`Interpreter::kernel`](crate::Interpreter::kernel) gives it); `shapes` has one
/// shape per operand. The first mismatch is the error: a wrong number of operands or
/// axes, an extent that disagrees with another operand or a `size`, a window longer
/// than its padded input, a pad the padding mode does not allow, or a tensor too large
/// to allocate.
pub fn resolve(kernel: &Kernel, shapes: &[&[usize]]) -> Result<Extents, ShapeError> {
    if shapes.len() != kernel.operands.len() {
        return Err(ShapeError::OperandCount {
            expected: kernel.operands.len(),
            actual: shapes.len(),
        });
    }
    let mut known: BTreeMap<char, (usize, Source)> = kernel
        .sizes
        .iter()
        .filter(|(a, _)| !kernel.windows.iter().any(|w| w.axis == **a))
        .map(|(&a, &n)| (a, (n, Source::Size)))
        .collect();
    let mut input_lengths = vec![0; kernel.windows.len()];
    for (i, (op, shape)) in kernel.operands.iter().zip(shapes).enumerate() {
        if shape.len() != op.physical.len() {
            return Err(ShapeError::Rank {
                operand: op.name.clone(),
                expected: op.physical.len(),
                actual: shape.len(),
            });
        }
        for (&axis, &len) in op.physical.iter().zip(shape.iter()) {
            let unfold = kernel
                .windows
                .iter()
                .position(|w| w.operand == i && w.axis == axis);
            match unfold {
                Some(u) => {
                    if let Some(&fixed) = kernel.sizes.get(&axis).filter(|&&f| f != len) {
                        agree(&op.name, axis, len, fixed, format!("size {axis} = {fixed}"))?;
                    }
                    input_lengths[u] = len;
                }
                None => learn(kernel, &mut known, &op.name, axis, len, Source::Operand(i))?,
            }
        }
    }
    let mut windows = vec![None; kernel.windows.len()];
    // Windows on operands first: a window on the output may slide along the view of one.
    let output = kernel.output_slot();
    let order = (0..kernel.windows.len())
        .filter(|&u| kernel.windows[u].operand != output)
        .chain((0..kernel.windows.len()).filter(|&u| kernel.windows[u].operand == output));
    for u in order {
        let window = &kernel.windows[u];
        let name = kernel.tensor_name(window.operand);
        let (axis, k) = (window.axis, window.window);
        let taps = known[&k].0;
        let on_output = window.operand == output;
        let fitted = match on_output {
            true => window.fold_geometry(known[&axis].0, taps),
            false => window.geometry(input_lengths[u], taps),
        };
        let geometry = fitted.map_err(|misfit| match misfit {
            Misfit::TooShort { padded, span } => ShapeError::WindowTooLong {
                operand: name.to_string(),
                axis,
                window: k,
                span,
                padded,
            },
            Misfit::PadTooLarge { pad, len, .. } => ShapeError::PadTooLarge {
                operand: name.to_string(),
                axis,
                mode: window.mode.name(),
                pad,
                len,
            },
            Misfit::PadsTooLarge { reach, pads } => ShapeError::PadsTooLarge {
                operand: name.to_string(),
                axis,
                reach,
                pads,
            },
            Misfit::EmptyWindow => ShapeError::EmptyWindow {
                operand: name.to_string(),
                axis,
                window: k,
            },
            Misfit::Overflow => ShapeError::TooLarge {
                operand: name.to_string(),
                what: format!("the padded length of axis '{axis}'"),
            },
        })?;
        if on_output {
            if let Some(&fixed) = kernel.sizes.get(&axis) {
                let because = format!("size {axis} = {fixed}");
                agree(name, axis, geometry.len, fixed, because)?;
            }
        } else {
            learn(
                kernel,
                &mut known,
                name,
                axis,
                geometry.out,
                Source::Unfold(u),
            )?;
        }
        windows[u] = Some(geometry);
    }
    let axes: BTreeMap<char, usize> = known.into_iter().map(|(a, (n, _))| (a, n)).collect();
    let windows = windows.into_iter().flatten().collect();
    let extents = Extents { axes, windows };
    fits_in_memory(&kernel.output_name, &extents.output_shape(kernel))?;
    if kernel.folds_output() {
        fits_in_memory(&kernel.output_name, &extents.shape(&kernel.output_view))?;
    }
    for (i, op) in kernel.operands.iter().enumerate() {
        if kernel.windows_on(i).next().is_some() {
            fits_in_memory(&op.name, &extents.shape(&op.view))?;
        }
    }
    Ok(extents)
}

/// Checks a tensor that must have the given axes (the upstream gradient, the bias):
/// its rank and that every extent is the one in `extents`. `name` is the name errors
/// give it.
pub fn check_tensor(
    extents: &Extents,
    name: &str,
    axes: &[char],
    shape: &[usize],
) -> Result<(), ShapeError> {
    if shape.len() != axes.len() {
        return Err(ShapeError::Rank {
            operand: name.to_string(),
            expected: axes.len(),
            actual: shape.len(),
        });
    }
    for (&axis, &len) in axes.iter().zip(shape) {
        agree(
            name,
            axis,
            len,
            extents.of(axis),
            "the output's extent".into(),
        )?;
    }
    Ok(())
}

/// Checks the upstream gradient against the output's shape (which, along an axis with a
/// window on the output, is the output's length, not the view's).
pub fn check_output(extents: &Extents, kernel: &Kernel, shape: &[usize]) -> Result<(), ShapeError> {
    let expected = extents.output_shape(kernel);
    if shape.len() != expected.len() {
        return Err(ShapeError::Rank {
            operand: "grad_y".into(),
            expected: expected.len(),
            actual: shape.len(),
        });
    }
    for ((&axis, &len), &want) in kernel.output.iter().zip(shape).zip(&expected) {
        agree("grad_y", axis, len, want, "the output's extent".into())?;
    }
    Ok(())
}

/// Where the extent an axis must have was learnt; made into text only for an error.
#[derive(Clone, Copy)]
enum Source {
    Size,
    Operand(usize),
    Unfold(usize),
}

impl Source {
    fn because(self, kernel: &Kernel, axis: char, extent: usize) -> String {
        match self {
            Source::Size => format!("as size {axis} = {extent}"),
            Source::Operand(i) => format!("as {}.{axis}", kernel.operands[i].name),
            Source::Unfold(w) => {
                let w = &kernel.windows[w];
                let name = kernel.tensor_name(w.operand);
                format!(
                    "as the output length of {name}.{axis} unfolded by '{}'",
                    w.window
                )
            }
        }
    }
}

fn learn(
    kernel: &Kernel,
    known: &mut BTreeMap<char, (usize, Source)>,
    operand: &str,
    axis: char,
    len: usize,
    source: Source,
) -> Result<(), ShapeError> {
    match known.get(&axis) {
        Some(&(expected, _)) if expected == len => Ok(()),
        Some(&(expected, because)) => {
            let because = because.because(kernel, axis, expected);
            agree(operand, axis, len, expected, because)
        }
        None => {
            known.insert(axis, (len, source));
            Ok(())
        }
    }
}

fn agree(
    operand: &str,
    axis: char,
    actual: usize,
    expected: usize,
    because: String,
) -> Result<(), ShapeError> {
    if actual == expected {
        Ok(())
    } else {
        Err(ShapeError::Extent {
            operand: operand.to_string(),
            axis,
            expected,
            actual,
            because,
        })
    }
}

/// A tensor of this shape can be allocated: its size in bytes (of f64) fits in isize.
fn fits_in_memory(name: &str, shape: &[usize]) -> Result<(), ShapeError> {
    if shape.contains(&0) {
        return Ok(());
    }
    let bytes = shape
        .iter()
        .try_fold(std::mem::size_of::<f64>(), |acc, &n| acc.checked_mul(n));
    match bytes {
        Some(bytes) if isize::try_from(bytes).is_ok() => Ok(()),
        _ => Err(ShapeError::TooLarge {
            operand: name.to_string(),
            what: format!("a tensor of shape {shape:?}"),
        }),
    }
}

//! `f32` and `f64` as both conv-runtime and burn know them: reading a backend's tensor as an
//! ndarray array and making one from an array, for each element type.

use burn::backend::tensor::FloatTensor;
use conv_runtime::Element;
use ndarray::ArrayD;
#[cfg(feature = "flex")]
use ndarray::{CowArray, IxDyn};

#[cfg(feature = "flex")]
use burn::backend::Flex;
#[cfg(feature = "ndarray")]
use burn::backend::NdArray;

/// A kernel element type burn tensors can hold: `f32` or `f64`.
pub trait BurnElement: Element + burn::tensor::Element {
    /// burn's name for this type.
    const DTYPE: burn::tensor::DType;

    /// The NdArray tensor's storage as a view (always without copying), or `None` if it
    /// holds another type.
    #[cfg(feature = "ndarray")]
    fn ndarray_view(tensor: &FloatTensor<NdArray>) -> Option<ndarray::ArrayViewD<'_, Self>>;

    /// An NdArray tensor owning the array's data.
    #[cfg(feature = "ndarray")]
    fn ndarray_tensor(array: ArrayD<Self>) -> FloatTensor<NdArray>;

    /// The Flex tensor as an array: a view of its storage when its strides are
    /// non-negative and address distinct elements, a copy otherwise.
    #[cfg(feature = "flex")]
    fn flex_array(tensor: &FloatTensor<Flex>) -> CowArray<'_, Self, IxDyn>;

    /// A Flex tensor owning the array's data.
    #[cfg(feature = "flex")]
    fn flex_tensor(array: ArrayD<Self>) -> FloatTensor<Flex>;
}

/// The elements of `array` in standard (row-major) order: its own buffer, moved, when it
/// is in standard layout (as every kernel result is), a copy otherwise.
#[cfg(feature = "flex")]
fn into_vec<E: Clone>(array: ArrayD<E>) -> Vec<E> {
    if !array.is_standard_layout() {
        return array.iter().cloned().collect();
    }
    let len = array.len();
    let (mut vec, offset) = array.into_raw_vec_and_offset();
    // Standard layout: the elements are contiguous from the first one.
    vec.drain(..offset.unwrap_or(0));
    vec.truncate(len);
    vec
}

/// A view of a Flex tensor's storage `storage` (all of it, typed), when its strides are
/// non-negative and address distinct elements.
#[cfg(feature = "flex")]
fn flex_view<'a, E>(
    tensor: &FloatTensor<Flex>,
    storage: &'a [E],
) -> Option<ndarray::ArrayViewD<'a, E>> {
    use ndarray::ShapeBuilder;
    let layout = tensor.layout();
    let strides = layout
        .strides()
        .iter()
        .map(|&s| usize::try_from(s).ok())
        .collect::<Option<Vec<usize>>>()?;
    let data = storage.get(layout.start_offset()..)?;
    let dims = IxDyn(layout.shape()).strides(IxDyn(&strides));
    ndarray::ArrayView::from_shape(dims, data).ok()
}

macro_rules! burn_element {
    ($ty:ty, $dtype:ident) => {
        impl BurnElement for $ty {
            const DTYPE: burn::tensor::DType = burn::tensor::DType::$dtype;

            #[cfg(feature = "ndarray")]
            fn ndarray_view(
                tensor: &FloatTensor<NdArray>,
            ) -> Option<ndarray::ArrayViewD<'_, Self>> {
                match tensor {
                    burn::backend::ndarray::NdArrayTensor::$dtype(storage) => Some(storage.view()),
                    _ => None,
                }
            }

            #[cfg(feature = "ndarray")]
            fn ndarray_tensor(array: ArrayD<Self>) -> FloatTensor<NdArray> {
                array.into_shared().into()
            }

            #[cfg(feature = "flex")]
            fn flex_array(tensor: &FloatTensor<Flex>) -> CowArray<'_, Self, IxDyn> {
                if tensor.dtype() != Self::DTYPE {
                    crate::backend::dtype_panic::<Self>(tensor.dtype());
                }
                if let Some(view) = flex_view(tensor, tensor.storage::<Self>()) {
                    return view.into();
                }
                // Negative or zero strides (flipped, expanded): a standard-layout copy.
                let contiguous = tensor.to_contiguous();
                let values = contiguous
                    .as_slice::<Self>()
                    .expect("a contiguous tensor of the checked type")
                    .to_vec();
                ArrayD::from_shape_vec(IxDyn(tensor.layout().shape()), values)
                    .expect("the tensor's own shape")
                    .into()
            }

            #[cfg(feature = "flex")]
            fn flex_tensor(array: ArrayD<Self>) -> FloatTensor<Flex> {
                let shape = array.shape().to_vec();
                burn::backend::flex::FlexTensor::from_data(burn::tensor::TensorData::new(
                    into_vec(array),
                    shape,
                ))
            }
        }
    };
}

burn_element!(f32, F32);
burn_element!(f64, F64);

pub use conv_macros::conv_kernel;

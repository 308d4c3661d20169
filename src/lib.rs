pub use conv_runtime::*;

use conv_runtime::conv_kernel;

// 33 operands, one per input subscript of the spec: one more than a kernel takes.
conv_kernel! {
    product(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, w, x, y, z, a0, a1, a2, a3, a4, a5, a6)
        = "i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i,i->i";
}

fn main() {}

"""Times PyTorch's CPU convolution on conv-bench's cases: forward, and forward+backward.

Run by conv-bench (`cargo run --release -p conv-bench`), which writes the request as JSON
on stdin:

    {"rule": {"min_time": s, "min_runs": n, "max_time": s, "batch_time": s},
     "threads": [1, 2],
     "cases": [{"name", "dims", "x", "weight", "stride", "padding", "dilation",
                "groups", "channels_last", "transposed", "output_padding",
                "y_elements"}]}

`x` is the input's shape as conv-bench stores it (channels last when `channels_last`),
`weight` the weight's shape in PyTorch's layout. `transposed` cases run
`conv_transpose1d/2d/3d` (weight (Cin, Cout / groups, taps...), with `output_padding`)
instead of `conv1d/2d/3d`. `y_elements`, the element count of conv-bench's output, is
checked against PyTorch's output (the layouts differ, the counts may not). The answer, on
stdout:

    {"torch": version, "results": [{"case", "threads",
        "forward": {"seconds", "runs", "batch"}, "forward_backward": {...}}]}

or {"error": why} when torch cannot be imported. Progress goes to stderr. Timing follows
conv-bench's rule (conv-bench/src/timing.rs): a warm-up, batches for short calls, repeats
until a time budget, the minimum per call.
"""

import json
import math
import sys
import time


def time_batch(f, calls):
    start = time.perf_counter()
    for _ in range(calls):
        f()
    return time.perf_counter() - start


def measure(f, rule):
    # The warm-up is never counted: it pays one-time costs (the first autograd call).
    batch, elapsed = 1, time_batch(f, 1)
    while elapsed < rule["batch_time"] and batch < 1 << 30:
        batch *= 2
        elapsed = time_batch(f, batch)
    best, runs, total = float("inf"), 0, 0.0
    while runs == 0 or not (
        (total >= rule["min_time"] and runs >= rule["min_runs"]) or total >= rule["max_time"]
    ):
        seconds = time_batch(f, batch)
        best = min(best, seconds / batch)
        total += seconds
        runs += 1
    return {"seconds": best, "runs": runs, "batch": batch}


def tensors(torch, case):
    """x, weight, bias and the conv function, in the case's memory format."""
    import torch.nn.functional as F

    dims = case["dims"]
    transposed = case.get("transposed", False)
    if transposed:
        conv = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[dims]
    else:
        conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    x = torch.randn(case["x"])
    w = torch.randn(case["weight"])
    if case["channels_last"]:
        # Stored N, spatial..., C: the same tensor seen as N, C, spatial... with
        # channels-last strides, which PyTorch runs on its channels-last path.
        x = x.permute(0, dims + 1, *range(1, dims + 1))
        formats = {2: torch.channels_last, 3: torch.channels_last_3d}
        if dims in formats:
            w = w.contiguous(memory_format=formats[dims])
    # Out channels: weight[0] for a convolution, weight[1] * groups for a transposed one.
    out_channels = case["weight"][1] * case["groups"] if transposed else case["weight"][0]
    b = torch.randn(out_channels)
    return x, w, b, conv


def time_case(torch, case, rule):
    x, w, b, conv = tensors(torch, case)
    options = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    if case.get("transposed", False):
        options["output_padding"] = case["output_padding"]

    def forward():
        with torch.no_grad():
            conv(x, w, b, **options)

    xg, wg, bg = (t.detach().requires_grad_(True) for t in (x, w, b))
    with torch.no_grad():
        gy = torch.randn_like(conv(x, w, b, **options))
    elements = math.prod(gy.shape)
    if "y_elements" in case and elements != case["y_elements"]:
        raise ValueError(
            f"{case['name']}: PyTorch's output {tuple(gy.shape)} has {elements} elements,"
            f" conv-bench's {case['y_elements']}"
        )

    def forward_backward():
        xg.grad = wg.grad = bg.grad = None
        conv(xg, wg, bg, **options).backward(gy)

    return measure(forward, rule), measure(forward_backward, rule)


def peak_memory(torch, case, which):
    """Bytes of resident memory above the inputs that `which` (forward or
    forward_backward), called twice, reaches at most: conv-bench/src/memory.rs."""

    def status():
        fields = {}
        with open("/proc/self/status") as f:
            for line in f:
                name, _, value = line.partition(":")
                fields[name] = int(value.split()[0]) * 1024 if value.strip().endswith("kB") else 0
        return fields["VmRSS"], fields["VmHWM"]

    torch.set_num_threads(1)
    x, w, b, conv = tensors(torch, case)
    options = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    if case.get("transposed", False):
        options["output_padding"] = case["output_padding"]
    xg, wg, bg = (t.detach().requires_grad_(True) for t in (x, w, b))
    with torch.no_grad():
        gy = torch.randn_like(conv(x, w, b, **options))

    def forward():
        with torch.no_grad():
            conv(x, w, b, **options)

    def forward_backward():
        xg.grad = wg.grad = bg.grad = None
        conv(xg, wg, bg, **options).backward(gy)

    f = forward if which == "forward" else forward_backward
    before, _ = status()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    f()
    f()
    _, peak = status()
    return max(peak - before, 0)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--memory":
        import torch

        request = json.loads(sys.argv[3])
        print(peak_memory(torch, request["cases"][0], sys.argv[2]))
        return
    request = json.load(sys.stdin)
    try:
        import torch
    except Exception as error:  # noqa: BLE001 - any failure means no PyTorch
        json.dump({"error": f"import torch failed: {error}"}, sys.stdout)
        return
    torch.manual_seed(0)
    results = []
    for case in request["cases"]:
        for threads in request["threads"]:
            torch.set_num_threads(threads)
            forward, forward_backward = time_case(torch, case, request["rule"])
            print(
                f"torch {case['name']:10} {threads}t fwd {forward['seconds']:.3e} s"
                f" fwd+bwd {forward_backward['seconds']:.3e} s",
                file=sys.stderr,
                flush=True,
            )
            results.append(
                {
                    "case": case["name"],
                    "threads": threads,
                    "torch_threads": torch.get_num_threads(),
                    "forward": forward,
                    "forward_backward": forward_backward,
                }
            )
    json.dump({"torch": torch.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()

"""A stand-in for torch_bench.py that needs no PyTorch: it answers every request with
fixed timings (forward 1 ms, forward+backward 3 ms), to test the exchange end to end."""

import json
import sys

request = json.load(sys.stdin)
keys = {"name", "dims", "x", "weight", "stride", "padding", "dilation", "groups", "channels_last"}
assert all(set(case) == keys for case in request["cases"]), request
assert set(request["rule"]) == {"min_time", "min_runs", "max_time", "batch_time", "keep_slow_warm_up"}
timing = lambda seconds: {"seconds": seconds, "runs": 5, "batch": 1}  # noqa: E731
results = [
    {"case": case["name"], "threads": t, "forward": timing(1e-3), "forward_backward": timing(3e-3)}
    for case in request["cases"]
    for t in request["threads"]
]
json.dump({"torch": "fake", "results": results}, sys.stdout)

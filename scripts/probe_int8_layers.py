"""Probe (one-off): how often int8 on some of the decoder's linear layers decides as float32 does,
on decisions recorded by bench_latency (dumped to /tmp/q/calls.json). Kept with the commit that measured it."""

import json
import sys
import time
import warnings

import torch
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

from webagent.models.transformers_lm import TransformersModel

calls = json.load(open("/tmp/q/calls.json"))
ref = TransformersModel("default", dtype="float32", threads=1, prefix_entries=0)


def variant(pred):
    m = TransformersModel("default", dtype="float32", threads=1, prefix_entries=8)
    body = m.model.get_decoder()
    spec = {
        n: per_channel_dynamic_qconfig
        for n, mod in body.named_modules()
        if isinstance(mod, torch.nn.Linear) and pred(n)
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(body, spec, dtype=torch.qint8, inplace=True)
    return m


V = {
    "no_down": lambda n: "down_proj" not in n,
    "mlp_gate_up": lambda n: "gate_proj" in n or "up_proj" in n,
    "attn_only": lambda n: "self_attn" in n,
}
for name in sys.argv[1:]:
    m = variant(V[name])
    same = 0
    t_ref = t_m = 0
    for p, g in calls:
        s = time.perf_counter()
        a = ref.generate(p, g).text
        t_ref += time.perf_counter() - s
        s = time.perf_counter()
        b = m.generate(p, g).text
        t_m += time.perf_counter() - s
        same += a == b
    print(name, f"{same}/{len(calls)}", f"time ratio ref/variant {t_ref / t_m:.2f}", flush=True)

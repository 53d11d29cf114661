"""Recomputes reference.json (tools/peft-parity/reference.ts) with transformers + PEFT and compares.

Loads the world's base with LlamaForCausalLM and its adapters with PeftModel, exactly as saved,
then for the heterogeneous batch runs one mixed-adapter batch (PEFT's `adapter_names`, "__base__"
for base rows), and for each mixture builds PEFT's own with `add_weighted_adapter`. Prints, per
part and device, the largest absolute difference of the first step's logits and how many rows
generate the same greedy tokens; writes the same as JSON to --out.

Usage: python3 tools/peft-parity/peft_parity.py --world DIR --reference FILE [--out FILE] [--devices cuda,cpu]
"""
import argparse
import json
import os
import sys
import time
import warnings

import torch
import transformers
import peft
from peft import PeftModel
from transformers import LlamaForCausalLM


def left_pad(prompts, pad_id):
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    return ids, mask


def strip_stop(tokens, stop_ids):
    out = []
    for t in tokens:
        if t in stop_ids:
            break
        out.append(t)
    return out


def compare(model, rows, adapter_names, device, ref):
    """First-step logits of the padded batch and its greedy tokens, against the reference rows."""
    ids, mask = left_pad([r["prompt"] for r in rows], 0)
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    kwargs = {} if adapter_names is None else {"adapter_names": adapter_names}
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, **kwargs).logits[:, -1, :].float().cpu()
        generated = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=ref["maxNewTokens"], do_sample=False,
                                   eos_token_id=ref["eosTokenIds"], pad_token_id=0, **kwargs)
    ours = torch.tensor([r["firstLogits"] for r in rows])
    diff = (logits - ours).abs().max().item()
    scale = ours.abs().max().item()
    same = 0
    mismatches = []
    for i, r in enumerate(rows):
        theirs = strip_stop(generated[i, ids.shape[1]:].tolist(), ref["eosTokenIds"])
        if theirs == r["tokens"]:
            same += 1
        else:
            mismatches.append({"text": r["text"], "adapter": r["adapter"], "ours": r["tokens"], "peft": theirs})
    return {"rows": len(rows), "maxAbsLogitDiff": diff, "maxAbsLogit": scale, "sameGreedyTokens": same, "mismatches": mismatches[:3]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--world", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--out")
    ap.add_argument("--devices", default="cuda,cpu")
    a = ap.parse_args()
    ref = json.load(open(a.reference))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    report = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__, "parts": []}
    devices = [d for d in a.devices.split(",") if d != "cuda" or torch.cuda.is_available()]
    if "cuda" in a.devices and "cuda" not in devices:
        print("no CUDA device: comparing on the CPU only", file=sys.stderr)
    if "cuda" in devices:
        report["gpu"] = torch.cuda.get_device_name(0)
    for device in devices:
        base, info = LlamaForCausalLM.from_pretrained(os.path.join(a.world, ref["baseDir"]), dtype=torch.float32,
                                                      attn_implementation="eager", output_loading_info=True)
        report.setdefault("baseLoading", {k: list(v) for k, v in info.items() if isinstance(v, (list, set))})
        names = list(ref["adapters"].keys())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = PeftModel.from_pretrained(base, os.path.join(a.world, ref["adapters"][names[0]]), adapter_name=names[0])
            for name in names[1:]:
                model.load_adapter(os.path.join(a.world, ref["adapters"][name]), adapter_name=name)
        report.setdefault("adapterWarnings", [str(w.message)[:300] for w in caught if "adapter" in str(w.message).lower()])
        model = model.to(device).eval()
        t0 = time.time()
        batch_names = [r["adapter"] if r["adapter"] is not None else "__base__" for r in ref["batch"]]
        part = compare(model, ref["batch"], batch_names, device, ref)
        report["parts"].append({"part": "heterogeneous batch", "device": device, **part})
        for m in ref["mixtures"]:
            mix = f"mix_{m['method']}"
            options = {"density": m["density"]} if "density" in m else {}
            model.add_weighted_adapter(adapters=names, weights=m["weights"], adapter_name=mix, combination_type=m["method"], **options)
            model.set_adapter(mix)
            part = compare(model, m["rows"], None, device, ref)
            report["parts"].append({"part": f"mixture {m['method']}" + (f" (density {m['density']})" if "density" in m else ""), "device": device, **part})
            model.set_adapter(names[0])
            model.delete_adapter(mix)
        report.setdefault("seconds", {})[device] = round(time.time() - t0, 2)
    print(f"torch {report['torch']}, transformers {report['transformers']}, peft {report['peft']}" + (f", {report['gpu']}" if "gpu" in report else ""))
    print(f"base loading: {report['baseLoading']}; adapter warnings: {report['adapterWarnings'] or 'none'}")
    for p in report["parts"]:
        print(f"  {p['part']:<28} {p['device']:<5} rows {p['rows']:>3}  max |Δlogit| {p['maxAbsLogitDiff']:.2e} (max |logit| {p['maxAbsLogit']:.1f})  same greedy tokens {p['sameGreedyTokens']}/{p['rows']}")
        for mm in p["mismatches"]:
            print(f"      {mm['adapter']}: {mm['text']!r}: ours {mm['ours']} peft {mm['peft']}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()

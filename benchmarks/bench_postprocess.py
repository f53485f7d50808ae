"""Speed and memory of the post-processing chain against its reference implementation.

Synthetic but realistic-looking network outputs (19 classes, stuff bands, K thing instances with
Gaussian centre peaks and noisy offsets pointing at their centres) at 1024x2048. For each K:

- ``postprocess``: post-processing steps 2-4 (docs/postprocess.md) from the semantic map (centres, grouping, fusion);
- ``chain``: ``panoptic_postprocess`` from the logits (argmax and softmax included);

for the package and for its reference implementation (``postprocess/reference.py``: distances
from every thing pixel to every centre in blocks, one whole-image mask per instance and per
stuff class), whose outputs must be the same. ``postprocess_grid`` is the package grouping every
thing pixel with the pruned search instead of the look-up table (the table's benefit). Times
are medians in ms of wall and CPU (process) time, the versions' runs interleaved; peak extra
memory is tracemalloc's peak (numpy allocations, the returned arrays included: see
``chain_outputs_mb``) in MiB, measured in separate runs. Also timed:
the chain on paddle CPU tensors (shared with numpy inside) and the paddle-native
implementation run on the CPU, to justify the CPU dispatch.

Usage: python benchmarks/bench_postprocess.py [--centers 30 199] [--repeats 5]
Writes benchmarks/results/postprocess.json.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddleseg_panoptic.postprocess import (find_instance_center,  # noqa: E402
                                            get_instance_segmentation,
                                            merge_semantic_and_instance, panoptic_postprocess,
                                            reference)
from paddleseg_panoptic.postprocess.grouping import _group_numpy  # noqa: E402
from paddleseg_panoptic.postprocess.inference import _chain_paddle  # noqa: E402
import paddle  # noqa: E402  (after the package, which imports cv2 first)
from _results import result_path, write_json  # noqa: E402

THINGS = list(range(11, 19))
NUM_CLASSES, LABEL_DIVISOR, STUFF_AREA, IGNORE = 19, 1000, 2048, 255


def make_inputs(height, width, k, seed=0):
    """(logits [19, H, W], heatmap [1, H, W], offsets [2, H, W]) with k well-separated peaks."""
    rng = np.random.default_rng(seed)
    semantic = np.zeros((height, width), np.int64)
    bands = [10, 2, 8, 1, 0]  # sky, building, vegetation, sidewalk, road from top to bottom
    edges = np.linspace(0, height, len(bands) + 1).astype(int)
    for cls, (a, b) in zip(bands, zip(edges[:-1], edges[1:])):
        semantic[a:b] = cls
    for cls in (3, 4, 5, 6, 7, 9):  # small stuff patches, some below stuff_area
        y, x = rng.integers(0, height - 80), rng.integers(0, width - 80)
        s = int(rng.integers(20, 80))
        semantic[y:y + s, x:x + s] = cls
    # Instance centres on a jittered grid, so every one is a separate heatmap peak.
    rows = int(np.ceil(np.sqrt(k * height / width)))
    cols = int(np.ceil(k / rows))
    cells = rng.permutation(rows * cols)[:k]
    cy = ((cells // cols) + 0.5) * height / rows + rng.uniform(-0.2, 0.2, k) * height / rows
    cx = ((cells % cols) + 0.5) * width / cols + rng.uniform(-0.2, 0.2, k) * width / cols
    cy, cx = cy.astype(int), cx.astype(int)
    offsets = (rng.standard_normal((2, height, width)) * 3).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    heatmap = (rng.random((1, height, width)) * 0.05).astype(np.float32)
    for i in range(k):
        hh = int(rng.integers(20, max(21, height // rows)))
        ww = int(rng.integers(20, max(21, width // cols)))
        y0, x0 = max(0, cy[i] - hh // 2), max(0, cx[i] - ww // 2)
        sl = (slice(y0, y0 + hh), slice(x0, x0 + ww))
        semantic[sl] = THINGS[i % len(THINGS)]
        offsets[0][sl] = cy[i] - yy[sl] + rng.standard_normal((hh, ww))[:yy[sl].shape[0],
                                                                        :yy[sl].shape[1]] * 2
        offsets[1][sl] = cx[i] - xx[sl] + rng.standard_normal((hh, ww))[:xx[sl].shape[0],
                                                                        :xx[sl].shape[1]] * 2
        gy0, gy1 = max(0, cy[i] - 25), min(height, cy[i] + 26)
        gx0, gx1 = max(0, cx[i] - 25), min(width, cx[i] + 26)
        g = np.exp(-((yy[gy0:gy1, gx0:gx1] - cy[i]) ** 2 + (xx[gy0:gy1, gx0:gx1] - cx[i]) ** 2)
                   / (2 * 8.0 ** 2))
        np.maximum(heatmap[0, gy0:gy1, gx0:gx1], g.astype(np.float32),
                   out=heatmap[0, gy0:gy1, gx0:gx1])
    logits = rng.standard_normal((NUM_CLASSES, height, width)).astype(np.float32)
    np.put_along_axis(logits, semantic[None], 6.0, axis=0)
    return logits, heatmap, offsets


# ---------------------------------------------------------------- the reference implementation
def reference_postprocess(semantic, heatmap, offsets):
    thing = np.isin(semantic[0], THINGS)
    ctr = reference.find_centers(heatmap)
    instance = np.zeros_like(semantic)
    if ctr is not None:
        instance = reference.group_pixels(ctr, offsets, thing)
    return instance, reference.merge(semantic, instance, LABEL_DIVISOR, THINGS, STUFF_AREA,
                                     IGNORE)


def reference_chain(logits, heatmap, offsets):
    return reference.postprocess(logits, heatmap, offsets, thing_list=THINGS,
                                 label_divisor=LABEL_DIVISOR, stuff_area=STUFF_AREA,
                                 ignore_index=IGNORE)


# ---------------------------------------------------------------- the package
def package_postprocess(semantic, heatmap, offsets):
    instance, _ = get_instance_segmentation(semantic, heatmap, offsets, THINGS)
    return instance, merge_semantic_and_instance(semantic, instance, LABEL_DIVISOR, THINGS,
                                                 STUFF_AREA, IGNORE)


def package_postprocess_grid(semantic, heatmap, offsets):
    """The package with the pruned search for every thing pixel instead of the look-up table."""
    ctr = find_instance_center(heatmap)
    instance = np.zeros_like(semantic)
    if ctr is not None:
        instance = _group_numpy(ctr, offsets, semantic=semantic[0], things=THINGS, method="grid")
    return instance, merge_semantic_and_instance(semantic, instance, LABEL_DIVISOR, THINGS,
                                                 STUFF_AREA, IGNORE)


def package_chain(logits, heatmap, offsets):
    return panoptic_postprocess(logits, heatmap, offsets, thing_list=THINGS,
                                label_divisor=LABEL_DIVISOR, stuff_area=STUFF_AREA,
                                ignore_index=IGNORE)


def timed(fns, repeats):
    """Median wall and CPU ms of each of ``fns`` ({name: (fn, args)}), runs interleaved.

    Interleaving puts the package and the reference under the same load; CPU time
    (process_time) is less sensitive than wall time to other processes on a shared machine.
    """
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for _ in range(repeats):
        for name, (fn, args) in fns.items():
            w, c = time.perf_counter(), time.process_time()
            fn(*args)
            cpu[name].append((time.process_time() - c) * 1e3)
            wall[name].append((time.perf_counter() - w) * 1e3)
    return ({name: round(statistics.median(v), 1) for name, v in wall.items()},
            {name: round(statistics.median(v), 1) for name, v in cpu.items()})


def peak_mb(fn, args):
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2 ** 20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--centers", type=int, nargs="+", default=[30, 199])
    parser.add_argument("--repeats", type=int, default=5,
                        help="interleaved timed runs of each version")
    parser.add_argument("--out", default=result_path("postprocess.json"))
    args = parser.parse_args()
    paddle.set_device("cpu")
    results = {"height": args.height, "width": args.width, "num_classes": NUM_CLASSES,
               "machine": platform.processor() or platform.machine(),
               "cpu_count": os.cpu_count(), "numpy": np.__version__,
               "paddle": paddle.__version__, "runs": []}
    for k in args.centers:
        logits, heatmap, offsets = make_inputs(args.height, args.width, k)
        semantic = np.argmax(logits, axis=0)[None]
        inputs_mb = (logits.nbytes + heatmap.nbytes + offsets.nbytes) / 2 ** 20
        post_args, chain_args = (semantic, heatmap, offsets), (logits, heatmap, offsets)
        # Same answer first.
        ins, pan = package_postprocess(*post_args)
        d_ins, d_pan = reference_postprocess(*post_args)
        found = int(ins.max())
        assert (ins == d_ins).all() and (pan == d_pan).all(), "package and reference disagree"
        outputs_mb = sum(v.nbytes for v in package_chain(*chain_args).values()
                         if v is not None) / 2 ** 20
        run = {"centers": k, "centers_found": found, "inputs_mb": round(inputs_mb, 1),
               "chain_outputs_mb": round(outputs_mb, 1),
               "thing_pixels": int(np.isin(semantic, THINGS).sum())}
        fns = {"postprocess": (package_postprocess, post_args),
               "postprocess_grid": (package_postprocess_grid, post_args),
               "postprocess_reference": (reference_postprocess, post_args),
               "chain": (package_chain, chain_args),
               "chain_reference": (reference_chain, chain_args)}
        for name, (fn, fargs) in fns.items():
            run[f"{name}_peak_mb"] = round(peak_mb(fn, fargs), 1)  # also the warm-up
        wall, cpu = timed(fns, args.repeats)
        for name in fns:
            run[f"{name}_ms"], run[f"{name}_cpu_ms"] = wall[name], cpu[name]
            print(f"K={k} {name}: {wall[name]} ms wall, {cpu[name]} ms CPU, "
                  f"peak +{run[f'{name}_peak_mb']} MB", flush=True)
        # Paddle CPU tensors: the package's dispatch (numpy inside) and the device code on CPU.
        tensors = [paddle.to_tensor(a) for a in chain_args]
        native = (lambda *t: _chain_paddle(*t, THINGS, LABEL_DIVISOR, STUFF_AREA, IGNORE, 0.1, 7,
                                           200, (args.height, args.width), True))
        wall, cpu = timed({"chain_paddle_cpu": (package_chain, tensors),
                           "chain_paddle_native_cpu": (native, tensors)}, 2)
        for name in wall:
            run[f"{name}_ms"], run[f"{name}_cpu_ms"] = wall[name], cpu[name]
        for part in ("postprocess", "chain"):
            run[f"{part}_speedup"] = round(run[f"{part}_reference_ms"] / run[f"{part}_ms"], 1)
            run[f"{part}_cpu_speedup"] = round(
                run[f"{part}_reference_cpu_ms"] / run[f"{part}_cpu_ms"], 1)
        print(json.dumps(run), flush=True)
        results["runs"].append(run)
    write_json(args.out, results)


if __name__ == "__main__":
    main()

"""``python -m npgan.gradcheck``: the proof, without pytest; and a check of your own layer.

    python -m npgan.gradcheck                                    # every layer, loss and model
    python -m npgan.gradcheck mymodule:MyLayer --input-shape 8,5 # your layer

Each line is one check: the worst relative error over all its gradients (see
``npgan.gradcheck.rel_error``) and PASS when it is below the tolerance. A correct backward
gives about 1e-8 or less in float64; a wrong one, about 1e-1 to 1.
"""

import argparse
import importlib
import os
import sys

import numpy as np

from npgan.gradcheck import check_module
from npgan.nn import Module

TOL = 1e-6
HEADINGS = {"layer": "layers", "loss": "losses", "model": "whole models (G's and D's parameters)"}


def parse_shape(text):
    try:
        shape = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 8,5") from None
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be a positive integer")
    return shape


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m npgan.gradcheck",
        description="Check hand-written backward passes against centred finite differences "
                    "(float64, random upstream gradient). With no LAYER: every layer, loss and "
                    "whole model of npgan. With LAYER: your own Module subclass.")
    p.add_argument("layer", nargs="?", metavar="LAYER",
                   help="module:Class, a Module subclass with forward and backward that can be "
                        "built without arguments, importable from the current folder (e.g. "
                        "mymodule:MyLayer for MyLayer in ./mymodule.py)")
    p.add_argument("--input-shape", type=parse_shape, metavar="N,D,...",
                   help="the shape of the random input for LAYER, e.g. 8,5 (required with LAYER)")
    p.add_argument("--seed", type=int, default=0, help="seed of the input, weights' noise and "
                   "upstream gradient (default 0)")
    p.add_argument("--tol", type=float, default=TOL,
                   help=f"largest relative error that passes (default {TOL:g})")
    return p


def report(name, errors, tol):
    """Print one line for a check; return True when every error is below tol."""
    worst = max(errors.values())
    ok = worst < tol
    print(f"{'PASS' if ok else 'FAIL'}  {worst:9.2e}  {name}")
    if not ok:
        wrong = ", ".join(f"{k} ({e:.1e})" for k, e in errors.items() if not e < tol)
        print(f"      wrong: {wrong}")
    return ok


def check_everything(tol):
    from npgan.gradcheck_cases import SEED, all_cases
    print("Each line: PASS or FAIL, then the worst relative error max|a - n| / max(|a| + |n|)\n"
          "between backward's gradients a and finite differences n, over every gradient of\n"
          "the check (\"directional\": along 3 random directions instead of every entry).")
    print(f"result  worst error  check   (tolerance {tol:g}; float64, h = 1e-5)")
    failed, group_seen = [], None
    for group, name, case in all_cases():
        if group != group_seen:
            print(f"-- {HEADINGS[group]}")
            group_seen = group
        if not report(name, case(np.random.default_rng(SEED)), tol):
            failed.append(name)
    print(f"{'all checks passed' if not failed else str(len(failed)) + ' failed: ' + ', '.join(failed)}")
    return 1 if failed else 0


class LayerError(Exception):
    """LAYER cannot be checked as given; the message says what to fix."""


def load_layer(spec):
    """Import ``module:Class`` from the current folder and build it; errors say what to fix."""
    if spec.count(":") != 1 or not all(spec.split(":")):
        raise LayerError(f"LAYER must look like module:Class, got {spec!r}")
    module_name, class_name = spec.split(":")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise LayerError(f"cannot import {module_name!r} from {os.getcwd()}: {e}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise LayerError(f"{module_name} has no {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise LayerError(f"{spec} is not a subclass of npgan.nn.Module")
    for method in ("forward", "backward"):
        if getattr(cls, method) is getattr(Module, method):
            raise LayerError(f"{spec} does not define {method}()")
    try:
        layer = cls()
    except TypeError as e:
        raise LayerError(f"{spec}() must be constructible without arguments: {e}") from None
    return to_float64(layer)


def to_float64(layer):
    """Finite differences need float64: float32's round-off (~1e-7 / h) would swamp them."""
    for m in layer.modules():
        for _, p in m.own_parameters():
            p.data, p.grad = p.data.astype(np.float64), np.zeros(p.data.shape)
        for name in m.buffers:
            setattr(m, name, getattr(m, name).astype(np.float64))
    return layer


def check_user_layer(spec, shape, seed, tol):
    try:
        layer = load_layer(spec)
    except LayerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    try:
        gradients = {}
        errors = check_module(layer, x, rng=rng, gradients=gradients)
    except Exception as e:                       # the learner's code: show what it raised
        print(f"error: {spec} raised {type(e).__name__} on an input of shape {shape}: {e}",
              file=sys.stderr)
        return 2
    print(f"{spec}, input shape {shape}, float64 (tolerance {tol:g}):")
    for name, error in errors.items():
        what = "dL/dx (backward's return value)" if name == "x" else f"dL/d{name} (its .grad)"
        print(f"  {'PASS' if error < tol else 'FAIL'}  {error:9.2e}  {what}")
    wrong = [name for name, error in errors.items() if not error < tol]
    if not wrong:
        print("all gradients match finite differences")
        return 0
    for name in wrong:
        print(f"  {name}: " + describe_difference(*gradients[name]))
    print(f"wrong: {', '.join(wrong)}. (If the layer has a kink, as ReLU has at 0, an input "
          "within 1e-5 of it can fail a correct backward: try another --seed.)")
    return 1


def describe_difference(analytic, numerical):
    """Two clues to what is wrong: the best single factor between backward's gradient and the
    finite differences (a missing 2 or 1/N shows as 0.5 or N), and the entry that differs most."""
    analytic, numerical = np.asarray(analytic, float), np.asarray(numerical, float)
    norm = float((numerical * numerical).sum())
    factor = float((analytic * numerical).sum()) / norm if norm else float("nan")
    i = np.unravel_index(np.argmax(np.abs(analytic - numerical)), numerical.shape)
    where = tuple(int(k) for k in i)
    return (f"backward ~ {factor:.4g} x finite differences; most different at {where}: "
            f"backward {analytic[i]:.6g}, finite differences {numerical[i]:.6g}")


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.layer is None:
        if args.input_shape is not None:
            build_parser().error("--input-shape is for checking your own LAYER")
        return check_everything(args.tol)
    if args.input_shape is None:
        build_parser().error("checking a LAYER needs --input-shape, e.g. --input-shape 8,5")
    return check_user_layer(args.layer, args.input_shape, args.seed, args.tol)

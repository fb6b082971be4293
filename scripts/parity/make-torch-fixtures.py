"""PyTorch checkpoint fixtures for tests/interop.test.ts, and a loader to check our exports.

    python3 scripts/parity/make-torch-fixtures.py [--out tests/fixtures/torch]
        With PyTorch: saves checkpoint.pth the way the reference's training does (a dict with
        epoch, model_state_dict with `_orig_mod.` keys from a compiled model, optimizer and
        scaler state, loss, data_iter_step) and expected.json, the values a reader must find.
        The tensors cover f32, f16, bf16, int64, a transposed (non-contiguous) view and a view
        at a storage offset. A few KB in all; commit the folder.

    python3 scripts/parity/make-torch-fixtures.py --fake-torch --out DIR
        Python standard library only (no torch): writes the same contents through a stand-in
        `torch` module whose rebuild functions and storage classes pickle under torch's names,
        in torch's zip layout. Variants: checkpoint.pth, checkpoint-zip64.pth (ZIP64 records),
        checkpoint-big-endian.pth (byteorder "big"), checkpoint-v3.pth (_rebuild_tensor_v3 over
        untyped storages). The tests run this when PyTorch is not around.

    python3 scripts/parity/make-torch-fixtures.py [--fake-torch] --load FILE.pth
        Prints FILE.pth as JSON (tensors as {dtype, shape, values}) as torch.load(weights_only=True)
        sees it, or with --fake-torch as a standard-library unpickler restricted to torch's
        names does. The tests use it to check that Python reads our exported .pth files.
"""
import argparse
import collections
import io
import json
import math
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path

PREFIX = "_orig_mod."
EPOCH, LOSS, DATA_ITER_STEP = 3, 0.8125, 42
SCALER_STATE = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 0}
ITEM = {"float32": ("<f", 4), "float16": ("<e", 2), "bfloat16": (None, 2), "int64": ("<q", 8)}
STORAGE_CLASS = {"float32": "FloatStorage", "float16": "HalfStorage", "bfloat16": "BFloat16Storage", "int64": "LongStorage"}


def exact(values, dtype):
    """Deterministic values rounded to what `dtype` holds exactly, so every path stores them unchanged."""
    if dtype == "float16":
        return [struct.unpack("<e", struct.pack("<e", v))[0] for v in values]
    if dtype == "bfloat16":  # keep the top 16 bits of the f32 pattern
        return [struct.unpack("<f", struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0] & 0xFFFF0000))[0] for v in values]
    if dtype == "float32":
        return [struct.unpack("<f", struct.pack("<f", v))[0] for v in values]
    return [int(v) for v in values]


def wave(n, seed):
    return [math.sin(seed * 1.3 + 0.7 * i) * (1 + i % 3) for i in range(n)]


def layouts():
    """name -> (dtype, storage values, size, stride, storage offset): the model's tensors as torch stores them."""
    return {
        "proj.weight": ("float32", exact(wave(20, 1), "float32"), (5, 4), (4, 1), 0),
        "proj.bias": ("float32", exact(wave(5, 2), "float32"), (5,), (1,), 0),
        "norm.weight": ("float32", exact([1.0, 0.5, -2.0, 3.25], "float32"), (4,), (1,), 0),
        "half.weight": ("float16", exact(wave(12, 3), "float16"), (3, 4), (4, 1), 0),
        "bf.weight": ("bfloat16", exact(wave(6, 4), "bfloat16"), (2, 3), (3, 1), 0),
        # A [3, 4] storage seen transposed: size (4, 3), stride (1, 4).
        "transposed": ("float32", exact(wave(12, 5), "float32"), (4, 3), (1, 4), 0),
        # Elements 3..8 of a 10-element storage seen as [2, 3].
        "offset_view": ("float32", exact(wave(10, 6), "float32"), (2, 3), (3, 1), 3),
        "counts": ("int64", [-3, 0, 7, 2**40], (4,), (1,), 0),
    }


def view_values(storage, size, stride, offset):
    """The values of a strided view in C order."""
    out = []

    def walk(dim, at):
        if dim == len(size):
            out.append(storage[at])
            return
        for i in range(size[dim]):
            walk(dim + 1, at + i * stride[dim])

    walk(0, offset)
    return out


def expected_json():
    tensors = {name: {"dtype": d, "shape": list(size), "values": view_values(s, size, stride, off)}
               for name, (d, s, size, stride, off) in layouts().items()}
    return {"prefix": PREFIX, "epoch": EPOCH, "loss": LOSS, "data_iter_step": DATA_ITER_STEP, "optimizer_step": 1.0, "tensors": tensors}


# ---------------------------------------------------------------------------------------------
# With PyTorch.

def make_with_torch(out):
    import torch
    import torch.nn as nn

    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "int64": torch.int64}

    def tensor(name):
        d, storage, size, stride, off = layouts()[name]
        return torch.tensor(storage, dtype=dtypes[d]).as_strided(size, stride, off)

    inner = nn.Module()
    for sub in ("proj", "norm", "half", "bf"):
        setattr(inner, sub, nn.Module())
    for name in layouts():
        if name == "counts":
            inner.register_buffer("counts", tensor(name))
            continue
        owner, attr = (inner._modules[name.split(".")[0]], name.split(".")[1]) if "." in name else (inner, name)
        setattr(owner, attr, nn.Parameter(tensor(name), requires_grad=False))
    assert not inner.transposed.is_contiguous() and inner.offset_view.storage_offset() == 3
    compiled = nn.Module()
    compiled._orig_mod = inner  # what torch.compile's OptimizedModule does: keys gain "_orig_mod."

    # A real optimizer state (step counters are tensors), from one step on a separate parameter.
    p = nn.Parameter(torch.ones(3))
    opt = torch.optim.AdamW([p], lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    p.grad = torch.full((3,), 0.5)
    opt.step()

    checkpoint = {
        "epoch": EPOCH, "model_state_dict": compiled.state_dict(), "optimizer_state_dict": opt.state_dict(),
        "scaler_state_dict": dict(SCALER_STATE), "loss": LOSS, "data_iter_step": DATA_ITER_STEP,
    }
    out.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, out / "checkpoint.pth")
    expected = expected_json()
    expected["torch"] = torch.__version__
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    # Self-check: what torch reads back is what expected.json says.
    loaded = load_with_torch(out / "checkpoint.pth")
    for name, t in expected["tensors"].items():
        assert loaded["model_state_dict"][PREFIX + name] == t, name
    print(f"wrote {out}/checkpoint.pth and expected.json (torch {torch.__version__})")


def load_with_torch(path):
    import torch

    def plain(x):
        if isinstance(x, torch.Tensor):
            values = x.tolist() if x.dtype == torch.int64 else x.float().tolist()
            return {"dtype": str(x.dtype).removeprefix("torch."), "shape": list(x.shape), "values": flat(values)}
        return to_json(x, plain)

    return plain(torch.load(path, map_location="cpu", weights_only=True))


# ---------------------------------------------------------------------------------------------
# Standard library only: a stand-in torch module that pickles under torch's names.

class FakeStorage:
    def __init__(self, dtype, values, untyped=False):
        self.dtype, self.values, self.untyped = dtype, values, untyped

    def raw(self, big_endian):
        return encode_values(self.dtype, self.values, big_endian)


def encode_values(dtype, values, big_endian):
    order = ">" if big_endian else "<"
    if dtype == "bfloat16":  # the top half of each f32 pattern
        return b"".join(struct.pack(order + "H", struct.unpack("<I", struct.pack("<f", v))[0] >> 16) for v in values)
    return b"".join(struct.pack(order + ITEM[dtype][0][1], v) for v in values)


def decode_values(dtype, raw, big_endian):
    order = ">" if big_endian else "<"
    if dtype == "bfloat16":
        words = struct.unpack(f"{order}{len(raw) // 2}H", raw)
        return [struct.unpack("<f", struct.pack("<I", w << 16))[0] for w in words]
    return list(struct.unpack(f"{order}{len(raw) // ITEM[dtype][1]}{ITEM[dtype][0][1]}", raw))


def fake_torch_module():
    """Registers `torch` and `torch._utils` stand-ins in sys.modules; pickle writes their names."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")
    torch._utils = utils
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils

    def _rebuild_tensor_v2(*args):
        raise RuntimeError("stand-in: only pickled, never called")

    def _rebuild_tensor_v3(*args):
        raise RuntimeError("stand-in: only pickled, never called")

    for fn in (_rebuild_tensor_v2, _rebuild_tensor_v3):
        fn.__module__, fn.__qualname__ = "torch._utils", fn.__name__
        setattr(utils, fn.__name__, fn)
    for name in [*STORAGE_CLASS.values(), "UntypedStorage"]:
        setattr(torch, name, type(name, (), {"__module__": "torch"}))

    class Dtype:
        """Pickles as the global torch.<name>, as torch.dtype does."""
        def __init__(self, name):
            self.name, self.__module__ = name, "torch"

        def __reduce__(self):
            return self.name

    for name in ITEM:
        setattr(torch, name, Dtype(name))
    return torch


class FakeTensor:
    def __init__(self, torch, storage, size, stride, offset, v3):
        self.torch, self.storage, self.size, self.stride, self.offset, self.v3 = torch, storage, size, stride, offset, v3

    def __reduce_ex__(self, protocol):
        args = (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, collections.OrderedDict())
        if self.v3:
            return (self.torch._utils._rebuild_tensor_v3, args + (getattr(self.torch, self.storage.dtype),))
        return (self.torch._utils._rebuild_tensor_v2, args)


def fake_checkpoint(torch, v3):
    def tensor(dtype, storage, size, stride, offset):
        return FakeTensor(torch, FakeStorage(dtype, storage, untyped=v3), size, stride, offset, v3)

    model = collections.OrderedDict((PREFIX + name, tensor(*spec)) for name, spec in layouts().items())
    # nn.Module.state_dict() attaches per-module versions; pickle writes them with BUILD.
    model._metadata = collections.OrderedDict((m, {"version": 1}) for m in ["", "_orig_mod", "_orig_mod.proj", "_orig_mod.norm", "_orig_mod.half", "_orig_mod.bf"])
    optimizer = {
        "state": {0: {"step": tensor("float32", [1.0], (), (), 0), "exp_avg": tensor("float32", exact([0.05] * 3, "float32"), (3,), (1,), 0),
                      "exp_avg_sq": tensor("float32", exact([0.0125] * 3, "float32"), (3,), (1,), 0)}},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.95), "eps": 1e-08, "weight_decay": 0.1, "amsgrad": False, "maximize": False,
                          "foreach": None, "capturable": False, "differentiable": False, "fused": None, "params": [0]}],
    }
    return {"epoch": EPOCH, "model_state_dict": model, "optimizer_state_dict": optimizer,
            "scaler_state_dict": dict(SCALER_STATE), "loss": LOSS, "data_iter_step": DATA_ITER_STEP}


def fake_save(torch, obj, path, big_endian=False, zip64=False):
    """torch.save's layout: <archive>/data.pkl (protocol 2), byteorder, data/<key> per storage, version."""
    storages = []

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if not isinstance(obj, FakeStorage):
                return None
            if obj not in storages:
                storages.append(obj)
            key = str(storages.index(obj))
            if obj.untyped:
                return ("storage", torch.UntypedStorage, key, "cpu", len(obj.raw(False)))
            return ("storage", getattr(torch, STORAGE_CLASS[obj.dtype]), key, "cpu", len(obj.values))

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(obj)
    archive = path.stem
    limit = zipfile.ZIP64_LIMIT
    if zip64:
        zipfile.ZIP64_LIMIT = 16  # every size and offset past 16 bytes goes through ZIP64 records
    try:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            z.writestr(f"{archive}/data.pkl", buf.getvalue())
            z.writestr(f"{archive}/byteorder", "big" if big_endian else "little")
            for key, storage in enumerate(storages):
                z.writestr(f"{archive}/data/{key}", storage.raw(big_endian))
            z.writestr(f"{archive}/version", "3\n")
    finally:
        zipfile.ZIP64_LIMIT = limit


def make_fake(out):
    torch = fake_torch_module()
    out.mkdir(parents=True, exist_ok=True)
    fake_save(torch, fake_checkpoint(torch, v3=False), out / "checkpoint.pth")
    fake_save(torch, fake_checkpoint(torch, v3=False), out / "checkpoint-zip64.pth", zip64=True)
    fake_save(torch, fake_checkpoint(torch, v3=False), out / "checkpoint-big-endian.pth", big_endian=True)
    fake_save(torch, fake_checkpoint(torch, v3=True), out / "checkpoint-v3.pth")
    (out / "expected.json").write_text(json.dumps(expected_json(), indent=1) + "\n")


def load_fake(path):
    """Unpickles a torch.save zip with only torch's names allowed, as torch.load(weights_only=True) would."""
    z = zipfile.ZipFile(path)
    (pkl,) = [n for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    archive = pkl[: -len("data.pkl")]
    assert z.read(archive + "version").strip() in (b"3",), "version record"
    big_endian = {b"little": False, b"big": True}[z.read(archive + "byteorder")]
    classes = {v: k for k, v in STORAGE_CLASS.items()}

    def rebuild(storage, offset, size, stride, requires_grad, hooks, metadata=None):
        dtype, raw = storage
        values = decode_values(dtype, raw, big_endian)
        return {"dtype": dtype, "shape": list(size), "values": view_values(values, size, stride, offset)}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return rebuild
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if module == "torch" and name in classes:
                return classes[name]
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")

        def persistent_load(self, pid):
            kind, dtype, key, location, numel = pid
            raw = z.read(f"{archive}data/{key}")
            assert kind == "storage" and len(raw) == numel * ITEM[dtype][1], pid
            return dtype, raw

    return to_json(Unpickler(z.open(pkl)).load(), lambda x: to_json(x, None))


# ---------------------------------------------------------------------------------------------

def flat(values):
    return [v for row in values for v in flat(row)] if isinstance(values, list) else [values]


def to_json(x, inner):
    """Dicts (keys as strings), tuples as lists; `inner` converts nested values (tensors)."""
    inner = inner or (lambda v: to_json(v, None))
    if isinstance(x, dict):
        return {str(k): inner(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [inner(v) for v in x]
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "torch")
    parser.add_argument("--fake-torch", action="store_true", help="standard library only (no torch)")
    parser.add_argument("--load", type=Path, help="print this .pth as JSON instead of writing fixtures")
    args = parser.parse_args()
    if args.load:
        print(json.dumps(load_fake(args.load) if args.fake_torch else load_with_torch(args.load)))
    elif args.fake_torch:
        make_fake(args.out)
    else:
        make_with_torch(args.out)


if __name__ == "__main__":
    main()

"""File formats shared by the parity scripts and the TS side (numpy only; torch not needed).

(Named parity_io.py, not io.py: a module called io.py beside these scripts would shadow Python's
standard io module for every script run from this folder.)

Weights and gradients: .safetensors, written and read here without the safetensors package.
    bytes 0..8     N, the header length, unsigned 64-bit little-endian
    bytes 8..8+N   UTF-8 JSON: {name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
                   "__metadata__": {str: str}} (padded with spaces to a multiple of 8 bytes)
    then           the data: each tensor's bytes, row-major little-endian, at [begin, end) counted
                   from the end of the header; tensors back to back, no gaps, in the order written.
    We write F32 tensors named exactly as the model's state dict (Linear weights [out, in],
    skip_weights2 [2], embedding.weight [vocab, dim]). The reader also takes F64, F16, BF16 and
    the integer types.

Token batches: int32 [B, L], row-major.
    .bin   raw little-endian int32, no header (B or L must be given to read it back)
    .npy   numpy's format, any integer dtype (read as int32)

    python3 parity_io.py info FILE.safetensors          names, dtypes, shapes, metadata
    python3 parity_io.py tokens OUT.bin --B 2 --L 6921  random token batch (start row, faces, end row, pad)
    python3 parity_io.py convert REF.pth OUT.safetensors   reference checkpoint -> our weights (needs torch)
    python3 parity_io.py --selftest                     round trips (numpy only)
"""
import argparse
import json
import struct
import sys

import numpy as np

PAD, START, END = 129, 130, 131

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def write_safetensors(path, tensors, metadata=None, dtype=np.float32):
    """tensors: {name: array-like}. Floating arrays are cast to `dtype` (F32 by default; None keeps
    them); integer and bool arrays are kept. Insertion order is the order in the file."""
    arrays, header, offset = [], {}, 0
    for name, value in tensors.items():
        a = np.asarray(value)
        if dtype is not None and a.dtype.kind == "f":
            a = a.astype(dtype)
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<") if a.dtype.itemsize > 1 else a.dtype)
        key = _NAMES.get(np.dtype(a.dtype.str.replace("=", "<")))
        if key is None:
            raise ValueError(f"{name}: dtype {a.dtype} has no safetensors name")
        header[name] = {"dtype": key, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        arrays.append(a)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for a in arrays:
            f.write(a.tobytes())


def read_safetensors(path):
    """-> ({name: np.ndarray}, metadata dict). BF16 comes back as float32."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            raw = np.frombuffer(data[begin:end], dtype="<u2").astype(np.uint32) << 16
            a = raw.view(np.float32)
        else:
            a = np.frombuffer(data[begin:end], dtype=_DTYPES[info["dtype"]])
        if a.size != int(np.prod(shape)):
            raise ValueError(f"{path}: {name} has {a.size} elements for shape {shape}")
        out[name] = a.reshape(shape).copy()
    return out, metadata


def read_tokens(path, B=None, L=None):
    """A token batch as int32 [B, L] from .npy or raw int32 .bin (give B or L for .bin)."""
    if str(path).endswith(".npy"):
        a = np.load(path)
        if a.ndim == 1:
            a = a[None]
        a = a.astype(np.int32)
    else:
        flat = np.fromfile(path, dtype="<i4")
        if B is None and L is None:
            raise ValueError(f"{path}: a raw .bin needs --B or --L")
        if B is None:
            B = flat.size // L
        if L is None:
            L = flat.size // B
        if B * L != flat.size:
            raise ValueError(f"{path}: {flat.size} tokens is not B={B} x L={L}")
        a = flat.reshape(B, L).astype(np.int32)
    if (B is not None and a.shape[0] != B) or (L is not None and a.shape[1] != L):
        raise ValueError(f"{path}: shape {a.shape}, expected B={B}, L={L}")
    return a


def write_tokens(path, tokens):
    a = np.ascontiguousarray(np.asarray(tokens), dtype="<i4")
    if str(path).endswith(".npy"):
        np.save(path, a)
    else:
        a.tofile(path)


def random_tokens(B, L, seed=0, min_fill=0.3):
    """Training-shaped random batch [B, L] (L a multiple of 9): a start row (9 x 130), random face
    rows of coordinates 0..128 (each sequence filling between min_fill and all of the room), an end
    row (9 x 131), then pad (129). Not real meshes; good for timing and parity."""
    assert L % 9 == 0 and L >= 18, f"L={L} must be a multiple of 9, at least 18"
    rng = np.random.default_rng(seed)
    rows = L // 9
    out = np.full((B, L), PAD, dtype=np.int32)
    for b in range(B):
        faces = int(rng.integers(max(0, int(min_fill * (rows - 2))), rows - 2 + 1))
        out[b, :9] = START
        out[b, 9:9 + 9 * faces] = rng.integers(0, 129, size=9 * faces)
        out[b, 9 + 9 * faces:18 + 9 * faces] = END
    return out


def _selftest():
    import os
    import tempfile
    ok = True
    rng = np.random.default_rng(0)
    tensors = {"a.weight": rng.standard_normal((3, 5)).astype(np.float32), "skip_weights2": np.ones(2, np.float32),
               "z": np.zeros((0, 4), np.float32), "d": rng.standard_normal(7), "i": np.arange(6, dtype=np.int32).reshape(2, 3)}
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "t.safetensors")
        write_safetensors(p, tensors, {"format": "pt"}, dtype=None)
        back, meta = read_safetensors(p)
        for k, v in tensors.items():
            same = back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v)
            ok &= same
            print(f"  {'ok  ' if same else 'FAIL'} round trip {k} {v.dtype} {v.shape}")
        ok &= meta == {"format": "pt"} and list(back) == list(tensors)
        raw = open(p, "rb").read()
        (n,) = struct.unpack("<Q", raw[:8])
        ok &= n % 8 == 0 and len(raw) == 8 + n + sum(v.nbytes for v in tensors.values())
        write_safetensors(p, {"d": tensors["d"]})  # default: floats -> F32
        ok &= read_safetensors(p)[0]["d"].dtype == np.float32
        bf = np.array([0x3F80, 0xC000], dtype="<u2")  # bf16 1.0, -2.0
        with open(p, "wb") as f:
            h = json.dumps({"b": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
            f.write(struct.pack("<Q", len(h)) + h + bf.tobytes())
        ok &= read_safetensors(p)[0]["b"].tolist() == [1.0, -2.0]
        tok = random_tokens(3, 90, seed=1)
        for ext in (".bin", ".npy"):
            q = os.path.join(tmp, "t" + ext)
            write_tokens(q, tok)
            same = np.array_equal(read_tokens(q, B=3 if ext == ".bin" else None), tok)
            ok &= same
            print(f"  {'ok  ' if same else 'FAIL'} tokens round trip {ext}")
        ok &= bool((tok[:, :9] == START).all() and ((tok == END).sum(1) == 9).all())
    print("parity_io selftest:", "all passed" if ok else "FAILED")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", nargs="?", choices=["info", "tokens", "convert"])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--B", type=int, default=2)
    ap.add_argument("--L", type=int, default=6921)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    if args.selftest:
        sys.exit(0 if _selftest() else 1)
    if args.command == "info":
        tensors, meta = read_safetensors(args.paths[0])
        for name, a in tensors.items():
            print(f"{name} {a.dtype} {list(a.shape)}")
        print(f"{len(tensors)} tensors, {sum(a.size for a in tensors.values())} values, metadata {meta}")
    elif args.command == "tokens":
        write_tokens(args.paths[0], random_tokens(args.B, args.L, args.seed))
    elif args.command == "convert":
        from iflame_torch import load_reference_checkpoint
        sd = load_reference_checkpoint(args.paths[0])
        write_safetensors(args.paths[1], {k: v.detach().float().cpu().numpy() for k, v in sd.items()},
                          {"source": args.paths[0]})
        print(f"wrote {len(sd)} tensors to {args.paths[1]}")
    else:
        ap.print_help()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""A gpt run's validation loss recomputed from its files and docs/formats.md alone, in float64.

  tests/formats_check.py RUN_DIR      prints the recomputed loss and the last loss of RUN_DIR/eval.csv

Written from docs/formats.md, not from the source: config.toml for the shape, the corpus and the seed;
checkpoint.bin's header and CBOR payload (cbor2) for x; the corpus read into documents, split by the documented
shuffle (MT19937-64 seeded by seed_seq, Boost's bucket rule for the draws), turned into streams and windows;
the network's forward pass as the page writes it, in PyTorch float64 (not tools/gpt_torch.py: the page is what
is checked). tests/test_formats_check.py compares the result with eval.csv and with `ringmaster eval`.
Needs Debian's python3-torch, python3-numpy and python3-cbor2.
"""
from __future__ import annotations

import math
import os
import stat
import struct
import sys
import tomllib
import zlib
from pathlib import Path

import cbor2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from file_policy import read_regular  # noqa: E402  (regular files only, bounded)

MAGIC = b"RMCKPT1\n"
CORPUS_LIMIT = 1 << 30
EPS = 1e-6
SOFTCAP = 15.0
MASK32, MASK64 = (1 << 32) - 1, (1 << 64) - 1


# --- checkpoint.bin ----------------------------------------------------------------------------------------

def read_checkpoint(path: Path, limit: int) -> dict:
    data = read_regular(path, limit)
    if data[:8] != MAGIC:
        raise ValueError(f"{path}: not a checkpoint")
    length, crc = struct.unpack_from("<QI", data, 8)
    payload = data[20:]
    if len(payload) != length or zlib.crc32(payload) != crc:
        raise ValueError(f"{path}: length or CRC-32 does not match")
    return cbor2.loads(payload)


# --- the model's parameters --------------------------------------------------------------------------------

def gpt_blocks(layers: int, width: int, vocab: int = 256) -> list[tuple[str, tuple[int, int]]]:
    C = width
    blocks = [("wte", (vocab, C))]
    for layer in range(layers):
        blocks += [(f"h.{layer}.attn.c_q", (C, C)), (f"h.{layer}.attn.c_k", (C, C)), (f"h.{layer}.attn.c_v", (C, C)),
                   (f"h.{layer}.attn.c_proj", (C, C)), (f"h.{layer}.mlp.c_fc", (4 * C, C)),
                   (f"h.{layer}.mlp.c_proj", (C, 4 * C))]
    return blocks + [("lm_head", (vocab, C))]


def carve(x: bytes, blocks) -> dict[str, torch.Tensor]:
    flat = np.frombuffer(x, dtype="<f4").astype(np.float64)
    expected = sum(r * c for _, (r, c) in blocks)
    if flat.size != expected:
        raise ValueError(f"x holds {flat.size} floats, the layout {expected}")
    tensors, offset = {}, 0
    for name, (rows, cols) in blocks:
        tensors[name] = torch.from_numpy(flat[offset:offset + rows * cols].reshape(rows, cols).copy())
        offset += rows * cols
    return tensors


# --- the corpus ----------------------------------------------------------------------------------------------

def corpus_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return [path]
    entries = sorted(os.listdir(path), key=os.fsencode)
    regular = [name for name in entries if stat.S_ISREG(os.stat(path / name).st_mode)]
    present, seen, files = set(regular), set(), []
    for name in regular:
        if name.endswith(".dat") and len(name) > 4 and name[:-4] in present:
            continue
        st = os.stat(path / name)
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        files.append(path / name)
    return files


def documents(path: Path) -> list[bytes]:
    docs, total = [], 0
    for file in corpus_files(path):
        text = read_regular(file, CORPUS_LIMIT - total)
        total += len(text)
        if b"\0" in text:
            raise ValueError(f"{file}: holds byte 0")
        begin, line = 0, 0
        while line < len(text):
            newline = text.find(b"\n", line)
            end = len(text) if newline < 0 else newline
            if text[line:end] == b"%":
                if line > begin:
                    docs.append(text[begin:line])
                begin = min(end + 1, len(text))
            line = end + 1
        if len(text) > begin:
            docs.append(text[begin:])
    return docs


def seed_seq(words: list[int], count: int) -> list[int]:
    """C++ std::seed_seq::generate, as docs/formats.md writes it."""
    s, n = len(words), count
    out = [0x8B8B8B8B] * n
    t = 11 if n >= 623 else 7 if n >= 68 else 5 if n >= 39 else 3 if n >= 7 else (n - 1) // 2
    p = (n - t) // 2
    q = p + t
    mix = lambda x: x ^ (x >> 27)  # noqa: E731
    for k in range(max(s + 1, n)):
        r1 = (1664525 * mix(out[k % n] ^ out[(k + p) % n] ^ out[(k - 1) % n])) & MASK32
        r2 = (r1 + (s if k == 0 else (k % n) + words[k - 1] if k <= s else k % n)) & MASK32
        out[(k + p) % n] = (out[(k + p) % n] + r1) & MASK32
        out[(k + q) % n] = (out[(k + q) % n] + r2) & MASK32
        out[k % n] = r2
    for k in range(max(s + 1, n), max(s + 1, n) + n):
        r3 = (1566083941 * mix((out[k % n] + out[(k + p) % n] + out[(k - 1) % n]) & MASK32)) & MASK32
        r4 = (r3 - k % n) & MASK32
        out[(k + p) % n] ^= r3
        out[(k + q) % n] ^= r4
        out[k % n] = r4
    return out


class MT19937_64:
    N, M, UPPER, LOWER = 312, 156, 0xFFFFFFFF80000000, 0x7FFFFFFF

    def __init__(self, words: list[int]):
        generated = seed_seq(words, 2 * self.N)
        self.state = [generated[2 * i] | generated[2 * i + 1] << 32 for i in range(self.N)]
        self.index = self.N

    def next(self) -> int:
        if self.index >= self.N:
            x = self.state
            for i in range(self.N):
                y = (x[i] & self.UPPER) | (x[(i + 1) % self.N] & self.LOWER)
                x[i] = x[(i + self.M) % self.N] ^ (y >> 1) ^ (0xB5026F5AA96619E9 if y & 1 else 0)
            self.index = 0
        y = self.state[self.index]
        self.index += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & MASK64

    def below(self, i: int) -> int:
        bucket = (1 << 64) // i
        while True:
            r = self.next() // bucket
            if r < i:
                return r


def validation_stream(docs: list[bytes], fraction: float, seed: int) -> bytes:
    n = len(docs)
    held_out = min(max(math.floor(fraction * n + 0.5), 1), n - 1)
    order = list(range(n))
    rng = MT19937_64([seed & MASK32, seed >> 32, 1, 1, 0])
    for i in range(n, 1, -1):
        j = rng.below(i)
        order[i - 1], order[j] = order[j], order[i - 1]
    validation = set(order[:held_out])
    return b"".join(docs[d] + b"\0" for d in range(n) if d in validation)


def evaluated_windows(stream_bytes: int, tokens: int, context: int) -> list[int]:
    windows = (stream_bytes - 1) // context if stream_bytes >= context + 1 else 0
    count = min(math.ceil(tokens / context), windows)
    return [j * windows // count for j in range(count)]


# --- the network ---------------------------------------------------------------------------------------------

def rmsnorm(v: torch.Tensor) -> torch.Tensor:
    return v / torch.sqrt(v.pow(2).mean(dim=-1, keepdim=True) + EPS)


def rotary(v: torch.Tensor) -> torch.Tensor:
    """v (B, T, H, D): the halves rotated by θ_j = t · 10000^(−2j/D), cos and sin rounded to float32."""
    T, D = v.shape[1], v.shape[3]
    j = np.arange(D // 2, dtype=np.float64)
    theta = np.outer(np.arange(T, dtype=np.float64), 10000.0 ** (-2.0 * j / D))
    cos = torch.from_numpy(np.cos(theta).astype(np.float32).astype(np.float64))[None, :, None, :]
    sin = torch.from_numpy(np.sin(theta).astype(np.float32).astype(np.float64))[None, :, None, :]
    x1, x2 = v[..., :D // 2], v[..., D // 2:]
    return torch.cat([x1 * cos + x2 * sin, -x1 * sin + x2 * cos], dim=-1)


def losses(p: dict[str, torch.Tensor], layers: int, heads: int, inputs: torch.Tensor, targets: torch.Tensor):
    """loss_t of every prediction of the windows (B, T): (B, T) in float64."""
    B, T = inputs.shape
    x = rmsnorm(p["wte"][inputs])
    C = x.shape[-1]
    D = C // heads
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for layer in range(layers):
        a = rmsnorm(x)
        q, k, v = (a @ p[f"h.{layer}.attn.{m}"].T for m in ("c_q", "c_k", "c_v"))
        q, k, v = (t.view(B, T, heads, D) for t in (q, k, v))
        q, k = rmsnorm(rotary(q)), rmsnorm(rotary(k))
        scores = torch.einsum("bthd,bshd->bhts", q, k) / math.sqrt(D)
        weights = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        y = torch.einsum("bhts,bshd->bthd", weights, v).reshape(B, T, C)
        x = x + y @ p[f"h.{layer}.attn.c_proj"].T
        x = x + torch.relu(rmsnorm(x) @ p[f"h.{layer}.mlp.c_fc"].T).pow(2) @ p[f"h.{layer}.mlp.c_proj"].T
    s = SOFTCAP * torch.tanh((rmsnorm(x) @ p["lm_head"].T) / SOFTCAP)
    return torch.logsumexp(s, dim=-1) - s.gather(-1, targets[..., None]).squeeze(-1)


# --- the whole ---------------------------------------------------------------------------------------------

def validation_loss(run_dir: str | os.PathLike) -> float:
    run_dir = Path(run_dir)
    config = tomllib.loads(read_regular(run_dir / "config.toml", 1 << 20).decode())
    gpt = config["objective"]["gpt"]
    layers, heads, width, context = gpt["layers"], gpt["heads"], gpt["width"], gpt["context"]
    blocks = gpt_blocks(layers, width)
    params = sum(r * c for _, (r, c) in blocks)
    checkpoint = read_checkpoint(run_dir / "checkpoint.bin", 3 * 4 * params + (64 << 20))
    p = carve(checkpoint["x"], blocks)
    stream = validation_stream(documents(Path(gpt["corpus"])), gpt["validation_fraction"], config["run"]["seed"])
    windows = evaluated_windows(len(stream), gpt["eval_tokens"], context)
    data = np.frombuffer(stream, dtype=np.uint8)
    rows = np.stack([data[w * context:w * context + context + 1] for w in windows]).astype(np.int64)
    inputs, targets = torch.from_numpy(rows[:, :-1]), torch.from_numpy(rows[:, 1:])
    total = 0.0
    with torch.no_grad():
        for first in range(0, len(windows), 256):
            total += float(losses(p, layers, heads, inputs[first:first + 256], targets[first:first + 256]).sum())
    return total / (len(windows) * context)


def last_eval_loss(run_dir: str | os.PathLike) -> float:
    lines = read_regular(Path(run_dir) / "eval.csv", 256 << 20).decode().splitlines()
    header = lines[0].split(",")
    return float(lines[-1].split(",")[header.index("loss")])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    ours, theirs = validation_loss(argv[0]), last_eval_loss(argv[0])
    print(f"recomputed {ours!r}\neval.csv   {theirs!r}\ndifference {ours - theirs:.3g} "
          f"({(ours - theirs) / theirs:.3g} relative)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

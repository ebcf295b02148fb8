"""Files in PyTorch's torch.save formats, written without torch: the pickle opcodes by hand.

A state dict pickles as an OrderedDict of torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, hooks) calls, each storage a persistent id ('storage', torch.<T>Storage,
key, location, numel). Since PyTorch 1.6 that pickle and the storages' bytes are entries of a zip
archive; before, they followed each other in one stream (the legacy format).
"""
import pickle
import struct
import zipfile

import numpy as np

STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                 np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage",
                 np.dtype(np.int32): "IntStorage", np.dtype(np.uint8): "ByteStorage",
                 np.dtype(np.bool_): "BoolStorage"}


def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(n):
    return b"J" + struct.pack("<i", n)


def _tuple(items):
    return b"(" + b"".join(items) + b"t"


class Tensor:
    """A tensor as torch stores it: a view (offset, size, stride, in elements) into a storage."""

    def __init__(self, storage_key, offset, size, stride):
        self.storage_key, self.offset, self.size, self.stride = storage_key, offset, size, stride


def contiguous(storages, key, array):
    """Adds `array` as its own storage and returns the Tensor viewing all of it."""
    array = np.ascontiguousarray(array)
    storages[key] = array.ravel()
    strides = tuple(s // array.itemsize for s in array.strides)
    return Tensor(key, 0, array.shape, strides)


def state_pickle(tensors, storages, storage_name=None, legacy=False, extra_global=None):
    """The pickle of an OrderedDict name -> tensor. `storage_name` overrides the storage class of
    every tensor (bfloat16 has no NumPy type); `extra_global` adds a value built from any class."""
    out = [b"\x80\x02", _global("collections", "OrderedDict"), b")R", b"("]
    for name, tensor in tensors.items():
        storage = storages[tensor.storage_key]
        kind = storage_name or STORAGE_NAMES[storage.dtype]
        pid = [_str("storage"), _global("torch", kind), _str(tensor.storage_key), _str("cpu"), _int(len(storage))]
        if legacy:
            pid.append(b"N")  # no view metadata
        out += [_str(name), _global("torch._utils", "_rebuild_tensor_v2"),
                _tuple([_tuple(pid) + b"Q", _int(tensor.offset), _tuple([_int(n) for n in tensor.size]),
                        _tuple([_int(n) for n in tensor.stride]), b"\x89",
                        _global("collections", "OrderedDict") + b")R"]), b"R"]
    if extra_global:
        out += [_str("extra"), _global(*extra_global), _tuple([_str("echo hello")]), b"R"]
    out += [b"u", b"."]
    return b"".join(out)


def storage_bytes(storages, key, storage_name=None):
    return storages[key].astype(storages[key].dtype.newbyteorder("<")).tobytes()


def write_zip(path, tensors, storages, storage_name=None, extra_global=None, leave_out=()):
    """A .pth in PyTorch's zip format; storages named in `leave_out` are not written."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", state_pickle(tensors, storages, storage_name, extra_global=extra_global))
        archive.writestr("archive/byteorder", "little")
        for key in storages:
            if key not in leave_out:
                archive.writestr(f"archive/data/{key}", storage_bytes(storages, key))
        archive.writestr("archive/version", "3\n")
    return path


def write_legacy(path, tensors, storages, storage_name=None):
    """A .pth in the format torch.save wrote before PyTorch 1.6."""
    header = [pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2), pickle.dumps(1001, protocol=2),
              pickle.dumps({"protocol_version": 1001, "little_endian": True,
                            "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)]
    body = state_pickle(tensors, storages, storage_name, legacy=True)
    keys = pickle.dumps(list(storages), protocol=2)
    data = b"".join(struct.pack("<q", len(storages[key])) + storage_bytes(storages, key) for key in storages)
    with open(path, "wb") as f:
        f.write(b"".join(header) + body + keys + data)
    return path


def write_state_dict(path, arrays, legacy=False):
    """A contiguous tensor per array, each in its own storage."""
    storages = {}
    tensors = {name: contiguous(storages, str(i), array) for i, (name, array) in enumerate(arrays.items())}
    return (write_legacy if legacy else write_zip)(path, tensors, storages)

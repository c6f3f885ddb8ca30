"""The CNN zoo (examples/data/cnn_zoo.py) and the accuracy-prediction example: the batched
networks and trainer against plain PyTorch, padding that leaves each network's function
unchanged, a reproducible zoo whose accuracies spread, the example's rank metrics against
SciPy, and a quick end-to-end run of examples/cnn_zoo_accuracy.py on the baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_examples import load

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def zoo_module():
    return load("data/cnn_zoo.py")


@pytest.fixture(scope="module")
def example():
    return load("cnn_zoo_accuracy.py")


def random_network(zoo_module, widths: list[int], seed: int, dtype: torch.dtype) -> dict:
    """A network of the zoo's architecture with random weights and clearly nonzero biases."""
    generator = torch.Generator().manual_seed(seed)
    names = zoo_module.names(len(widths))
    module = zoo_module.SmallCNN(widths)
    state = {
        n: 0.5 * torch.randn(t.shape, generator=generator, dtype=dtype)
        for n, t in module.state_dict().items()
    }
    assert list(state) == names
    return {"state": state, "widths": widths}


@torch.no_grad()
def reference_logits(zoo_module, net: dict, images: torch.Tensor) -> torch.Tensor:
    module = zoo_module.SmallCNN(net["widths"]).to(images.dtype)
    module.load_state_dict(net["state"])
    return module(images)


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_padding_leaves_every_network_computing_the_same_logits(
    zoo_module, dtype: torch.dtype, tolerance: float
) -> None:
    """Networks of different widths, zero-padded to the largest (and to a wider 20 x 20) and
    run as one batch, give each network's own logits; junk in a padded channel would not."""
    widths = [[4, 6], [16, 4], [8, 12], [6, 16], [16, 16]]
    nets = [random_network(zoo_module, w, i, dtype) for i, w in enumerate(widths)]
    images = torch.randn(7, 1, 12, 12, generator=torch.Generator().manual_seed(9), dtype=dtype)
    expected = torch.stack([reference_logits(zoo_module, net, images) for net in nets])
    scale = expected.abs().max()
    for target in (None, [20, 20]):
        padded, true = zoo_module.pad_networks(nets, target)
        assert true.tolist() == widths and true.dtype == torch.int64
        side = target or [16, 16]
        assert [tuple(t.shape) for t in padded] == [
            (5, side[0], 1, 3, 3), (5, side[0]), (5, side[1], side[0], 3, 3), (5, side[1]),
            (5, 4, side[1]), (5, 4),
        ]  # fmt: skip
        logits = zoo_module.batched_logits(padded, images)
        assert (logits - expected).abs().max() <= tolerance * max(1.0, float(scale))
    padded[1][0, 5] = 1.0  # network 0's padded channel 5 of layer 1 switched on (a bias) ...
    assert (zoo_module.batched_logits(padded, images)[0] - expected[0]).abs().max() < 1e-5
    padded[2][0, :, 5] = 1.0  # ... leaks only once it meets nonzero weights downstream
    assert (zoo_module.batched_logits(padded, images)[0] - expected[0]).abs().max() > 1e-3


def test_permuting_hidden_channels_keeps_the_function(zoo_module) -> None:
    """Reordering every hidden layer's channels (and the next layer's inputs) leaves the
    logits unchanged to 1e-12; reordering a kernel's rows alone does not."""
    net = random_network(zoo_module, [6, 8], 3, torch.float64)
    images = torch.randn(5, 1, 12, 12, generator=torch.Generator().manual_seed(4)).double()
    generator = torch.Generator().manual_seed(5)
    perms = [torch.randperm(w, generator=generator) for w in net["widths"]]
    moved = zoo_module.permute_channels(net, perms)
    expected = reference_logits(zoo_module, net, images)
    assert (reference_logits(zoo_module, moved, images) - expected).abs().max() < 1e-12
    broken = {**net, "state": {**net["state"], "conv2.weight": moved["state"]["conv2.weight"]}}
    assert (reference_logits(zoo_module, broken, images) - expected).abs().max() > 1e-3


@pytest.mark.slow
def test_the_unf_model_is_invariant_on_zoo_networks(zoo_module, example) -> None:
    """The example's UNF path on networks of a zoo, in float64: each network's score does not
    move when its hidden channels are permuted (its function kept), but does when only its
    first kernel's rows are; and a batch of mixed widths scores each network as it scores
    alone, padded to the same maxima."""
    zoo = zoo_module.make_zoo(zoo_module.ZooConfig(**{**TINY, "networks": 4}))
    nets = [{**n, "state": {k: t.double() for k, t in n["state"].items()}} for n in zoo["networks"]]
    padded, widths = zoo_module.pad_networks(nets)
    assert len({tuple(w) for w in widths.tolist()}) > 1
    model, predict = example.unf_predictor(padded, widths, {}, 0, dtype=torch.float64)
    rows = torch.arange(len(nets))
    scores = predict(model, rows)
    generator = torch.Generator().manual_seed(6)
    moved = [
        zoo_module.permute_channels(
            n, [torch.randperm(w, generator=generator) for w in n["widths"]]
        )
        for n in nets
    ]
    maxima = widths.max(0).values.tolist()
    padded_moved, _ = zoo_module.pad_networks(moved, maxima)
    _, predict_moved = example.unf_predictor(padded_moved, widths, {}, 0, dtype=torch.float64)
    assert (predict_moved(model, rows) - scores).abs().max() < 1e-12 * max(1, scores.abs().max())
    true = int(widths[0, 0])  # network 0's first kernel alone reordered, within its width
    padded_moved[0][0, :true] = padded[0][0, :true].flip(0)
    assert (predict_moved(model, rows)[0] - scores[0]).abs() > 1e-6
    for i, net in enumerate(nets):
        alone, alone_widths = zoo_module.pad_networks([net], maxima)
        _, predict_alone = example.unf_predictor(alone, alone_widths, {}, 0, dtype=torch.float64)
        assert (predict_alone(model, torch.arange(1)) - scores[i]).abs().max() < 1e-12


def test_padding_refuses_widths_it_cannot_hold(zoo_module) -> None:
    nets = [random_network(zoo_module, [8, 8], 0, torch.float32)]
    with pytest.raises(ValueError, match="cannot pad widths"):
        zoo_module.pad_networks(nets, [4, 8])


@pytest.mark.slow
def test_the_batched_trainer_is_torch_adam_per_network(zoo_module) -> None:
    """Two networks trained together for different step counts each end where
    ``torch.optim.Adam`` on ``SmallCNN`` alone ends, fed the same batches and labels."""
    task = zoo_module.Task()
    data = zoo_module.task_images(task, 96, 8)
    hypers = [
        {"widths": [4, 6], "seed": s, "lr": lr, "steps": n, "label_noise": 0.3, "batch": 8}
        for s, lr, n in [(3, 1e-2, 4), (5, 3e-3, 7)]
    ]
    trained = zoo_module.train_group(hypers, data)
    for row, h in enumerate(hypers):
        torch.manual_seed(h["seed"])
        module = zoo_module.SmallCNN(h["widths"])
        optimizer = torch.optim.Adam(module.parameters(), lr=h["lr"])
        labels = zoo_module.noisy_labels(data["y_train"], h["label_noise"], h["seed"])
        assert (labels != data["y_train"]).any()
        for index in zoo_module.batches(96, h["steps"], h["batch"], h["seed"]):
            loss = torch.nn.functional.cross_entropy(module(data["x_train"][index]), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        for name, tensor in zip(zoo_module.names(2), trained, strict=True):
            assert torch.allclose(tensor[row], module.state_dict()[name], atol=1e-5, rtol=1e-4)


TINY = {"networks": 3, "widths": (4, 6), "steps": (2, 6), "train_images": 64, "test_images": 64}


def test_the_zoo_is_reproducible_from_its_seed(zoo_module, tmp_path: Path) -> None:
    """The same seed gives the same networks bit for bit (trained anew, and read back from the
    cache); another seed gives other hyperparameters."""
    config = zoo_module.ZooConfig(**TINY)
    first, second = zoo_module.make_zoo(config), zoo_module.make_zoo(config)
    cached = zoo_module.load_or_make(config, tmp_path, verbose=False)
    again = zoo_module.load_or_make(config, tmp_path, verbose=False)
    assert len(list(tmp_path.glob("*.pt"))) == 1 and not list(tmp_path.glob(".*partial"))
    for other in (second, cached, again):
        for a, b in zip(first["networks"], other["networks"], strict=True):
            assert a["hyper"] == b["hyper"] and a["test_accuracy"] == b["test_accuracy"]
            assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])
    shifted = zoo_module.draw_hyperparameters(zoo_module.ZooConfig(**TINY, seed=1))
    assert shifted != [net["hyper"] for net in first["networks"]]
    longer = zoo_module.draw_hyperparameters(zoo_module.ZooConfig(**{**TINY, "networks": 5}))
    assert longer[:3] == [net["hyper"] for net in first["networks"]]


@pytest.fixture(scope="module")
def quick_zoo(example, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The example's ``--quick`` zoo, trained once for the tests that use it."""
    folder = tmp_path_factory.mktemp("zoo")
    zoo_module = load("data/cnn_zoo.py")
    return folder, zoo_module.load_or_make(example.QUICK.zoo, folder, verbose=False)


@pytest.mark.slow
def test_the_zoo_accuracies_spread(quick_zoo: tuple[Path, dict]) -> None:
    """Even the quick zoo holds networks near chance (25%) and networks well above it."""
    accuracy = torch.tensor([net["test_accuracy"] for net in quick_zoo[1]["networks"]])
    assert accuracy.min() < 0.35 and accuracy.max() > 0.6
    assert accuracy.std() > 0.08


def test_the_rank_metrics_agree_with_scipy(example) -> None:
    stats = pytest.importorskip("scipy.stats")
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(8, (40,), generator=generator).double()  # many ties
    y = x + torch.randint(5, (40,), generator=generator).double()
    assert abs(example.kendall_tau(x, y) - stats.kendalltau(x, y).statistic) < 1e-12
    assert abs(example.spearman(x, y) - stats.spearmanr(x, y).statistic) < 1e-12
    assert example.kendall_tau(x, -x) == pytest.approx(-1.0)
    assert example.r_squared(y, y) == 1.0


def test_weight_statistics_are_seven_numbers_per_tensor(zoo_module, example) -> None:
    nets = [random_network(zoo_module, w, i, torch.float32) for i, w in enumerate([[4, 6], [8, 8]])]
    features = example.statistics(nets)
    assert features.shape == (2, 42)
    bias = nets[1]["state"]["conv1.bias"]
    quartiles = bias.quantile(torch.tensor([0.25, 0.5, 0.75]))
    expected = torch.stack([bias.mean(), bias.var(), bias.min(), *quartiles, bias.max()])
    assert torch.allclose(features[1, 7:14], expected, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_the_quick_example_runs_unf_and_the_baselines(
    example, quick_zoo: tuple[Path, dict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = quick_zoo
    out = tmp_path / "out"
    assert example.main(["--quick", "--zoo-dir", str(folder), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    names = {"UNF (geoc unf_cnn)", "MLP on flattened weights", "weight statistics + MLP"}
    assert names == set(report["results"])
    assert report["zoo"]["networks"] == 24
    assert "| MLP on flattened weights |" in (out / "results.md").read_text()
    printed = capsys.readouterr().out
    assert "Kendall tau: MLP on flattened weights" in printed
    assert "Kendall tau: UNF (geoc unf_cnn)" in printed
    pytest.importorskip("matplotlib")
    assert (out / "cnn_zoo_accuracy.png").stat().st_size > 0

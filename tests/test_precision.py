"""Training precision: auto's choice, bf16 autocast with fp32 master weights, its record and exact resume."""

import pytest
import torch

from rnnlens.data.corpus import load_corpus
from rnnlens.errors import RnnlensError
from rnnlens.models.rnn.fit import TrainOptions, resume_run, start_run
from rnnlens.models.rnn.network import ModelConfig
from rnnlens.store.runs import load_tensors, read_config
from rnnlens.training import precision
from rnnlens.training.loop import option_agrees

CPU = torch.device("cpu")
QUIET = {"show_progress": False, "log": lambda _: None}


@pytest.mark.parametrize("native, bf16_on_cpu, expected", [(True, True, "bf16"), (True, False, "fp32"),
                                                          (False, True, "fp32")])
def test_auto_takes_bf16_only_where_the_cpu_has_it_and_the_kind_gains(monkeypatch, native, bf16_on_cpu, expected):
    monkeypatch.setattr(precision, "native_bf16", lambda device: native)
    assert precision.resolve_precision("auto", CPU, bf16_on_cpu) == expected
    assert precision.resolve_precision("fp32", CPU, True) == "fp32"
    assert precision.resolve_precision("bf16", CPU, False) == "bf16"  # asked for explicitly: always given
    with pytest.raises(RnnlensError, match="precision 'fp16' is not one of auto, fp32, bf16"):
        precision.resolve_precision("fp16", CPU)


def test_an_explicit_precision_must_match_the_record_and_auto_matches_any():
    assert option_agrees("precision", "auto", "bf16") and option_agrees("precision", "auto", None)
    assert option_agrees("precision", "fp32", None)  # a run recorded before precisions existed trained in fp32
    assert not option_agrees("precision", "fp32", "bf16") and not option_agrees("precision", "bf16", None)


def test_auto_on_this_machine_follows_its_cpu_and_the_model_type(wp_slice_file, tmp_path):
    corpus = load_corpus(text=wp_slice_file)
    native = precision.native_bf16(CPU)
    for model_type, gains in (("lstm", True), ("gru", False), ("rnn", False)):
        trainer = start_run(corpus, ModelConfig(model_type, len(corpus.vocab), 8, 1), TrainOptions(epochs=1),
                            tmp_path / model_type)
        assert trainer.options.precision == ("bf16" if native and gains else "fp32")


def rnn_output_dtypes(trainer) -> list:
    """The dtype of the recurrent layers' output in each training step (a forward hook)."""
    seen = []
    trainer.model.rnn.register_forward_hook(lambda module, inputs, output: seen.append(output[0].dtype))
    return seen


def test_bf16_runs_the_recurrent_products_in_bf16_keeps_fp32_weights_and_validates_in_fp32(wp_slice_file, tmp_path):
    corpus = load_corpus(text=wp_slice_file)
    config = ModelConfig("lstm", len(corpus.vocab), 32, 2)
    losses = {}
    for name in ("fp32", "bf16"):
        trainer = start_run(corpus, config, TrainOptions(epochs=1, batch_size=20, seq_length=50, precision=name),
                            tmp_path / name)
        trainer.task.train_batches.num_batches = 60
        dtypes = rnn_output_dtypes(trainer)
        trainer.fit(**QUIET)
        steps = 60 + len(trainer.task.val_batches)  # training batches, then the validation forward passes
        assert dtypes == [torch.float32 if name == "fp32" else torch.bfloat16] * 60 + [torch.float32] * (steps - 60)
        tensors, _ = load_tensors(tmp_path / name / "last.safetensors")
        assert {v.dtype for k, v in tensors.items() if k.startswith(("model.", "optimizer."))} <= {torch.float32}
        assert read_config(tmp_path / name)["training"]["precision"] == name
        losses[name] = trainer.progress.history[0]["val_loss"]
    # the same model from the same start: bf16 products change the path a little, not where it goes
    assert losses["bf16"] != losses["fp32"]
    assert losses["bf16"] == pytest.approx(losses["fp32"], abs=0.03)


class Killed(Exception):
    pass


def test_a_killed_bf16_run_resumes_in_bf16_to_bit_identical_weights(war_and_peace, tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(war_and_peace[:30_000], encoding="utf-8")
    corpus = load_corpus(text=path)
    config = ModelConfig("lstm", len(corpus.vocab), 24, 2, dropout=0.3)
    options = TrainOptions(epochs=2, batch_size=8, seq_length=40, save_every=5, seed=3, precision="bf16")
    start_run(corpus, config, options, tmp_path / "whole").fit(**QUIET)

    def kill_in_epoch_two(progress):
        if progress.epoch == 1 and progress.batch == 12:
            raise Killed  # nothing saved since batch 10
    with pytest.raises(Killed):
        start_run(corpus, config, options, tmp_path / "killed").fit(on_iteration=kill_in_epoch_two, **QUIET)
    resumed = resume_run(tmp_path / "killed", corpus=corpus)
    assert resumed.options.precision == "bf16"
    resumed.fit(**QUIET)
    whole, again = (load_tensors(tmp_path / d / "last.safetensors")[0] for d in ("whole", "killed"))
    assert all(torch.equal(whole[k], again[k]) for k in whole if k.startswith("model."))

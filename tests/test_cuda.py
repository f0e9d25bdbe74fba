"""The CUDA path gives the CPU path's numbers (runs only where a GPU is present)."""

import pytest
import torch
import torch.nn.functional as F

from rnnlens.models.rnn.network import CharRNN, ModelConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


@pytest.mark.parametrize("model_type", ["rnn", "lstm", "gru"])
def test_cuda_loss_and_gradients_match_the_cpu_on_a_fixed_batch(model_type):
    torch.manual_seed(0)
    model = CharRNN(ModelConfig(model_type, 82, 128, 2))
    model.init_uniform()
    ids = torch.randint(0, 82, (100, 101))
    results = []
    for device in ("cpu", "cuda"):
        replica = CharRNN(model.config).to(device)
        replica.load_state_dict(model.state_dict())
        x, y = ids[:, :-1].to(device), ids[:, 1:].to(device)
        logits, _ = replica(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        loss.backward()
        results.append((loss.item(), replica.decoder.weight.grad.cpu()))
    (cpu_loss, cpu_grad), (gpu_loss, gpu_grad) = results
    assert gpu_loss == pytest.approx(cpu_loss, abs=1e-5)
    assert torch.allclose(gpu_grad, cpu_grad, atol=1e-5)


def test_a_checkpoint_trained_on_gpu_loads_on_cpu(tmp_path):
    from rnnlens.store.runs import load_tensors, save_tensors

    model = CharRNN(ModelConfig("lstm", 20, 16, 1)).cuda()
    save_tensors(tmp_path / "w.safetensors", {f"model.{k}": v for k, v in model.state_dict().items()})
    tensors, _ = load_tensors(tmp_path / "w.safetensors")
    assert all(t.device.type == "cpu" for t in tensors.values())

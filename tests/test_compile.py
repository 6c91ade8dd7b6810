"""torch.compile (what mmengine's ``compile=True`` runs): the shared backbone with adapters is captured as one
graph (no graph breaks) forward and backward, and computes what eager mode computes. The ``aot_eager``
backend runs the same capture and autograd tracing as inductor without its minutes of C++ code generation
on CPU (inductor was checked once by hand: outputs within 2e-6 of eager)."""
import warnings

import torch

from conftest import SMALL_ARCH, build, perturb_


def test_compiled_backbone_is_one_graph_and_matches_eager_forward_and_backward():
    torch._dynamo.reset()
    kwargs = dict(arch=SMALL_ARCH, depth_scale=2, window_size=4, trainable='adapters_norms',
                  adapter=dict(targets=('fc1', 'fc2', 'qkv', 'proj'), dim=4))
    eager = perturb_(build(**kwargs))
    model = build(**kwargs)
    model.load_state_dict(eager.state_dict())
    compiled = torch.compile(model, backend='aot_eager', fullgraph=True)
    x = torch.randn(2, 3, 36, 44)  # padded windows at every stage
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        outs = compiled(x)
    assert not [str(w.message) for w in caught if 'Dynamo' in str(w.message)]  # e.g. the cached shift mask
    reference = eager(x)
    for got, want in zip(outs, reference):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    sum(o.square().mean() for o in outs).backward()
    sum(o.square().mean() for o in reference).backward()
    eager_params = dict(eager.named_parameters())
    trained = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    assert any('.adapters.' in name for name, _ in trained)
    for name, param in trained:
        torch.testing.assert_close(param.grad, eager_params[name].grad, rtol=1e-4, atol=1e-6)

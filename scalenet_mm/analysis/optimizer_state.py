"""How much state a config's optimizer keeps per trainable weight (for memory and checkpoint sizes)."""
from mmengine.config import Config

# tensors kept per trainable weight: Adam's two moments, SGD's momentum buffer
OPTIMIZER_STATES = {'AdamW': 2, 'Adam': 2, 'SGD': 1}


def optimizer_states(cfg: Config) -> int:
    """Tensors the config's optimizer keeps per trainable weight (SGD without momentum: none)."""
    name = cfg.optim_wrapper.optimizer.type.split('.')[-1]
    if name not in OPTIMIZER_STATES:
        raise ValueError(f'optimizer {name!r}: its state size is unknown; known: {sorted(OPTIMIZER_STATES)}')
    if name == 'SGD' and not cfg.optim_wrapper.optimizer.get('momentum'):
        return 0
    return OPTIMIZER_STATES[name]

from .evaluate_before_train_hook import EvaluateBeforeTrainHook
from .layer_decay_optim_wrapper_constructor import LayerDecayOptimWrapperConstructor
from .rank_consistency_hook import RankConsistencyHook
from .rng_state_hook import RNGStateHook

__all__ = ['EvaluateBeforeTrainHook', 'LayerDecayOptimWrapperConstructor', 'RankConsistencyHook', 'RNGStateHook']

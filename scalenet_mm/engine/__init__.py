from .evaluate_before_train_hook import EvaluateBeforeTrainHook
from .rank_consistency_hook import RankConsistencyHook
from .rng_state_hook import RNGStateHook

__all__ = ['EvaluateBeforeTrainHook', 'RankConsistencyHook', 'RNGStateHook']

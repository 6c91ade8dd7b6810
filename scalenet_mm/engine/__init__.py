from .atomic_local_backend import AtomicLocalBackend
from .crash_safe_checkpoint_hook import CrashSafeCheckpointHook
from .data_files_check_hook import DataFilesCheckHook
from .evaluate_before_train_hook import EvaluateBeforeTrainHook
from .fault_injection_hook import FaultInjectionHook
from .growth_schedule_hook import GrowthScheduleHook, config_growth_schedule
from .layer_decay_optim_wrapper_constructor import LayerDecayOptimWrapperConstructor
from .rank_consistency_hook import RankConsistencyHook
from .rng_state_hook import RNGStateHook

__all__ = ['AtomicLocalBackend', 'CrashSafeCheckpointHook', 'DataFilesCheckHook', 'EvaluateBeforeTrainHook',
           'FaultInjectionHook', 'GrowthScheduleHook', 'LayerDecayOptimWrapperConstructor', 'RankConsistencyHook',
           'RNGStateHook', 'config_growth_schedule']

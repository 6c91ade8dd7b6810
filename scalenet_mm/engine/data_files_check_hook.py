"""Check the image files of every dataset a run will read before its first iteration, so a corrupt file stops
the run in seconds, naming its sample, instead of hours in (see ``scalenet_mm.datasets.sample_files_check``)."""
import time

from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop, Runner

from ..registry import HOOKS


@HOOKS.register_module()
class DataFilesCheckHook(Hook):
    """In ``before_run`` (the data loaders are built, no weights loaded, nothing trained or saved), check every
    ``img_path``/``seg_map_path`` of the train, val and test datasets that the run built; the first bad file
    raises ``ValueError`` with the loader, the sample index and the path. The main process checks, and every
    process raises the same error."""
    priority = 'VERY_HIGH'

    def before_run(self, runner: Runner) -> None:
        from ..datasets.sample_files_check import check_sample_files  # PIL, and the datasets, only when used
        result = [None]
        if is_main_process():
            start, checked = time.perf_counter(), 0
            try:
                for name in ('train', 'val', 'test'):
                    loop = getattr(runner, f'_{name}_loop')
                    if isinstance(loop, BaseLoop):
                        checked += check_sample_files(loop.dataloader.dataset, f'{name}_dataloader')
            except ValueError as error:
                result = [str(error)]
            else:
                runner.logger.info(f'DataFilesCheckHook: {checked} image files readable '
                                   f'({time.perf_counter() - start:.1f} s)')
        broadcast_object_list(result)
        if result[0] is not None:
            raise ValueError(result[0])

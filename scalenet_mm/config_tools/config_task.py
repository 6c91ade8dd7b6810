"""What a config is for: its task (from ``default_scope``), the input size its task is measured at, and the
metric it reports."""
from mmengine.config import Config

TASKS = {'mmdet': 'detection', 'mmseg': 'segmentation', 'scalenet_mm': 'classification'}
# the test metric each task is reported by (mmdet CocoMetric, mmseg IoUMetric, our TopKAccuracy)
TASK_METRICS = {'detection': ('coco/bbox_mAP', 'coco/segm_mAP'), 'segmentation': ('mIoU', ),
                'classification': ('accuracy/top1', )}


def task_of(cfg: Config) -> str:
    """``'detection'``, ``'segmentation'`` or ``'classification'``, from the config's ``default_scope``."""
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise ValueError(f"the config's default_scope is {scope!r}; expected one of {sorted(TASKS)} (an mmdet "
                         'detector, an mmseg segmentor or a scalenet_mm classifier config)')
    return TASKS[scope]


def test_step_of_type(cfg: Config, name: str) -> dict:
    """The first step of the test pipeline whose type ends with ``name``."""
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'].split('.')[-1] == name:
            return step
    types = [step['type'] for step in cfg.test_dataloader.dataset.pipeline]
    raise ValueError(f'the test pipeline has no {name} step: {types}')


def task_input_hw(cfg: Config) -> tuple[int, int]:
    """``(H, W)`` of one input as the task measures it: a detector's test ``Resize`` scale (1333x800 -> 800,
    1333), a segmentor's crop (the data preprocessor's ``size``), a classifier's test ``input_size``."""
    task = task_of(cfg)
    if task == 'detection':
        scale = test_step_of_type(cfg, 'Resize').get('scale')
        if not (isinstance(scale, (list, tuple)) and len(scale) == 2):
            raise ValueError(f'the test Resize has scale={scale!r}; a (width, height) pair is needed to know the '
                             'input size of a detector')
        width, height = scale
        return height, width
    if task == 'segmentation':
        size = cfg.model.data_preprocessor.get('size') or cfg.get('crop_size')
        if size is None:
            raise ValueError('the segmentor config sets neither model.data_preprocessor.size nor crop_size')
        return tuple(size)
    side = test_step_of_type(cfg, 'TimmClassificationTransform').get('input_size', 224)  # its default
    return side, side

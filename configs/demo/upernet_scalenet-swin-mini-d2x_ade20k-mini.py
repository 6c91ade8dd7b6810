# CPU demo: a small ScaleNet-Swin-2x UperNet trained from scratch on the 6 bundled ADE20K images
# (demo/data/ade20k_mini) and evaluated with mmseg's IoUMetric on the same images: an overfit sanity run
# that shows the whole path (real data, real UperNet, real mIoU) learns within minutes on 2 cores.
_base_ = ['../_base_/runtimes/mmseg_runtime.py']
data_root = '{{ fileDirname }}/../../demo/data/ade20k_mini/ADEChallengeData2016'
crop_size = (128, 128)
num_iters = 200

model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=crop_size),
    backbone=dict(
        type='scalenet_mm.ScaleNetSwinTransformer',
        arch=dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8)),
        depth_scale=2, window_size=4, drop_path_rate=0.1,
        adapter=dict(type='parallel', targets=('fc1', 'fc2'), dim=8)),
    decode_head=dict(
        type='UPerHead', in_channels=[32, 64, 128, 256], in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3, 6),
        channels=64, dropout_ratio=0.1, num_classes=150, norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False, loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead', in_channels=128, in_index=2, channels=32, num_convs=1, concat_input=False,
        dropout_ratio=0.1, num_classes=150, norm_cfg=dict(type='SyncBN', requires_grad=True), align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='scalenet_mm.CheckSegLabels', num_classes=150),
    dict(type='RandomResize', scale=(256, 160), ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 160), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='scalenet_mm.CheckSegLabels', num_classes=150),
    dict(type='PackSegInputs')
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in (0.5, 0.75)],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadAnnotations', reduce_zero_label=True)],
        [dict(type='scalenet_mm.CheckSegLabels', num_classes=150)],
        [dict(type='PackSegInputs')]])
]
tta_model = dict(type='SegTTAModel')
train_dataloader = dict(
    batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='ADE20KDataset', data_root=data_root, pipeline=train_pipeline,
                 data_prefix=dict(img_path='images/training', seg_map_path='annotations/training')))
val_dataloader = dict(
    batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ADE20KDataset', data_root=data_root, pipeline=test_pipeline,
                 data_prefix=dict(img_path='images/training', seg_map_path='annotations/training')))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'relative_position_bias_table': dict(decay_mult=0.),
                                    'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=20, end=num_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=num_iters, val_interval=num_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='scalenet_mm.CrashSafeCheckpointHook', by_epoch=False, interval=num_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
    data_check=dict(type='scalenet_mm.DataFilesCheckHook'))
custom_hooks = [dict(type='scalenet_mm.RNGStateHook'), dict(type='scalenet_mm.EvaluateBeforeTrainHook')]
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)

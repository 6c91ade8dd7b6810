# Source model of the CPU fidelity experiment (tools/analysis/fidelity_experiment.py): a plain mini Swin
# (patch 4, window 4, 4 stages of depth 2, width 32) trained from scratch on the 2000-image CIFAR-10 subset
# (../shared/data/cifar10_subset: train/ 10x200, test/ 10x100) at 32x32. Light augmentation (random resized
# crop 0.35-1, flip), no Mixup: the schedules are short. The experiment derives every variant (ScaleNet-2x,
# stack, shared without adapters, 2x from scratch) from this config by overriding model.backbone.
_base_ = ['../_base_/schedules/cifar_adamw_cosine.py', '../_base_/runtimes/cls_runtime.py']
data_root = 'data/cifar10_subset'
val_split = 'test'
max_epochs = 24

model = dict(
    type='scalenet_mm.ImageClassifier',
    backbone=dict(type='scalenet_mm.ScaleNetSwinTransformer',
                  arch=dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8)), patch_size=4,
                  window_size=4, depth_scale=1, adapter=None, drop_path_rate=0.1, out_indices=(3, ),
                  # maps of 8, 4, 2, 1: windows shrink to small maps instead of padding them (no padding sinks)
                  pad_small_map=False),
    num_classes=10,
    in_channels=256,
    label_smoothing=0.1)
augment = dict(type='scalenet_mm.TimmClassificationTransform', input_size=32, crop_pct=1.0,
               mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))
train_dataloader = dict(
    batch_size=64, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='scalenet_mm.ImageNetDataset', data_root=data_root, split='train',
                 pipeline=[dict(augment, training=True, scale=(0.35, 1.0), auto_augment=None, re_prob=0.0)]))
val_dataloader = dict(
    batch_size=200, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='scalenet_mm.ImageNetDataset', data_root=data_root, split=val_split, test_mode=True,
                 pipeline=[dict(augment, training=False)]))
test_dataloader = val_dataloader
val_evaluator = dict(type='scalenet_mm.TopKAccuracy', topk=(1, ))
test_evaluator = val_evaluator

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(type='LoggerHook', interval=10),
                     checkpoint=dict(type='scalenet_mm.CrashSafeCheckpointHook', interval=max_epochs, save_best=None))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))

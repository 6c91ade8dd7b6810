# CPU demo of the classification stage: a small ScaleNet-Swin-2x classifier trained from scratch on 500
# bundled CIFAR-10 images of 5 classes (demo/data/cifar10_mini), evaluated on 250 held-out ones with top-1;
# timm augmentation, Mixup/CutMix and soft-target cross entropy as in the ImageNet configs, at 32x32
# (patch 2, window 4).
_base_ = ['../_base_/schedules/cifar_adamw_cosine.py', '../_base_/runtimes/cls_runtime.py']
data_root = '{{ fileDirname }}/../../demo/data/cifar10_mini'
max_epochs = 15

model = dict(
    type='scalenet_mm.ImageClassifier',
    backbone=dict(type='scalenet_mm.ScaleNetSwinTransformer',
                  arch=dict(embed_dims=48, depths=(2, 2, 2, 2), num_heads=(2, 4, 8, 16)), patch_size=2,
                  window_size=4, pad_small_map=False, depth_scale=2, drop_path_rate=0.1, out_indices=(3, ),
                  adapter=dict(type='parallel', targets=('fc1', 'fc2'), dim=8)),
    num_classes=5,
    in_channels=384,
    label_smoothing=0.1,
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=0.5))
augment = dict(type='scalenet_mm.TimmClassificationTransform', input_size=32, crop_pct=1.0,
               mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616))
train_dataloader = dict(
    batch_size=32, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='scalenet_mm.ImageNetDataset', data_root=data_root, split='train',
                 pipeline=[dict(augment, training=True, auto_augment='rand-m5-mstd0.5', re_prob=0.1)]))
val_dataloader = dict(
    batch_size=64, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='scalenet_mm.ImageNetDataset', data_root=data_root, split='val', test_mode=True,
                 pipeline=[dict(augment, training=False)]))
test_dataloader = val_dataloader
val_evaluator = dict(type='scalenet_mm.TopKAccuracy', topk=(1, ))
test_evaluator = val_evaluator

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(type='LoggerHook', interval=10),
                     checkpoint=dict(type='scalenet_mm.CrashSafeCheckpointHook', interval=max_epochs, save_best=None))
env_cfg = dict(cudnn_benchmark=False)

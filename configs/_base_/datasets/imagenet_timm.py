# ImageNet-1k in the standard layout (data/imagenet/{train,val}/<wnid>/*.JPEG; a flat val/ needs
# ann_file='meta/val.txt' with "<file> <class index>" lines). Augmentation from timm: random resized crop
# 224 (bicubic), flip, RandAugment m9 mstd 0.5, random erasing 0.25; evaluation: resize 256, centre crop 224.
# 8 GPUs x 128 images = batch 1024.
data_root = 'data/imagenet'
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='scalenet_mm.ImageNetDataset', data_root=data_root, split='train',
                 pipeline=[dict(type='scalenet_mm.TimmClassificationTransform', training=True, input_size=224,
                                auto_augment='rand-m9-mstd0.5', re_prob=0.25)]))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='scalenet_mm.ImageNetDataset', data_root=data_root, split='val', test_mode=True,
                 pipeline=[dict(type='scalenet_mm.TimmClassificationTransform', training=False, input_size=224)]))
test_dataloader = val_dataloader
val_evaluator = dict(type='scalenet_mm.TopKAccuracy', topk=(1, 5))
test_evaluator = val_evaluator

# The DeiT ImageNet recipe (Touvron et al. 2021, timm's train.py): AdamW lr 5e-4 x batch / 512 (1e-3 at batch
# 1024), weight decay 0.05 (none on norms, biases, the class token and the position embedding), 5 warm-up
# epochs, cosine to 1e-5, 300 epochs, no gradient clipping. --auto-scale-lr rescales lr from batch 1024.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'.cls_token': dict(decay_mult=0.0), '.pos_embed': dict(decay_mult=0.0)}))
max_epochs = 300
warmup_epochs = 5
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=warmup_epochs)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=1024)

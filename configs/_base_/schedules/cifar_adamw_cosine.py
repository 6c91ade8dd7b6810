# AdamW for the small CIFAR-10 configs (CPU demo, fidelity experiment): lr 2e-3 at batch 32-64, weight decay
# 0.05 (none on norms, biases and position tables), clip 5.0; one warm-up epoch, then cosine to 1e-5 until
# train_cfg.max_epochs.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0,
                       custom_keys={'.relative_position_bias_table': dict(decay_mult=0.0)}),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=1)
]

# UperNet, ADE20K 512x512, 160k.
# ScaleNet-Swin-T-2x fine-tuned whole from its ImageNet stage (as
# upernet_scalenet-swin-t-d2x_in1k-pre_8xb2-160k_ade20k-512x512.py) with layer-wise lr
# decay 0.9 over the 26 layers (patch embedding, 24 positions, output norms; see get_layer_depth): the
# early positions, whose shared blocks also serve later ones, move least. For a like-for-like comparison
# give the baselines the same constructor (--cfg-options, see the README).
_base_ = './upernet_scalenet-swin-t-d2x_in1k-pre_8xb2-160k_ade20k-512x512.py'
optim_wrapper = dict(constructor='scalenet_mm.LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(layer_decay_rate=0.9))

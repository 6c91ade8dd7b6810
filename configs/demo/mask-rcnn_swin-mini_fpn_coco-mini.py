# CPU demo: the plain source of the demo ScaleNet Mask R-CNN. The same detector with mmdet's own
# SwinTransformer at the source depth (2 blocks per stage), trained on the 8 bundled COCO images. Its checkpoint
# is what tools/grow_checkpoint.py deepens into mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py (the README's
# quick start): a trained detector of yours, in miniature.
_base_ = ['./mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py']
model = dict(backbone=dict(_delete_=True, type='SwinTransformer', embed_dims=32, depths=(2, 2, 2, 2),
                           num_heads=(1, 2, 4, 8), window_size=4, drop_path_rate=0.1))

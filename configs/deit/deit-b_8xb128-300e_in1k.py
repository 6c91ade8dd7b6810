# DeiT-B on ImageNet-1k, 300 epochs from scratch (the reference: the DeiT paper reports 81.8 % top-1; theirs).
_base_ = './deit-s_8xb128-300e_in1k.py'
model = dict(backbone=dict(arch='deit-base'), in_channels=768)

# Source model of the second-round fidelity experiment: the mini Swin of swin-mini_cifar10-subset.py (width 32,
# depths 2-2-2-2, window 4, official small-map windows: maps 8, 4, 2, 1 shrink the window instead of padding)
# on ../shared/data/cifar10_20k (20,000 CIFAR-10 training images, the whole 10,000-image test set), 10x the
# data of the first round, 12 epochs (2x arms at 1/3: 4 epochs), so the whole set fits in a few CPU sessions.
_base_ = './swin-mini_cifar10-subset.py'
data_root = 'data/cifar10_20k'
max_epochs = 12
train_dataloader = dict(batch_size=128, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=500, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=max_epochs))

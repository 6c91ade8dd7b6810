#!/usr/bin/env python
"""Write ImageNet-1k's validation labels (``meta/val.txt``) from the official ILSVRC2012 devkit.

    python tools/dataset_converters/imagenet_val_labels.py ILSVRC2012_devkit_t12.tar.gz \
        --out data/imagenet/meta/val.txt [--val-dir data/imagenet/val [--class-folders]]

The devkit's ground truth numbers classes by ILSVRC2012 id; the lines written use the class order of
``scalenet_mm.ImageNetDataset``: the position of the WordNet id in the sorted list of the 1000 ids (the sorted
``train/`` folder names). Each line is ``<image path relative to val/> <class index>``. With ``--val-dir`` every
image is checked to be there (and ``train/`` beside it, if present, to have the devkit's classes);
``--class-folders`` also moves the flat images into ``val/<wnid>/``, which needs no label file at all.
"""
import argparse
import os.path as osp
import sys

from scalenet_mm.datasets.imagenet_devkit import (check_train_classes, locate_val_images, move_into_class_folders,
                                                  val_labels, write_label_file)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('devkit', help='ILSVRC2012_devkit_t12.tar.gz or its extracted folder')
    parser.add_argument('--out', required=True, help='label file to write, e.g. data/imagenet/meta/val.txt')
    parser.add_argument('--val-dir', help='the validation images (flat ILSVRC2012_val_*.JPEG): check they are there')
    parser.add_argument('--class-folders', action='store_true',
                        help='move the images of --val-dir into <wnid>/ sub-folders (the paths written follow)')
    parser.add_argument('--expect-classes', type=int, default=1000,
                        help='number of leaf classes the devkit must have (default 1000; other values for subsets)')
    parser.add_argument('--expect-images', type=int, default=50000,
                        help='number of validation labels the devkit must have (default 50000)')
    args = parser.parse_args()
    if args.class_folders and not args.val_dir:
        parser.error('--class-folders moves the images of --val-dir: give --val-dir too')
    try:
        labels = val_labels(args.devkit, args.expect_classes, args.expect_images)
        paths = [item.file_name for item in labels]
        if args.val_dir:
            train_dir = osp.join(osp.dirname(osp.abspath(args.val_dir)), 'train')
            if osp.isdir(train_dir):
                check_train_classes(train_dir, labels)
            paths = locate_val_images(args.val_dir, labels)
            if args.class_folders:
                paths = move_into_class_folders(args.val_dir, labels, paths)
    except (ValueError, FileNotFoundError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    write_label_file(args.out, labels, paths)
    classes = len({item.wnid for item in labels})
    print(f'wrote {args.out}: {len(labels)} images, {classes} classes (index = position of the WordNet id in '
          f'sorted order); first line: {paths[0]} {labels[0].label}')
    if args.class_folders:
        print(f'moved the images into {args.val_dir}/<wnid>/: the default config reads them without ann_file')
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python
"""Build the fidelity experiment's ``cifar10_20k`` folder from the official CIFAR-10 python archive.

    python tools/dataset_converters/cifar10_20k.py cifar-10-python.tar.gz --out data/cifar10_20k \
        [--per-class-train 2000] [--per-class-test 1000]

Writes ``OUT/train/<class>/NNNN.png`` (the first 2000 images of each class) and ``OUT/test/<class>/NNNN.png``
(all 1000 of each class): NNNN is the image's running index within its class in archive order
(``data_batch_1`` .. ``data_batch_5``; ``test_batch``), the names and order of the shipped set. The PNGs are
the official pixels, losslessly; the shipped set is a JPEG re-encoding of them. Every image is checked
against the shipped set's fingerprints (``cifar10_20k_reference.csv.gz`` beside this script) before anything
is written: a wrong image, order or class fails naming the file, and writes nothing.
"""
import argparse
import os.path as osp
import sys

from scalenet_mm.datasets.cifar10_archive import image_path, split_images, write_images
from scalenet_mm.datasets.image_fingerprint import read_reference, reference_mismatches, rgb_fingerprint

REFERENCE = osp.join(osp.dirname(osp.abspath(__file__)), 'cifar10_20k_reference.csv.gz')
# block-mean luma difference a JPEG re-encoding makes: at most 1.8 over the 30,000 shipped images re-encoded
# at quality 75 (docs/fidelity_experiment.md); distinct images of one folder differ by 4.9 or more
TOLERANCE = 3.0
LOOSE_TOLERANCE = 6.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('archive', help='cifar-10-python.tar.gz, or the cifar-10-batches-py folder extracted from it')
    parser.add_argument('--out', required=True, help='folder to write, e.g. data/cifar10_20k')
    parser.add_argument('--per-class-train', type=int, default=2000, help='training images per class (default 2000)')
    parser.add_argument('--per-class-test', type=int, default=1000,
                        help='test images per class (default 1000: the whole test set)')
    parser.add_argument('--reference', default=REFERENCE,
                        help='fingerprints to check against (default: the shipped set\'s, beside this script)')
    parser.add_argument('--no-check', action='store_true', help='skip the check against the reference')
    args = parser.parse_args()
    for option in ('per_class_train', 'per_class_test'):
        if getattr(args, option) <= 0:
            parser.error(f'--{option.replace("_", "-")} {getattr(args, option)} must be positive')
    try:
        images = {image_path(split, image): image for split, per_class in
                  (('train', args.per_class_train), ('test', args.per_class_test))
                  for image in split_images(args.archive, split, per_class)}
    except (ValueError, FileNotFoundError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    if not args.no_check:  # before anything is written: a wrong archive leaves no folder behind
        reference = read_reference(args.reference)
        problems = reference_mismatches(((path, rgb_fingerprint(image.pixels)) for path, image in images.items()),
                                        reference, TOLERANCE, LOOSE_TOLERANCE)
        checked = sum(osp.splitext(path)[0] in reference for path in images)
        if problems:
            print(f'error: {len(problems)} of the {checked} images checked do not match the shipped set '
                  f'({args.reference}); nothing was written:', file=sys.stderr)
            for line in problems[:20]:
                print(f'  {line}', file=sys.stderr)
            return 1
        print(f'checked {checked} images against {args.reference}: all match (largest block-mean luma difference '
              f'<= {TOLERANCE:g}); {len(images) - checked} not in the reference, not checked')
    write_images(images, args.out)
    print(f'wrote {len(images)} images to {args.out} (train: {args.per_class_train} per class, test: '
          f'{args.per_class_test} per class)')
    return 0


if __name__ == '__main__':
    sys.exit(main())

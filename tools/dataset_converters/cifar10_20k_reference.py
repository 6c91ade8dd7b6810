#!/usr/bin/env python
"""Write the fingerprint list that ``cifar10_20k.py`` checks a built folder against.

    python tools/dataset_converters/cifar10_20k_reference.py ../shared/data/cifar10_20k \
        --out tools/dataset_converters/cifar10_20k_reference.csv.gz

One line per image of FOLDER (``<split>/<class>/<name>``): its relative path and the mean luma of each of its
16 8x8 blocks, in tenths (``scalenet_mm/datasets/image_fingerprint.py``).
"""
import argparse
import os.path as osp
import sys

from scalenet_mm.datasets.image_fingerprint import write_reference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('folder', help='a CIFAR-10 folder as train/<class>/*.jpg and test/<class>/*.jpg')
    parser.add_argument('--out', required=True, help='the .csv.gz to write')
    args = parser.parse_args()
    if not osp.isdir(args.folder):
        parser.error(f'{args.folder} is not a folder: pass the cifar10_20k folder (train/ and test/)')
    count = write_reference(args.folder, args.out)
    if not count:
        print(f'error: no .jpg/.png images under {args.folder}', file=sys.stderr)
        return 1
    print(f'wrote {args.out}: fingerprints of {count} images of {args.folder}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Packaging of scalenet_mm.

The OpenMMLab stack (mmcv with compiled ops, mmdet, mmseg) cannot be expressed as plain install
requirements on current machines (mmcv 2.x is source-only and needs patching): `tools/setup_env.py`
installs it. The backbone itself needs only torch and mmengine.
"""
from pathlib import Path

from setuptools import find_packages, setup


def read_version() -> str:
    namespace: dict = {}
    exec((Path(__file__).parent / 'scalenet_mm' / 'version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='scalenet_mm',
    version=read_version(),
    description='ScaleNet: weight-shared, adapter-augmented deeper Swin backbones for OpenMMLab',
    long_description=(Path(__file__).parent / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['scalenet_mm', 'scalenet_mm.*']),
    python_requires='>=3.10,<3.13',
    # torch 2.6: safe-loading allow-list entries as (object, 'module.name') pairs, used at import; the suite runs
    # on torch 2.14.1
    install_requires=['torch>=2.6', 'mmengine>=0.10.7,<0.11'],
    extras_require={
        'all': ['mmdet==3.3.0', 'mmsegmentation==1.2.2', 'timm>=1.0', 'pycocotools>=2.0.7', 'ftfy', 'regex'],
    },
    license='Apache-2.0',
)

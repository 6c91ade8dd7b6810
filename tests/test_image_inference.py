"""Inference on a user's own images: mmdet's inference API and DetInferencer on our detection config, our
classifier inferencer (top-k names and scores, no labels), mmdet's and mmseg's inferencers made strict, and
tools/image_demo.py for the three tasks."""
import subprocess
import sys

import pytest
import torch
from PIL import Image

from scalenet_mm.apis import ImageClassificationInferencer, strict_inferencer

from conftest import CLASSIFICATION_DEMO, DETECTION_DEMO, REPO, SEGMENTATION_DEMO, run_script

COCO_IMAGES = sorted((REPO / 'demo' / 'data' / 'coco_mini' / 'images').glob('*.jpg'))[:2]
ADE_IMAGES = sorted((REPO / 'demo/data/ade20k_mini/ADEChallengeData2016/images/validation').glob('*.jpg'))
CIFAR_IMAGES = [REPO / 'demo/data/cifar10_mini/val/airplane/0000.jpg',
                REPO / 'demo/data/cifar10_mini/val/ship/0001.jpg']
CIFAR_CLASSES = sorted(p.name for p in (REPO / 'demo/data/cifar10_mini/train').iterdir() if p.is_dir())


def run_image_demo(*args) -> str:
    result = subprocess.run([sys.executable, 'tools/image_demo.py', *map(str, args)], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_mmdet_inference_api_and_inferencer_agree_on_our_config(trained_detection_demo):
    from mmdet.apis import DetInferencer, inference_detector, init_detector
    checkpoint = str(trained_detection_demo / 'iter_200.pth')
    model = init_detector(str(DETECTION_DEMO), checkpoint, device='cpu')
    sample = inference_detector(model, str(COCO_IMAGES[0]))
    assert len(sample.pred_instances) > 0 and sample.pred_instances.masks.shape[-2:] == \
        Image.open(COCO_IMAGES[0]).size[::-1]
    predictions = DetInferencer(model=str(DETECTION_DEMO), weights=checkpoint, device='cpu')(
        str(COCO_IMAGES[0]), return_datasamples=True)['predictions'][0]
    torch.testing.assert_close(predictions.pred_instances.bboxes, sample.pred_instances.bboxes)
    assert model.dataset_meta['classes'][0] == 'person'  # from the checkpoint's dataset meta


def test_strict_inferencers_load_what_mmdets_and_mmsegs_load_and_refuse_another_models_file(
        trained_detection_demo, trained_segmentation_demo):
    from mmdet.apis import DetInferencer
    from mmseg.apis import MMSegInferencer
    detection, segmentation = trained_detection_demo / 'iter_200.pth', trained_segmentation_demo / 'iter_200.pth'
    for inferencer_class, config, checkpoint, other in [(DetInferencer, DETECTION_DEMO, detection, segmentation),
                                                        (MMSegInferencer, SEGMENTATION_DEMO, segmentation, detection)]:
        stock = inferencer_class(model=str(config), weights=str(checkpoint), device='cpu')
        strict = strict_inferencer(inferencer_class)(model=str(config), weights=str(checkpoint), device='cpu')
        assert type(strict).__name__ == f'Strict{inferencer_class.__name__}'
        assert strict.model.dataset_meta == stock.model.dataset_meta  # classes and palette from the checkpoint
        stock_state, strict_state = stock.model.state_dict(), strict.model.state_dict()
        assert list(strict_state) == list(stock_state)
        for key, value in stock_state.items():
            assert torch.equal(strict_state[key], value), key
        with pytest.raises(RuntimeError, match='unexpected key in source state_dict'):
            strict_inferencer(inferencer_class)(model=str(config), weights=str(other), device='cpu')


def test_image_demo_detection_writes_overlays(trained_detection_demo, tmp_path):
    output = run_image_demo(DETECTION_DEMO, trained_detection_demo / 'iter_200.pth', *COCO_IMAGES, '--out-dir',
                            tmp_path, '--score-thr', '0.3')
    lines = [line for line in output.splitlines() if 'instance(s) >= 0.3' in line]
    assert len(lines) == len(COCO_IMAGES)
    for image in COCO_IMAGES:
        overlay = tmp_path / 'vis' / image.name
        assert overlay.is_file() and Image.open(overlay).size == Image.open(image).size


@pytest.mark.parametrize('count', [1, 2])  # mmseg returns one sample bare, several as a list
def test_image_demo_segmentation_writes_overlays(trained_segmentation_demo, tmp_path, count):
    images = ADE_IMAGES[:count]
    output = run_image_demo(SEGMENTATION_DEMO, trained_segmentation_demo / 'iter_200.pth', *images, '--out-dir',
                            tmp_path)
    for image in images:
        line = next(line for line in output.splitlines() if line.startswith(str(image)))
        assert '%' in line and line.endswith(str(tmp_path / 'vis' / image.name))
        overlay = tmp_path / 'vis' / image.name
        assert overlay.is_file() and Image.open(overlay).size == Image.open(image).size


def test_classifier_inferencer_reports_topk_names_and_scores(trained_classifier):
    runner, checkpoint = trained_classifier
    inferencer = ImageClassificationInferencer(str(CLASSIFICATION_DEMO), str(checkpoint))
    assert inferencer.classes == CIFAR_CLASSES  # from the checkpoint's dataset meta
    results = inferencer([str(p) for p in CIFAR_IMAGES], topk=3)
    model = runner.model.eval()
    for result, image in zip(results, CIFAR_IMAGES):
        with torch.no_grad():
            expected = model(inferencer.preprocess(str(image))[None], mode='tensor').softmax(dim=1)[0]
        values, indices = expected.topk(3)
        assert [name for name, _ in result.topk] == [CIFAR_CLASSES[i] for i in indices]
        assert [score for _, score in result.topk] == pytest.approx(values.tolist(), abs=1e-6)
    single = inferencer(str(CIFAR_IMAGES[0]), topk=3)  # one path, as mmdet's and mmseg's inferencers take it
    assert len(single) == 1 and [name for name, _ in single[0].topk] == [name for name, _ in results[0].topk]
    assert [score for _, score in single[0].topk] == pytest.approx([score for _, score in results[0].topk], abs=1e-5)
    with pytest.raises(ValueError, match='topk=6 must be between 1 and the 5 classes'):
        inferencer([str(CIFAR_IMAGES[0])], topk=6)
    with pytest.raises(FileNotFoundError, match='nowhere.jpg'):
        inferencer(['nowhere.jpg'])


def test_classifier_inferencer_refuses_a_detector_config():
    with pytest.raises(ValueError, match='not a scalenet_mm.ImageClassifier'):
        ImageClassificationInferencer(str(DETECTION_DEMO))


def test_image_demo_classification_prints_topk_and_writes_overlays(trained_classifier, tmp_path):
    _, checkpoint = trained_classifier
    output = run_image_demo(CLASSIFICATION_DEMO, checkpoint, *CIFAR_IMAGES, '--out-dir', tmp_path, '--topk', '2')
    lines = [line for line in output.splitlines() if line.startswith(tuple(map(str, CIFAR_IMAGES)))]
    assert len(lines) == 2
    for line, image in zip(lines, CIFAR_IMAGES):
        names = [part.split()[0] for part in line.split(': ', 1)[1].split(' -> ')[0].split(', ')]
        assert line.startswith(str(image)) and len(names) == 2 and set(names) <= set(CIFAR_CLASSES)
    assert (tmp_path / 'vis' / '0000.png').is_file() and (tmp_path / 'vis' / '0001.png').is_file()


def image_demo_error(*args) -> str:
    """stderr of a tools/image_demo.py run that must fail."""
    result = run_script('tools/image_demo.py', *args)
    assert result.returncode != 0, result.stdout[-2000:]
    return result.stderr


def test_image_demo_refuses_bad_requests_before_predicting(trained_segmentation_demo, tmp_path):
    checkpoint = trained_segmentation_demo / 'iter_200.pth'
    image = CIFAR_IMAGES[0]
    assert "not found: ['missing.jpg']" in image_demo_error(DETECTION_DEMO, checkpoint, 'missing.jpg',
                                                            '--out-dir', tmp_path)
    assert "checkpoint 'x.pth' not found" in image_demo_error(DETECTION_DEMO, 'x.pth', image, '--out-dir', tmp_path)
    assert 'the same file name' in image_demo_error(DETECTION_DEMO, checkpoint, image, image, '--out-dir', tmp_path)
    assert '--topk 0 must be at least 1' in image_demo_error(CLASSIFICATION_DEMO, checkpoint, image, '--out-dir',
                                                             tmp_path, '--topk', '0')
    # mmdet's and mmseg's inferencers would load a wrong file non-strictly, with a warning only
    assert 'unexpected key' in image_demo_error(DETECTION_DEMO, checkpoint, image, '--out-dir', tmp_path)
    config = tmp_path / 'other.py'
    config.write_text("default_scope = 'mmpretrain'\nmodel = dict(type='ImageClassifier')\n")
    assert "default_scope is 'mmpretrain'" in image_demo_error(config, checkpoint, image, '--out-dir', tmp_path)
    assert not (tmp_path / 'vis').exists()


def test_demo_pictures_are_overlays_and_curves(trained_detection_demo, trained_segmentation_demo, tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location('demo_tool', REPO / 'tools' / 'demo.py')
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    paths = demo.pictures(str(trained_detection_demo), str(trained_segmentation_demo), str(tmp_path))
    assert [p.split('/')[-1] for p in paths] == ['detection.png', 'segmentation.png', 'curves.png']
    for path, image in zip(paths, (demo.DET_IMAGE, demo.SEG_IMAGE)):
        overlay = Image.open(path)
        assert overlay.size == Image.open(image).size  # drawn on the image itself
        assert (torch.as_tensor(list(overlay.convert('RGB').getdata())) !=
                torch.as_tensor(list(Image.open(image).convert('RGB').getdata()))).any()
    assert Image.open(paths[2]).size[0] > 300

"""tools/analysis/benchmark_zoo.py on the demo checkpoints: the test loop's metrics, parameter counts, FLOPs at
the task's size, throughput, "not trained yet" rows, the page update, and strict checkpoint loading."""
import json
import subprocess
import sys

from scalenet_mm.analysis.flops import count_flops
from scalenet_mm.analysis.param_count import count_parameters
from scalenet_mm.config_tools.backbone_config import build_model, load_config

from conftest import CLASSIFICATION_DEMO, DETECTION_DEMO, REPO, SEGMENTATION_DEMO, run_script


def last_evaluation(work_dir, key: str) -> float:
    log = sorted(work_dir.glob('*/vis_data/scalars.json'))[-1]
    return [entry for entry in map(json.loads, log.read_text().splitlines()) if key in entry][-1][key]


def run_zoo(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'tools/analysis/benchmark_zoo.py', *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)


def test_zoo_table_from_the_demo_checkpoints(trained_detection_demo, trained_segmentation_demo, trained_classifier,
                                             tmp_path):
    page = tmp_path / 'model_zoo.md'
    page.write_text('# Zoo\n\n<!-- zoo-table:begin -->\nold\n<!-- zoo-table:end -->\n\nReferences stay.\n')
    _, classifier_checkpoint = trained_classifier
    result = run_zoo('--models', f'{DETECTION_DEMO}:{trained_detection_demo / "iter_200.pth"}',
                     f'{SEGMENTATION_DEMO}:{trained_segmentation_demo / "iter_200.pth"}',
                     f'{CLASSIFICATION_DEMO}:{classifier_checkpoint}', str(DETECTION_DEMO),
                     '--out-dir', tmp_path / 'zoo', '--quick', '--update-page', page)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads((tmp_path / 'zoo' / 'model_zoo.json').read_text())['rows']
    detection, segmentation, classification, untrained = rows
    # the metrics are the test loop's on the bundled images: the demo's own final evaluation
    assert abs(detection['metrics']['coco/bbox_mAP'] - last_evaluation(trained_detection_demo, 'coco/bbox_mAP')) < 1e-3
    assert detection['metrics']['coco/segm_mAP'] >= 0.3
    assert abs(segmentation['metrics']['mIoU'] - last_evaluation(trained_segmentation_demo, 'mIoU')) < 1e-2
    assert 0 <= classification['metrics']['accuracy/top1'] <= 100
    for row in (detection, segmentation, classification):
        assert row['status'] == 'evaluated' and row['images_per_s'] > 0
    assert untrained['status'] == 'not trained yet' and untrained['metrics'] == {} and untrained['images_per_s'] is None
    assert untrained['gflops'] == detection['gflops']
    # counts and FLOPs are those of the analysis tools, at the task's input size
    cfg = load_config(str(SEGMENTATION_DEMO))
    model = build_model(cfg)
    counts = count_parameters(model)['total']
    assert segmentation['params_unique_m'] == counts.unique / 1e6
    assert segmentation['params_total_m'] == counts.total / 1e6 > counts.unique / 1e6  # shared blocks
    assert segmentation['input_hw'] == [128, 128] and detection['input_hw'] == [256, 320]
    assert classification['input_hw'] == [32, 32]
    assert segmentation['gflops'] == count_flops(model, (3, 128, 128)).total() / 1e9
    table = (tmp_path / 'zoo' / 'model_zoo.md').read_text()
    assert table.count('| `') == 4 and 'not trained yet' in table and 'bbox AP' in table and 'mIoU' in table
    text = page.read_text()
    assert table.strip() in text and 'old' not in text and text.endswith('References stay.\n')


def test_zoo_loads_checkpoints_strictly_and_checks_the_request_first(trained_segmentation_demo, tmp_path):
    run_dir = tmp_path / 'run:1'  # a colon in the checkpoint path: the entry splits after '.py:'
    run_dir.mkdir()
    (run_dir / 'iter_200.pth').symlink_to(trained_segmentation_demo / 'iter_200.pth')
    zoo = 'tools/analysis/benchmark_zoo.py'
    result = run_script(zoo, '--models', f'{DETECTION_DEMO}:{run_dir / "iter_200.pth"}', '--out-dir', tmp_path)
    assert result.returncode != 0 and 'unexpected key' in result.stderr  # a segmentor's file, a detector config
    result = run_script(zoo, '--models', str(DETECTION_DEMO), f'{SEGMENTATION_DEMO}:missing.pth', '--out-dir', tmp_path)
    assert result.returncode != 0 and "checkpoint 'missing.pth'" in result.stderr
    assert 'GFLOPs' not in result.stdout  # nothing measured before the whole request was checked
    page = tmp_path / 'page.md'
    page.write_text('# a page without the markers\n')
    result = run_script(zoo, '--models', str(DETECTION_DEMO), '--out-dir', tmp_path, '--update-page', page)
    assert result.returncode != 0 and 'must hold the lines' in result.stderr and 'GFLOPs' not in result.stdout
    assert not (tmp_path / 'model_zoo.json').exists()

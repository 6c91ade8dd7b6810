#!/usr/bin/env python
"""Backbone speed ratios at the sizes, precisions and modes users run, each pair timed in one run.

    python tools/analysis/benchmark_backbone.py [--inputs seg det cls 2x800x1333 ...] [--dtypes fp32 bf16]
        [--modes eager compile] [--passes forward train] [--pairs reference untied] [--arch tiny|deit-small ...]
        [--device cuda] [--repeats 10] [--warmup 3] [--budget SECONDS] [--quick]

Inputs: ``cls`` 224x224, ``seg`` 512x512 (UperNet), ``det`` 800x1216 (a detection batch), with the batch
users run per GPU (32, 8, 2) on CUDA and a small one (2, 1, 1) on CPU; or ``BxHxW``. For every input and
dtype (``bf16``: the forward under ``torch.autocast``, weights fp32, as AMP trains) it prints, as ratios of
medians over ``--repeats`` rounds in which the compared steps run round-robin (eager and compiled variants
of a pair in one rotation), with the lowest and highest ratio of a single round:

1. the reference implementation (mmdet's ``SwinTransformer`` for a Swin ``--arch``, mmseg's
   ``VisionTransformer`` for a DeiT) / ours at scale 1 on the same weights, forward (goal for Swin-T:
   >= 1.20) and train step (no goal), per mode, and the reference eager / ours compiled;
2. ScaleNet-2x / the untied 2x (``unshare=True, adapter=None``): forward, the adapters' overhead
   (goal: <= 1.05), and train step with ``trainable='adapters_norms'`` against all weights (goal: <= 0.80).

``compile`` is ``torch.compile(model)`` (mmengine's ``compile=True`` compiles ``train_step``, which runs it), with
``--compile-backend`` (default inductor). A train step is the forward, a loss, the backward and an AdamW
step (learning rate 0, so the weights, and the output checks, stay as built). Each row gives the peak
memory of a step (CUDA allocator, or resident set growth on CPU) and each input the largest output
difference from the eager reference (ours for the reference's, the same model for a compiled one), relative to the
output's largest magnitude.

For a bf16 input it also prints every variant's error against its own model in fp32 eager, per output (stage),
and flags ``ABOVE BOUND`` a variant of ours whose error at any stage is more than ``PRECISION_FACTOR`` (2) times
its counterpart's in the same mode: mmdet's/mmseg's for ours, the untied 2x's for ScaleNet-2x. The exit status
is then 1.
"""
import argparse
import statistics
import sys
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Callable, Optional

import torch

import scalenet_mm  # noqa: F401
from scalenet_mm.analysis.benchmark_models import ARCHS, build_models, checkpoint_bytes, reference_name
from scalenet_mm.analysis.timing import interleaved_times, peak_memory_mib

# the output-error check of bf16 variants: ours may be at most this many times less exact than its counterpart
PRECISION_FACTOR = 2.0
BOUNDED_BY = {'ours': 'reference', 'scalenet': 'untied'}
# name: ((H, W), batch on CUDA, batch on CPU)
PRESETS = {'cls': ((224, 224), 32, 2), 'seg': ((512, 512), 8, 1), 'det': ((800, 1216), 2, 1)}
DTYPES = {'fp32': None, 'bf16': torch.bfloat16}
MODES = ('eager', 'compile')
PASSES = ('forward', 'train')
PAIRS = ('reference', 'untied')


@dataclass(frozen=True)
class Comparison:
    """A measured ratio: ``numerator`` model time / ``denominator`` model time for one pass."""
    pair: str
    pass_: str
    numerator: str
    denominator: str
    label: str
    goal: str


COMPARISONS = (
    Comparison('reference', 'forward', 'reference', 'ours', 'forward: reference / ours (speed-up)', '>= 1.20'),
    Comparison('untied', 'forward', 'scalenet', 'untied', '2x forward: ScaleNet / untied (adapter overhead)',
               '<= 1.05'),
    Comparison('reference', 'train', 'reference', 'ours', 'train step: reference / ours (speed-up)', '-'),
    Comparison('untied', 'train', 'scalenet', 'untied', '2x train step: ScaleNet adapters_norms / untied',
               '<= 0.80'),
)


@dataclass(frozen=True)
class InputSpec:
    batch: int
    height: int
    width: int

    def __str__(self) -> str:
        return f'{self.batch}x3x{self.height}x{self.width}'


def parse_input(text: str, device: torch.device) -> InputSpec:
    """A preset name (``cls``, ``seg``, ``det``) or ``BxHxW``."""
    if text in PRESETS:
        (height, width), cuda_batch, cpu_batch = PRESETS[text]
        return InputSpec(cuda_batch if device.type == 'cuda' else cpu_batch, height, width)
    parts = text.lower().split('x')
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f'input {text!r} is neither a preset ({", ".join(PRESETS)}) nor BxHxW, e.g. 2x800x1333')
    batch, height, width = (int(p) for p in parts)
    if min(height, width) < 32:
        raise ValueError(f'input {text!r}: the four stages of a patch-4 Swin need H and W >= 32')
    return InputSpec(batch, height, width)


def autocast(device: torch.device, dtype: str) -> AbstractContextManager:
    """``torch.autocast`` to ``dtype``, or a disabled one for fp32."""
    return torch.autocast(device.type, dtype=DTYPES[dtype] or torch.float32, enabled=DTYPES[dtype] is not None)


def forward_fn(model: Callable, x: torch.Tensor, dtype: str) -> Callable[[], tuple[torch.Tensor, ...]]:
    """An inference forward (no grad, autocast for bf16)."""
    def step() -> tuple[torch.Tensor, ...]:
        with torch.no_grad(), autocast(x.device, dtype):
            return model(x)
    return step


def train_fn(model: Callable, params: list[torch.nn.Parameter], x: torch.Tensor, dtype: str) -> Callable[[], None]:
    """Forward, a mean-square loss over the outputs, backward and an AdamW step (lr 0: weights unchanged)."""
    optimizer = torch.optim.AdamW(params, lr=0.0, weight_decay=0.0)

    def step() -> None:
        with autocast(x.device, dtype):
            loss = sum(out.float().square().mean() for out in model(x))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def relative_difference(outs: tuple[torch.Tensor, ...], reference: tuple[torch.Tensor, ...]) -> float:
    """``max |outs - reference| / max |reference|`` over all outputs."""
    diff = max((a.float() - b.float()).abs().max().item() for a, b in zip(outs, reference))
    return diff / max(b.float().abs().max().item() for b in reference)


@dataclass
class Variant:
    model: str
    mode: str
    step: Callable[[], None]
    times: Optional[list[float]] = None
    peak_mib: float = float('nan')
    first_call_s: float = float('nan')
    error: Optional[str] = None


class Benchmark:
    """Builds the models once; measures every requested comparison for one input and dtype at a time."""

    def __init__(self, args: argparse.Namespace, device: torch.device) -> None:
        self.args = args
        self.device = device
        names = {'ours', 'reference'} if 'reference' in args.pairs else set()
        names |= {'scalenet', 'untied'} if 'untied' in args.pairs else set()
        self.models = build_models(tuple(sorted(names)), device, args.arch)
        self.compiled = {name: torch.compile(model, backend=args.compile_backend, dynamic=False)
                         for name, model in self.models.items()} if 'compile' in args.modes else {}
        self.start = time.perf_counter()
        self.precision_flags = 0  # low-precision variants whose output error is above the bound

    def callable_of(self, name: str, mode: str) -> Callable:
        return self.models[name] if mode == 'eager' else self.compiled[name]

    def prepare(self, variants: list[Variant], outputs: dict[tuple[str, str], tuple]) -> None:
        """Run each variant once (compiling it); a compiled variant that fails is reported, not fatal."""
        for variant in variants:
            start = time.perf_counter()
            try:
                result = variant.step()
            except Exception as exc:  # noqa: BLE001  (a model that does not compile is a result to report)
                if variant.mode == 'eager':
                    raise
                variant.error = f'{type(exc).__name__}: {str(exc).splitlines()[0][:120]}'
                continue
            if self.device.type == 'cuda':
                torch.cuda.synchronize(self.device)
            variant.first_call_s = time.perf_counter() - start
            if result is not None:
                outputs[(variant.model, variant.mode)] = result

    def run_case(self, spec: InputSpec, dtype: str) -> None:
        args = self.args
        torch._dynamo.reset()
        torch.manual_seed(0)
        x = torch.randn(spec.batch, 3, spec.height, spec.width, device=self.device)
        print(f'\n== input {spec}, {dtype}, {args.repeats} rounds after {args.warmup} warm-up ==')
        print(f'{"measure":<50}{"mode":<16}{"ratio":>7}  {"(rounds)":<13}{"goal":<9}detail')
        outputs: dict[tuple[str, str], tuple] = {}
        for comparison in COMPARISONS:
            if comparison.pair not in args.pairs or comparison.pass_ not in args.passes:
                continue
            if comparison.numerator not in self.models:
                continue  # mmdet/mmseg not installed (said when the models were built)
            if args.budget is not None and time.perf_counter() - self.start > args.budget:
                print(f'{comparison.label:<50}skipped: the --budget of {args.budget:.0f} s is spent')
                continue
            self.run_comparison(comparison, x, dtype, outputs)
        checks = []
        for (model, mode), out in outputs.items():
            reference = ('ours', 'eager') if model in ('ours', 'reference') else (model, 'eager')
            if (model, mode) != reference and reference in outputs:
                difference = relative_difference(out, outputs[reference])
                checks.append(f'{model} {mode} vs {reference[0]} eager {difference:.1e}')
        if checks:
            print('output differences (max |diff| / max |reference|): ' + ', '.join(checks))
        if dtype != 'fp32' and outputs:
            self.precision_flags += self.check_precision(x, outputs)
        del x, outputs
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()

    def check_precision(self, x: torch.Tensor, outputs: dict[tuple[str, str], tuple]) -> int:
        """Print, per stage, every low-precision variant's error against its own model in fp32 eager; flag (and
        count) a variant of ours whose error exceeds ``PRECISION_FACTOR`` x its counterpart's (mmdet/mmseg for
        ours, the untied 2x for ScaleNet-2x) in the same mode at any stage."""
        exact = {}
        for name in sorted({model for model, _ in outputs}):
            self.models[name].eval()  # mmdet's/mmseg's train() returns None: not chained
            with torch.no_grad():
                exact[name] = self.models[name](x)
        errors = {key: [relative_difference((got,), (want,)) for got, want in zip(out, exact[key[0]])]
                  for key, out in outputs.items()}
        flagged = 0
        print(f'output error vs fp32 eager per stage (bound: {PRECISION_FACTOR:g} x the counterpart\'s in the same '
              'mode):')
        for (model, mode), stage_errors in sorted(errors.items()):
            line = f'  {model} {mode}: ' + ' '.join(f'{e:.1e}' for e in stage_errors)
            counterpart = errors.get((BOUNDED_BY.get(model), mode))
            if counterpart is not None:
                over = [stage for stage, (error, bound) in enumerate(zip(stage_errors, counterpart))
                        if error > PRECISION_FACTOR * bound]
                line += f'  (bound: {BOUNDED_BY[model]} {mode} x {PRECISION_FACTOR:g})'
                if over:
                    line += f'  ABOVE BOUND at output(s) {over}'
                    flagged += 1
            print(line)
        return flagged

    def make_variants(self, comparison: Comparison, x: torch.Tensor, dtype: str) -> list[Variant]:
        variants = []
        for mode in self.args.modes:
            for name in (comparison.numerator, comparison.denominator):
                model = self.models[name]
                if comparison.pass_ == 'forward':
                    model.eval()
                    step = forward_fn(self.callable_of(name, mode), x, dtype)
                else:
                    model.train()
                    params = [p for p in model.parameters() if p.requires_grad]
                    step = train_fn(self.callable_of(name, mode), params, x, dtype)
                variants.append(Variant(name, mode, step))
        return variants

    def run_comparison(self, comparison: Comparison, x: torch.Tensor, dtype: str,
                       outputs: dict[tuple[str, str], tuple]) -> None:
        args = self.args
        variants = self.make_variants(comparison, x, dtype)
        self.prepare(variants, outputs)
        working = [v for v in variants if v.error is None]
        times = interleaved_times([v.step for v in working], max(args.warmup - 1, 0), args.repeats, self.device)
        for variant, variant_times in zip(working, times):
            variant.times = variant_times
            variant.peak_mib = peak_memory_mib(variant.step, self.device)
        by_key = {(v.model, v.mode): v for v in variants}
        rows = [(mode, mode) for mode in args.modes]
        if comparison.pass_ == 'forward' and comparison.pair == 'reference' and len(args.modes) == 2:
            rows.append(('eager', 'compile'))  # what an mmdet/mmseg user runs vs ours compiled
        for numerator_mode, denominator_mode in rows:
            num = by_key[(comparison.numerator, numerator_mode)]
            den = by_key[(comparison.denominator, denominator_mode)]
            mode = numerator_mode if numerator_mode == denominator_mode else f'{numerator_mode}/{denominator_mode}'
            failed = [v for v in (num, den) if v.error is not None]
            if failed:
                print(f'{comparison.label:<50}{mode:<16}{"n/a":>7}  {"":<13}{comparison.goal:<9}'
                      + '; '.join(f'{v.model} {v.mode} failed: {v.error}' for v in failed))
                continue
            ratio = statistics.median(num.times) / statistics.median(den.times)
            per_round = [a / b for a, b in zip(num.times, den.times)]
            spread = f'({min(per_round):.2f}-{max(per_round):.2f})'
            detail = (f'{num.model} {statistics.median(num.times) * 1e3:.1f} ms, '
                      f'{den.model} {statistics.median(den.times) * 1e3:.1f} ms; '
                      f'peak {num.peak_mib:+.0f} / {den.peak_mib:+.0f} MiB')
            first_calls = [v for v in (num, den) if v.mode == 'compile']
            if first_calls:
                detail += '; first call ' + ', '.join(f'{v.first_call_s:.0f} s' for v in first_calls)
            print(f'{comparison.label:<50}{mode:<16}{ratio:>7.3f}  {spread:<13}{comparison.goal:<9}{detail}')

    def print_checkpoint_ratio(self) -> None:
        """ScaleNet-2x checkpoint bytes / the source's (goal: <= 1.10)."""
        if 'scalenet' in self.models and 'ours' in self.models:
            ratio = checkpoint_bytes(self.models['scalenet']) / checkpoint_bytes(self.models['ours'])
            print(f'\ncheckpoint bytes: ScaleNet-2x / source {ratio:.3f} (goal <= 1.10)')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--inputs', nargs='+', default=None,
                        help=f'presets {list(PRESETS)} or BxHxW (default: seg det cls; --quick: 1x64x64)')
    parser.add_argument('--dtypes', nargs='+', choices=tuple(DTYPES), default=['fp32', 'bf16'])
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES))
    parser.add_argument('--passes', nargs='+', choices=PASSES, default=list(PASSES))
    parser.add_argument('--pairs', nargs='+', choices=PAIRS, default=list(PAIRS))
    parser.add_argument('--arch', choices=ARCHS, default='tiny', help='a Swin (tiny, small, base, large) or a DeiT')
    parser.add_argument('--compile-backend', default='inductor', help='torch.compile backend (aot_eager for a '
                        'quick check of the capture without code generation)')
    parser.add_argument('--repeats', type=int, default=None, help='timed rounds (default 10; --quick: 1)')
    parser.add_argument('--warmup', type=int, default=None,
                        help='untimed rounds, the compiling first call included (default 3; --quick: 1)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None, help='CPU threads (torch.set_num_threads)')
    parser.add_argument('--budget', type=float, default=None,
                        help='seconds after which no further comparison is started (for a leased device)')
    parser.add_argument('--quick', action='store_true', help='a tiny run that checks the tool, measures nothing')
    args = parser.parse_args()
    args.inputs = args.inputs or (['1x64x64'] if args.quick else ['seg', 'det', 'cls'])
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    if args.repeats < 1 or args.warmup < 1:
        parser.error('--repeats and --warmup must be at least 1 (the first call compiles)')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be at least 1')
    try:
        args.device = torch.device(args.device)
        args.specs = [parse_input(text, args.device) for text in args.inputs]
    except (RuntimeError, ValueError) as exc:
        parser.error(str(exc))
    if args.device.type == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda, but torch sees no CUDA device')
    return args


def main() -> int:
    args = parse_args()
    device = args.device
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    # one graph per model, pass and autocast state: more than dynamo's default 8 per forward code object
    torch._dynamo.config.recompile_limit = 64
    name = (torch.cuda.get_device_name(device) if device.type == 'cuda'
            else f'CPU, {torch.get_num_threads()} threads')
    print(f'device: {name}; torch {torch.__version__}; arch {args.arch} (reference: {reference_name(args.arch)}); '
          f'modes {args.modes} (compile backend {args.compile_backend})')
    benchmark = Benchmark(args, device)
    for spec in args.specs:
        for dtype in args.dtypes:
            benchmark.run_case(spec, dtype)
    benchmark.print_checkpoint_ratio()
    if benchmark.precision_flags:
        print(f'\n{benchmark.precision_flags} low-precision variant(s) ABOVE the output-error bound (see above)')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Which checkpoint a run resumes from, and whether a checkpoint file can be resumed from at all.

mmengine's auto-resume (``--resume`` without a file) trusts ``last_checkpoint`` blindly: a missing, truncated or
unreadable file it names stops the run with torch's error. :func:`choose_auto_resume` takes the file that
``last_checkpoint`` names when it is readable, and otherwise the newest readable checkpoint of the folder
(the newest by the step in its name, ``epoch_{N}.pth`` / ``iter_{N}.pth``), with a message naming both.
"""
import os
import os.path as osp
import re
import zipfile
from dataclasses import dataclass
from typing import Optional

import torch


def unreadable_reason(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from, or ``None`` when it is a complete, loadable torch checkpoint.

    Checks the file exists and is not empty, that every member of torch's zip archive passes its CRC check
    (this reads the whole file, so a truncated or bit-flipped file fails) and that torch, with the process's
    safe-loading settings, unpickles it (memory-mapped: the tensors are not copied).
    """
    if not osp.isfile(path):
        return 'the file does not exist'
    if osp.getsize(path) == 0:
        return 'the file is empty'
    try:
        with zipfile.ZipFile(path) as archive:
            corrupt = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        return f'it is not a complete torch checkpoint archive ({error}); truncated?'
    if corrupt is not None:
        return f'its member {corrupt} fails its CRC check (corrupted on disk?)'
    try:
        torch.load(path, map_location='cpu', mmap=True)
    except Exception as error:  # noqa: BLE001  (any failure to load is the answer: reported, not hidden)
        return f'torch cannot load it ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ""})'
    return None


def step_checkpoints(folder: str, filename_tmpl: str) -> list[tuple[int, str]]:
    """``(step, path)`` of the files in ``folder`` named by ``filename_tmpl`` (e.g. ``'epoch_{}.pth'``), newest
    (largest step) first. Best-checkpoint copies, which hold no optimizer state, are not among them."""
    if not osp.isdir(folder):
        return []
    prefix, _, suffix = filename_tmpl.partition('{}')
    pattern = re.compile(re.escape(prefix) + r'(\d+)' + re.escape(suffix) + '$')
    found = []
    for name in os.listdir(folder):
        match = pattern.match(name)
        if match:
            found.append((int(match[1]), osp.join(folder, name)))
    return sorted(found, reverse=True)


@dataclass
class ResumeChoice:
    """The checkpoint to resume from (``None``: none is readable, start afresh) and what to warn about."""
    path: Optional[str]
    warning: Optional[str]


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The path that ``work_dir/last_checkpoint`` names, or ``None`` if there is no such file (or it is empty)."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8', errors='replace') as f:
        return f.read().strip() or None


def choose_auto_resume(work_dir: str, checkpoint_folder: str, filename_tmpl: str) -> ResumeChoice:
    """The checkpoint an auto-resume should start from (see the module docstring)."""
    named = read_last_checkpoint(work_dir)
    problem = None
    if named is not None:
        problem = unreadable_reason(named)
        if problem is None:
            return ResumeChoice(named, None)
    rejected = {named} if named else set()
    reasons = []
    for _, path in step_checkpoints(checkpoint_folder, filename_tmpl):
        if path in rejected:
            continue
        reason = unreadable_reason(path)
        if reason is None:
            why = (f'{osp.join(work_dir, "last_checkpoint")} names {named}, which cannot be resumed from: {problem}'
                   if named else f'{osp.join(work_dir, "last_checkpoint")} is missing or empty')
            skipped = ''.join(f'; skipped {p}: {r}' for p, r in reasons)
            return ResumeChoice(path, f'{why}; resuming from {path}, the newest readable checkpoint of '
                                      f'{checkpoint_folder}{skipped}')
        reasons.append((path, reason))
    if named is None and not reasons:
        return ResumeChoice(None, None)
    listed = ''.join(f'; {p}: {r}' for p, r in ([(named, problem)] if named else []) + reasons)
    return ResumeChoice(None, f'auto-resume found no readable checkpoint in {checkpoint_folder}{listed}; '
                              'training starts from the beginning')

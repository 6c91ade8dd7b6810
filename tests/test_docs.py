"""The documentation's commands and links: every repository script a README/docs ``bash`` block runs exists, the
repository paths its commands name exist, every Python script answers ``--help``, and every relative Markdown
link and image resolves to a file."""
import re
import shlex
from pathlib import Path
from typing import NamedTuple

import pytest

from conftest import REPO, run_script

PAGES = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md'))]
BASH_BLOCK = re.compile(r'^```bash\n(.*?)^```', re.S | re.M)
ANY_BLOCK = re.compile(r'^```.*?^```', re.S | re.M)
INLINE_CODE = re.compile(r'`[^`\n]*`')
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
OPERATORS = {'|', '||', '&&', ';', '&'}
REPO_PREFIXES = ('configs/', 'tools/', 'demo/')
PLACEHOLDER = re.compile(r'\$|\*|\{|<|\.\.\.|path/to/|^(work_dirs|data)/|(^|/)[A-Z][A-Z0-9_]*(\.\w+)?(/|$)')


class Command(NamedTuple):
    """One command of a ``bash`` block: where it is, its words, and the repository script it runs (if any)."""
    where: str
    words: list[str]
    script: str


def bash_lines(page: Path) -> list[tuple[int, str]]:
    """The logical lines (continuations joined) of the page's ``bash`` blocks, with their first line number."""
    text = page.read_text()
    lines = []
    for block in BASH_BLOCK.finditer(text):
        first = text.count('\n', 0, block.start(1)) + 1
        pending, start = '', first
        for offset, line in enumerate(block.group(1).splitlines()):
            if not pending:
                start = first + offset
            if line.rstrip().endswith('\\'):
                pending += line.rstrip()[:-1] + ' '
                continue
            lines.append((start, pending + line))
            pending = ''
    return lines


def split_commands(line: str) -> list[list[str]]:
    """Shell words of each command on a line (split at ``|``, ``&&``, ``;``), comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for word in lexer:
        if word in OPERATORS:
            commands.append([])
        else:
            commands[-1].append(word)
    return [words for words in commands if words]


def script_of(words: list[str]) -> str:
    """The repository script (or ``make``) a command runs, or '' when it runs none."""
    words = [w for w in words if not re.match(r'^[A-Z_][A-Z0-9_]*=', w)] or ['']
    head, rest = words[0], words[1:]
    if head == 'make':
        return 'make'
    if head in ('python', 'python3', 'bash') and rest and rest[0].startswith(REPO_PREFIXES):
        return rest[0]
    return head if head.startswith('tools/') else ''


def documented_commands() -> list[Command]:
    """Every command of every page that runs a repository script."""
    commands = []
    for page in PAGES:
        for number, line in bash_lines(page):
            for words in split_commands(line):
                script = script_of(words)
                if script:
                    commands.append(Command(f'{page.relative_to(REPO)}:{number}', words, script))
    return commands


def repository_paths(words: list[str]) -> list[str]:
    """Repository paths a command names (``configs/...``, ``tools/...``, ``demo/...``), placeholders left out."""
    paths = []
    for word in words:
        value = word.split('=', 1)[1] if '=' in word else word
        value = value.split(':', 1)[0].rstrip(',')
        if value.startswith(REPO_PREFIXES) and not PLACEHOLDER.search(value):
            paths.append(value)
    return paths


def make_targets() -> set[str]:
    """Targets the Makefile defines."""
    return set(re.findall(r'^([\w-]+):', (REPO / 'Makefile').read_text(), re.M))


COMMANDS = documented_commands()
PYTHON_SCRIPTS = sorted({c.script for c in COMMANDS if c.script.endswith('.py')})


@pytest.mark.parametrize('command', COMMANDS, ids=[c.where for c in COMMANDS])
def test_command_names_existing_script_and_paths(command: Command) -> None:
    if command.script == 'make':
        targets = [w for w in command.words[1:] if not w.startswith('-') and '=' not in w]
        assert set(targets) <= make_targets(), f'{command.where}: no Makefile target for {targets}'
        return
    named = dict.fromkeys([command.script, *repository_paths(command.words)])
    missing = [p for p in named if not (REPO / p).exists()]
    assert not missing, f'{command.where}: {" ".join(command.words)}\n  missing: {missing}'


@pytest.mark.parametrize('script', PYTHON_SCRIPTS)
def test_python_script_answers_help(script: str) -> None:
    """``python SCRIPT --help`` exits 0 with a usage line (run in-process: the imports are shared, so the whole
    set takes seconds; the scripts do their work under ``__main__`` only)."""
    result = run_script(script, '--help')
    assert result.returncode == 0, f'{script} --help exited {result.returncode}: {result.stderr[-2000:]}'
    assert 'usage:' in result.stdout


@pytest.mark.parametrize('page', PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_relative_links_and_images_resolve(page: Path) -> None:
    prose = INLINE_CODE.sub('', ANY_BLOCK.sub('', page.read_text()))
    broken = []
    for target in LINK.findall(prose):
        if re.match(r'^[a-z][a-z0-9+.-]*:', target) or target.startswith('#'):
            continue
        path = (page.parent / target.split('#', 1)[0]).resolve()
        if not path.is_file():
            broken.append(target)
    assert not broken, f'{page.relative_to(REPO)}: links to missing files: {broken}'


def test_docs_commands_were_found() -> None:
    """The parser sees the commands it should (a broken regex would make every other test vacuous)."""
    scripts = {c.script for c in COMMANDS}
    assert {'make', 'tools/train.py', 'tools/test.py', 'tools/dist_train.sh', 'tools/dist_test.sh'} <= scripts


def test_the_safe_loading_page_lists_every_tool_with_the_trust_flag() -> None:
    """docs/checkpoints.md names each tool that takes ``--trust-checkpoints``, and only those."""
    tools = sorted(str(p.relative_to(REPO)) for p in [*REPO.glob('tools/*.py'), *REPO.glob('tools/analysis/*.py')]
                   if '--trust-checkpoints' in p.read_text() or 'add_trust_argument(' in p.read_text())
    section = (REPO / 'docs/checkpoints.md').read_text().split('## Safe loading', 1)[1].split('\n## ', 1)[0]
    listed = sorted(set(re.findall(r'`(tools/[\w/]+\.py)`', section)))
    assert len(tools) >= 7 and listed == tools

"""The documentation holds together: every relative link of every Markdown file points at a
file or folder of the repository, and the README stays a front door."""

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

REPO = Path(__file__).resolve().parents[1]
SKIPPED = {".git", ".venv", "output", "node_modules"}
MARKDOWN = sorted(
    path
    for path in REPO.rglob("*.md")
    if not SKIPPED & set(path.relative_to(REPO).parts)
    and not path.relative_to(REPO).parts[0] == "datasets"
    or path == REPO / "datasets" / "README.md"
)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def relative_links(text: str) -> list[str]:
    code_free = re.sub(r"```.*?```", "", text, flags=re.S)
    links = [match.group(1) for match in LINK.finditer(code_free)]
    return [link for link in links if not urlparse(link).scheme and not link.startswith("#")]


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_at_a_file_of_the_repository(path):
    broken = []
    for link in relative_links(path.read_text()):
        target = (path.parent / unquote(link.split("#", 1)[0])).resolve()
        if not target.exists():
            broken.append(link)
    assert broken == [], f"{path.relative_to(REPO)}: broken links {broken}"


def test_readme_is_a_front_door_with_the_two_commands_first():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 120
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    assert first_block.splitlines()[0].startswith("make demo")
    assert first_block.splitlines()[1].startswith("make test")

"""Prints one fenced code block of a Markdown file, so that a check runs the
README's examples themselves and not copies that drift from them.

    readme_blocks.py FILE HEADING LANG N

In FILE's section HEADING (from a heading line "## HEADING", any level, to
the next heading of the same or a higher level), prints the body of the Nth
fenced block (from 1) whose info string is LANG, exactly as written. A
section or block that is not there is an error (exit 2), never an empty block.
"""

import re
import sys

FENCE = re.compile(r"^(`{3,}|~{3,})\s*(\S*)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")


def blocks_under(lines: list[str], title: str, lang: str) -> list[str]:
    """The bodies of the ```lang blocks in the section headed `title`."""
    level = 0  # the section's heading level once inside it
    blocks: list[str] = []
    fence, info = "", ""  # the open block's fence and info string
    body: list[str] = []  # and its lines so far
    for line in lines:
        if fence:
            closing = FENCE.match(line)
            if closing and closing.group(1).startswith(fence) and not line.strip(fence[0] + " \t\n"):
                if level and info == lang:
                    blocks.append("".join(body))
                fence = ""
            else:
                body.append(line)
            continue
        opening = FENCE.match(line)
        if opening:
            fence, info, body = opening.group(1), opening.group(2), []
            continue
        heading = HEADING.match(line)
        if heading and level and len(heading.group(1)) <= level:
            break
        if heading and not level and heading.group(2) == title:
            level = len(heading.group(1))
    if fence:
        raise ValueError("a fenced block is never closed")
    if not level:
        raise LookupError(f"no heading '{title}'")
    return blocks


def main(argv: list[str]) -> int:
    if len(argv) != 5 or not argv[4].isdigit() or int(argv[4]) < 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, title, lang, n = argv[1], argv[2], argv[3], int(argv[4])
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    try:
        blocks = blocks_under(lines, title, lang)
    except (LookupError, ValueError) as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 2
    if len(blocks) < n:
        print(f"{path}: section '{title}' has {len(blocks)} {lang} block(s), not {n}", file=sys.stderr)
        return 2
    sys.stdout.write(blocks[n - 1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Letters drawn with reportlab: a window-envelope address block, the notice, page numbers.

Fonts are embedded TrueType, chosen per character: DejaVu Sans (Latin, Greek, Cyrillic) and a
TrueType font with CJK glyphs for Chinese and Japanese. reportlab embeds TrueType outlines only,
so Noto Sans CJK (CFF outlines in an OpenType collection) is tried but refused; Droid Sans
Fallback (fonts-droid-fallback) or WenQuanYi Zen Hei are used instead.

The body is plain text with three conventions: `# ` starts a heading, `- ` a list item and a
blank line a new paragraph; every other line break is kept. Lines wrap at spaces, and between
any two CJK characters (never before closing punctuation such as 。、」).
"""

from __future__ import annotations

import io
import threading
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import inch, mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas

LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)
LATIN_BOLD_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",)
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # refused while CFF is unsupported
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
_OPENING = set("([{（「『【〔〈《“‘")
_CLOSING = set("。、，．,.!?！？:;：；)]}）」』】〕〉》”’ー々ぁぃぅぇぉっゃゅょァィゥェォッャュョ")


@dataclass(frozen=True, slots=True)
class Geometry:
    """Where things go on a page, in points from the top-left corner (DIN 5008 B / US #10)."""

    size: tuple[float, float]
    window_left: float
    window_top: float
    window_width: float
    window_height: float
    address_top: float  # below the return-address line, the zone the post reads
    info_left: float  # date and reference, right of the window
    body_top: float  # first page
    top: float  # later pages
    left: float
    right: float
    bottom: float
    folds: tuple[float, ...] = ()


GEOMETRY = {
    # DIN 5008 form B: window 85 x 45 mm, 20 mm from the left and 45 mm from the top; folds at
    # 105 and 210 mm, the punch mark at 148.5 mm.
    "A4": Geometry(A4, 20 * mm, 45 * mm, 85 * mm, 45 * mm, 62.7 * mm, 125 * mm, 100 * mm, 25 * mm,
                   25 * mm, 20 * mm, 22 * mm, (105 * mm, 210 * mm, 148.5 * mm)),
    # US #10 window (4.5 x 1.125 in, 7/8 in from the left, 1/2 in from the bottom) seen through a
    # letter folded in thirds, allowing for the letter sliding in the envelope.
    "letter": Geometry(LETTER, 1.0 * inch, 2.25 * inch, 3.375 * inch, 1.1 * inch,
                       2.25 * inch + 16, 5.0 * inch,
                       3.75 * inch, 1.0 * inch, 1.0 * inch, 1.0 * inch, 0.9 * inch),
}  # fmt: skip


class FontError(Exception):
    """No usable font (the channel is misconfigured, not the recipient's fault)."""


class Fonts:
    """Registered fonts and, per character, which one has its glyph."""

    def __init__(self, regular: str, bold: str, cjk: str | None, covered: list[set[int]]) -> None:
        self.regular, self.bold, self.cjk = regular, bold, cjk
        self._latin, self._cjk = covered[0], covered[1] if cjk else set()
        self._drawn = self._latin | self._cjk
        self._widths: dict[tuple[str, float, bool], float] = {}

    def missing(self, text: str) -> str:
        """Characters no font draws (other than spaces and controls)."""
        drawn = self._drawn
        return "".join(sorted({c for c in text if ord(c) not in drawn and c.isprintable()} - {" "}))

    def runs(self, text: str, *, bold: bool = False) -> Iterator[tuple[str, str]]:
        """(font, text) pieces: the Latin font where it has the glyph, else the CJK one."""
        latin = self.bold if bold else self.regular
        start, current = 0, latin
        for i, ch in enumerate(text):
            code = ord(ch)
            cjk = self.cjk is not None and code not in self._latin and code in self._cjk
            font = self.cjk if cjk and self.cjk else latin
            if font != current:
                if i > start:
                    yield current, text[start:i]
                start, current = i, font
        if start < len(text):
            yield current, text[start:]

    def width(self, text: str, size: float, *, bold: bool = False) -> float:
        key = (text, size, bold)
        found = self._widths.get(key)
        if found is None:  # the same words recur in every letter of a notice
            if len(self._widths) > 100_000:
                self._widths.clear()
            runs = self.runs(text, bold=bold)
            found = self._widths[key] = sum(pdfmetrics.stringWidth(t, f, size) for f, t in runs)
        return found


_lock = threading.Lock()
_loaded: dict[tuple[str | None, ...], Fonts] = {}


def load_fonts(cjk_font: str | None = None, latin_font: str | None = None) -> Fonts:
    """Register the fonts once per process; `FontError` if no Latin font can be loaded."""
    key = (cjk_font, latin_font)
    with _lock:
        if key not in _loaded:
            _loaded[key] = _register(cjk_font, latin_font)
        return _loaded[key]


def _register(cjk_font: str | None, latin_font: str | None) -> Fonts:
    regular = _first("Letter", (latin_font,) if latin_font else LATIN_FONTS)
    if regular is None:
        raise FontError(f"no Latin TrueType font found (tried {latin_font or LATIN_FONTS})")
    bold = _first("Letter-Bold", () if latin_font else LATIN_BOLD_FONTS) or regular
    cjk = _first("Letter-CJK", (cjk_font,) if cjk_font else CJK_FONTS)
    covered = [_coverage(regular[1]), _coverage(cjk[1]) if cjk else set()]
    return Fonts(regular[0], bold[0], cjk[0] if cjk else None, covered)


def _first(name: str, paths: Sequence[str]) -> tuple[str, TTFont] | None:
    for path in paths:
        if not Path(path).is_file():
            continue
        try:
            font = TTFont(name, path, subfontIndex=0)
        except TTFError:  # CFF outlines (Noto Sans CJK OTF/TTC): reportlab cannot embed them
            continue
        pdfmetrics.registerFont(font)
        return name, font
    return None


def _coverage(font: TTFont) -> set[int]:
    return set(font.face.charToGlyph)


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _tokens(text: str) -> Iterator[str]:
    """Words, single spaces and single CJK characters (closing punctuation kept attached)."""
    word = ""
    for ch in text:
        if ch in _CLOSING and word[-1:] != " ":
            word += ch
        elif ch == " ":
            if word:
                yield word
            yield " "
            word = ""
        elif _wide(ch) or ch in _OPENING:
            if word and word[-1] not in _OPENING:
                yield word
                word = ""
            word += ch
        else:
            if word and _wide(word[-1]) and word[-1] not in _OPENING:
                yield word
                word = ""
            word += ch
    if word:
        yield word


def wrap(text: str, fonts: Fonts, size: float, width: float, *, bold: bool = False) -> list[str]:
    """Greedy line breaking; a token wider than the line is cut between characters."""
    lines: list[str] = []
    line, used = "", 0.0
    for token in _tokens(text):
        w = fonts.width(token, size, bold=bold)
        if used + w > width and line.strip():
            lines.append(line.rstrip())
            line, used = "", 0.0
        if token == " " and not line:
            continue
        if w > width:  # one word longer than the line: cut it between characters
            for ch in token:
                cw = fonts.width(ch, size, bold=bold)
                if used + cw > width and line:
                    lines.append(line)
                    line, used = "", 0.0
                line, used = line + ch, used + cw
            continue
        line, used = line + token, used + w
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


class AddressTooLong(ValueError):
    """The address does not fit the envelope window, even in the smallest size allowed."""


@dataclass(frozen=True, slots=True)
class LetterContent:
    paper: str  # a GEOMETRY key: "A4" or "letter"
    letter_id: str
    return_address: str  # one line, printed small above the address inside the window
    address: Sequence[str]
    info: Sequence[str]  # date and references, right of the window
    title: str
    body: str
    footer: str  # "{page}" and "{pages}" are filled per page


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    size: float = 10.0
    bold: bool = False
    indent: float = 0.0
    bullet: bool = False
    space_before: float = 0.0
    keep_with_next: bool = False


_BODY, _HEADING, _TITLE, _LEADING = 10.0, 11.5, 12.5, 1.4


def _layout(content: LetterContent, fonts: Fonts, width: float) -> list[_Line]:
    out = [_Line(t, _TITLE, True) for t in wrap(content.title, fonts, _TITLE, width, bold=True)]
    gap = _BODY
    for raw in content.body.replace("\r\n", "\n").split("\n"):
        text = raw.strip()
        if not text:
            gap = _BODY * 0.7 if out else 0.0
            continue
        if raw.startswith("# "):
            lines = wrap(text[2:], fonts, _HEADING, width, bold=True)
            out += [_Line(t, _HEADING, True, 0, False, max(gap, 8) if i == 0 else 0, True)
                    for i, t in enumerate(lines)]  # fmt: skip
        else:
            bullet = text.startswith("- ")
            indent = 14.0 if bullet else min(len(raw) - len(raw.lstrip()), 4) * 3.0
            body = text[2:] if bullet else text
            lines = wrap(body, fonts, _BODY, width - indent)
            out += [_Line(t, _BODY, False, indent, bullet and i == 0, gap if i == 0 else 0)
                    for i, t in enumerate(lines)]  # fmt: skip
        gap = 0.0
    return out


def _paginate(lines: list[_Line], geo: Geometry) -> list[list[tuple[float, _Line]]]:
    """(baseline from the top, line) per page; a heading never ends a page."""
    limit = geo.size[1] - geo.bottom
    pages: list[list[tuple[float, _Line]]] = [[]]
    y = geo.body_top
    for i, line in enumerate(lines):
        step = line.space_before + line.size * _LEADING
        after = lines[i + 1].size * _LEADING if line.keep_with_next and i + 1 < len(lines) else 0
        if y + step + after > limit and pages[-1]:
            pages.append([])
            y, step = geo.top, line.size * _LEADING
        y += step
        pages[-1].append((y, line))
    return pages


def render_letter(content: LetterContent, fonts: Fonts) -> tuple[bytes, int]:
    """The letter as PDF bytes and its page count."""
    geo = GEOMETRY[content.paper]
    page_width, page_height = geo.size
    pages = _paginate(_layout(content, fonts, page_width - geo.left - geo.right), geo)
    buf = io.BytesIO()
    canvas = Canvas(
        buf,
        pagesize=geo.size,
        invariant=1,
        pageCompression=1,
        initialFontName=fonts.regular,  # type: ignore[arg-type]  # stubs say float
    )
    canvas.setTitle(content.letter_id)
    for number, page in enumerate(pages, 1):
        if number == 1:
            _first_page(canvas, content, fonts, geo)
        for y, line in page:
            x = geo.left + line.indent
            if line.bullet:
                _text(canvas, fonts, x - 10, page_height - y, "\u2022", line.size)
            _text(canvas, fonts, x, page_height - y, line.text, line.size, bold=line.bold)
        footer = content.footer.replace("{page}", str(number)).replace("{pages}", str(len(pages)))
        footer = f"{content.letter_id}  \u00b7  {footer}"
        x = (page_width - fonts.width(footer, 8)) / 2
        _text(canvas, fonts, x, geo.bottom / 2, footer, 8)
        canvas.showPage()
    canvas.save()
    return buf.getvalue(), len(pages)


def _first_page(canvas: Canvas, content: LetterContent, fonts: Fonts, geo: Geometry) -> None:
    page_height = geo.size[1]
    for y in geo.folds:  # fold and punch marks at the left edge
        canvas.setLineWidth(0.3)
        canvas.line(3 * mm, page_height - y, 7 * mm, page_height - y)
    if content.return_address:
        size = 7.0
        while fonts.width(content.return_address, size) > geo.window_width and size > 5:
            size -= 0.5
        _text(canvas, fonts, geo.window_left, page_height - geo.window_top - 10,
              content.return_address, size)  # fmt: skip
    size, lines = _fit_address(content.address, fonts, geo)
    y = geo.address_top
    for line in lines:
        y += size * 1.2
        _text(canvas, fonts, geo.window_left, page_height - y, line, size)
    y = geo.window_top
    for line in content.info:
        y += 9 * _LEADING
        _text(canvas, fonts, geo.info_left, page_height - y, line, 9)


def _fit_address(lines: Sequence[str], fonts: Fonts, geo: Geometry) -> tuple[float, list[str]]:
    """The largest size (10 pt down to 7 pt) at which every line fits the window unwrapped."""
    height = geo.window_top + geo.window_height - geo.address_top
    size = 10.0
    while size >= 7.0:
        wide = any(fonts.width(line, size) > geo.window_width for line in lines)
        if not wide and len(lines) * size * 1.2 <= height:
            return size, list(lines)
        size -= 0.5
    raise AddressTooLong(f"{len(lines)} address lines do not fit the envelope window")


def _text(
    canvas: Canvas, fonts: Fonts, x: float, y: float, text: str, size: float, *, bold: bool = False
) -> None:
    obj = canvas.beginText(x, y)
    for font, piece in fonts.runs(text, bold=bold):
        obj.setFont(font, size)
        obj.textOut(piece)
    canvas.drawText(obj)

"""Helpers of the browser tests (headless Chromium through Playwright): layout and screenshots."""

from __future__ import annotations

import struct
import zlib

from playwright.sync_api import Page


def no_horizontal_overflow(page: Page) -> None:
    """Nothing on the page reaches past the window's right edge."""
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    wider = page.evaluate(
        "[...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
        ".map(e => e.tagName + '.' + e.className)"
    )
    assert wider == []


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, previous: bytes, step: int) -> bytes:
    """Undo a PNG scanline filter (None, Sub, Up, Average, Paeth)."""
    for x in range(len(line)):
        a = line[x - step] if x >= step else 0
        b, c = previous[x], previous[x - step] if x >= step else 0
        predictor = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
        line[x] = (line[x] + predictor) & 0xFF
    return bytes(line)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and pixel rows of an 8-bit, non-interlaced RGB(A) PNG (no Pillow here)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, bytes] = {}
    idat, position = b"", 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        chunks[kind] = body
        idat += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, interlace) == (8, 0)
    assert color in (2, 6)  # RGB or RGBA
    step = 4 if color == 6 else 3
    raw, stride = zlib.decompress(idat), width * step + 1
    rows, previous = [], bytes(stride - 1)
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        previous = _unfilter(line[0], bytearray(line[1:]), previous, step)
        rows.append(previous)
    return width, height, rows


def fits_the_window(page: Page) -> None:
    """The page does not scroll sideways, and nothing reaches past the window's right edge
    but inside a region that scrolls on its own (a wide table on a phone)."""
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    wider = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const scrolls = e => {
            for (let up = e.parentElement; up && up !== document.body; up = up.parentElement) {
              if (getComputedStyle(up).overflowX !== "visible") return true;
            }
            return false;
          };
          return [...document.querySelectorAll("body *")]
            .filter(e => e.getBoundingClientRect().right > width + 1 && !scrolls(e))
            .map(e => e.tagName + "." + e.className);
        }"""
    )
    assert wider == []

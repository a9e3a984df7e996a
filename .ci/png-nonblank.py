#!/usr/bin/env python3
"""Exit 0 when a PNG shows something: enough distinct colours, no colour covering
nearly all of it. Standard library only, so the check needs nothing installed and
does not depend on the program it checks.

usage: png-nonblank.py FILE.png
"""

import struct
import sys
import zlib

# A page of charts has hundreds of colours (anti-aliased text and lines); a blank
# or single-colour page has one or two.
DISTINCT_COLOURS_MIN = 16
# The background may be most of the page, but not all of it.
DOMINANT_SHARE_MAX = 0.995

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # greyscale, RGB, grey+alpha, RGBA


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in CHANNELS or interlace != 0:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    return width, height, CHANNELS[colour], zlib.decompress(b"".join(idat))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def rows(width, height, bpp, raw):
    stride = width * bpp
    previous = bytearray(stride)
    pos = 0
    for _ in range(height):
        kind = raw[pos]
        line = bytearray(raw[pos + 1 : pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + paeth(left, up, corner)) & 0xFF
        yield bytes(line)
        previous = line


def main():
    path = sys.argv[1]
    width, height, bpp, raw = read_png(path)
    counts = {}
    for line in rows(width, height, bpp, raw):
        for x in range(0, len(line), bpp):
            pixel = line[x : x + bpp]
            counts[pixel] = counts.get(pixel, 0) + 1
    total = width * height
    dominant = max(counts.values()) / total
    print(f"{path}: {width}x{height}, {len(counts)} distinct colours, commonest covers {dominant:.1%}")
    if len(counts) < DISTINCT_COLOURS_MIN or dominant > DOMINANT_SHARE_MAX:
        print(f"{path}: looks blank", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

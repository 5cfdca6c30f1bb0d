"""Copies of a labelled folder (`<digit>/<file>`) as photos and scans of real paper differ from
clean renderings: OUT/<kind>/<digit>/<file>.png or .jpg, deterministic per file.

    python tests/benchmarks/degrade_sets.py LABELLED_DIR OUT_DIR [--kinds lined,grid,...]
    batchdigits evaluate OUT_DIR/lined -o /tmp/eval-lined

Kinds: photo, pencil, lined, grid, boxed, small, bold, lowres, chalk, sticky.
"""
import argparse
import zlib
from pathlib import Path
import numpy as np
from PIL import Image
from scipy import ndimage as ndi


def ink_of(path, size):
    """A labelled image as a (size, size) ink map in [0, 1] (dark ink on light paper assumed)."""
    im = Image.open(path).convert('L').resize((size, size), Image.BILINEAR)
    return 1.0 - np.asarray(im, float) / 255.0  # 0 paper .. 1 ink


def canvas_with(ink, canvas, rng, scale=1.0, angle=0.0):
    """Place the ink map (square) rotated and scaled at a jittered centre of a canvas x canvas map."""
    if angle:
        ink = ndi.rotate(ink, angle, reshape=True, order=1)
    if scale != 1.0:
        ink = ndi.zoom(ink, scale, order=1)
    out = np.zeros((canvas, canvas))
    h, w = ink.shape
    h, w = min(h, canvas), min(w, canvas)
    ink = ink[:h, :w]
    top = (canvas - h) // 2 + int(rng.integers(-(canvas - h) // 4 - 1, (canvas - h) // 4 + 2))
    left = (canvas - w) // 2 + int(rng.integers(-(canvas - w) // 4 - 1, (canvas - w) // 4 + 2))
    top = int(np.clip(top, 0, canvas - h)); left = int(np.clip(left, 0, canvas - w))
    out[top:top + h, left:left + w] = ink
    return out


def to_rgb(paper_rgb, ink_rgb, alpha):
    """(H, W, 3) float 0..255: ink colour laid over paper (one colour or an (H, W, 3) map) by alpha."""
    a = np.clip(alpha, 0, 1)[..., None]
    return np.asarray(paper_rgb, float) * (1 - a) + np.asarray(ink_rgb, float) * a


def save(rgb, path, fmt='PNG', quality=None):
    """Write an (H, W, 3) 0..255 picture as PNG, or JPEG at `quality`."""
    im = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == 'JPEG':
        im.save(path.with_suffix('.jpg'), 'JPEG', quality=quality)
    else:
        im.save(path.with_suffix('.png'))


def photo(ink, rng):
    """A phone photo: grey paper, light falling off, blur, noise, up to 6 degrees of tilt, JPEG."""
    c = 320
    a = canvas_with(ink, c, rng, scale=rng.uniform(0.9, 1.15), angle=rng.uniform(-6, 6))
    a = ndi.gaussian_filter(a, rng.uniform(1.0, 2.2))
    yy, xx = np.mgrid[0:c, 0:c] / c
    th = rng.uniform(0, 2 * np.pi)
    light = 1 - rng.uniform(0.25, 0.45) * np.clip(np.cos(th) * xx + np.sin(th) * yy, 0, 1.4) / 1.4
    paper = np.array([rng.uniform(205, 235)] * 3) + rng.uniform(-8, 8, 3)
    rgb = to_rgb(paper, [rng.uniform(35, 75)] * 3, a * rng.uniform(0.8, 1.0)) * light[..., None]
    rgb += rng.normal(0, 5, rgb.shape)
    return rgb, 'JPEG', int(rng.integers(45, 75))


def pencil(ink, rng):
    """Faint grey graphite, unevenly laid, on grainy paper."""
    c = 256
    a = canvas_with(ink, c, rng, scale=rng.uniform(0.8, 1.0))
    a = ndi.gaussian_filter(a, 0.7)
    paper = 245 + ndi.gaussian_filter(rng.normal(0, 10, (c, c)), 1.0)
    grain = np.clip(1 - 0.35 * rng.random((c, c)), 0, 1)
    strength = rng.uniform(0.25, 0.45)  # faint graphite: a quarter to under half of full contrast
    rgb = to_rgb(np.repeat(paper[..., None], 3, 2), [90, 90, 95], a * strength / 0.65 * grain)
    return rgb, 'PNG', None


def lined(ink, rng):
    """Notebook paper: blue lines every 34-48 pixels through the digit, a red margin line."""
    c = 256
    a = canvas_with(ink, c, rng, scale=rng.uniform(0.7, 0.9))
    rgb = to_rgb([250, 250, 250], [30, 30, 60], a)
    gap = int(rng.integers(34, 48)); off = int(rng.integers(0, gap))
    for r in range(off, c, gap):
        band = slice(r, r + 2)
        rgb[band] = np.minimum(rgb[band], [140, 165, 215])
    m = int(rng.integers(15, 40))
    rgb[:, m:m + 2] = np.minimum(rgb[:, m:m + 2], [220, 120, 130])
    return rgb, 'PNG', None


def grid(ink, rng):
    """Squared paper: light grey-blue lines every 20-32 pixels both ways."""
    c = 256
    a = canvas_with(ink, c, rng, scale=rng.uniform(0.7, 0.9))
    rgb = to_rgb([248, 248, 248], [25, 25, 40], a)
    gap = int(rng.integers(20, 32)); oy, ox = rng.integers(0, gap, 2)
    col = np.array([175, 190, 205])
    for r in range(oy, c, gap):
        rgb[r:r + 1] = np.minimum(rgb[r:r + 1], col)
    for x in range(ox, c, gap):
        rgb[:, x:x + 1] = np.minimum(rgb[:, x:x + 1], col)
    return rgb, 'PNG', None


def boxed(ink, rng):
    """A printed box 3-20 pixels inside the edge, 2-4 pixels thick."""
    c = 256
    a = canvas_with(ink, c, rng, scale=rng.uniform(0.75, 0.9))
    rgb = to_rgb([252, 252, 252], [20, 20, 20], a)
    m = int(rng.integers(3, 20)); t = int(rng.integers(2, 5))
    f = np.zeros((c, c), bool)
    f[m:m + t, m:c - m] = f[c - m - t:c - m, m:c - m] = True
    f[m:c - m, m:m + t] = f[m:c - m, c - m - t:c - m] = True
    rgb[f] = [40, 40, 40]
    return rgb, 'PNG', None


def small(ink, rng):
    """A small digit on a large page, with dust specks."""
    c = 420
    a = canvas_with(ink, c, rng, scale=rng.uniform(0.35, 0.5))
    rgb = to_rgb([245, 245, 240], [30, 30, 30], a)
    for _ in range(int(rng.integers(3, 9))):  # dust and dirt specks
        y, x = rng.integers(0, c, 2); r = int(rng.integers(1, 3))
        rgb[max(0, y - r):y + r, max(0, x - r):x + r] = rng.uniform(60, 160)
    return rgb, 'PNG', None


def bold(ink, rng):
    """A thick marker."""
    c = 256
    a = canvas_with(ink, c, rng, scale=rng.uniform(0.8, 0.95))
    a = ndi.grey_dilation(a, size=int(rng.integers(7, 13)))
    return to_rgb([255, 255, 255], [0, 0, 0], a), 'PNG', None


def lowres(ink, rng):
    """A tiny image, 18-25 pixels square."""
    c = 128
    a = canvas_with(ink, c, rng, scale=rng.uniform(0.5, 0.6))
    rgb = to_rgb([255, 255, 255], [0, 0, 0], a)
    s = int(rng.integers(18, 26))
    small_im = Image.fromarray(rgb.astype(np.uint8)).resize((s, s), Image.BOX)
    return np.asarray(small_im, float), 'PNG', None


def chalk(ink, rng):
    """Textured light strokes on a dark board, JPEG."""
    c = 256
    a = canvas_with(ink, c, rng, scale=rng.uniform(0.8, 0.95))
    a = ndi.grey_dilation(a, size=5) * np.clip(0.55 + 0.6 * rng.random((c, c)), 0, 1)
    board = np.array([40, 60, 50]) + rng.normal(0, 6, (c, c, 1))
    return to_rgb(board, [230, 230, 225], a), 'JPEG', 80


def sticky(ink, rng):
    """Blue ink on a yellow note, JPEG."""
    c = 256
    a = canvas_with(ink, c, rng, scale=rng.uniform(0.8, 0.95))
    return to_rgb([250, 235, 120], [30, 50, 170], a), 'JPEG', 85


KINDS = dict(photo=photo, pencil=pencil, lined=lined, grid=grid, boxed=boxed, small=small,
             bold=bold, lowres=lowres, chalk=chalk, sticky=sticky)

def main() -> None:
    """Write the degraded copies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labelled_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args()
    for kind in args.kinds.split(","):
        for f in sorted(args.labelled_dir.glob("*/*")):
            rng = np.random.default_rng(zlib.crc32(f"{kind}/{args.labelled_dir.name}/{f.name}".encode()))
            rgb, fmt, quality = KINDS[kind](ink_of(f, 200), rng)
            if rgb.ndim == 2:
                rgb = np.repeat(rgb[..., None], 3, 2)
            save(rgb, args.out_dir / kind / f.parent.name / f.stem, fmt, quality)
        print("done", kind, flush=True)


if __name__ == "__main__":
    main()

"""Image tensors to pictures for the app: per-class sample grids, traversal strips and 2-D grids.

Generated images are tiny (28x28 digits), so everything is enlarged with nearest-neighbour scaling (pixels
stay crisp, as in the data) and labelled inside the picture itself: a PNG with its row names is what the
user downloads or screenshots, and it cannot drift out of line with a caption laid out by the browser.
Minority classes get an orange frame and tag, because the whole point of the method is what it does for
them. torch/torchvision are imported inside the functions: the app must start without them.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    import torch

MINORITY_COLOR = (235, 120, 20)  # orange frame and tag of minority-class rows
BACKGROUND = (255, 255, 255)
TEXT_COLOR = (40, 40, 48)
MUTED_COLOR = (120, 120, 130)
TARGET_CELL_PX = 56  # images are enlarged to about this many pixels a side
PADDING = 2
FRAME = 3


def font(size: int = 14) -> ImageFont.ImageFont:
    """Pillow's bundled font (FreeType when available): no system font files needed."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def scale_for(side: int, target: int = TARGET_CELL_PX) -> int:
    """Integer enlargement that brings an image side close to ``target`` pixels (at least 1)."""
    return max(1, round(target / max(1, side)))


def tile(images: torch.Tensor, nrow: int, scale: int = 1, padding: int = PADDING) -> Image.Image:
    """A batch ``(N, C, H, W)`` in [0, 1] as one RGB picture, ``nrow`` a row, enlarged ``scale`` times."""
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=padding, pad_value=1.0)
    array = (grid.mul(255).round().byte().permute(1, 2, 0).numpy())
    picture = Image.fromarray(array).convert("RGB")
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return picture


def single(image: torch.Tensor, size: int = 224) -> Image.Image:
    """One image ``(C, H, W)`` enlarged to about ``size`` pixels a side."""
    return tile(image.unsqueeze(0), nrow=1, scale=scale_for(image.shape[-1], size), padding=0)


def gif_bytes(images: torch.Tensor, size: int = 200, frame_ms: int = 120) -> bytes:
    """A batch ``(N, C, H, W)`` as a looping animated GIF, each frame enlarged to about ``size`` pixels."""
    frames = [single(image, size) for image in images]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return buffer.getvalue()


def png_bytes(picture: Image.Image) -> bytes:
    """PNG encoding of a picture (what ``st.image`` and ``st.download_button`` take)."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _text_width(draw: ImageDraw.ImageDraw, text: str, face: ImageFont.ImageFont) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=face)
    return right - left


def labelled_rows(rows: Sequence[torch.Tensor], labels: Sequence[str], highlight: Collection[int] = (),
                  tags: Sequence[str] | None = None, scale: int | None = None) -> Image.Image:
    """Rows of images with a name on the left of each row; rows in ``highlight`` get an orange frame.

    ``rows[i]`` is a batch ``(n, C, H, W)`` shown left to right; ``tags[i]`` is a second, smaller line under
    the name (e.g. "minority · 15 img"). Used for the per-class sample grid and the per-code strips.
    """
    if not rows:
        return Image.new("RGB", (1, 1), BACKGROUND)
    scale = scale or scale_for(rows[0].shape[-1])
    strips = [tile(row, nrow=len(row), scale=scale) for row in rows]
    name_face, tag_face = font(20), font(15)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    texts = list(labels) + [t for t in (tags or []) if t]
    label_w = 20 + max((_text_width(probe, t, name_face) for t in texts), default=0)
    gap = 2 * FRAME + 2
    width = label_w + max(s.width for s in strips) + 2 * FRAME
    height = sum(s.height + gap for s in strips)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    y = 0
    for i, strip in enumerate(strips):
        marked = i in highlight
        color = MINORITY_COLOR if marked else TEXT_COLOR
        canvas.paste(strip, (label_w + FRAME, y + FRAME))
        if marked:
            right, bottom = label_w + strip.width + 2 * FRAME - 1, y + strip.height + 2 * FRAME
            draw.rectangle([label_w, y + 1, right, bottom], outline=MINORITY_COLOR, width=FRAME)
            draw.rectangle([0, y + FRAME, 5, y + strip.height + FRAME], fill=MINORITY_COLOR)
        middle = y + FRAME + strip.height // 2
        tag = tags[i] if tags and i < len(tags) else ""
        draw.text((12, middle - (21 if tag else 10)), labels[i], fill=color, font=name_face)
        if tag:
            draw.text((12, middle + 2), tag, fill=MINORITY_COLOR if marked else MUTED_COLOR, font=tag_face)
        y += strip.height + gap
    return canvas


def class_grid(samples: torch.Tensor, class_names: Sequence[str], minority: Collection[int] = (),
               counts: dict[int, int] | None = None) -> Image.Image:
    """The trainer's sample grid (one row of equally many images per class) with class names, minority rows
    framed and, when ``counts`` is known, how many training images each class had."""
    classes = len(class_names)
    per_class = max(1, len(samples) // max(1, classes))
    rows = [samples[c * per_class:(c + 1) * per_class] for c in range(classes)]
    tags = []
    for c in range(classes):
        parts = ["minority"] if c in minority else []
        if counts and c in counts:
            parts.append(f"{counts[c]} img")
        tags.append(" · ".join(parts))
    return labelled_rows(rows, list(class_names), highlight=set(minority), tags=tags)


def labelled_grid(images: torch.Tensor, n: int, values: Sequence[float], x_label: str, y_label: str,
                  scale: int | None = None) -> Image.Image:
    """An ``n x n`` traversal grid (rows sweep ``y_label``, columns ``x_label``) with code names and values
    on both axes, so entanglement (a change along the diagonal) can be read off directly."""
    scale = scale or scale_for(images.shape[-1], 56)
    body = tile(images, nrow=n, scale=scale)
    face, small = font(16), font(12)
    margin_left, margin_top = 68, 48
    canvas = Image.new("RGB", (body.width + margin_left + 6, body.height + margin_top + 6), BACKGROUND)
    canvas.paste(body, (margin_left, margin_top))
    draw = ImageDraw.Draw(canvas)
    cell = body.width / n
    x_text = f"{x_label}  (across)"
    draw.text((margin_left + (body.width - _text_width(draw, x_text, face)) // 2, 4), x_text, fill=TEXT_COLOR,
              font=face)
    y_text = f"{y_label}  (down)"
    label = Image.new("RGB", (_text_width(draw, y_text, face) + 4, 22), BACKGROUND)
    ImageDraw.Draw(label).text((2, 2), y_text, fill=TEXT_COLOR, font=face)
    label = label.rotate(90, expand=True)
    canvas.paste(label, (4, margin_top + max(0, (body.height - label.height) // 2)))
    for i, value in enumerate(values):
        text = f"{value:+.1f}"
        center = int(i * cell + cell / 2)
        draw.text((margin_left + center - _text_width(draw, text, small) // 2, 28), text, fill=MUTED_COLOR,
                  font=small)
        draw.text((margin_left - 6 - _text_width(draw, text, small), margin_top + center - 7), text,
                  fill=MUTED_COLOR, font=small)
    return canvas

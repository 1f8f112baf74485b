"""The figure tests' one reading of a rendered PNG."""

from __future__ import annotations

import io

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_image(data: bytes) -> Image.Image:
    """The decoded image of PNG bytes; fails unless they are a PNG larger than 100 x 100 px."""
    assert isinstance(data, bytes) and data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.width > 100 and image.height > 100
    return image

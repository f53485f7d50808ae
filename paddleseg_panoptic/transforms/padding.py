"""Per-image padding to a size the network handles, for images of different sizes."""
import math

from paddleseg.transforms import Padding

from paddleseg_panoptic.cvlibs.manager import TRANSFORMS, register

SIZE_DIVISOR = 32


def padded_size(size, align_corners, size_divisor=SIZE_DIVISOR):
    """Smallest size >= ``size`` the network handles: k * d + 1 with align_corners, else k * d.

    Args:
        size (int): height or width.

    Returns:
        int: with ``d = size_divisor`` and k >= 1.
    """
    if align_corners:
        return max(1, math.ceil((size - 1) / size_divisor)) * size_divisor + 1
    return max(1, math.ceil(size / size_divisor)) * size_divisor


@register(TRANSFORMS)
class PadToDivisor(Padding):
    """Pads each image at the bottom / right to :func:`padded_size` of its own height and width
    (e.g. 300 x 417 -> 321 x 417 with align_corners), the padding prediction applies; for
    validation sets whose images differ in size (evaluated one at a time).

    Prediction drops it (as any ``Padding``) and pads by itself to the same size.

    Args:
        size_divisor (int): the network's output stride. Default 32.
        align_corners (bool): the model's ``align_corners`` (k * d + 1 sizes when True).
        im_padding_value (float): image value of the padding (127.5 is 0 after ``Normalize``).
        label_padding_value (int): label value of the padding.
    """

    def __init__(self, size_divisor=SIZE_DIVISOR, align_corners=True, im_padding_value=127.5,
                 label_padding_value=255):
        super().__init__([1, 1], im_padding_value, label_padding_value)
        self.size_divisor = int(size_divisor)
        self.align_corners = bool(align_corners)

    def __call__(self, data):
        height, width = data["img"].shape[:2]
        self.target_size = [padded_size(width, self.align_corners, self.size_divisor),
                            padded_size(height, self.align_corners, self.size_divisor)]
        return super().__call__(data)

"""Cityscapes panoptic facts, defined once and used by datasets, models, post-processing,
evaluation and visualisation."""

NUM_CLASSES = 19
IGNORE_INDEX = 255
LABEL_DIVISOR = 1000
STUFF_AREA = 2048
# Train ids of the classes that have instances: person .. bicycle.
THING_LIST = tuple(range(11, 19))

CLASS_NAMES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle")

# RGB colour of each train id (the official Cityscapes palette).
PALETTE = (
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
    (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100),
    (0, 80, 100), (0, 0, 230), (119, 11, 32))

# Cityscapes label id of each train id (what the official evaluation scripts expect).
TRAIN_ID_TO_LABEL_ID = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)

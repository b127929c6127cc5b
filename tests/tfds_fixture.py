"""A tiny prepared TFDS `coco/2017` written offline, for tests of the TFDS source.

Built from the registered builder's own features (so the records are exactly what
`tfds build coco/2017` writes), serialized into a properly named shard, plus the
DatasetInfo files; no download_and_prepare, which would reach for the network (and
needs importlib_resources, absent here).
"""

from __future__ import annotations

import os

import numpy as np

# TFDS's ClassLabel order for coco/2017: the raw category ids 1..90, sorted, gaps dropped.
COCO_NAMES = [
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
    "boat", "traffic light", "fire hydrant", "stop sign", "parking meter", "bench",
    "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
    "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis",
    "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
    "surfboard", "tennis racket", "bottle", "wine glass", "cup", "fork", "knife",
    "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot",
    "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
    "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book",
    "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
]


def _example(image_id: int, filename: str, pixels: np.ndarray,
             objects: list[tuple[int, int]]) -> dict:
  n = len(objects)
  return {
      "image": pixels,
      "image/filename": filename,
      "image/id": image_id,
      "objects": {
          "area": np.array([a for _, a in objects], np.int64),
          "bbox": np.tile(np.array([0.1, 0.1, 0.9, 0.9], np.float32), (n, 1)),
          "id": np.arange(image_id * 100, image_id * 100 + n, dtype=np.int64),
          "is_crowd": np.zeros(n, bool),
          "label": np.array([label for label, _ in objects], np.int64),
      },
  }


def write_tfds_coco_fixture(data_dir, images, split: str = "train") -> str:
  """Writes `images` [(image id, file name, HxWx3 uint8, [(label index, area)])] as
  split `split` of coco/2017 under data_dir; returns the versioned dataset dir.

  Calling again with another split adds it; the one shard per split is enough to
  exercise shard listing and reading.
  """
  import tensorflow as tf
  import tensorflow_datasets as tfds
  builder = tfds.builder("coco/2017", data_dir=os.fspath(data_dir))
  info = builder.info  # the prepared info (earlier splits) if there is one
  features = info.features
  features["objects"]["label"].names = COCO_NAMES
  out = os.fspath(builder.data_dir)
  os.makedirs(out, exist_ok=True)
  template = tfds.core.ShardedFileTemplate(
      data_dir=out, dataset_name="coco", split=split, filetype_suffix="tfrecord")
  path = os.fspath(template.sharded_filepath(shard_index=0, num_shards=1))
  with tf.io.TFRecordWriter(path) as writer:
    for image in images:
      writer.write(features.serialize_example(_example(*image)))
  splits = [s for name, s in info.splits.items() if name != split]
  splits.append(tfds.core.SplitInfo(name=split, shard_lengths=[len(images)],
                                    num_bytes=os.path.getsize(path),
                                    filename_template=template))
  info.set_splits(tfds.core.SplitDict(splits))
  if not builder.is_prepared():
    info.set_file_format("tfrecord")
  info.write_to_directory(out)
  return out

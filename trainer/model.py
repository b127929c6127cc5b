"""Siamese encoder for contrastive pretraining: backbone -> projection head(s).

The model is a plain Keras 3 subclassed model (TensorFlow backend) so the custom
training loop can create its variables under any `tf.distribute` strategy scope,
call it inside `strategy.run`, and checkpoint it with `tf.train.Checkpoint`.
"Siamese" means one model called on both views: the weights are shared by construction.

Inputs are float images in [0, 1]; each backbone's own input scaling is applied inside
`call`, so the data pipeline never needs to know which backbone is trained.
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from trainer.choices import BACKBONES

# Keras applications refuse smaller inputs; small_cnn halves the size 4 times.
_MIN_SIZE = {"small_cnn": 16, "mobilenet_v2": 32, "resnet50": 32}
_EXPORT_OUTPUTS = ("embedding", "features", "all")


@dataclasses.dataclass
class ModelConfig:
  """Architecture of the encoder; everything needed to rebuild it for a checkpoint."""

  backbone: str = "small_cnn"
  image_size: int = 96
  embedding_dim: int = 128
  projection_dim: int = 128  # hidden width of the projection (and style) head
  style_head: bool = False
  # Local ImageNet weights file (.h5 or .weights.h5) for mobilenet_v2/resnet50. Nothing
  # is ever downloaded: None means random initialisation.
  weights: str | None = None
  width: int = 32  # small_cnn base width
  alpha: float = 1.0  # mobilenet_v2 width multiplier
  # Cross-replica BatchNorm statistics (TF `synchronized=True`) in the heads and
  # small_cnn: contrastive losses can cheat with per-replica BN stats.
  sync_batchnorm: bool = False

  def __post_init__(self):
    if self.backbone not in BACKBONES:
      raise ValueError(f"backbone must be one of {BACKBONES}, got {self.backbone!r}")
    if self.image_size < _MIN_SIZE[self.backbone]:
      raise ValueError(f"{self.backbone} needs image_size >= {_MIN_SIZE[self.backbone]}, "
                       f"got {self.image_size}")
    for name in ("embedding_dim", "projection_dim", "width"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
    if self.alpha <= 0:
      raise ValueError(f"alpha must be positive, got {self.alpha}")
    if self.weights is not None and self.backbone == "small_cnn":
      raise ValueError("weights= is only for the ImageNet backbones "
                       "(mobilenet_v2, resnet50); small_cnn has no pretrained weights")


def prepare_images(images, image_size: int) -> tf.Tensor:
  """Images of any size and dtype -> float32 [N, S, S, 3] in [0, 1].

  The one resize used by evaluation (`embed`) and the exported signature, matching
  the training pipeline (bilinear, no crop, no antialias), so embeddings agree.
  """
  images = tf.convert_to_tensor(images)
  if images.dtype.is_integer:
    images = tf.cast(images, tf.float32) / 255.0
  else:
    images = tf.cast(images, tf.float32)
  return tf.image.resize(images, [image_size, image_size], method="bilinear",
                         antialias=False)


def l2_normalize(x) -> tf.Tensor:
  return tf.math.l2_normalize(tf.cast(x, tf.float32), axis=-1, epsilon=1e-12)


def _bn(cfg: ModelConfig, name: str) -> keras.layers.BatchNormalization:
  return keras.layers.BatchNormalization(synchronized=cfg.sync_batchnorm, name=name)


def _small_cnn(cfg: ModelConfig) -> keras.Model:
  """4 blocks of width w, 2w, 4w, 8w, then global average pooling.

  Blocks 1-3 are (conv-BN-ReLU) x2 + max-pool; block 4 has a single conv, since a
  second 8w x 8w conv would double the parameter count (~0.58M -> ~1.2M at w=32)
  for little gain on 3-6 px maps. The first conv has stride 2: on 2 CPU cores a
  full-resolution first block made the forward pass ~6x slower (96 px, batch 32).
  """
  w = cfg.width
  inputs = keras.Input((cfg.image_size, cfg.image_size, 3), name="images")
  x = inputs
  for block, (filters, convs) in enumerate([(w, 2), (2 * w, 2), (4 * w, 2), (8 * w, 1)], 1):
    for i in range(1, convs + 1):
      stride = 2 if (block, i) == (1, 1) else 1
      x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                              kernel_initializer="he_normal",
                              name=f"block{block}_conv{i}")(x)
      x = _bn(cfg, f"block{block}_bn{i}")(x)
      x = keras.layers.ReLU(name=f"block{block}_relu{i}")(x)
    if block < 4:
      x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
  x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
  return keras.Model(inputs, x, name=f"small_cnn_w{w}")


def _load_backbone_weights(backbone: keras.Model, path: str):
  """Loads an ImageNet file by layer name, skipping mismatches (e.g. a with-top file).

  Raises if nothing at all was loaded: with skip_mismatch a wrong file would
  otherwise leave the backbone silently random.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f"weights file not found: {path!r} (ModelConfig.weights must be a local "
        f"ImageNet .h5 or .weights.h5 file for {backbone.name}; nothing is downloaded)")
  before = [v.numpy() for v in backbone.weights]
  if path.endswith(".weights.h5"):  # Keras 3 format: matched by structure, not name
    backbone.load_weights(path, skip_mismatch=True)
  elif path.endswith((".h5", ".hdf5")):  # legacy format, as keras.applications ships
    backbone.load_weights(path, by_name=True, skip_mismatch=True)
  else:
    raise ValueError(f"weights file must end in .h5 or .weights.h5, got {path!r}")
  loaded = sum(not np.array_equal(b, v.numpy()) for b, v in zip(before, backbone.weights))
  if not loaded:
    raise ValueError(f"no weight in {path!r} matched backbone {backbone.name} "
                     "(wrong architecture or alpha?)")


def _backbone(cfg: ModelConfig) -> keras.Model:
  shape = (cfg.image_size, cfg.image_size, 3)
  if cfg.backbone == "small_cnn":
    net = _small_cnn(cfg)
  elif cfg.backbone == "mobilenet_v2":
    net = keras.applications.MobileNetV2(input_shape=shape, alpha=cfg.alpha,
                                         include_top=False, weights=None, pooling="avg")
  else:
    net = keras.applications.ResNet50(input_shape=shape, include_top=False, weights=None,
                                      pooling="avg")
  if cfg.weights is not None:
    _load_backbone_weights(net, cfg.weights)
  return net


def _head(cfg: ModelConfig, in_dim: int, name: str) -> keras.Sequential:
  """SimCLR head; the last layer is float32 so mixed precision yields float32 outputs."""
  return keras.Sequential([
      keras.Input((in_dim,)),
      keras.layers.Dense(cfg.projection_dim, use_bias=False, name="hidden"),
      _bn(cfg, "bn"),
      keras.layers.ReLU(name="relu"),
      keras.layers.Dense(cfg.embedding_dim, dtype="float32", name="out"),
  ], name=name)


class SiameseEncoder(keras.Model):
  """Shared-weights encoder: backbone -> content head [+ style head].

  Subclassed (not functional) so `call` can return a dict whose keys depend on the
  config, and so preprocessing stays outside the backbone: the application backbones
  keep their stock layer names, which by-name ImageNet loading relies on.
  Checkpoints are keyed by attribute (backbone, content_head, style_head): rebuild
  with the same ModelConfig to restore.
  """

  def __init__(self, cfg: ModelConfig, **kwargs):
    kwargs.setdefault("name", f"siamese_{cfg.backbone}")
    super().__init__(**kwargs)
    self.cfg = cfg
    self.backbone = _backbone(cfg)
    in_dim = self.backbone.output_shape[-1]
    self.content_head = _head(cfg, in_dim, "content_head")
    self.style_head = _head(cfg, in_dim, "style_head") if cfg.style_head else None

  def build(self, input_shape=None):
    """Sub-models are built at construction (functional backbone, heads with an Input)."""

  def preprocess(self, images) -> tf.Tensor:
    """[0, 1] floats -> the backbone's expected input range, in float32."""
    images = tf.convert_to_tensor(images)
    if images.dtype.is_integer:  # a uint8 batch must not be read as [0, 255] floats
      images = tf.cast(images, tf.float32) / 255.0
    images = tf.cast(images, tf.float32)
    if self.cfg.backbone == "resnet50":  # caffe: BGR, 0-255, ImageNet mean subtracted
      return keras.applications.resnet50.preprocess_input(images * 255.0)
    return images * 2.0 - 1.0  # mobilenet_v2's [-1, 1]; also suits small_cnn

  def call(self, images, training=False) -> dict:
    """Float images [N, S, S, 3] in [0, 1] -> {"features", "embedding"[, "style_embedding"]}.

    Embeddings are not normalised (the losses normalise, with their temperature);
    all outputs are float32 even under a mixed-precision policy.
    """
    features = self.backbone(self.preprocess(images), training=training)
    outputs = {
        "features": tf.cast(features, tf.float32),
        "embedding": self.content_head(features, training=training),
    }
    if self.style_head is not None:
      outputs["style_embedding"] = self.style_head(features, training=training)
    return outputs

  def embed(self, images, batch_size: int | None = None, with_style: bool = False):
    """Images of any size, uint8 or [0, 1] float -> L2-normalised content embedding.

    Resizes exactly as the exported signature does, so evaluation and serving agree.
    With `with_style` (and a style head) returns (embedding, style_embedding).
    Without `batch_size` it is plain TF ops (fine inside tf.function / strategy.run);
    with it, an eager loop over chunks bounds memory for a whole array.
    """
    if with_style and self.style_head is None:
      raise ValueError("with_style=True but the model has no style head")
    if batch_size is None or len(images) <= batch_size:
      out = self(prepare_images(images, self.cfg.image_size), training=False)
      content = l2_normalize(out["embedding"])
      return (content, l2_normalize(out["style_embedding"])) if with_style else content
    chunks = [self.embed(images[i:i + batch_size], with_style=with_style)
              for i in range(0, len(images), batch_size)]
    if with_style:
      return tuple(tf.concat(parts, 0) for parts in zip(*chunks))
    return tf.concat(chunks, 0)

  def get_config(self):
    return {"cfg": dataclasses.asdict(self.cfg), "name": self.name}

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    return cls(ModelConfig(**config.pop("cfg")), **config)


def build_model(cfg: ModelConfig) -> SiameseEncoder:
  """Builds the model and its variables (call this under `strategy.scope()`).

  Variables exist on return, so optimizer slots, checkpoints and `strategy.run` never
  create them lazily on a replica. No dummy forward pass: eager MobileNetV2/ResNet50
  calls cost 1-2 s of CPU for nothing.
  """
  model = SiameseEncoder(cfg)
  model.build((None, cfg.image_size, cfg.image_size, 3))
  return model


def export_saved_model(model: SiameseEncoder, cfg: ModelConfig, export_dir: str,
                       which: str = "embedding", classifier=None) -> str:
  """Writes a SavedModel that needs only TensorFlow (no Keras, no project code).

  Signature 'serving_default' (also callable as `.serve`): `images` uint8
  [N, H, W, 3], any H, W -> dict of float32 outputs. `which`:
    "embedding": L2-normalised "embedding" [+ "style_embedding" with a style head];
    "features": the raw pooled backbone "features" (for linear probes);
    "all": both.
  With a `classifier` (the supervised mode's head on the features), also
  "probabilities" [N, classes] (class names: assets/classes.json).
  A model built under MirroredStrategy exports as is; for TPU (or to be safe) restore
  the training checkpoint into a model built outside any strategy and export that.
  """
  if which not in _EXPORT_OUTPUTS:
    raise ValueError(f"which must be one of {_EXPORT_OUTPUTS}, got {which!r}")
  if cfg.image_size != model.cfg.image_size:
    raise ValueError(f"cfg.image_size {cfg.image_size} != the model's "
                     f"{model.cfg.image_size}: the export would resize to the wrong size")
  size = cfg.image_size

  def serve(images):
    out = model(prepare_images(images, size), training=False)
    result = {}
    if which in ("embedding", "all"):
      result["embedding"] = l2_normalize(out["embedding"])
      if "style_embedding" in out:
        result["style_embedding"] = l2_normalize(out["style_embedding"])
    if which in ("features", "all"):
      result["features"] = out["features"]
    if classifier is not None:
      result["probabilities"] = tf.nn.softmax(
          tf.cast(classifier(out["features"], training=False), tf.float32))
    return result

  archive = keras.export.ExportArchive()
  archive.track(model)
  if classifier is not None:
    archive.track(classifier)
  archive.add_endpoint(
      "serve", serve,
      input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
  archive.write_out(export_dir, verbose=False)
  return str(export_dir)

"""The README demo: the dataset job on a sample the project generates itself.

  python -m beam_jobs.demo [--out out/demo]

No network, no model files, no ../shared: procedural content scenes (six shape classes,
one folder each, so each content is labelled) and procedural "paintings", rendered with
the `classical` stylizer on both cores; 30% of the styles are held out for val/test.
About a minute on 2 cores. Prints where the dataset is.
"""

from __future__ import annotations

import argparse
import logging
import os

from beam_jobs import stylize
from pipeline import sample_images


def main(argv=None):
  p = argparse.ArgumentParser(prog="python -m beam_jobs.demo", description=__doc__)
  p.add_argument("--out", default="out/demo", help="folder for inputs and dataset")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--contents_per_class", type=int, default=100)
  p.add_argument("--image_size", type=int, default=64)
  args, beam_args = p.parse_known_args(argv)
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
  sample = sample_images.write_sample(os.path.join(args.out, "inputs"), seed=args.seed,
                                      contents_per_class=args.contents_per_class)
  dataset = os.path.join(args.out, "stylized")
  stylize.run([f"--content={sample['content_dir']}", f"--styles={sample['styles_dir']}",
               "--content_labels_from_dirs", "--stylizer=classical",
               "--styles_per_content=3", "--include_original",
               "--holdout_style_fraction=0.3", "--split_fractions=0.6,0.2,0.2",
               f"--image_size={args.image_size}",
               f"--seed={args.seed}", f"--output={dataset}", "--overwrite"] + beam_args)
  print(f"dataset: {os.path.abspath(dataset)}")
  return dataset


if __name__ == "__main__":
  main()

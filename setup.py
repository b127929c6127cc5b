"""Package for users (`pip install -e .`) and for Dataflow workers (`--setup_file`).

The pins are one set known to resolve and work together (see README "Dependencies").
"""

import setuptools

REQUIRED = [
    "tensorflow==2.21.0",
    "tf-keras==2.21.0",  # tensorflow-hub 0.16.1 cannot be imported without it
    "keras==3.15.1",
    "tensorflow-hub==0.16.1",
    "tensorflow-datasets==4.9.10",
    "apache-beam[tfrecord]==2.77.0",  # without [tfrecord], TFRecord I/O fails
    "ai-edge-litert==2.3.0",  # LiteRT, for the Magenta TF Lite stylizer
    "numpy>=2.0,<2.5",  # Beam 2.77 caps numpy below 2.5
    "pillow>=11,<13",
    "tensorboard==2.21.0",  # tf.summary; TF 2.21 no longer installs it
    "matplotlib>=3.8,<4",  # plots in the run report
    "google-crc32c>=1.5",  # fast TFRecord checksums in Beam (else pure Python)
    "protobuf>=6,<7",
    "pyarrow>=14",  # index.parquet (the job writes it, the validator reads it); Beam's own
]

GCP = ["apache-beam[gcp,tfrecord]==2.77.0", "gcsfs>=2025.3"]

setuptools.setup(
    name="stylized-contrastive",
    version="0.1.0",
    description="Beam job that renders photos in painting styles into versioned TFRecords, "
                "and a Keras trainer for style-invariant contrastive pretraining.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=setuptools.find_packages(include=[
        "tfrecords_schema", "tfrecords_schema.*", "pipeline", "pipeline.*",
        "beam_jobs", "beam_jobs.*", "trainer", "trainer.*"]),
    package_data={"tfrecords_schema": ["README.md"]},
    install_requires=REQUIRED,
    extras_require={
        # Dataflow runner and the job's gs:// I/O (Beam's GcsIO); gcsfs: the validator's
        # and the trainer's gs:// reads (tfrecords_schema/storage.py)
        "gcp": GCP,
        # Only `python -m pipeline.stylizers.magenta_tf export` reads TF Lite files;
        # workers load the SavedModel it writes, so they do not install this.
        "convert": ["tflite==2.18.0"],
        "gpu": ["tensorflow[and-cuda]==2.21.0"],  # CUDA/cuDNN wheels for the hub stylizer
        # croissant.json's own validation in `python -m tfrecords_schema.validate` (its
        # structural checks need nothing more); pulls pandas, scipy, rdflib, networkx,
        # which Dataflow workers do not need, so it is not in REQUIRED.
        "croissant": ["mlcroissant>=1.1.1,<1.2"],
        "test": ["pytest>=8", "pytest-xdist>=3.5",  # pytest.ini runs two workers
                 "psutil>=5", "tflite==2.18.0",  # tests run the export
                 "mlcroissant>=1.1.1,<1.2",  # tests load croissant.json like a consumer
                 # the production-path rehearsal: gs:// on an emulator (tests/gcs_services.py)
                 "gcp-storage-emulator>=2026.7", *GCP],
    },
)

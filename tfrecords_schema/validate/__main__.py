"""`python -m tfrecords_schema.validate DIR`: see tfrecords_schema/validate/cli.py."""

import sys

from tfrecords_schema.validate.cli import main

sys.exit(main())

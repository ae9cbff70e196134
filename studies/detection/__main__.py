"""``python -m studies.detection``: see ``studies/detection/study.py`` and its README."""

import sys

from studies.detection import study
from studies.harness import study_main

if __name__ == "__main__":
    sys.exit(study_main(study.DetectionStudy, study.__doc__))

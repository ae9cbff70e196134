"""``python -m studies.calibration``: see ``studies/calibration/study.py`` and its README."""

import sys

from studies.calibration import study
from studies.harness import study_main

if __name__ == "__main__":
    sys.exit(study_main(study.CalibrationStudy, study.__doc__))

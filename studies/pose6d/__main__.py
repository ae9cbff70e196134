"""``python -m studies.pose6d``: see ``studies/pose6d/study.py`` and its README."""

import sys

from studies.harness import study_main
from studies.pose6d import study

if __name__ == "__main__":
    sys.exit(study_main(study.Pose6dStudy, study.__doc__))

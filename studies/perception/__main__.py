"""``python -m studies.perception``: see ``studies/perception/study.py`` and its README."""

import sys

from studies.harness import study_main
from studies.perception import study

if __name__ == "__main__":
    sys.exit(study_main(study.PerceptionStudy, study.__doc__))

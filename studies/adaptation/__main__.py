"""``python -m studies.adaptation``: see ``studies/adaptation/study.py`` and its README."""

import sys

from studies.adaptation import study
from studies.harness import study_main

if __name__ == "__main__":
    sys.exit(study_main(study.AdaptationStudy, study.__doc__))

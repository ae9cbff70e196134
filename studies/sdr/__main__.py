"""``python -m studies.sdr``: see ``studies/sdr/study.py`` and its README."""

import sys

from studies.harness import study_main
from studies.sdr import study

if __name__ == "__main__":
    sys.exit(study_main(study.SdrStudy, study.__doc__))

"""``python -m studies.adr``: see ``studies/adr/study.py`` and its README."""

import sys

from studies.adr import study
from studies.harness import study_main

if __name__ == "__main__":
    sys.exit(study_main(study.AdrStudy, study.__doc__))

"""``python -m studies.peng``: see ``studies/peng/study.py`` and its README."""

import sys

from studies.harness import study_main
from studies.peng import study

if __name__ == "__main__":
    sys.exit(study_main(study.PengStudy, study.__doc__))

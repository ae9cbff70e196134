"""``python -m studies.unpaired``: see ``studies/unpaired/study.py`` and its README."""

import sys

from studies.harness import study_main
from studies.unpaired import study

if __name__ == "__main__":
    sys.exit(study_main(study.UnpairedStudy, study.__doc__))

"""``python -m studies.modular``: see ``studies/modular/study.py`` and its README."""

import sys

from studies.harness import study_main
from studies.modular import study

if __name__ == "__main__":
    sys.exit(study_main(study.ModularStudy, study.__doc__))
